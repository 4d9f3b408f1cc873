#!/usr/bin/env bash
# Rebuild the web-form engine (ODK Web Forms in citizendata's page, web/) into the Python
# package (src/citizendata/server/static/webforms). The built files are committed, so
# installing the package needs no Node; run this after changing web/ or its lockfile.
#   scripts/build_webforms.sh           # npm ci from the lockfile, then vite build
#   scripts/build_webforms.sh --check   # fail if a fresh build differs from the committed files
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund --loglevel=error
npx vite build --logLevel warn
if [ "${1:-}" = "--check" ]; then
  cd ..
  if ! git diff --quiet --exit-code -- src/citizendata/server/static/webforms \
      || [ -n "$(git status --porcelain -- src/citizendata/server/static/webforms)" ]; then
    echo "web forms: a fresh build from web/package-lock.json differs from the committed files:" >&2
    git status --short -- src/citizendata/server/static/webforms >&2
    exit 1
  fi
  echo "web forms: a fresh build gives the committed files."
fi

// Make ODK Central CSV exports with ODK Central's own export code (lib/data/briefcase.js).
//
// Run by hand (never in CI) from generate_central.py, which writes the job file. It needs
// a checkout of github.com/getodk/central-backend (Apache-2.0) whose lib/ can require its
// npm dependencies; CENTRAL_BACKEND names that checkout. Usage:
//
//   CENTRAL_BACKEND=/path/to/central-backend node generate_central.js job.json
//
// job.json: {"xform": "<xml>", "xmlFormId": "...", "out": "file.zip", "rootOnly": false,
//            "groupPaths": true, "splitSelectMultiples": false,
//            "submissions": [{"xml", "instanceId", "createdAt", "reviewState", "deviceId",
//                             "edits", "submitter": {"id", "displayName"} | null,
//                             "formVersion", "attachmentsPresent", "attachmentsExpected"}]}

const fs = require('node:fs');
const path = require('node:path');
const { Readable } = require('node:stream');

const root = process.env.CENTRAL_BACKEND;
const { getFormFields } = require(path.join(root, 'lib/data/schema'));
const { streamBriefcaseCsvs } = require(path.join(root, 'lib/data/briefcase'));
const { zipStreamFromParts } = require(path.join(root, 'lib/util/zip'));

// Central's getSelectMultipleValuesForExport: every value seen, by path, sorted.
const selectValues = (fields, subs) => {
  const result = {};
  const multiples = fields.filter((f) => f.selectMultiple === true);
  for (const f of multiples) {
    const seen = new Set();
    const name = f.path.split('/').pop();
    for (const s of subs) {
      const re = new RegExp(`<${name}>([^<]*)</${name}>`, 'g');
      for (const m of s.xml.matchAll(re)) for (const v of m[1].split(/\s+/)) if (v) seen.add(v);
    }
    result[f.path] = [...seen].sort();
  }
  return result;
};

const main = async () => {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const raw = await getFormFields(job.xform);
  // Central's fields are Frames; `with` is the one method the export uses.
  const withFn = function (more) { return { ...this, ...more }; };
  const fields = raw.map((f) => ({ ...f, with: withFn }));
  const rows = job.submissions.map((s) => ({
    xml: s.xml, instanceId: s.instanceId, createdAt: s.createdAt,
    reviewState: s.reviewState, deviceId: s.deviceId, def: { localKey: null },
    aux: { edit: { count: s.edits }, submitter: s.submitter,
      exports: { formVersion: s.formVersion },
      attachment: { present: s.attachmentsPresent, expected: s.attachmentsExpected },
      encryption: {} },
  }));
  const values = job.splitSelectMultiples ? selectValues(fields, job.submissions) : null;
  const out = fs.createWriteStream(job.out);
  const result = streamBriefcaseCsvs(Readable.from(rows), fields, job.xmlFormId, values,
    null, job.rootOnly, { groupPaths: job.groupPaths });
  const stream = job.rootOnly ? result.pipeline(() => {}) : zipStreamFromParts(result);
  await new Promise((resolve, reject) => {
    stream.pipe(out);
    out.on('finish', resolve);
    stream.on('error', reject);
  });
};

main().catch((e) => { console.error(e); process.exit(1); });

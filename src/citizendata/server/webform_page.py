"""The web-form page: one HTML shell around ODK Web Forms, for members and public links.

The engine (``static/webforms/``, built from ``web/`` by ``scripts/build_webforms.sh``)
reads its settings from a JSON block in the page: where the XForm, its attachments and
the intake are, the form's key on this device, and the words of the interface in the
page's language (the form's own languages come from the XForm).

The page has a policy of its own: the engine's components set inline styles and inject
style sheets, and its XPath parser is WebAssembly, so ``style-src`` allows
'unsafe-inline' and ``script-src`` 'wasm-unsafe-eval'; scripts still come only from this
site, and nothing is loaded from elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response

from citizendata.i18n import current_language
from citizendata.i18n import gettext as _
from citizendata.server.pages import render
from citizendata.workspace import Client

__all__ = ["ENGINE_DIR", "FILL_POLICY", "FillConfig", "engine_build", "engine_strings",
           "fill_response", "interface_strings"]

ENGINE_DIR = Path(__file__).parent / "static" / "webforms"

FILL_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
               "media-src 'self' blob:; connect-src 'self' data: blob:; "
               "worker-src 'self' blob:; manifest-src 'self'; object-src 'none'; "
               "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


@dataclass(frozen=True)
class FillConfig:
    """Where one form page finds its form and sends its submissions."""

    project_slug: str
    form_id: str
    title: str
    form_xml_url: str
    attachments_url: str
    submit_url: str
    mode: Literal["member", "public"]
    back_url: str | None = None
    link_name: str | None = None
    project_name: str | None = None


@lru_cache(maxsize=4)
def _build(mtime_ns: int) -> tuple[str, str, tuple[str, ...]]:
    manifest = json.loads((ENGINE_DIR / "manifest.json").read_text(encoding="utf-8"))
    entry_key, entry = next((k, v) for k, v in manifest.items() if v.get("isEntry"))
    version = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    imports = tuple("/static/webforms/" + manifest[k]["file"] for k in entry.get("imports", ())
                    if k != entry_key and k in manifest)
    return "/static/webforms/" + entry["file"], version, imports


def engine_build() -> tuple[str, str]:
    """The engine's entry script URL and a short id of the build (for the service worker)."""
    script, version, _imports = _build((ENGINE_DIR / "manifest.json").stat().st_mtime_ns)
    return script, version


def engine_imports() -> tuple[str, ...]:
    """The chunks the entry imports, preloaded with the page (one round trip less)."""
    return _build((ENGINE_DIR / "manifest.json").stat().st_mtime_ns)[2]


def interface_strings() -> dict[str, str]:
    """The words the page's script shows, in the request's language."""
    return {
        "online": _("Online."), "offline": _("Offline: submissions wait on this device."),
        "counts": _("Waiting: {queued} · sent: {sent} · refused: {refused}"),
        "login_needed": _("Your session has ended: log in again to send what is waiting."),
        "login": _("Log in"),
        "state_queued": _("Waiting to send"), "state_sent": _("Sent"),
        "state_refused": _("Refused"),
        "version": _("form version {version}"),
        "duplicate": _("(the server already had it: nothing changed)"),
        "retry": _("Try again"), "remove": _("Remove from this device"),
        "repeat_options": _("Options for this repeat"),
        "sent_note": _("Once sent, a submission's answers are no longer kept on this device."),
        "empty": _("Nothing filled on this device yet."), "send_now": _("Send now"),
        "draft_restored": _("Draft from {time} reopened."),
        "draft_saved": _("Draft saved on this device at {time}."),
        "discard_draft": _("Discard the draft"),
        "discard_confirm": _("Discard this draft? Its answers will be lost."),
        "loading": _("Loading the form…"),
        "not_offline": _("This form is not on this device yet: open it once while online."),
        "queued_one": _("Saved on this device; it will be sent when the connection allows."),
    }


def engine_strings() -> dict[str, str]:
    """ODK Web Forms' own words (English only in 0.22) in the request's language; the
    build routes each through this table (web/vite.config.js, ENGINE_TEXT)."""
    if current_language() == "en":
        return {}
    return {
        "Send": _("Send"), "Add": _("Add"), "Remove": _("Remove"), "Cancel": _("Cancel"),
        "Save location": _("Save location"), "Change language": _("Change language"),
        "Get location": _("Get location"), "Take picture": _("Take picture"),
        "Choose image": _("Choose image"),
        "1 question with error.": _("1 question with error."),
        "{n} questions with errors.": _("{n} questions with errors."),
        "Location unavailable. Enable GPS and browser permissions, then restart the form to "
        "try again.": _("Location unavailable. Enable GPS and browser permissions, then "
                        "restart the form to try again."),
        "Condition not satisfied: constraint": _("This answer is not allowed."),
        "Condition not satisfied: required": _("This question needs an answer."),
    }


def fill_response(request: Request, client: Client | None, cfg: FillConfig) -> Response:
    """The page that fills ``cfg``'s form, under its own content policy."""
    script, build = engine_build()
    # a member's drafts and outbox are theirs alone on a shared phone: keyed by user name
    user = client.actor.username if client is not None and cfg.mode == "member" else None
    form_key = (f"public:{cfg.submit_url}" if user is None
                else f"member:{user}:{cfg.project_slug}:{cfg.form_id}")
    settings: dict[str, Any] = {
        "formKey": form_key, "title": cfg.title, "mode": cfg.mode, "user": user,
        "formXmlUrl": cfg.form_xml_url, "attachmentsUrl": cfg.attachments_url,
        "submitUrl": cfg.submit_url, "meUrl": "/api/v1/me",
        "loginUrl": "/login?next=" + request.url.path, "language": current_language(),
        "serviceWorkerUrl": f"/webforms-sw.js?v={build}", "strings": interface_strings(),
        "engineStrings": engine_strings(),
    }
    # '</' cannot end the JSON block early: escaped as in a JavaScript string
    config = json.dumps(settings, ensure_ascii=False).replace("</", "<\\/")
    response = render(request, "webform_fill.html", client, fill=cfg, config=config,
                      script=script, preload=engine_imports(), manifest_url=f"/webforms.webmanifest?start={request.url.path}")
    response.headers["content-security-policy"] = FILL_POLICY
    return response

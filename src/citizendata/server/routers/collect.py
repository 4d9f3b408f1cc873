"""The collector's entry point: ``GET /projects/{slug}/collect``.

Every form of the project with its newest version and its languages, a link that fills
it in the browser (routers/webforms.py), and whether it is kept on this device for use
without a connection (static/collect.js asks the Cache API and, on request, the service
worker); then the ODK Collect set-up (server URL and settings QR code, shared with the
project page). Without JavaScript the page still lists the forms and their links.
Members who can submit (collector, manager, owner…) see it; other roles get a 403 page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from citizendata.auth import Action, allowed
from citizendata.errors import Forbidden
from citizendata.forms.languages import form_languages
from citizendata.server.deps import api_client
from citizendata.server.pages import render
from citizendata.server.routers.html import odk_collect_setup
from citizendata.server.serialize import project_dict
from citizendata.server.webform_page import engine_build
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
# what the fill page loads besides base.html's stylesheets (kept with a form for offline use)
FILL_ASSETS = ("/static/webform.css",)


def _form_entry(client: Client, slug: str, form_id: str, title: str) -> dict[str, Any]:
    """One form as the page lists it: newest version, languages, fill link and the URLs a
    device keeps to fill it offline (page, XForm, media files)."""
    fv, xml = client.xform(slug, form_id)
    fill = f"/projects/{quote(slug, safe='')}/forms/{quote(form_id, safe='')}/fill"
    keep = [fill, f"{fill}/form.xml",
            *(f"{fill}/attachments/{quote(name, safe='')}" for name in fv.attachments)]
    return {"form_id": form_id, "title": title, "version": fv.version,
            "languages": form_languages(xml), "fill_url": fill, "keep_urls": keep}


@router.get("/projects/{slug}/collect")
def collect_page(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """The project's forms to fill in the browser or keep on the device, and the ODK
    Collect set-up."""
    info = project_dict(client.project(slug))
    if not (client.actor.is_admin or allowed(info["role"], Action.SUBMISSION_CREATE)):
        raise Forbidden("auth.forbidden", "Your role in this project cannot submit forms.",
                        fix="Ask a project manager for the collector role.")
    forms = [_form_entry(client, slug, f.form_id, f.title) for f in client.forms(slug)
             if f.versions]
    return render(request, "collect.html", client, role=info["role"], project=info,
                  forms=forms, build=engine_build()[1], fill_assets=list(FILL_ASSETS),
                  **odk_collect_setup(request, client, slug, info["name"]))

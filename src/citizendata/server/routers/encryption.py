"""Encrypted forms over the API: managed keys, private keys, and decrypting exports.

The passphrase travels in the JSON body of a POST (never in a URL, which proxies log)
and goes straight to the library call; nothing here keeps or logs it.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["encryption"])


class EnableRequest(BaseModel):
    """A passphrase for the project's new key (at least 10 characters) and a hint."""

    passphrase: str = Field(min_length=1, max_length=1000)
    hint: str | None = Field(default=None, max_length=300)


class PrivateKeyRequest(BaseModel):
    """The PEM private key of a form's own public_key, and the passphrase to seal it."""

    private_key: str = Field(min_length=1, max_length=20000)
    passphrase: str = Field(min_length=1, max_length=1000)
    hint: str | None = Field(default=None, max_length=300)


class ExportRequest(BaseModel):
    """The passphrase that decrypts the form's encrypted submissions."""

    passphrase: str = Field(min_length=1, max_length=1000)
    include_personal: bool = False


@router.get("/projects/{slug}/encryption", summary="The project's encryption keys")
def status(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Keys (public parts and fingerprints), forms with their own key, what waits encrypted."""
    return client.encryption_status(slug)


@router.post("/projects/{slug}/encryption", status_code=201,
             summary="Enable managed encryption (owners and managers)")
def enable(slug: str, body: EnableRequest, client: Client = Depends(api_client)
           ) -> dict[str, Any]:
    """Generate the project's key pair; its forms are served with the public key from now."""
    return client.enable_encryption(slug, body.passphrase, body.hint).to_dict()


@router.post("/projects/{slug}/encryption/keys", status_code=201,
             summary="Register the private key of a form's own public key")
def register_key(slug: str, body: PrivateKeyRequest, client: Client = Depends(api_client)
                 ) -> dict[str, Any]:
    """Seal the private key under the passphrase; the form's submissions can then decrypt."""
    return client.register_private_key(slug, body.private_key, body.passphrase,
                                       body.hint).to_dict()


@router.post("/projects/{slug}/forms/{form_id}/export", response_class=Response,
             summary="A snapshot with the encrypted submissions decrypted (zip)",
             responses={200: {"content": {"application/zip": {}}}})
async def export(slug: str, form_id: str, body: ExportRequest,
                 client: Client = Depends(api_client)) -> Response:
    """The snapshot's Parquet files, snapshot.json and decryption.json (and media) as a zip."""
    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="citizendata-export-") as tmp:
            out = Path(tmp) / "snapshot"
            client.snapshot_decrypted(slug, form_id, out, body.passphrase,
                                      include_personal=body.include_personal)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(out.rglob("*")):
                    if path.is_file():
                        zf.write(path, path.relative_to(out).as_posix())
            return buf.getvalue()

    data = await run_in_threadpool(build)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{form_id}-decrypted.zip"'})

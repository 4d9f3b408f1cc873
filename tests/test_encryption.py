"""Encrypted forms: ODK Collect encrypts, OpenRosa stores as received, a passphrase decrypts.

``collect_encrypt`` ports ODK Collect's encryption to Python, step by step, from
``collect_app/src/main/java/org/odk/collect/android/utilities/EncryptionUtils.java``
(github.com/getodk/collect at commit 137f3259b18e5af3c08339f9016278b277812cc2,
Apache License 2.0): ``EncryptedFormInformation`` (random AES-256 key, ivSeedArray =
md5(instanceID, key), RSA/NONE/OAEPWithSHA256AndMGF1Padding), ``getCipher`` (one seed
byte incremented per file), ``encryptSubmissionFiles`` (media first, submission.xml
last), ``getBase64EncryptedElementSignature`` and ``writeSubmissionManifest``. The key pair
of forms with their own key is in tests/data/odk_encryption.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import warnings
import wave
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import func, select

from citizendata.errors import BadInput, Conflict
from citizendata.ingest import encrypted as enc
from citizendata.server.app import create_app
from citizendata.store.models import AuditEvent, EncryptedFile, EncryptedSubmission, Submission
from citizendata.workspace import Client, Workspace
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

DATA = Path(__file__).parent / "data" / "odk_encryption"
PASSPHRASE = "Tausi-ndogo 2026 kwa haki"
SPEC: dict[str, Any] = {
    "slug": "safe-voices",
    "name": "Safe voices",
    "initiator": {"slug": "safe-voices-org", "name": "Safe Voices"},
    "engagement": {"collect": {"level": 5}},
}
SURVEY = [
    {"type": "text", "name": "alias", "label": "Alias", "personal": "yes"},
    {"type": "select_one kind", "name": "incident", "label": "What happened?"},
    {"type": "integer", "name": "age", "label": "Age"},
    {"type": "audio", "name": "testimony", "label": "Testimony"},
    {"type": "begin_repeat", "name": "perpetrator", "label": "Who?"},
    {"type": "select_one who", "name": "who", "label": "Who was it?"},
    {"type": "end_repeat"},
]
CHOICES = [{"list_name": "kind", "name": "threat", "label": "Threat"},
           {"list_name": "kind", "name": "assault", "label": "Assault"},
           {"list_name": "who", "name": "police", "label": "Police"},
           {"list_name": "who", "name": "neighbour", "label": "Neighbour"}]
OR = "/openrosa/safe-voices"


def form(form_id: str = "incident", **settings: str) -> bytes:
    """The XLSForm (settings may add pyxform's public_key)."""
    return make_xlsform(SURVEY, CHOICES, {"form_id": form_id, "version": "2026-12",
                                          "form_title": "Incident", **settings})


def instance(iid: str, alias: str = "Mawingu", age: str = "31", form_id: str = "incident",
             audio: str = "1765100000.wav") -> bytes:
    """A filled instance as ODK Collect writes submission.xml."""
    return (f"<?xml version='1.0' ?><data id=\"{form_id}\" version=\"2026-12\" "
            f"xmlns:orx=\"http://openrosa.org/xforms\"><alias>{alias}</alias>"
            f"<incident>threat</incident><age>{age}</age><testimony>{audio}</testimony>"
            "<perpetrator><who>police</who></perpetrator>"
            "<perpetrator><who>neighbour</who></perpetrator>"
            f"<meta><orx:instanceID>{iid}</orx:instanceID></meta></data>").encode()


def recording() -> bytes:
    """A short WAV recording (Python's wave module writes it as a recorder would)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(range(256)) * 40)
    return buf.getvalue()


# -- ODK Collect's EncryptionUtils, ported ---------------------------------------------

OAEP_SHA256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                           label=None)


def collect_encrypt(xform: str, submission_xml: bytes, media: dict[str, bytes]
                    ) -> tuple[bytes, dict[str, bytes]]:
    """(manifest, {name.enc: bytes}) exactly as ODK Collect's generateEncryptedSubmission."""
    form_id = re.search(r'<data[^>]* id="([^"]+)"', xform)
    version = re.search(r'<data[^>]* version="([^"]+)"', xform)
    b64_public = re.search(r'base64RsaPublicKey="([^"]+)"', xform)
    assert form_id and b64_public, "the served form must carry id and base64RsaPublicKey"
    public = serialization.load_der_public_key(base64.b64decode(b64_public.group(1)))
    assert isinstance(public, rsa.RSAPublicKey)
    instance_id = re.search(rb"<orx:instanceID>([^<]+)<", submission_xml)
    assert instance_id
    iid = instance_id.group(1).decode()
    # EncryptedFormInformation(...)
    key = os.urandom(32)
    iv_seed = bytearray(hashlib.md5(iid.encode("utf-8") + key).digest())
    b64_key = base64.b64encode(public.encrypt(key, OAEP_SHA256)).decode()
    signature_source = [form_id.group(1), *([version.group(1)] if version else []), b64_key, iid]
    out: dict[str, bytes] = {}
    # encryptSubmissionFiles: every media file, then submission.xml last
    for counter, (name, data) in enumerate([*media.items(), ("submission.xml", submission_xml)]):
        signature_source.append(f"{name}::{hashlib.md5(data).hexdigest()}")
        iv_seed[counter % 16] = (iv_seed[counter % 16] + 1) & 0xFF  # ++ivSeedArray[ivCounter]
        # AES/CFB/PKCS5Padding under BouncyCastle: CFB128 with 16-byte PKCS#7 padding
        pad = 16 - len(data) % 16
        cipher = Cipher(algorithms.AES(key), modes.CFB(bytes(iv_seed))).encryptor()
        out[name + ".enc"] = cipher.update(data + bytes([pad]) * pad) + cipher.finalize()
    digest = hashlib.md5(("\n".join(signature_source) + "\n").encode("utf-8")).digest()
    signature = base64.b64encode(public.encrypt(digest, OAEP_SHA256)).decode()
    # writeSubmissionManifest (KXmlSerializer output)
    ns = "http://www.opendatakit.org/xforms/encrypted"
    files = "".join(f"<media><file>{n}.enc</file></media>\n" for n in media)
    ver = f' version="{version.group(1)}"' if version else ""
    manifest = (f'<data xmlns="{ns}" id="{form_id.group(1)}"{ver} encrypted="yes">'
                f"<base64EncryptedKey>{b64_key}</base64EncryptedKey>"
                f'<orx:meta xmlns:orx="http://openrosa.org/xforms">'
                f"<orx:instanceID>{iid}</orx:instanceID></orx:meta>\n{files}"
                f"<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
                f"<base64EncryptedElementSignature>{signature}"
                f"</base64EncryptedElementSignature></data>")
    return manifest.encode("utf-8"), out


def post(http: TestClient, headers: dict[str, str], manifest: bytes,
         files: dict[str, bytes]) -> Any:
    """POST as ODK Collect does: the manifest as xml_submission_file, the .enc files."""
    parts = [("xml_submission_file", ("submission.xml", manifest, "text/xml"))]
    parts += [(n, (n, d, "application/octet-stream")) for n, d in files.items()]
    return http.post(f"{OR}/submission", files=parts, headers=headers)


@pytest.fixture
def project(ws: Workspace) -> Client:
    """'amani' owns the project with managed encryption on; the form is uploaded."""
    me = ws.create_admin("amani", "amani-password")
    me.create_project(SPEC)
    me.add_form("safe-voices", form(), "incident.xlsx")
    me.enable_encryption("safe-voices", PASSPHRASE, hint="the usual one")
    return me


@pytest.fixture
def http(ws: Workspace, project: Client) -> Any:
    with TestClient(create_app(ws)) as c:
        c.headers.update({"Authorization": f"Bearer {project.create_token('collect')}"})
        yield c


def rows_of(report: Any, table: str) -> list[dict[str, Any]]:
    """The rows of one of the snapshot's tables."""
    info = report.info
    return pq.read_table(Path(info.path) / info.tables[table].file).to_pylist()


def served(http: TestClient, form_id: str = "incident") -> str:
    r = http.get(f"{OR}/forms/{form_id}/form.xml")
    assert r.status_code == 200
    return r.text


def test_collect_encrypted_submission_is_stored_encrypted_and_decrypts_with_passphrase(
        ws: Workspace, project: Client, http: TestClient, tmp_path: Path) -> None:
    xform = served(http)
    status = project.encryption_status("safe-voices")
    assert f'base64RsaPublicKey="{status["managed"]["public_key"]}"' in xform
    audio = recording()
    plain = instance("uuid:7d1e0c55-1f0a-4c0e-9b8a-0c3f5d1e2a01")
    manifest, files = collect_encrypt(xform, plain, {"1765100000.wav": audio})
    r = post(http, {}, manifest, files)
    assert r.status_code == 201, r.text
    # an identical resend (Collect retries) changes nothing
    assert post(http, {}, manifest, files).status_code == 202
    with ws.transaction(write=False) as db:
        row = db.scalars(select(EncryptedSubmission)).one()
        stored = {f.name: f.data for f in db.scalars(select(EncryptedFile))}
        assert db.scalar(select(func.count()).select_from(Submission)) == 0
        events = db.scalars(select(AuditEvent).where(
            AuditEvent.object_type == "encrypted_submission")).all()
    assert row.envelope == manifest and stored == files  # exactly as received
    assert b"Mawingu" not in row.envelope and all(b"Mawingu" not in d for d in stored.values())
    assert audio not in stored["1765100000.wav.enc"]
    assert [e.details["instance_id"] for e in events] == [row.instance_id]

    report = project.snapshot_decrypted("safe-voices", "incident", tmp_path / "snap",
                                        PASSPHRASE, include_personal=True)
    assert report.decrypted == 1 and report.problems == ()
    table = rows_of(report, "incident")
    assert len(table) == 1
    got = table[0]
    assert (got["_instance_id"], got["alias"], got["incident"], got["age"]) == (
        "uuid:7d1e0c55-1f0a-4c0e-9b8a-0c3f5d1e2a01", "Mawingu", "threat", 31)
    assert got["_id"] < 0  # numbered apart from submissions stored in the clear
    repeat = next(n for n in report.info.tables if n != "incident")
    assert [(r["_submission_id"], r["who"]) for r in rows_of(report, repeat)] == [
        (got["_id"], "police"), (got["_id"], "neighbour")]
    media = tmp_path / "snap" / report.media[0]
    assert media.name == "1765100000.wav" and media.read_bytes() == audio
    summary = json.loads((tmp_path / "snap" / "decryption.json").read_text())
    assert summary["decrypted"] == 1 and summary["problems"] == []
    # the same through the API: a zip of the snapshot
    r = http.post("/api/v1/projects/safe-voices/forms/incident/export",
                  json={"passphrase": PASSPHRASE})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert {"incident.parquet", "snapshot.json", "decryption.json"} <= set(zf.namelist())
        api_rows = pq.read_table(io.BytesIO(zf.read("incident.parquet"))).to_pylist()
    assert [row["_instance_id"] for row in api_rows] == [got["_instance_id"]]
    assert "alias" not in api_rows[0]  # personal fields only when asked for
    assert http.get("/api/v1/projects/safe-voices/encryption").json()[
        "encrypted_submissions"] == {"incident": 1}
    with ws.transaction(write=False) as db:
        logged = json.dumps([e.details for e in db.scalars(select(AuditEvent))])
    assert PASSPHRASE not in logged and "Mawingu" not in logged


def test_wrong_passphrase_is_a_coded_error_and_decrypts_nothing(
        project: Client, http: TestClient, tmp_path: Path) -> None:
    manifest, files = collect_encrypt(served(http), instance("uuid:a1"), {})
    assert post(http, {}, manifest, files).status_code == 201
    with pytest.raises(BadInput) as caught:
        project.snapshot_decrypted("safe-voices", "incident", tmp_path / "s",
                                   "not the passphrase")
    assert caught.value.code == "encryption.wrong_passphrase"
    assert "not the passphrase" not in str(caught.value)
    assert not (tmp_path / "s").exists()
    r = http.post("/api/v1/projects/safe-voices/forms/incident/export",
                  json={"passphrase": "not the passphrase"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "encryption.wrong_passphrase"


def test_passphrase_guesses_are_throttled_per_member(
        ws: Workspace, project: Client, http: TestClient, tmp_path: Path) -> None:
    """Five wrong passphrases in the window, then even the right one waits (429); the
    count is the guesser's own, and a right passphrase forgets it."""
    manifest, files = collect_encrypt(served(http), instance("uuid:t1"), {})
    assert post(http, {}, manifest, files).status_code == 201
    assert ws.settings.login_max_failures == 5
    project.create_user("baraka", "baraka-password")
    project.add_member("safe-voices", "baraka", "manager")
    manager = ws.as_user("baraka")
    manager.snapshot_decrypted("safe-voices", "incident", tmp_path / "m0", PASSPHRASE)
    for i in range(4):
        with pytest.raises(BadInput):
            manager.snapshot_decrypted("safe-voices", "incident", tmp_path / f"m{i + 1}",
                                       f"guess {i}")
    # a right passphrase resets the count: four more guesses are still answered
    manager.snapshot_decrypted("safe-voices", "incident", tmp_path / "m5", PASSPHRASE)
    for i in range(5):
        r = http.post("/api/v1/projects/safe-voices/forms/incident/export",
                      json={"passphrase": f"guess {i}"})
        assert r.status_code == 422
    r = http.post("/api/v1/projects/safe-voices/forms/incident/export",
                  json={"passphrase": PASSPHRASE})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "passphrase attempts" in r.json()["error"]["message"]
    # another member's guesses are counted apart
    manager.snapshot_decrypted("safe-voices", "incident", tmp_path / "m6", PASSPHRASE)


def test_tampered_signature_and_damaged_file_are_named_and_the_rest_decrypts(
        project: Client, http: TestClient, tmp_path: Path) -> None:
    xform = served(http)
    good, good_files = collect_encrypt(xform, instance("uuid:good", alias="Nyota"), {})
    # the answers swapped for another submission's, under this one's signature
    forged, forged_files = collect_encrypt(xform, instance("uuid:forged", age="99"), {})
    sig = re.search(rb"<base64EncryptedElementSignature>([^<]+)<", good)
    assert sig
    tampered = re.sub(rb"(<base64EncryptedElementSignature>)[^<]+", rb"\g<1>" + sig.group(1),
                      forged)
    damaged, damaged_files = collect_encrypt(xform, instance("uuid:damaged"), {})
    damaged_files["submission.xml.enc"] = damaged_files["submission.xml.enc"][:-5]
    for manifest, files in ((good, good_files), (tampered, forged_files),
                            (damaged, damaged_files)):
        assert post(http, {}, manifest, files).status_code == 201
    report = project.snapshot_decrypted("safe-voices", "incident", tmp_path / "s", PASSPHRASE,
                                        include_personal=True)
    problems = {p.where.instance_id: p.code for p in report.problems if p.where}
    assert problems == {"uuid:forged": "encryption.bad_signature",
                        "uuid:damaged": "encryption.corrupted"}
    rows = rows_of(report, "incident")
    assert [(r["_instance_id"], r["alias"]) for r in rows] == [("uuid:good", "Nyota")]


def test_intake_rules_before_decryption(ws: Workspace, project: Client, http: TestClient) -> None:
    xform = served(http)
    manifest, files = collect_encrypt(xform, instance("uuid:same"), {})
    assert post(http, {}, manifest, files).status_code == 201
    # the same instance id with another manifest is a conflict; nothing changes
    other, other_files = collect_encrypt(xform, instance("uuid:same", age="40"), {})
    r = post(http, {}, other, other_files)
    assert r.status_code == 409 and "conflict.submission" in r.text
    # a file the manifest does not list (a photo in the clear) is refused
    manifest2, files2 = collect_encrypt(xform, instance("uuid:leak"), {})
    r = post(http, {}, manifest2, {**files2, "photo.jpg": b"\xff\xd8 in the clear"})
    assert r.status_code == 422 and "encryption.unexpected_file" in r.text
    # a manifest without its key is named precisely
    broken = re.sub(rb"<base64EncryptedKey>[^<]+</base64EncryptedKey>", b"", manifest2)
    r = post(http, {}, broken, files2)
    assert r.status_code == 422 and "base64EncryptedKey" in r.text
    with ws.transaction(write=False) as db:
        assert db.scalar(select(func.count()).select_from(EncryptedSubmission)) == 1


def test_split_submission_keeps_every_file_once(ws: Workspace, http: TestClient,
                                                 project: Client, tmp_path: Path) -> None:
    audio = recording()
    manifest, files = collect_encrypt(served(http), instance("uuid:split"),
                                      {"1765100000.wav": audio})
    # Collect sends a big submission in parts, each with the same manifest
    assert post(http, {}, manifest, {"1765100000.wav.enc": files["1765100000.wav.enc"]}
                ).status_code == 201
    with pytest.raises(BadInput) as partial:  # nothing else to snapshot yet
        project.snapshot_decrypted("safe-voices", "incident", tmp_path / "a", PASSPHRASE)
    assert [(p.code, p.where and p.where.instance_id) for p in partial.value.problems] == [
        ("encryption.missing_file", "uuid:split")]
    assert post(http, {}, manifest, {"submission.xml.enc": files["submission.xml.enc"]}
                ).status_code == 202
    done = project.snapshot_decrypted("safe-voices", "incident", tmp_path / "b", PASSPHRASE)
    assert done.decrypted == 1 and done.problems == () and done.media == ()  # no personal


def test_form_with_its_own_public_key_waits_for_its_private_key(
        ws: Workspace, tmp_path: Path) -> None:
    me = ws.create_admin("amani", "amani-password")
    me.create_project(SPEC)
    public = "".join(line for line in (DATA / "test_pub.pem").read_text().splitlines()
                     if "-----" not in line)
    me.add_form("safe-voices", form("own_key", public_key=public), "own.xlsx")
    with TestClient(create_app(ws)) as http:
        http.headers.update({"Authorization": f"Bearer {me.create_token('c')}"})
        xform = served(http, "own_key")
        assert f'base64RsaPublicKey="{public}"' in xform
        manifest, files = collect_encrypt(xform, instance("uuid:own", form_id="own_key"), {})
        assert post(http, {}, manifest, files).status_code == 201
    status = me.encryption_status("safe-voices")
    assert status["encrypted_submissions"] == {"own_key": 1}
    assert status["forms_with_own_key"]["own_key"]["private_key_registered"] is False
    with pytest.raises(BadInput) as none_yet:
        me.snapshot_decrypted("safe-voices", "own_key", tmp_path / "x", PASSPHRASE)
    assert none_yet.value.code == "encryption.no_private_key"
    with pytest.raises(BadInput) as stranger:
        me.register_private_key("safe-voices", enc.generate_key_pair().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()), PASSPHRASE)
    assert stranger.value.code == "encryption.unknown_key"
    with pytest.raises(BadInput) as short:
        me.register_private_key("safe-voices", (DATA / "test_priv.pem").read_bytes(), "short")
    assert short.value.code == "encryption.weak_passphrase"
    key = me.register_private_key("safe-voices", (DATA / "test_priv.pem").read_bytes(),
                                  PASSPHRASE)
    assert key.forms == ("own_key",) and not key.managed
    with pytest.raises(Conflict):
        me.register_private_key("safe-voices", (DATA / "test_priv.pem").read_bytes(),
                                PASSPHRASE)
    report = me.snapshot_decrypted("safe-voices", "own_key", tmp_path / "s", PASSPHRASE)
    rows = rows_of(report, "own_key")
    assert [(r["_instance_id"], r["age"]) for r in rows] == [("uuid:own", 31)]


def test_withdrawal_and_erasure_apply_before_decryption(
        ws: Workspace, project: Client, http: TestClient, tmp_path: Path) -> None:
    xform = served(http)
    sent = {iid: collect_encrypt(xform, instance(iid), {}) for iid in
            ("uuid:keep", "uuid:withdrawn", "uuid:erased")}
    for manifest, files in sent.values():
        assert post(http, {}, manifest, files).status_code == 201
    project.withdraw_consent("safe-voices", "incident", "uuid:withdrawn")
    project.withdraw_consent("safe-voices", "incident", "uuid:erased", erase=True)
    with ws.transaction(write=False) as db:
        erased = db.scalars(select(EncryptedSubmission).where(
            EncryptedSubmission.instance_id == "uuid:erased")).one()
        assert erased.envelope == b""
        assert db.scalar(select(func.count()).select_from(EncryptedFile).where(
            EncryptedFile.encrypted_submission_id == erased.id)) == 0
    # the phone resends what it still holds: answered like a duplicate, nothing stored
    r = post(http, {}, *sent["uuid:erased"])
    assert r.status_code == 202
    with ws.transaction(write=False) as db:
        assert db.scalar(select(func.count()).select_from(EncryptedFile).where(
            EncryptedFile.encrypted_submission_id == erased.id)) == 0
    report = project.snapshot_decrypted("safe-voices", "incident", tmp_path / "s", PASSPHRASE)
    assert [r["_instance_id"] for r in rows_of(report, "incident")] == ["uuid:keep"]
    assert report.left_out == 2 and report.problems == ()


def test_cli_enables_encryption_and_exports_decrypted(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from citizendata.cli import app

    runner = CliRunner()
    root = tmp_path / "ws"

    def cli(*args: str, secret: str = PASSPHRASE) -> tuple[int, str]:
        r = runner.invoke(app, [*args, "-w", str(root)], catch_exceptions=False,
                          env={"CITIZENDATA_PASSWORD": "", "CITIZENDATA_PASSPHRASE": secret})
        return r.exit_code, r.output

    assert cli("init", "--admin", "amani", "--password", "amani-password")[0] == 0
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    (tmp_path / "incident.xlsx").write_bytes(form())
    assert cli("projects", "create", str(tmp_path / "spec.json"))[0] == 0
    assert cli("forms", "add", "safe-voices", str(tmp_path / "incident.xlsx"))[0] == 0
    code, out = cli("encryption", "enable", "safe-voices")
    assert code == 0 and "Encryption enabled" in out, out
    ws = Workspace.open(root)
    try:
        me = ws.as_user("amani")
        _, xform = me.xform("safe-voices", "incident")
        manifest, files = collect_encrypt(xform, instance("uuid:cli"), {})
        from citizendata.services.intake import StoredAttachment

        assert me.submit_instance("safe-voices", manifest, [
            StoredAttachment(n, "application/octet-stream", d) for n, d in files.items()]
        ).created == 1
    finally:
        ws.close()
    code, out = cli("encryption", "status", "safe-voices")
    assert code == 0 and "incident: 1 encrypted" in out
    code, out = cli("export", "safe-voices", "incident", "--decrypt", "--out",
                    str(tmp_path / "wrong"), secret="a wrong passphrase")
    assert code == 2 and "encryption.wrong_passphrase" in out
    assert "a wrong passphrase" not in out
    code, out = cli("export", "safe-voices", "incident", "--decrypt", "--out",
                    str(tmp_path / "snap"))
    assert code == 0 and "1 encrypted submission(s) decrypted" in out, out
    got = pq.read_table(tmp_path / "snap" / "incident.parquet").to_pylist()
    assert [(r["_instance_id"], r["age"]) for r in got] == [("uuid:cli", 31)]


def test_roles_and_the_clear_copy_of_an_encrypted_instance_id(
        ws: Workspace, project: Client, http: TestClient, tmp_path: Path) -> None:
    project.create_user("baraka", "baraka-password")
    project.add_member("safe-voices", "baraka", "collector")
    project.create_user("stranger", "stranger-password")
    collector = {"Authorization": f"Bearer {ws.as_user('baraka').create_token('phone')}"}
    stranger = {"Authorization": f"Bearer {ws.as_user('stranger').create_token('t')}"}
    manifest, files = collect_encrypt(served(http), instance("uuid:by-collector"), {})
    assert post(http, stranger, manifest, files).status_code == 404
    assert post(http, collector, manifest, files).status_code == 201
    # the collector submits, but may neither decrypt nor manage keys
    r = http.post("/api/v1/projects/safe-voices/forms/incident/export",
                  json={"passphrase": PASSPHRASE}, headers=collector)
    assert r.status_code == 403
    r = http.post("/api/v1/projects/safe-voices/encryption/keys", headers=collector,
                  json={"private_key": (DATA / "test_priv.pem").read_text(),
                        "passphrase": PASSPHRASE})
    assert r.status_code == 403
    r = http.get("/api/v1/projects/safe-voices/encryption", headers=stranger)
    assert r.status_code == 404
    # the same instance id sent again in the clear is a conflict, not a second copy
    r = http.post(f"{OR}/submission", headers=collector, files=[
        ("xml_submission_file", ("submission.xml", instance("uuid:by-collector"),
                                 "text/xml"))])
    assert r.status_code == 409 and "already received encrypted" in r.text
    # a snapshot without the passphrase says what to do
    with pytest.raises(BadInput) as empty:
        project.snapshot("safe-voices", "incident", tmp_path / "plain")
    assert empty.value.code == "snapshot.empty" and "--decrypt" in (empty.value.fix or "")

"""ODK encrypted submissions: the submission manifest, key handling and decryption.

Implements the ODK XForms specification's encryption section
(https://getodk.github.io/xforms-spec/encryption) as ODK Collect writes it
(``EncryptionUtils.java``) and ODK Central reads it (``lib/util/crypto.js``):

- a random AES-256 key per submission, wrapped with the form's RSA public key by
  RSA/OAEP with SHA-256 and MGF1-SHA-256 (Java's ``RSA/NONE/OAEPWithSHA256AndMGF1Padding``
  under BouncyCastle), base64 in ``<base64EncryptedKey>``;
- every media file, then the instance XML (``submission.xml``), encrypted with
  AES/CFB (128-bit feedback) and PKCS#7 padding; the IV of file *n* (0-based, in that
  order) is md5(instanceID ‖ AES key) with byte ``i % 16`` incremented for i = 0…n;
- ``<base64EncryptedElementSignature>``: RSA/OAEP of the md5 of the lines form id,
  version (if any), base64EncryptedKey, instanceID, then ``name::md5hex`` of each
  original file in encryption order, each line ended by ``\\n``.

The project's private keys are sealed with a key derived from a passphrase:
PBKDF2-HMAC-SHA256 (600,000 iterations, 16-byte salt) and AES-256-GCM, whose
authentication tag tells a wrong passphrase from a right one. (ODK Central uses
PBKDF2-SHA256 with 128,000 iterations and AES-256-CBC; GCM adds the integrity check.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from citizendata.errors import BadInput, Problem, Where

__all__ = [
    "KDF_ITERATIONS",
    "MIN_PASSPHRASE",
    "Decrypted",
    "DecryptionFailed",
    "Envelope",
    "decrypt_file",
    "decrypt_submission",
    "fingerprint",
    "generate_key_pair",
    "is_envelope",
    "load_private_key",
    "parse_envelope",
    "public_key_b64",
    "seal_private_key",
    "submission_ivs",
    "unseal_private_key",
]

KDF_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
MIN_PASSPHRASE = 10  # as ODK Central asks
RSA_BITS = 2048
OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
                    label=None)
XML_FILE = "submission.xml"


@dataclass(frozen=True)
class Envelope:
    """The submission manifest ODK Collect sends in place of the instance XML."""

    form_id: str
    version: str | None
    instance_id: str
    encrypted_key: str
    xml_file: str
    media: tuple[str, ...]
    signature: str | None

    @property
    def files(self) -> tuple[str, ...]:
        """Every encrypted file, in encryption order (media first, the XML last)."""
        return (*self.media, self.xml_file)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def is_envelope(root: Element) -> bool:
    """True for a submission manifest (``<data encrypted="yes">``)."""
    return (root.get("encrypted") or "").strip().lower() == "yes"


def _text(elem: Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def parse_envelope(root: Element) -> Envelope:
    """The manifest's parts; every missing or malformed part is named at once."""
    children: dict[str, list[Element]] = {}
    for child in root:
        children.setdefault(_local(child.tag), []).append(child)

    def one(name: str) -> str:
        found = children.get(name, [])
        return _text(found[0]) if len(found) == 1 else ""

    meta = children.get("meta", [None])[0]
    instance_id = _text(next((c for c in meta or () if _local(c.tag) == "instanceID"), None))
    media = tuple(_text(next((c for c in m if _local(c.tag) == "file"), None))
                  for m in children.get("media", []))
    parts = {"id attribute": root.get("id") or "",
             "meta/instanceID": instance_id,
             "base64EncryptedKey": one("base64EncryptedKey"),
             "encryptedXmlFile": one("encryptedXmlFile")}
    problems = [Problem("encryption.invalid_envelope",
                        f"The encrypted submission's manifest has no {what}",
                        where=Where(field=what, instance_id=instance_id or None))
                for what, value in parts.items() if not value]
    problems += [Problem("encryption.invalid_envelope",
                         f"A <media> element of the manifest names no file (the {i + 1}. one)",
                         where=Where(field="media/file", instance_id=instance_id or None))
                 for i, name in enumerate(media) if not name]
    names = [*media, parts["encryptedXmlFile"]]
    problems += [Problem("encryption.invalid_envelope",
                         f"The manifest lists {name!r} more than once, or a file name with a "
                         "path", where=Where(field="media/file", instance_id=instance_id or None))
                 for name in sorted({n for n in names if names.count(n) > 1 or "/" in n
                                     or "\\" in n})]
    if problems:
        raise BadInput("encryption.invalid_envelope",
                       "The encrypted submission's manifest is incomplete: "
                       + "; ".join(p.message for p in problems), problems=problems,
                       where=problems[0].where)
    return Envelope(form_id=parts["id attribute"], version=root.get("version") or None,
                    instance_id=instance_id, encrypted_key=parts["base64EncryptedKey"],
                    xml_file=parts["encryptedXmlFile"], media=media,
                    signature=one("base64EncryptedElementSignature") or None)


# -- keys -----------------------------------------------------------------------------

def generate_key_pair() -> rsa.RSAPrivateKey:
    """A new RSA-2048 key pair (public exponent 65537), as ODK Central's managed keys."""
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def _public_der(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_b64(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """The public key as forms carry it: base64 DER SubjectPublicKeyInfo, one line."""
    return base64.b64encode(_public_der(key)).decode("ascii")


def fingerprint(public_b64: str) -> str:
    """The SHA-256 of a base64 public key's DER, hex (how keys are told apart)."""
    return hashlib.sha256(base64.b64decode("".join(public_b64.split()))).hexdigest()


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """An unencrypted PEM (PKCS#1 or PKCS#8) RSA private key; refused with a coded error."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise BadInput("encryption.invalid_private_key",
                       f"The private key cannot be read: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BadInput("encryption.invalid_private_key",
                       "The private key is not an RSA key (ODK encryption uses RSA).")
    return key


def _derive(passphrase: str, salt: bytes, iterations: int) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt,
                      iterations=iterations).derive(passphrase.encode("utf-8"))


def seal_private_key(key: rsa.RSAPrivateKey, passphrase: str, *,
                     iterations: int = KDF_ITERATIONS) -> dict[str, Any]:
    """The private key sealed under the passphrase (nothing here reveals the passphrase)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BadInput("encryption.weak_passphrase",
                       f"The passphrase has {len(passphrase)} characters; at least "
                       f"{MIN_PASSPHRASE} are needed.")
    salt, nonce = os.urandom(16), os.urandom(12)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    sealed = AESGCM(_derive(passphrase, salt, iterations)).encrypt(nonce, der, b"citizendata")
    b64 = base64.b64encode
    return {"scheme": "pbkdf2-sha256+aes-256-gcm", "iterations": iterations,
            "salt": b64(salt).decode(), "nonce": b64(nonce).decode(),
            "ciphertext": b64(sealed).decode()}


def unseal_private_key(sealed: Mapping[str, Any], passphrase: str) -> rsa.RSAPrivateKey | None:
    """The private key, or None when the passphrase is not the one it was sealed with."""
    b64 = base64.b64decode
    key = _derive(passphrase, b64(sealed["salt"]), int(sealed["iterations"]))
    try:
        der = AESGCM(key).decrypt(b64(sealed["nonce"]), b64(sealed["ciphertext"]),
                                  b"citizendata")
    except InvalidTag:
        return None
    private = serialization.load_der_private_key(der, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private


# -- decryption -----------------------------------------------------------------------

class DecryptionFailed(Exception):
    """One submission could not be decrypted; ``problem`` names its instance id."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class Decrypted:
    """A decrypted submission: the instance XML and the media under their own names."""

    instance_id: str
    xml: bytes
    media: dict[str, bytes] = field(default_factory=dict)


def submission_ivs(instance_id: str, aes_key: bytes, count: int) -> list[bytes]:
    """The IVs of the first ``count`` files (ODK Collect's ivSeedArray and ivCounter)."""
    seed = bytearray(hashlib.md5(instance_id.encode("utf-8") + aes_key).digest())
    out = []
    for n in range(count):
        seed[n % 16] = (seed[n % 16] + 1) & 0xFF  # a Java byte wraps around
        out.append(bytes(seed))
    return out


def _fail(code: str, env: Envelope, message: str, file: str | None = None) -> DecryptionFailed:
    return DecryptionFailed(Problem(code, message, where=Where(instance_id=env.instance_id,
                                                               file=file)))


def _unwrap(env: Envelope, keys: Sequence[rsa.RSAPrivateKey]
            ) -> tuple[rsa.RSAPrivateKey, bytes]:
    try:
        wrapped = base64.b64decode(env.encrypted_key, validate=True)
    except binascii.Error:
        raise _fail("encryption.corrupted", env, "base64EncryptedKey is not base64") from None
    for key in keys:
        try:
            aes = key.decrypt(wrapped, OAEP)
        except ValueError:
            continue  # another key of the project
        if len(aes) == 32:
            return key, aes
    raise _fail("encryption.no_key", env,
                f"None of the project's keys opened by this passphrase decrypts submission "
                f"{env.instance_id!r}")


def decrypt_file(data: bytes, aes_key: bytes, iv: bytes) -> bytes | None:
    """One file decrypted (AES-256/CFB128, PKCS#7 padding removed); None if it is damaged."""
    dec = Cipher(algorithms.AES(aes_key), modes.CFB(iv)).decryptor()
    padded = dec.update(data) + dec.finalize()
    pad = padded[-1] if padded else 0
    # PKCS#7 pads to whole 16-byte blocks with 1..16 bytes, each holding the count
    if len(padded) % 16 or not 1 <= pad <= 16 or not hmac.compare_digest(
            padded[-pad:], bytes([pad]) * pad):
        return None
    return padded[:-pad]


def _decrypt_file(env: Envelope, name: str, data: bytes, aes: bytes, iv: bytes) -> bytes:
    plain = decrypt_file(data, aes, iv)
    if plain is None:
        raise _fail("encryption.corrupted", env,
                    f"{name!r} of submission {env.instance_id!r} does not decrypt (corrupted "
                    "or truncated)", file=name)
    return plain


def _check_signature(env: Envelope, key: rsa.RSAPrivateKey, plain: Mapping[str, bytes]) -> None:
    if env.signature is None:
        return  # optional in the specification
    lines = [env.form_id, *([env.version] if env.version is not None else []),
             env.encrypted_key, env.instance_id]
    lines += [f"{_plain_name(n)}::{hashlib.md5(plain[n]).hexdigest()}" for n in env.files]
    expected = hashlib.md5(("\n".join(lines) + "\n").encode("utf-8")).digest()
    try:
        signed = key.decrypt(base64.b64decode(env.signature, validate=True), OAEP)
    except (ValueError, binascii.Error):
        signed = b""
    if not hmac.compare_digest(signed, expected):
        raise _fail("encryption.bad_signature", env,
                    f"The signature of submission {env.instance_id!r} does not match its "
                    "files: they were changed after the phone encrypted them, or damaged")


def _plain_name(enc_name: str) -> str:
    return enc_name[:-4] if enc_name.endswith(".enc") else enc_name


def decrypt_submission(env: Envelope, files: Mapping[str, bytes],
                       keys: Sequence[rsa.RSAPrivateKey]) -> Decrypted:
    """Decrypt one submission's files and check its signature (DecryptionFailed if not)."""
    missing = [n for n in env.files if n not in files]
    if missing:
        raise _fail("encryption.missing_file", env,
                    f"Submission {env.instance_id!r} lacks {', '.join(map(repr, missing))}: "
                    "the phone has not sent every file yet", file=missing[0])
    key, aes = _unwrap(env, keys)
    ivs = submission_ivs(env.instance_id, aes, len(env.files))
    plain = {n: _decrypt_file(env, n, files[n], aes, iv)
             for n, iv in zip(env.files, ivs, strict=True)}
    _check_signature(env, key, plain)
    return Decrypted(env.instance_id, plain[env.xml_file],
                     {_plain_name(n): plain[n] for n in env.media})

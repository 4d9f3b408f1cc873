"""Encrypted forms as Client calls: keys, and snapshots decrypted with the passphrase.

A mixin of ``Client`` (``self`` is a Client). The passphrase is handed to the library
call and dropped: it is never stored, logged or put into an error message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module

if TYPE_CHECKING:
    from citizendata.services import decryption, encryption, logins
    from citizendata.services.decryption import DecryptedSnapshot
    from citizendata.services.encryption import KeyInfo
else:  # PyArrow, the XLSForm parser: loaded on first use
    decryption = lazy_module("citizendata.services.decryption")
    encryption = lazy_module("citizendata.services.encryption")
    logins = lazy_module("citizendata.services.logins")

__all__ = ["EncryptionMethods"]


class EncryptionMethods:
    """Client methods for encrypted forms (a mixin: ``self`` is a Client)."""

    def enable_encryption(self, slug: str, passphrase: str, hint: str | None = None) -> KeyInfo:
        """Managed encryption: a new key pair, its private key sealed under the passphrase.

        Every form the project serves carries the public key from now on (owners and
        managers; it cannot be turned off).
        """
        me: Any = self
        return me._run(encryption.enable_managed, slug, passphrase, hint)

    def register_private_key(self, slug: str, private_pem: bytes | str, passphrase: str,
                             hint: str | None = None) -> KeyInfo:
        """Keep the private key of a form's own ``public_key``, sealed under the passphrase."""
        me: Any = self
        pem = private_pem.encode() if isinstance(private_pem, str) else private_pem
        return me._run(encryption.register_private_key, slug, pem, passphrase, hint)

    def encryption_status(self, slug: str) -> dict[str, Any]:
        """The project's keys, forms with their own key, and encrypted submissions per form."""
        me: Any = self
        return me._read(encryption.encryption_status, slug)

    def snapshot_decrypted(self, slug: str, form_id: str, out_dir: str | Path, passphrase: str,
                           *, include_personal: bool = False,
                           created_at: datetime | None = None,
                           progress: Callable[[int], None] | None = None) -> DecryptedSnapshot:
        """A snapshot into ``out_dir`` with the encrypted submissions decrypted.

        Never shared through the workspace's snapshot store: decrypted data stay where
        the caller asked for them.
        """
        me: Any = self
        limits = me._read(lambda db, who: _passphrase_limits(me, slug, who.user_id))
        # counted in a transaction of its own, so a wrong passphrase's rollback keeps it
        me.workspace.run(lambda db: logins.begin_attempt(db, limits))
        report: DecryptedSnapshot = me._read(
            decryption.make_decrypted_snapshot, slug, form_id, Path(out_dir), passphrase,
            include_personal=include_personal, created_at=created_at, progress=progress)
        me.workspace.run(lambda db: logins.succeeded(db, limits))
        me._run(decryption.audit_decrypted, slug, form_id, report, include_personal)
        return report


def _passphrase_limits(client: Any, slug: str, user_id: int) -> list[logins.Limit]:
    """Passphrase guesses count per user and project under the log-in limits (429 past
    them): the slow key derivation alone would let a member try several a second."""
    s = client.workspace.settings
    return logins.passphrase_limits(s.session_secret().encode(), slug, user_id,
                                    max_failures=s.login_max_failures,
                                    window_s=s.login_window_s)

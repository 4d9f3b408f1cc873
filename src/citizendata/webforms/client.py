"""Public links as Client calls: create one for a form, list them, revoke one (owners and
managers; services/public_links.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module

if TYPE_CHECKING:
    from citizendata.services import public_links as links_svc
else:
    links_svc = lazy_module("citizendata.services.public_links")

__all__ = ["PublicLinkMethods"]


class PublicLinkMethods:
    """Client methods for public links (a mixin: ``self`` is a Client)."""

    def create_public_link(self, slug: str, form_id: str, name: str, *,
                           expires_at: datetime | None = None,
                           max_submissions: int | None = None
                           ) -> tuple[links_svc.PublicLinkInfo, str]:
        """A new public link to a form and its token, shown this once (only its hash is
        kept): whoever holds ``BASE/f/{token}`` may fill and submit the form, anonymously,
        until the link is revoked, expires (``expires_at``, timezone-aware) or has
        stored ``max_submissions`` submissions."""
        me: Any = self
        out: tuple[links_svc.PublicLinkInfo, str] = me._run(
            links_svc.create_link, slug, form_id, name, expires_at=expires_at,
            max_submissions=max_submissions)
        return out

    def public_links(self, slug: str, form_id: str | None = None
                     ) -> list[links_svc.PublicLinkInfo]:
        """The project's public links (of one form if given), newest first; never tokens."""
        me: Any = self
        out: list[links_svc.PublicLinkInfo] = me._read(links_svc.list_links, slug, form_id)
        return out

    def revoke_public_link(self, slug: str, link_id: int) -> links_svc.PublicLinkInfo:
        """Switch a public link off for good; what it stored stays."""
        me: Any = self
        out: links_svc.PublicLinkInfo = me._run(links_svc.revoke_link, slug, link_id)
        return out

"""The anonymous side of public links, as Workspace calls (no user acts).

Every call takes the link's token; an unknown, revoked, expired or full link is a coded
error (weblink.*). Submissions are counted per client address first, in a transaction
of their own (so a refused one counts too), then stored through the intake like every
channel's (services/public_links.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module

if TYPE_CHECKING:
    from citizendata.services import intake
    from citizendata.services import public_links as links_svc
else:
    intake = lazy_module("citizendata.services.intake")
    links_svc = lazy_module("citizendata.services.public_links")

__all__ = ["PublicLinkAccess"]


class PublicLinkAccess:
    """Workspace methods for whoever holds a public link (a mixin: ``self`` is a Workspace)."""

    def resolve_public_link(self, token: str) -> links_svc.LinkTarget:
        """What a link's token opens (its project and form), or a coded error: unknown
        (404), revoked or expired (410), full (409)."""
        me: Any = self
        out: links_svc.LinkTarget = me.run(links_svc.resolve, token, write=False)
        return out

    def public_form_xml(self, token: str, version: str | None = None
                        ) -> tuple[links_svc.LinkTarget, str, str]:
        """(the link's target, the version, the XForm XML) of the link's form, the
        newest version unless one is named."""
        me: Any = self
        out: tuple[links_svc.LinkTarget, str, str] = me.run(
            links_svc.public_xform, token, version, write=False)
        return out

    def public_form_attachment(self, token: str, name: str, version: str | None = None
                               ) -> tuple[str, str, bytes]:
        """(name, content type, bytes) of a file the link's form serves."""
        me: Any = self
        out: tuple[str, str, bytes] = me.run(links_svc.public_attachment, token, name,
                                             version, write=False)
        return out

    def submit_public(self, token: str, xml: bytes,
                      media: Sequence[intake.StoredAttachment] = (), *,
                      address: str | None = None) -> intake.IntakeResult:
        """Store one XForm instance sent through a public link, anonymously.

        First counted against the per-address limit (``weblink_rate_per_minute``; 429
        past it, with the seconds to wait), then stored through the intake with channel
        ``weblink`` and ``source_meta`` ``{"public_link": id}``: an identical resend is
        a duplicate and does not count towards the link's cap.
        """
        me: Any = self
        settings = me.settings
        limit = settings.weblink_rate_per_minute
        if limit > 0:
            key = links_svc.address_key(settings.session_secret().encode(), address)
            me.run(links_svc.count_attempt, key, limit)
        out: intake.IntakeResult = me.run(links_svc.submit, token, xml, media,
                                          max_depth=settings.max_depth, retry_integrity=True)
        return out

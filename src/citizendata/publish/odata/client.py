"""The OData feed as Client calls (a mixin: ``self`` is a Client)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module

if TYPE_CHECKING:
    from citizendata.publish.odata.model import FormModel
    from citizendata.services import odata
else:  # loaded on the first OData call
    odata = lazy_module("citizendata.services.odata")

__all__ = ["ODataMethods"]


class ODataMethods:
    """Client methods for a form's OData service."""

    def odata_model(self, slug: str, form_id: str) -> FormModel:
        """The form's entity model as you may see it (service and metadata documents)."""
        me: Any = self
        ctx: odata.FeedContext = me._read(odata.feed_context, slug, form_id)
        return ctx.model

    def odata_stream(self, slug: str, form_id: str, table: str = "Submissions",
                     params: Mapping[str, str] | None = None, *,
                     service_root: str = "", page_size: int | None = None
                     ) -> Iterator[str]:
        """One entity set as OData JSON text, streamed in pieces.

        ``params`` are the OData query options ($top, $skip, $count, $select, $filter,
        $skiptoken); ``service_root`` the URL of the form's ``.svc``, for the links;
        ``page_size`` caps the rows per response (the rest behind @odata.nextLink).
        Permission and options are checked on this call, before anything is read.
        """
        me: Any = self
        ctx: odata.FeedContext = me._read(odata.feed_context, slug, form_id)
        return odata.stream_feed(lambda fn: me.workspace.run(fn, write=False), ctx, table,
                                 params or {}, service_root, page_size=page_size)

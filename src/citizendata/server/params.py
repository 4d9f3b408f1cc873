"""Integer path and query parameters bounded to what the database can hold.

PostgreSQL's ``integer`` stops at 2,147,483,647; a larger version, id or offset would
reach the database and fail there. Every route takes its integers through these types,
so an out-of-range value is refused up front with ``422 input.invalid``.
"""

from __future__ import annotations

from typing import Annotated

import annotated_types as at

__all__ = ["DB_INT_MAX", "DbCount", "DbId", "Page"]

DB_INT_MAX = 2**31 - 1
# largest page size of any paged page: (page - 1) * size stays a valid offset
_MAX_PAGE_SIZE = 100

# a row id or version number: 1, 2, …
DbId = Annotated[int, at.Interval(ge=1, le=DB_INT_MAX)]
# an offset or a count: 0, 1, …
DbCount = Annotated[int, at.Interval(ge=0, le=DB_INT_MAX)]
# a page number of an HTML page
Page = Annotated[int, at.Interval(ge=1, le=DB_INT_MAX // _MAX_PAGE_SIZE)]

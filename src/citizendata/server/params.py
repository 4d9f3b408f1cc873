"""Integer path and query parameters bounded to what the database can hold, and dates.

PostgreSQL's ``integer`` stops at 2,147,483,647; a larger version, id or offset would
reach the database and fail there. Every route takes its integers through these types,
so an out-of-range value is refused up front with ``422 input.invalid``. Dates in a body
are taken only as written in the OpenAPI document (YYYY-MM-DD).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

import annotated_types as at
from pydantic import BeforeValidator

__all__ = ["DB_INT_MAX", "DbCount", "DbId", "IsoDate", "Page"]

DB_INT_MAX = 2**31 - 1
# largest page size of any paged page: (page - 1) * size stays a valid offset
_MAX_PAGE_SIZE = 100

# a row id or version number: 1, 2, …
DbId = Annotated[int, at.Interval(ge=1, le=DB_INT_MAX)]
# an offset or a count: 0, 1, …
DbCount = Annotated[int, at.Interval(ge=0, le=DB_INT_MAX)]
# a page number of an HTML page
Page = Annotated[int, at.Interval(ge=1, le=DB_INT_MAX // _MAX_PAGE_SIZE)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    # pydantic alone also reads "0" or 1700000000 as a Unix time: a release "as of" 1970
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("write the date as YYYY-MM-DD")


# a calendar date written YYYY-MM-DD
IsoDate = Annotated[date, BeforeValidator(_iso_date)]

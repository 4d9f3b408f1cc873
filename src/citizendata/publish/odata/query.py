"""OData query options: $top, $skip, $count, $select, $skiptoken and a $filter on the
submission's own metadata (``__system/submissionDate``, ``__system/reviewState``), as
ODK Central supports them. A $filter becomes a SQL condition, so paging stays in the
database."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, true

from citizendata.errors import BadInput, Where
from citizendata.store.models import Submission

__all__ = ["REVIEW_STATES", "FeedQuery", "parse_query", "skiptoken"]

# our review status → Central's reviewState (received has none)
REVIEW_STATES = {"received": None, "has_issues": "hasIssues", "approved": "approved",
                 "rejected": "rejected"}
_FROM_STATE = {v: k for k, v in REVIEW_STATES.items()}
_MEMBERS = {"__system/submissionDate": "date", "$root/Submissions/__system/submissionDate": "date",
            "__system/reviewState": "state", "$root/Submissions/__system/reviewState": "state"}
_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))|"""
                    r"""(?P<word>[^\s()']+))""")
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}


def _bad(message: str, param: str) -> BadInput:
    return BadInput("odata.invalid_query", message, where=Where(field=param))


@dataclass(frozen=True)
class FeedQuery:
    """The options of one feed request."""

    top: int | None = None
    skip: int = 0
    count: bool = False
    select: tuple[str, ...] | None = None
    after: tuple[int, int] | None = None  # from $skiptoken: (submission id, rows of it sent)
    filter: ColumnElement[bool] | None = None

    def condition(self) -> ColumnElement[bool]:
        """The SQL condition of the $filter (true without one)."""
        return self.filter if self.filter is not None else true()


def skiptoken(submission_id: int, emitted: int) -> str:
    """An opaque continuation token (Central's are base64 JSON with a version prefix)."""
    raw = json.dumps({"s": submission_id, "n": emitted}, separators=(",", ":")).encode()
    return "01" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str) -> tuple[int, int]:
    try:
        if not token.startswith("01"):
            raise ValueError
        body = token[2:]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return int(data["s"]), int(data["n"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _bad("The $skiptoken is not one this feed gave; follow @odata.nextLink "
                   "as it is.", "$skiptoken") from None


def _int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise _bad(f"{name} must be a whole number ≥ 0 (got {raw!r}).", name)
    return int(raw)


def parse_query(params: Mapping[str, str]) -> FeedQuery:
    """The feed options of a request's query parameters (unknown ones are ignored, as
    OData allows for custom options; known ones must be valid)."""
    count = params.get("$count", "false").lower()
    if count not in ("true", "false"):
        raise _bad(f"$count must be true or false (got {count!r}).", "$count")
    select = params.get("$select")
    fields = None
    if select is not None and select.strip() != "*":
        fields = tuple(p.strip() for p in select.split(",") if p.strip())
        if not fields:
            raise _bad("$select names no property.", "$select")
    token = params.get("$skiptoken")
    flt = params.get("$filter")
    return FeedQuery(top=_int(params, "$top"),
                     skip=0 if token else (_int(params, "$skip") or 0),
                     count=count == "true", select=fields,
                     after=_read_token(token) if token else None,
                     filter=parse_filter(flt) if flt else None)


# -- $filter ------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise _bad(f"The $filter cannot be read at character {pos + 1}.", "$filter")
        out.append(m.group().strip())
        pos = m.end()
    return [t for t in out if t]


class _Parser:
    """or > and > not > comparison, with parentheses (OData's precedence)."""

    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _bad("The $filter ends too early.", "$filter")
        self.i += 1
        return tok

    def parse(self) -> ColumnElement[bool]:
        expr = self.or_()
        if self.peek() is not None:
            raise _bad(f"Unexpected {self.peek()!r} in the $filter.", "$filter")
        return expr

    def or_(self) -> ColumnElement[bool]:
        expr = self.and_()
        while self.peek() == "or":
            self.take()
            expr = or_(expr, self.and_())
        return expr

    def and_(self) -> ColumnElement[bool]:
        expr = self.not_()
        while self.peek() == "and":
            self.take()
            expr = and_(expr, self.not_())
        return expr

    def not_(self) -> ColumnElement[bool]:
        if self.peek() == "not":
            self.take()
            return not_(self.not_())
        if self.peek() == "(":
            self.take()
            expr = self.or_()
            if self.take() != ")":
                raise _bad("A '(' in the $filter is not closed.", "$filter")
            return expr
        return self.compare()

    def compare(self) -> ColumnElement[bool]:
        left, op, right = self.take(), self.take(), self.take()
        if op not in _COMPARE:
            raise _bad(f"Unknown operator {op!r}: use eq, ne, gt, ge, lt, le, and, or, not.",
                       "$filter")
        if left not in _MEMBERS and right in _MEMBERS:
            left, right = right, left
            op = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
        kind = _MEMBERS.get(left)
        if kind is None:
            raise _bad(f"Only __system/submissionDate and __system/reviewState can be "
                       f"filtered on (got {left!r}).", "$filter")
        if kind == "date":
            return _compare(Submission.received_at, op, _timestamp(right))
        if op not in ("eq", "ne"):
            raise _bad("__system/reviewState is compared with eq or ne.", "$filter")
        return _compare(Submission.review_status, op, _state(right))


def _compare(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    if value is None:
        if op not in ("eq", "ne"):
            raise _bad("null is compared with eq or ne.", "$filter")
        return col.is_(None) if op == "eq" else col.is_not(None)
    ops = {"eq": col.__eq__, "ne": col.__ne__, "gt": col.__gt__, "ge": col.__ge__,
           "lt": col.__lt__, "le": col.__le__}
    out: ColumnElement[bool] = ops[op](value)
    return out


def _timestamp(text: str) -> datetime | None:
    if text == "null":
        return None
    raw = text[1:-1] if text.startswith("'") else text
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"{text!r} is not a date or date-time (e.g. 2026-03-01 or "
                   f"2026-03-01T08:00:00Z).", "$filter") from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _state(text: str) -> str:
    value = None if text == "null" else text.strip("'")
    if value not in _FROM_STATE:
        raise _bad(f"reviewState is one of null, hasIssues, approved, rejected "
                   f"(got {text!r}).", "$filter")
    return _FROM_STATE[value] or "received"


def parse_filter(text: str) -> ColumnElement[bool]:
    """A $filter as a SQL condition on the submissions table."""
    if len(text) > 2000:
        raise _bad("The $filter is too long.", "$filter")
    return _Parser(text).parse()

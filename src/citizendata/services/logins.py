"""Failed log-ins, counted in the database so that every server process enforces one limit.

Each attempt is counted *before* its password is checked, per user name and per client
address, and a correct password takes its own count back. Attempts made at the same
moment through different processes therefore cannot slip past the limit together.
Counts are kept under a keyed hash (HMAC-SHA-256 with the session key): the table holds
no user name and no address.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from citizendata.errors import TooManyRequests
from citizendata.store.models import LoginThrottle, utcnow

__all__ = ["Limit", "begin_attempt", "limits_for", "passphrase_limits", "succeeded"]

# insert-if-absent, per dialect
_INSERT: dict[str, Callable[..., Any]] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


@dataclass(frozen=True)
class Limit:
    """At most ``max_failures`` failed log-ins per ``window_s`` for one key."""

    key: str
    max_failures: int
    window_s: int
    per: str  # "user" or "address": a success forgets a user's count, not an address's
    what: str = "log-ins"  # for the message only


def _key(secret: bytes, kind: str, value: str) -> str:
    return hmac.new(secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()


def limits_for(secret: bytes, username: str, address: str | None, *, per_user: int,
               per_address: int, window_s: int) -> list[Limit]:
    """The limits a log-in as ``username`` from ``address`` counts against (0: no limit)."""
    out = [Limit(_key(secret, "user", username.strip().lower()), per_user, window_s, "user")]
    if address:
        out.append(Limit(_key(secret, "address", address), per_address, window_s, "address"))
    return [lim for lim in out if lim.max_failures > 0]


def passphrase_limits(secret: bytes, slug: str, user_id: int, *, max_failures: int,
                      window_s: int) -> list[Limit]:
    """The limit on one user's passphrase guesses for one project's keys (0: no limit)."""
    lim = Limit(_key(secret, "passphrase", f"{slug}\0{user_id}"), max_failures, window_s,
                "user", "passphrase attempts")
    return [lim] if max_failures > 0 else []


def _row(db: Session, key: str, now: datetime) -> LoginThrottle:
    insert = _INSERT[db.get_bind().dialect.name]
    # the row lock makes concurrent attempts on PostgreSQL count one after the other
    # (SQLite writes one transaction at a time anyway). A concurrent successful log-in may
    # delete the row (succeeded) between our insert and our lock: under READ COMMITTED the
    # locking read then finds nothing, so insert again (each statement sees the delete).
    for _ in range(_ROW_ATTEMPTS):
        db.execute(insert(LoginThrottle).values(key=key, failures=0, window_start=now)
                   .on_conflict_do_nothing(index_elements=["key"]))
        row = db.scalar(select(LoginThrottle).where(LoginThrottle.key == key)
                        .with_for_update().execution_options(populate_existing=True))
        if row is not None:
            return row
    raise RuntimeError(f"the log-in throttle row could not be held after {_ROW_ATTEMPTS} tries")


_ROW_ATTEMPTS = 5


def begin_attempt(db: Session, limits: Sequence[Limit], *, now: datetime | None = None) -> None:
    """Count one log-in attempt against every limit, or refuse it (429) when one is reached."""
    now = now or utcnow()
    rows = []
    for lim in limits:
        row = _row(db, lim.key, now)
        if now - row.window_start >= timedelta(seconds=lim.window_s):
            row.failures, row.window_start = 0, now
        if row.failures >= lim.max_failures:
            wait = max(1, math.ceil((row.window_start + timedelta(seconds=lim.window_s)
                                     - now).total_seconds()))
            who = "this user" if lim.per == "user" else "your address"
            raise TooManyRequests("auth.too_many_attempts",
                                  f"Too many failed {lim.what} for {who}; "
                                  f"try again in {wait} s.",
                                  details={"retry_after_s": wait})
        rows.append(row)
    for row in rows:
        row.failures += 1
    # forget windows that have long ended (any key): the table stays small
    longest = max((lim.window_s for lim in limits), default=0)
    db.execute(delete(LoginThrottle).where(
        LoginThrottle.window_start < now - timedelta(seconds=2 * longest + 60)))


def succeeded(db: Session, limits: Sequence[Limit]) -> None:
    """A correct password: the user's failures are forgotten, the address's count is taken back.

    The address keeps its other failures, so logging in to one's own account does not
    reset a count run up by guessing at other accounts.
    """
    for lim in limits:
        row = db.get(LoginThrottle, lim.key)
        if row is None:
            continue
        if lim.per == "user":
            db.delete(row)
        else:
            row.failures = max(0, row.failures - 1)

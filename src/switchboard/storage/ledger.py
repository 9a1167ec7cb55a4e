"""The usage ledger: batched inserts, the spend of a key since a time, and reports."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Boolean, ColumnElement, Dialect, Select, String, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import Date

from switchboard.errors import Overloaded
from switchboard.storage.keys import utc
from switchboard.storage.tables import usage
from switchboard.tenancy.keys import NANO
from switchboard.tenancy.recorder import RowsRefused
from switchboard.tenancy.usage import TEXT_LIMITS, UsageRow

GroupBy = Literal["day", "key", "model", "session", "team"]
GROUPS: dict[str, GroupBy] = {
    "day": "day",
    "key": "key",
    "model": "model",
    "session": "session",
    "team": "team",
}
NO_SESSION = "(none)"  # the group of requests that carried no session id


@dataclass(frozen=True, slots=True)
class UsageFilter:
    key_id: str | None = None
    team_id: str | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None


_FIELDS = UsageRow.__struct_fields__
Processor = Callable[[Any], Any]


class _Insert:
    """The ledger's INSERT rendered once for the engine's dialect, with the column order and
    the bind processors SQLAlchemy would apply (SQLite stores datetimes as text). Rows go to
    the driver's executemany as tuples: SQLAlchemy's per-row parameter handling was most of
    the ledger's cost, about 7 us of every request."""

    def __init__(self, dialect: Dialect) -> None:
        # A row already there (a batch whose commit was not acknowledged, written again; a
        # journal replayed twice) is skipped: request ids are unique (migration 0003).
        dialect_insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        statement = (
            dialect_insert(usage).inline().on_conflict_do_nothing(index_elements=["request_id"])
        )
        compiled = statement.compile(dialect=dialect, column_keys=list(_FIELDS))
        order = tuple(compiled.positiontup or ())
        if set(order) != set(_FIELDS):
            raise RuntimeError("the usage table and UsageRow no longer match")
        for name, limit in TEXT_LIMITS.items():
            column_type = usage.c[name].type
            if not isinstance(column_type, String) or column_type.length != limit:
                raise RuntimeError(f"usage.{name}: UsageRow bounds it to {limit} characters")
        self.sql = compiled.string
        self._values = operator.attrgetter(*order)
        self._processors: list[tuple[int, Processor]] = []
        for i, name in enumerate(order):
            column_type = usage.c[name].type
            if isinstance(column_type, Boolean):
                # A row's flags are bools already (UsageRow's types), which every driver
                # takes: SQLAlchemy's processor would only check that again, per row.
                continue
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._processors.append((i, process))

    def params(self, row: UsageRow) -> tuple[Any, ...]:
        values = self._values(row)
        if not self._processors:
            return values
        converted = list(values)
        for i, process in self._processors:
            converted[i] = process(converted[i])
        return tuple(converted)


# SQLSTATE classes of a refused row: 22 data exception (a value out of range, too long, not
# UTF-8), 23 integrity constraint violation.
_ROW_STATES = ("22", "23")


def _refused(exc: Exception) -> bool:
    """Whether a failed insert was refused for what a row holds, by the database or by the
    driver before it was sent (a number out of range, text it cannot encode): then the
    database itself is fine, and the writer isolates the row."""
    if isinstance(exc, (DataError, IntegrityError, ValueError, TypeError, OverflowError)):
        return True
    if isinstance(exc, DBAPIError):  # asyncpg's errors arrive as the generic class
        code = getattr(exc.orig, "pgcode", None)
        return isinstance(code, str) and code[:2] in _ROW_STATES
    return False


class Ledger:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert: _Insert | None = None

    async def write(self, rows: Sequence[UsageRow]) -> None:
        if not rows:
            return
        insert = self._insert
        if insert is None:
            insert = self._insert = _Insert(self._engine.dialect)
        try:
            params = [insert.params(r) for r in rows]
            async with self._engine.begin() as conn:
                await conn.exec_driver_sql(insert.sql, params)
        except Exception as exc:
            if _refused(exc):
                raise RowsRefused(type(exc).__name__) from exc
            raise

    async def spent_since(self, key_id: str, since: datetime | None, team: bool = False) -> int:
        """What a key (with `team`: a team) was charged since `since`."""
        owner = usage.c.team_id if team else usage.c.key_id
        query = select(func.coalesce(func.sum(usage.c.cost_nusd), 0)).where(owner == key_id)
        if since is not None:
            query = query.where(usage.c.at >= since)
        try:
            async with self._engine.connect() as conn:
                return int((await conn.execute(query)).scalar_one())
        except (SQLAlchemyError, OSError) as exc:
            # Asked on the request path (a budget's first use in a period).
            raise Overloaded(
                f"budget: the gateway cannot reach its usage database ({type(exc).__name__})",
                retry_after=1,
            ) from None

    def _where(self, query: Select[Any], f: UsageFilter) -> Select[Any]:
        if f.key_id is not None:
            query = query.where(usage.c.key_id == f.key_id)
        if f.team_id is not None:
            query = query.where(usage.c.team_id == f.team_id)
        if f.model is not None:
            query = query.where(usage.c.model == f.model)
        if f.since is not None:
            query = query.where(usage.c.at >= f.since)
        if f.until is not None:
            query = query.where(usage.c.at < f.until)
        return query

    async def rows(self, f: UsageFilter, limit: int = 1000) -> list[dict[str, Any]]:
        query = self._where(select(usage), f).order_by(usage.c.at.desc(), usage.c.id.desc())
        async with self._engine.connect() as conn:
            found = (await conn.execute(query.limit(limit))).mappings().all()
        out = []
        for r in found:
            # Column names are str subclasses, which orjson will not take as keys.
            row = {
                str(k): v for k, v in r.items() if k not in ("id", "cost_nusd", "web_search_nusd")
            }
            at = utc(r["at"])
            row["at"] = at.isoformat().replace("+00:00", "Z") if at else None
            row["cost_usd"] = r["cost_nusd"] / NANO
            row["web_search_usd"] = r["web_search_nusd"] / NANO  # part of cost_usd
            out.append(row)
        return out

    async def report(self, f: UsageFilter, group_by: GroupBy) -> list[dict[str, Any]]:
        group: ColumnElement[Any]
        if group_by == "key":
            group = usage.c.key_id
        elif group_by == "team":
            group = usage.c.team_id  # NULL: keys in no team
        elif group_by == "model":
            group = usage.c.model
        elif group_by == "session":
            group = usage.c.session
        elif self._engine.dialect.name == "sqlite":
            group = func.date(usage.c.at)
        else:
            group = cast(usage.c.at, Date)  # the session runs in UTC (engine.py)
        query = self._where(
            select(
                group.label("group"),
                func.count().label("requests"),
                func.sum(usage.c.input_tokens).label("input_tokens"),
                func.sum(usage.c.output_tokens).label("output_tokens"),
                func.sum(usage.c.cache_read_tokens).label("cache_read_tokens"),
                func.sum(usage.c.cache_write_tokens).label("cache_write_tokens"),
                func.sum(usage.c.cost_nusd).label("cost_nusd"),
                func.sum(usage.c.web_search_requests).label("web_search_requests"),
                func.sum(usage.c.web_search_nusd).label("web_search_nusd"),
                func.count(usage.c.error_type).label("errors"),
            ),
            f,
        )
        query = query.group_by(group).order_by(group)
        async with self._engine.connect() as conn:
            found = (await conn.execute(query)).mappings().all()
        return [
            {
                group_by: _group_name(group_by, r["group"]),
                "requests": int(r["requests"]),
                "input_tokens": int(r["input_tokens"] or 0),
                "output_tokens": int(r["output_tokens"] or 0),
                "cache_read_tokens": int(r["cache_read_tokens"] or 0),
                "cache_write_tokens": int(r["cache_write_tokens"] or 0),
                "cost_usd": int(r["cost_nusd"] or 0) / NANO,
                "web_search_requests": int(r["web_search_requests"] or 0),
                "web_search_usd": int(r["web_search_nusd"] or 0) / NANO,  # part of cost_usd
                "errors": int(r["errors"]),
            }
            for r in found
        ]


def _group_name(group_by: GroupBy, value: object) -> str | None:
    """A group's name: requests without a session group as NO_SESSION; keys in no team as
    None (shown as no team)."""
    if value is None:
        return NO_SESSION if group_by == "session" else None
    return str(value)

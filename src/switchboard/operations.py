"""What an operator can see and do, as one set of small functions. The admin API
(`api/admin.py`, `api/admin_views.py`) and the web console (`console/`) both call these, so the
console reaches nothing the API does not also guard, and neither reads anything the request
path writes for them: the ledger, the Router's health and the requests in flight are read
when asked, never fed.

    overview(window, by)        requests, errors, tokens, cost, p50/p95 latency per bucket
    in_flight()                 what is being served now
    requests(filter, sort, ...) a sorted page of the ledger; request(id) one row
    usage(filter, group_by)     the CLI's usage report; usage_rows(filter) its rows
    keys()                      every key with its spend in its budget period and last use
    keys_admin                  create / update / revoke / rotate (the CLI's KeyAdmin)
    teams()                     every team with its keys and its spend in its budget period
                                (keys_admin.teams: create / update / delete)
    channels(), reset_channel() channel keys' health, recent errors and latency
    models()                    the catalogue as clients see it
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from switchboard.api.inflight import InFlight
from switchboard.catalog import Catalog
from switchboard.errors import InvalidRequest, NotFound
from switchboard.limits import budget_period
from switchboard.routing import ChannelStatus, Router
from switchboard.storage import GROUPS, Ledger, UsageFilter
from switchboard.storage.activity import (
    DIMENSIONS,
    SORTS,
    Activity,
    Dimension,
    LedgerEntry,
    Page,
    RequestFilter,
    Series,
    SortKey,
    Totals,
)
from switchboard.storage.captures import CaptureStore
from switchboard.tenancy.admin import KeyAdmin, parse_time
from switchboard.tenancy.keys import NANO, ApiKey, Team

Clock = Callable[[], datetime]
WindowName = Literal["hour", "day", "30d"]


@dataclass(frozen=True, slots=True)
class Window:
    name: WindowName
    step_seconds: int
    buckets: int


WINDOWS: dict[str, Window] = {
    "hour": Window("hour", 60, 60),
    "day": Window("day", 900, 96),
    "30d": Window("30d", 86_400, 30),
}
# Requests the operator's own tools make are not what the gateway is doing.
_OWN_PATHS = ("/console", "/admin/")


@dataclass(frozen=True, slots=True)
class InFlightRequest:
    method: str
    path: str
    key: str | None
    model: str | None
    streaming: bool
    elapsed_ms: float


@dataclass(frozen=True, slots=True)
class KeyView:
    key: ApiKey
    spent_usd: float  # in the key's budget period (day, month or in all)
    budget_usd: float | None
    last_used: datetime | None


@dataclass(frozen=True, slots=True)
class TeamView:
    team: Team
    keys: int
    spent_usd: float  # in the team's budget period, by all its keys
    budget_usd: float | None


@dataclass(frozen=True, slots=True)
class ChannelView:
    status: ChannelStatus
    errors: list[tuple[str, int]]  # failures by kind since the start, most frequent first
    last_hour: Totals | None  # requests it served in the last hour, from the ledger


@dataclass(frozen=True, slots=True)
class ModelView:
    id: str
    display_name: str | None
    aliases: list[str]
    endpoints: list[str]
    context_window: int | None
    max_output_tokens: int | None
    capabilities: list[str]
    pricing: dict[str, float] | None  # USD per million tokens; None: the model is unpriced
    channels: list[str]


def request_filter(params: dict[str, str]) -> RequestFilter:
    """The requests view's filter from query parameters (the CLI's, plus channel and outcome)."""
    outcome: Literal["ok", "error"] | None = None
    match params.get("outcome") or None:
        case "ok" | "error" as given:
            outcome = given
        case None:
            pass
        case _:
            raise InvalidRequest("outcome: must be ok or error", param="outcome")
    return RequestFilter(
        UsageFilter(
            key_id=params.get("key") or None,
            model=params.get("model") or None,
            since=parse_time("since", params["since"]) if params.get("since") else None,
            until=parse_time("until", params["until"]) if params.get("until") else None,
        ),
        channel=params.get("channel") or None,
        outcome=outcome,
    )


def sort_key(value: str | None) -> SortKey:
    for s in SORTS:
        if s == (value or "at"):
            return s
    raise InvalidRequest(f"sort: must be one of {', '.join(SORTS)}", param="sort")


def dimension(value: str | None) -> Dimension:
    for d in DIMENSIONS:
        if d == (value or "model"):
            return d
    raise InvalidRequest(f"by: must be one of {', '.join(DIMENSIONS)}", param="by")


def window(value: str | None) -> Window:
    found = WINDOWS.get(value or "hour")
    if found is None:
        raise InvalidRequest(f"window: must be one of {', '.join(WINDOWS)}", param="window")
    return found


def whole_number(name: str, value: str | None, default: int, most: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) > most:
        raise InvalidRequest(f"{name}: must be a whole number up to {most}", param=name)
    return int(value)


@dataclass(frozen=True, slots=True)
class Captured:
    """A captured request (capture/), as the console shows it."""

    client: dict[str, Any]  # headers, body
    upstream: list[dict[str, Any]]  # each attempt: url, headers, request, status, response
    response: str  # what the client received


class Operations:
    def __init__(
        self,
        keys_admin: KeyAdmin,
        ledger: Ledger,
        activity: Activity,
        router: Router,
        catalog: Catalog,
        in_flight: InFlight,
        clock: Clock = lambda: datetime.now(UTC),
        captures: CaptureStore | None = None,
    ) -> None:
        self.keys_admin = keys_admin
        self._captures = captures  # None: request capture is off
        self._ledger = ledger
        self._activity = activity
        self._router = router
        self._catalog = catalog
        self._in_flight = in_flight
        self._clock = clock

    async def overview(self, w: Window, by: Dimension, f: RequestFilter | None = None) -> Series:
        return await self._activity.series(
            f or RequestFilter(), w.step_seconds, w.buckets, self._clock(), by
        )

    def in_flight(self) -> list[InFlightRequest]:
        out = []
        for ex in list(self._in_flight.exchanges):
            if ex.path.startswith(_OWN_PATHS):
                continue
            record = ex.record
            out.append(
                InFlightRequest(
                    ex.method,
                    ex.path,
                    record.key_name,
                    record.model_id or record.model,
                    ex.streaming,
                    ex.elapsed_ms(),
                )
            )
        out.sort(key=lambda r: -r.elapsed_ms)
        return out

    async def requests(
        self,
        f: RequestFilter,
        sort: SortKey = "at",
        offset: int = 0,
        limit: int = 50,
        *,
        count: bool = True,
    ) -> Page:
        return await self._activity.page(f, sort, offset, limit, count=count)

    async def request(self, request_id: str) -> LedgerEntry:
        found = await self._activity.entry(request_id[:64])
        if found is None:
            raise NotFound(f"request_id: no ledger row for '{request_id[:64]}'", param="id")
        return found

    async def capture(self, request_id: str) -> Captured | None:
        """What was sent and received for a request, if it was captured."""
        if self._captures is None:
            return None
        row = await self._captures.get(request_id[:64])
        if row is None:
            return None
        return Captured(
            client=orjson.loads(row["client_request"]),
            upstream=orjson.loads(row["upstream"]),
            response=row["client_response"],
        )

    async def usage(self, f: UsageFilter, group_by: str) -> list[dict[str, Any]]:
        if group_by not in GROUPS:
            raise InvalidRequest(f"group_by: must be one of {', '.join(GROUPS)}", param="group_by")
        return await self._ledger.report(f, GROUPS[group_by])

    async def usage_rows(self, f: UsageFilter, limit: int) -> list[dict[str, Any]]:
        return await self._ledger.rows(f, limit)

    async def keys(self) -> list[KeyView]:
        keys = await self.keys_admin.list()
        activity = await self._activity.key_activity(self._clock())
        out = []
        for key in keys:
            a = activity.get(key.id)
            lim = key.limits
            spent = 0
            if a is not None:
                spent = {
                    "day": a.spent_day_nusd,
                    "month": a.spent_month_nusd,
                    "total": a.spent_total_nusd,
                }[lim.budget_period]
            out.append(
                KeyView(
                    key,
                    spent / 1e9,
                    lim.budget_nusd / 1e9 if lim.budget_nusd is not None else None,
                    a.last_used if a is not None else None,
                )
            )
        return out

    async def teams(self) -> list[TeamView]:
        teams = self.keys_admin.teams
        if teams is None:
            return []
        out = []
        now = self._clock()
        for team, keys in await teams.list():  # a query each: teams are few
            lim = team.limits
            since = budget_period(lim.budget_period, now).start
            spent = await self._ledger.spent_since(team.id, since, team=True)
            budget = lim.budget_nusd / NANO if lim.budget_nusd is not None else None
            out.append(TeamView(team, keys, spent / NANO, budget))
        return out

    async def channels(self) -> list[ChannelView]:
        latency = await self._activity.by_channel(self._clock(), 3600)
        return [
            ChannelView(
                s,
                sorted(s.error_kinds.items(), key=lambda kind: -kind[1]),
                latency.get(s.channel),
            )
            for s in self._router.snapshot()
        ]

    async def key_names(self) -> dict[str, str]:
        """Key id -> name, for pages that show ledger rows (which hold ids)."""
        return {k.id: k.name for k in await self.keys_admin.list()}

    async def names(self, group: str) -> dict[str, str]:
        """Id -> name of a usage report's groups, where they are keys or teams."""
        if group == "key":
            return await self.key_names()
        if group == "team" and self.keys_admin.teams is not None:
            return {t.id: t.name for t, _ in await self.keys_admin.teams.list()}
        return {}

    def reset_channel(self, channel: str, key: int) -> ChannelStatus:
        if not self._router.reset(channel, key):
            raise NotFound(f"channel: no channel '{channel[:200]}' with key {key}", param="channel")
        return next(s for s in self._router.snapshot() if (s.channel, s.key) == (channel, key))

    def models(self) -> list[ModelView]:
        out = []
        for entry in self._catalog.models():
            p = entry.profile
            caps = p.capabilities
            out.append(
                ModelView(
                    id=p.id,
                    display_name=p.display_name,
                    aliases=list(p.aliases),
                    endpoints=list(p.endpoints),
                    context_window=p.context_window,
                    max_output_tokens=p.max_output_tokens,
                    capabilities=[
                        name
                        for name, on in (
                            ("vision", caps.vision),
                            ("pdf", caps.pdf),
                            ("tools", caps.tools),
                            ("thinking", caps.thinking),
                            ("prompt caching", caps.prompt_caching),
                        )
                        if on
                    ],
                    pricing=None
                    if p.pricing is None
                    else {
                        "input": p.pricing.input,
                        "output": p.pricing.output,
                        "cache_read": p.pricing.cache_read_price,
                        "cache_write": p.pricing.cache_write_price,
                    },
                    channels=[
                        f"{c.name} (priority {c.priority}, weight {c.weight})"
                        for c in entry.channels
                    ],
                )
            )
        return out

"""The pipeline's first and last steps for a client key: authorize the model, reserve the
key's limits and budget (the worst case), and settle them with what the request used.

A key in a team must fit its team's limits too: the model must be allowed by both allow-lists
(their intersection), and the team's limits are reserved with the key's in one step
(`Reservation.team`) and settled with them. A refusal says whose limit it was."""

from __future__ import annotations

import fnmatch
import functools
import math
import time
from datetime import UTC, datetime

import msgspec

from switchboard import ir
from switchboard.catalog import ModelEntry
from switchboard.config import Pricing
from switchboard.errors import BillingError, InvalidRequest, PermissionDenied, RateLimited
from switchboard.ids import request_id
from switchboard.limits import (
    WINDOW_MS,
    BudgetPeriod,
    Limiter,
    Outcome,
    Reservation,
    SpendSource,
    budget_period,
)
from switchboard.limits.leases import Leases
from switchboard.record import Charge, Headers, Settlement, charged
from switchboard.tenancy.auth import Principal
from switchboard.tenancy.keys import NANO, ApiKey, Limits, Period, Team
from switchboard.tenancy.usage import cost_nusd, worst_case_nusd


def _rfc3339(ms: int) -> bytes:
    return _rfc3339_second(ms // 1000)


@functools.lru_cache(maxsize=256)
def _rfc3339_second(second: int) -> bytes:
    # Every response carries a reset time; most share their second with many others.
    return datetime.fromtimestamp(second, UTC).isoformat().replace("+00:00", "Z").encode()


@functools.lru_cache(maxsize=16)
def _period(period: Period, day: int) -> BudgetPeriod:
    """The budget period of a UTC day (days since the epoch): a period only changes at
    midnight, so it is worked out once a day, not per request."""
    return budget_period(period, datetime.fromtimestamp(day * 86_400, UTC))


def _usd(nusd: int) -> str:
    return f"${nusd / NANO:.6f}".rstrip("0").rstrip(".")


# What limits and budgets reserve for the reply of a request that sets no output limit, on a
# model whose catalogue entry gives none: about what current models write at most in one reply
# in their default settings. A model that may write more should say so in its
# `max_output_tokens` (the built-in catalogue does, and config models inherit it).
DEFAULT_OUTPUT_LIMIT = 32_000

UNPRICED = Pricing()


def output_limit(requested: int | None, model_max: int | None) -> int:
    """The most output tokens a request is reserved for: its own limit within the model's,
    else the model's, else DEFAULT_OUTPUT_LIMIT."""
    if requested is None:
        return DEFAULT_OUTPUT_LIMIT if model_max is None else model_max
    return requested if model_max is None else min(requested, model_max)


def may_use(key: ApiKey | Team, entry: ModelEntry) -> bool:
    """Whether the key's (or team's) allow-list names the model a request resolved to: its id
    or one of its exact aliases, or a glob alias written the same way. The name the client sent
    does not count: `claude-3-5-haiku-x` may resolve through another model's `claude-*` alias,
    and a key allowed `claude-3-5-haiku*` must not reach that model by it."""
    allowed = key.limits.models
    if allowed is None:
        return True
    return any(
        pattern in entry.globs or any(fnmatch.fnmatchcase(n, pattern) for n in entry.names)
        for pattern in allowed
    )


def _who(key: ApiKey, team: bool) -> str:
    """Whose limit a refusal is about, as its message says it."""
    if team and key.team is not None:
        return f"team '{key.team.name}' (of key '{key.name}')"
    return f"key '{key.name}'"


def ratelimit_headers(key: ApiKey, o: Outcome, now_ms: int) -> Headers:
    """The key's rate-limit state; after a refusal by its team, the team's."""
    lim = key.team.limits if o.team and key.team is not None else key.limits
    rpm, tpm = lim.rpm, lim.tpm
    if not (rpm or tpm):
        return []
    reset = _rfc3339((o.oldest_ms + WINDOW_MS) if o.requests else now_ms)
    headers: Headers = []
    if rpm:
        headers += (
            (b"anthropic-ratelimit-requests-limit", b"%d" % rpm),
            (b"anthropic-ratelimit-requests-remaining", b"%d" % max(0, rpm - o.requests)),
            (b"anthropic-ratelimit-requests-reset", reset),
        )
    if tpm:
        headers += (
            (b"anthropic-ratelimit-tokens-limit", b"%d" % tpm),
            (b"anthropic-ratelimit-tokens-remaining", b"%d" % max(0, tpm - o.tokens)),
            (b"anthropic-ratelimit-tokens-reset", reset),
        )
    return headers


def _limited(lim: Limits) -> bool:
    return bool(lim.rate_limited or lim.budget_nusd)


def _reservation(
    owner: str, lim: Limits, rid: str, tokens: int, cost: int, day: int
) -> Reservation:
    """What a request reserves of one owner's limits (a key's or a team's)."""
    return Reservation(
        key_id=owner,
        request_id=rid,
        rpm=lim.rpm or 0,
        tpm=lim.tpm or 0,
        max_concurrent=lim.max_concurrent or 0,
        tokens=tokens,
        budget_nusd=lim.budget_nusd or 0,
        cost_nusd=cost,
        period=_period(lim.budget_period, day),
        more=lim.more,
    )


class Ticket(msgspec.Struct):  # (a Struct: one per request, built in C)
    """One admitted request. `settle` runs once, however the request ended."""

    pricing: Pricing
    headers: Headers = msgspec.field(default_factory=list)
    limiter: Limiter | None = None
    reservation: Reservation | None = None
    leases: Leases | None = None
    settled: bool = False
    search_nusd: int = 0  # the price of one web search the gateway ran (servertools/)

    async def settle(self, outcome: Settlement) -> Charge:
        """Charge the outcome's usage (a failed request costs nothing). Returns the charge."""
        usage = charged(outcome)
        cost = searches = 0
        if usage is not None:
            searches = usage.web_search_requests * self.search_nusd
            cost = cost_nusd(self.pricing, usage) + searches
        charge = Charge(cost, searches)
        if self.settled:
            return charge
        self.settled = True
        if self.limiter is not None and self.reservation is not None:
            if self.leases is not None:
                self.leases.release(self.reservation)
            tokens = 0 if usage is None else _tokens(usage)
            await self.limiter.settle(self.reservation, tokens, cost)
        return charge


def _tokens(usage: ir.Usage) -> int:
    return (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_read_tokens
        + usage.cache_write_tokens
    )


class Admission:
    def __init__(
        self,
        limiter: Limiter,
        spend: SpendSource,
        leases: Leases,
        team_spend: SpendSource | None = None,
    ) -> None:
        """`spend`: a key's spend in a period, from the ledger; `team_spend`: a team's (by
        default `spend`, for a ledger that keeps none)."""
        self._limiter = limiter
        self._spend = spend
        self._team_spend = team_spend or spend
        self._leases = leases

    async def admit(
        self,
        principal: Principal,
        requested: str,
        entry: ModelEntry,
        input_estimate: int,
        max_tokens: int,
        extra_nusd: int = 0,
    ) -> Ticket:
        """`max_tokens`: the most output tokens the request may produce (`output_limit`);
        `extra_nusd`: what it may cost besides tokens (the web searches it may make)."""
        pricing = entry.profile.pricing or UNPRICED
        key = principal.key
        if key is None:  # the master key and the config's static keys have no limits
            return Ticket(pricing)
        _authorize(key, requested, entry)
        lim = key.limits
        team = key.team
        budgeted = lim.budget_nusd or (team is not None and team.limits.budget_nusd)
        if budgeted and entry.profile.pricing is None:
            raise BillingError(
                f"model: '{entry.id}' has no price, so {_who(key, not lim.budget_nusd)}, which "
                "has a budget, "
                "may not use it (the operator can price it: models[].pricing in the config)",
                param="model",
            )
        if not (lim.rate_limited or lim.budget_nusd) and (
            team is None or not _limited(team.limits)
        ):
            return Ticket(pricing)
        now = time.time()
        now_ms = int(now * 1000)
        day = int(now // 86_400)
        rid = request_id()
        tokens = input_estimate + max_tokens
        cost = worst_case_nusd(pricing, input_estimate, max_tokens) + extra_nusd
        r = _reservation(key.id, lim, rid, tokens, cost, day)
        holds = bool(r.max_concurrent or r.budget_nusd)  # a lease while it runs
        if team is not None:
            r.team = _reservation(team.id, team.limits, rid, tokens, cost, day)
            holds = holds or bool(r.team.max_concurrent or r.team.budget_nusd)
        for owner in (r, r.team):
            if owner is not None and owner.tpm and tokens > owner.tpm:
                raise InvalidRequest(
                    f"max_tokens: this request reserves {tokens} tokens (about {input_estimate} "
                    f"of input plus up to {max_tokens} of output), more than "
                    f"{_who(key, owner is r.team)} may use in a minute ({owner.tpm} tokens per "
                    "minute); a lower max_tokens may fit",
                    param="max_tokens",
                )
        seed: int | None = None
        team_seed: int | None = None
        outcome = await self._limiter.acquire(r, now_ms, seed, team_seed)
        # The first request of a period on this backend: its spend so far is in the ledger
        # (the key's, then the team's: at most two more rounds).
        while outcome.verdict == "seed":
            if outcome.team and r.team is not None and team_seed is None:
                team_seed = await self._team_spend(r.team.key_id, r.team.period.start)
            elif not outcome.team and seed is None:
                seed = await self._spend(key.id, r.period.start)
            else:  # seeded, and asked again: the period turned meanwhile
                break
            outcome = await self._limiter.acquire(r, now_ms, seed, team_seed)
        headers = ratelimit_headers(key, outcome, now_ms)
        if outcome.verdict == "ok":
            if holds:
                self._leases.hold(r)
            return Ticket(pricing, headers, self._limiter, r, self._leases)
        raise _refusal(key, r.team if outcome.team and r.team else r, outcome, headers)

    async def admit_count(self, principal: Principal, requested: str, entry: ModelEntry) -> Ticket:
        """A token count: the allow-lists, and the key's (and its team's) requests per minute
        in a window of token counts of their own (as the Anthropic API limits them apart from
        messages, so a client counting before each message does not halve its rate). It
        reserves no tokens and no budget: counting generates nothing and costs nothing."""
        key = principal.key
        if key is None:
            return Ticket(UNPRICED)
        _authorize(key, requested, entry)
        team = key.team
        if not key.limits.rpm and (team is None or not team.limits.rpm):
            return Ticket(UNPRICED)
        now = time.time()
        now_ms = int(now * 1000)
        rid = request_id()
        day = int(now // 86_400)
        r = _reservation(f"{key.id}/count_tokens", _counts_only(key.limits), rid, 0, 0, day)
        if team is not None:
            r.team = _reservation(
                f"{team.id}/count_tokens", _counts_only(team.limits), rid, 0, 0, day
            )
        outcome = await self._limiter.acquire(r, now_ms, None)
        if outcome.verdict == "ok":
            return Ticket(UNPRICED, [], self._limiter, r)
        refused = r.team if outcome.team and r.team is not None else r
        wait = max(1, math.ceil(outcome.retry_ms / 1000))
        raise RateLimited(
            f"rate limit: {_who(key, outcome.team)} has made {outcome.requests} token counts "
            f"in the last minute, its limit is {refused.rpm} per minute; retry in {wait} s",
            retry_after=wait,
        )


def _counts_only(lim: Limits) -> Limits:
    """What a token count is held to of some limits: their requests per minute only."""
    return Limits(rpm=lim.rpm, budget_period=lim.budget_period)


def _authorize(key: ApiKey, requested: str, entry: ModelEntry) -> None:
    """The model must be allowed by the key and by its team: their lists intersect."""
    if not may_use(key, entry):
        raise _denied(key, False, requested, entry)
    if key.team is not None and not may_use(key.team, entry):
        raise _denied(key, True, requested, entry)


def _denied(key: ApiKey, team: bool, requested: str, entry: ModelEntry) -> PermissionDenied:
    owner = key.team if team and key.team is not None else key
    allowed = ", ".join(owner.limits.models or ())
    resolved = "" if requested == entry.id else f", which is '{entry.id}'"
    return PermissionDenied(
        f"model: {_who(key, team)} may not use model '{requested}'{resolved} (allowed: {allowed})",
        param="model",
    )


def _refusal(key: ApiKey, r: Reservation, o: Outcome, headers: Headers) -> Exception:
    """`r`: the reservation of whoever refused (the key, or its team: `o.team`)."""
    exc: RateLimited | BillingError
    who = _who(key, o.team)
    wait = max(1, math.ceil(o.retry_ms / 1000))
    if o.verdict == "rpm":
        exc = RateLimited(
            f"rate limit: {who} has made {o.requests} requests in the last minute, "
            f"its limit is {r.rpm} requests per minute; retry in {wait} s",
            retry_after=wait,
        )
    elif o.verdict == "tpm":
        exc = RateLimited(
            f"rate limit: {who} has used {o.tokens} of its {r.tpm} tokens per minute "
            f"and this request reserves {r.tokens} (input estimate + max_tokens); "
            f"retry in {wait} s",
            retry_after=wait,
        )
    elif o.verdict == "concurrency":
        exc = RateLimited(
            f"rate limit: {who} already has {r.max_concurrent} requests in flight, "
            f"its limit of concurrent requests; retry when one finishes",
            retry_after=wait,
        )
    elif o.verdict == "limit":
        exc = RateLimited(_limit_message(who, r, o), retry_after=wait)
    else:
        lim = key.team.limits if o.team and key.team is not None else key.limits
        exc = BillingError(_budget_message(who, lim.budget_period, r, o))
    exc.extra_headers = headers
    return exc


def _limit_message(who: str, r: Reservation, o: Outcome) -> str:
    """A refusal for a kind described only in limit_kinds.py, worded from its description."""
    kind, limit = next((k, v) for k, v in r.more if k.field == o.kind)
    per = _WINDOWS.get(kind.window_ms, f"{kind.window_ms // 1000} s")
    seconds = max(1, math.ceil(o.retry_ms / 1000))
    wait = "it can never fit" if o.retry_ms < 0 else f"retry in {seconds} s"
    return (
        f"rate limit: {who} has used {o.used} of its {limit} {kind.unit} per {per} "
        f"({kind.field}); {wait}"
    )


_WINDOWS = {60_000: "minute", 3_600_000: "hour", 86_400_000: "day"}


def _budget_message(who: str, per: Period, r: Reservation, o: Outcome) -> str:
    kind = {"day": "daily", "month": "monthly", "total": "total"}[per]
    period = r.period
    resets = (
        f"it resets at {period.reset.isoformat().replace('+00:00', 'Z')}"
        if period.reset is not None
        else "it never resets; the operator can raise it"
    )
    in_flight = f" ({_usd(o.reserved_nusd)} more is reserved by requests in flight)"
    return (
        f"budget: {who} has spent {_usd(o.spent_nusd)} of its {kind} budget of "
        f"{_usd(r.budget_nusd)}{in_flight if o.reserved_nusd else ''}, and this request may "
        f"cost up to {_usd(r.cost_nusd)}; {resets}"
    )

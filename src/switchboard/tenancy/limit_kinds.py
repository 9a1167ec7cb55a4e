"""What a key may carry, each described once: the limit kinds the limiters enforce (requests and
tokens per minute, requests in flight, a budget) and the key's settings that are no counter (the
model allow-list, the budget's period, the expiry). The CLI's options, the admin API's fields
and their parsing, the JSON a key is shown as, the storage columns, and how the limiters reserve
and settle each kind are all read from these descriptions.

A team carries the same fields but the expiry (`TEAM_FIELDS`, `KeyField.team`): its CLI
options, admin fields and columns on the teams table come from the same descriptions.

Settings are not limit kinds: nothing counts them. The allow-list and the expiry are checked
when a request is authorized; the period is a parameter of the budget (which counter it adds
to). They share the description (field, option, column, parsing, display) with the kinds.

A kind built into the limiters has its own attribute on `Limits` (read on the hot path) and
its own branch in each limiter. A kind added here that counts requests or tokens in a sliding
window (`shape="window"`, `attr=""`) needs neither: its value rides in `Limits.more` and both
limiters enforce it generically (in-process: a window per kind; Redis: a zset per kind, in the
same Lua script, so it is as atomic as the built-in ones)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.types import TypeEngine

from switchboard.errors import InvalidRequest
from switchboard.limits import WINDOW_MS
from switchboard.tenancy.keys import NANO, PERIODS, Limits

# Past these a count or a budget is no limit at all, and would overflow a database column
# (PostgreSQL's INTEGER; nano-dollars in a BIGINT).
MAX_COUNT = 2**31 - 1
MAX_BUDGET_USD = 1_000_000_000

# How a limiter holds a kind: a sliding window of an amount per request (`window_ms` long),
# a lease held while the request runs, or spend in the budget's period.
Shape = Literal["window", "lease", "spend"]
# What one request adds to a window: 1, or its tokens (reserved, then settled with the real use).
Amount = Literal["request", "tokens"]


def parse_time(field: str, value: str, ahead: bool = False) -> datetime:
    """ISO 8601 (`2025-01-31`, `2025-01-31T12:00:00Z`) or a span from now (`30m`, `24h`, `7d`):
    back from now, or `ahead` of it (an expiry)."""
    text = value.strip()
    units = {"m": 60, "h": 3600, "d": 86400}
    try:
        if text[:-1].isascii() and text[:-1].isdigit() and text[-1:] in units:
            span = timedelta(seconds=int(text[:-1]) * units[text[-1]])
            return datetime.now(UTC) + span if ahead else datetime.now(UTC) - span
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except ValueError:
        direction = "ahead of" if ahead else "back from"
        raise InvalidRequest(
            f"{field}: '{value[:100]}' is neither an ISO 8601 time (like 2025-01-31T12:00:00Z) "
            f"nor a span {direction} now (like 30m, 24h, 7d)",
            param=field,
        ) from None
    except OverflowError:  # a span past year 1 or 9999, or a time past year 9999 in UTC
        raise InvalidRequest(f"{field}: '{value[:100]}' is out of range", param=field) from None


def parse_count(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{field}: must be a whole number, 0 or more", param=field)
    if value > MAX_COUNT:
        raise InvalidRequest(f"{field}: must be at most {MAX_COUNT}", param=field)
    return value or None


def _parse_usd(field: str, usd: Any) -> int | None:
    if usd is None:
        return None
    if isinstance(usd, bool) or not isinstance(usd, int | float) or not usd > 0:
        raise InvalidRequest(f"{field}: must be a number of dollars above 0", param=field)
    if not math.isfinite(usd) or usd > MAX_BUDGET_USD:
        raise InvalidRequest(f"{field}: must be at most {MAX_BUDGET_USD}", param=field)
    return round(usd * NANO)


def _parse_models(field: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [m.strip() for m in value.split(",") if m.strip()]
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise InvalidRequest(f"{field}: must be a list of model names", param=field)
    return tuple(value)


def _parse_period(field: str, value: Any) -> str:
    if value not in PERIODS:
        raise InvalidRequest(f"{field}: must be one of {', '.join(PERIODS)}", param=field)
    return str(value)


def _parse_expiry(field: str, value: Any) -> datetime | None:
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{field}: must be an ISO 8601 time", param=field)
    return parse_time(field, value, ahead=True) if value else None


def make_limits(values: Iterable[tuple[KeyField, Any]]) -> Limits:
    """The limits holding these values, built at once (a key read from storage)."""
    attrs: dict[str, Any] = {}
    more: list[tuple[LimitKind, int]] = []
    for f, value in values:
        if f.attr:
            attrs[f.attr] = value
        elif value:
            assert isinstance(f, LimitKind)  # only the kinds kept in `more` have no attribute
            more.append((f, value))
    return Limits(**attrs, more=tuple(more))


def _same(value: Any) -> Any:
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True, slots=True)
class KeyField:
    """One thing a key carries, as every layer but the limiters sees it."""

    field: str  # the admin API's and `--json`'s field name; also `--clear FIELD`
    option: str  # the CLI option, e.g. "--max-concurrent"
    help: str
    column: str  # the api_keys column holding it
    column_type: TypeEngine[Any]
    # The attribute of `Limits` holding it; "" for a kind kept in `Limits.more`.
    attr: str
    # The admin API's value (JSON, or the CLI option's) -> the stored one, or InvalidRequest
    # naming `field`. None clears it.
    parse: Callable[[str, Any], Any] = parse_count
    option_type: type[int] | type[float] | type[str] = int
    choices: tuple[str, ...] = ()  # the CLI option's choices, if it has a fixed set
    clearable: bool = True  # `--clear FIELD` and null in the admin API; a nullable column
    team: bool = True  # a team carries it too (TEAM_FIELDS): its own limit, on the teams table
    server_default: str | None = None
    to_json: Callable[[Any], Any] = _same  # stored -> shown
    to_row: Callable[[Any], Any] = _same  # stored -> column value
    from_row: Callable[[Any], Any] = _same  # column value -> stored

    def get(self, limits: Limits) -> Any:
        if self.attr:
            return getattr(limits, self.attr)
        return next((v for k, v in limits.more if k.field == self.field), None)

    def set(self, limits: Limits, value: Any) -> Limits:
        if self.attr:
            return replace(limits, **{self.attr: value})
        assert isinstance(self, LimitKind)  # only the kinds kept in `more` have no attribute
        more = tuple((k, v) for k, v in limits.more if k.field != self.field)
        if value:  # 0, like None, is no limit
            more += ((self, value),)
        return replace(limits, more=more)


@dataclass(frozen=True, slots=True)
class LimitKind(KeyField):
    """A counter the limiters enforce: what one request reserves of it when admitted, and how it
    is settled when the request ends."""

    unit: str = "requests"  # what the limit counts, in its refusal and its help
    shape: Shape = "window"
    window_ms: int = 0  # the sliding window of a "window" kind
    amount: Amount = "request"  # what a request adds to a "window" kind
    # The Outcome verdict a refusal for this kind carries; kinds in `Limits.more` share "limit"
    # and the Outcome names the kind.
    verdict: str = "limit"

    def __post_init__(self) -> None:
        if not self.attr and (self.shape != "window" or self.window_ms <= 0):
            # The limiters' generic path keeps sliding windows only; a lease or a spend of a
            # new kind needs its own branch in limits/ and an attribute on Limits.
            raise ValueError(f"{self.field}: a kind kept in Limits.more must be a window kind")

    @property
    def settles(self) -> bool:
        """Whether settling changes what was reserved: tokens used instead of the estimate,
        the cost instead of the worst case; a lease ends."""
        return self.shape != "window" or self.amount == "tokens"


RPM = LimitKind(
    field="rpm",
    option="--rpm",
    help="Requests per minute.",
    column="rpm",
    column_type=Integer(),
    attr="rpm",
    unit="requests",
    shape="window",
    window_ms=WINDOW_MS,  # the built-in window both limiters keep
    amount="request",
    verdict="rpm",
)
TPM = LimitKind(
    field="tpm",
    option="--tpm",
    help="Tokens per minute (input + output).",
    column="tpm",
    column_type=Integer(),
    attr="tpm",
    unit="tokens",
    shape="window",
    window_ms=WINDOW_MS,  # the built-in window both limiters keep
    amount="tokens",
    verdict="tpm",
)
MAX_CONCURRENT = LimitKind(
    field="max_concurrent",
    option="--max-concurrent",
    help="Requests in flight at once.",
    column="max_concurrent",
    column_type=Integer(),
    attr="max_concurrent",
    unit="requests in flight",
    shape="lease",
    verdict="concurrency",
)
BUDGET = LimitKind(
    field="budget_usd",
    option="--budget-usd",
    help="Spend limit in USD per budget period.",
    column="budget_nusd",
    column_type=BigInteger(),
    attr="budget_nusd",
    parse=_parse_usd,
    option_type=float,
    to_json=lambda nusd: nusd / NANO if nusd is not None else None,
    unit="nano-USD",
    shape="spend",
    verdict="budget",
)

MODELS = KeyField(
    field="models",
    option="--models",
    help="Comma-separated models the key may use (default: all).",
    column="models",
    column_type=Text(),  # JSON list; NULL means every model
    attr="models",
    parse=_parse_models,
    option_type=str,
    to_json=lambda models: list(models) if models is not None else None,
    to_row=lambda models: json.dumps(list(models)) if models is not None else None,
    from_row=lambda text: tuple(json.loads(text)) if text is not None else None,
)
BUDGET_PERIOD = KeyField(
    field="budget_period",
    option="--budget-period",
    help="The budget's period (default: month).",
    column="budget_period",
    column_type=String(8),
    attr="budget_period",
    parse=_parse_period,
    option_type=str,
    choices=PERIODS,
    clearable=False,  # a budget always has a period
    server_default="month",
    from_row=lambda text: text if text in PERIODS else "month",
)
EXPIRES_AT = KeyField(
    field="expires_at",
    option="--expires",
    help="When the key stops working: ISO 8601, or a span from now (24h, 30d).",
    column="expires_at",
    column_type=DateTime(timezone=True),
    attr="expires_at",
    parse=_parse_expiry,
    option_type=str,
    team=False,  # a team does not expire; its keys do
    to_json=_iso,
    from_row=lambda at: (
        None if at is None else at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    ),
)

# Everything a key carries but its name, in the order the API, the CLI and the table list them.
# A new kind is one entry here (and a migration adding its column).
KEY_FIELDS: tuple[KeyField, ...] = (MODELS, RPM, TPM, MAX_CONCURRENT, BUDGET, BUDGET_PERIOD,
                                    EXPIRES_AT)  # fmt: skip
# The counters among them: the limit kinds.
KINDS: tuple[LimitKind, ...] = tuple(f for f in KEY_FIELDS if isinstance(f, LimitKind))
# What a team carries: the same limits, counted for all its keys together (a request must fit
# its key's and its team's), in the same columns on the teams table.
TEAM_FIELDS: tuple[KeyField, ...] = tuple(f for f in KEY_FIELDS if f.team)

"""Which channel serves a request, and in what order the others are tried.

A target is one channel with one of its keys. A request goes to the available targets of the
best priority, shared by weight (smooth weighted round-robin, which also rotates the keys); a
request with an affinity (a session or user id) goes where rendezvous hashing puts it, so one
conversation keeps one channel and key, and the upstream's prompt cache keeps hitting, while
that target is healthy. Targets that keep failing rest in cooldown, then get one probe.

Selection is O(targets) with no locks and no I/O: everything runs on the event loop.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from switchboard.catalog import Catalog, Channel
from switchboard.config import Health as HealthConfig

State = Literal["healthy", "cooldown", "half_open"]
Clock = Callable[[], float]


class Health:
    """One target's health: a circuit breaker over consecutive failures and the error rate of
    a tumbling window."""

    __slots__ = (
        "_cfg",
        "consecutive",
        "error_kinds",
        "failures",
        "last_error",
        "open_until",
        "probe_until",
        "successes",
        "tripped",
        "window_failed",
        "window_start",
        "window_total",
    )

    def __init__(self, cfg: HealthConfig) -> None:
        self._cfg = cfg
        self.tripped = False
        self.open_until = 0.0
        self.probe_until = 0.0  # a half-open probe is in flight until then
        self.consecutive = 0
        self.window_start = 0.0
        self.window_total = 0
        self.window_failed = 0
        self.successes = 0
        self.failures = 0
        self.last_error = ""
        # Failures by kind (status and error type: a small fixed set), for the operator.
        self.error_kinds: dict[str, int] = {}

    def state(self, now: float) -> State:
        if not self.tripped:
            return "healthy"
        return "cooldown" if now < self.open_until else "half_open"

    def available(self, now: float) -> bool:
        return not self.tripped or (now >= self.open_until and now >= self.probe_until)

    def begin(self, now: float) -> None:
        if self.tripped:
            # Only one probe at a time; if it never reports, another may go after a cooldown.
            self.probe_until = now + self._cfg.cooldown_seconds

    def succeeded(self, now: float) -> None:
        self.successes += 1
        self.consecutive = 0
        self.tripped = False
        self.probe_until = 0.0
        self._count(now, failed=False)

    def failed(self, now: float, why: str, rest: float | None = None) -> None:
        """`rest`: seconds the upstream asked for (retry-after), a cooldown of its own."""
        self.failures += 1
        self.consecutive += 1
        self.last_error = why
        if why in self.error_kinds or len(self.error_kinds) < 32:
            self.error_kinds[why] = self.error_kinds.get(why, 0) + 1
        self._count(now, failed=True)
        cfg = self._cfg
        rate_tripped = (
            self.window_total >= cfg.min_requests
            and self.window_failed >= cfg.error_rate * self.window_total
        )
        if self.tripped or self.consecutive >= cfg.failures or rate_tripped:
            self._trip(now, cfg.cooldown_seconds)
        elif rest:
            self._trip(now, min(rest, cfg.cooldown_seconds))

    def reset(self) -> None:
        """Back in service now (the operator's word): healthy, its window cleared; the running
        totals stay."""
        self.tripped = False
        self.open_until = self.probe_until = 0.0
        self.consecutive = 0
        self.window_start, self.window_total, self.window_failed = 0.0, 0, 0

    def _trip(self, now: float, seconds: float) -> None:
        self.tripped = True
        self.open_until = now + seconds
        self.probe_until = 0.0
        self.window_start, self.window_total, self.window_failed = now, 0, 0

    def _count(self, now: float, *, failed: bool) -> None:
        if now - self.window_start >= self._cfg.window_seconds:
            self.window_start, self.window_total, self.window_failed = now, 0, 0
        self.window_total += 1
        self.window_failed += failed


@dataclass(slots=True, eq=False)
class Target:
    """One channel with one key, as one model routes to it. `channel.api_key` is the key."""

    channel: Channel
    key_index: int
    weight: float
    health: Health
    salt: int  # for rendezvous hashing: a fixed number per target
    current: float = 0.0  # smooth weighted round-robin state

    @property
    def name(self) -> str:
        return self.channel.name


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One channel key as the operator sees it. Keys appear by position, never by value."""

    channel: str
    key: int
    models: list[str]
    state: State
    cooldown_remaining_seconds: float
    consecutive_failures: int
    window_requests: int
    window_failures: int
    successes: int
    failures: int
    last_error: str  # status and error type only
    error_kinds: dict[str, int]  # failures by kind since the start, as last_error names them


@dataclass(slots=True)
class Route:
    """A model's targets by priority (lower first)."""

    targets: list[Target] = field(default_factory=list)


def _salt(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit value from affinity and target salts."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def _score(target: Target, affinity: int) -> float:
    """Weighted rendezvous score: the highest wins; weight w gets a share w / sum of weights."""
    u = (_mix(affinity ^ target.salt) >> 11) / float(1 << 53)
    return -target.weight / math.log(max(u, 1e-300))


class Router:
    """Owned by the Gateway; one per app. Health is shared by every model that uses the same
    channel and key, since an outage of a provider is not an outage of one model."""

    def __init__(self, catalog: Catalog, cfg: HealthConfig, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._health: dict[tuple[str, int], Health] = {}
        self._models: dict[str, list[str]] = {}  # health key -> model ids, for the admin view
        self._routes: dict[str, Route] = {}
        for entry in catalog.models():
            route = Route()
            for channel in entry.channels:
                keys = channel.keys
                for i, key in enumerate(keys):
                    hkey = (channel.name, i)
                    health = self._health.setdefault(hkey, Health(cfg))
                    self._models.setdefault(f"{channel.name}#{i}", []).append(entry.id)
                    route.targets.append(
                        Target(
                            Channel(
                                channel.provider,
                                channel.model,
                                channel.priority,
                                channel.weight,
                                keys,
                                key,
                            ),
                            i,
                            channel.weight / len(keys),
                            health,
                            _salt(f"{channel.name}#{i}"),
                        )
                    )
            self._routes[entry.id] = route

    def plan(self, model_id: str, affinity: str | None = None) -> list[Target]:
        """Every target of the model in the order to try them: the chosen one, the other
        available ones (best priority first), then those resting, soonest back first (a last
        resort beats no answer)."""
        targets = self._routes[model_id].targets
        if len(targets) == 1:
            return targets
        now = self._clock()
        ready: list[Target] = []
        resting: list[Target] = []
        for t in targets:
            (ready if t.health.available(now) else resting).append(t)
        resting.sort(key=lambda t: t.health.open_until)
        if not ready:
            return resting
        if affinity is not None:
            a = _salt(affinity)
            ready.sort(key=lambda t: (t.channel.priority, -_score(t, a)))
            return ready + resting
        best = ready[0].channel.priority  # targets are in priority order
        top = [t for t in ready if t.channel.priority == best]
        chosen = _round_robin(top)
        rest = sorted(
            (t for t in ready if t is not chosen), key=lambda t: (t.channel.priority, -t.weight)
        )
        return [chosen, *rest, *resting]

    def begin(self, target: Target) -> None:
        target.health.begin(self._clock())

    def succeeded(self, target: Target) -> None:
        target.health.succeeded(self._clock())

    def failed(self, target: Target, why: str, rest: float | None = None) -> None:
        target.health.failed(self._clock(), why, rest)

    def reset(self, channel: str, key: int) -> bool:
        """Put one channel key back in service; False when there is no such channel key."""
        health = self._health.get((channel, key))
        if health is None:
            return False
        health.reset()
        return True

    def snapshot(self) -> list[ChannelStatus]:
        """Every channel and key with its state, for `GET /admin/channels` and the metrics."""
        now = self._clock()
        out: list[ChannelStatus] = []
        for (name, index), h in self._health.items():
            state = h.state(now)
            out.append(
                ChannelStatus(
                    channel=name,
                    key=index,
                    models=self._models[f"{name}#{index}"],
                    state=state,
                    cooldown_remaining_seconds=(
                        round(h.open_until - now, 3) if state == "cooldown" else 0.0
                    ),
                    consecutive_failures=h.consecutive,
                    window_requests=h.window_total,
                    window_failures=h.window_failed,
                    successes=h.successes,
                    failures=h.failures,
                    last_error=h.last_error,
                    error_kinds=dict(h.error_kinds),
                )
            )
        return out


def _round_robin(targets: list[Target]) -> Target:
    """Smooth weighted round-robin (nginx's): deterministic, spreads picks evenly by weight."""
    total = 0.0
    chosen = targets[0]
    for t in targets:
        t.current += t.weight
        total += t.weight
        if t.current > chosen.current:
            chosen = t
    chosen.current -= total
    return chosen

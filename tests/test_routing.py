"""The router on its own: priority, weight, key rotation, stickiness, health. Pure: a fake clock,
no I/O."""

from __future__ import annotations

from collections import Counter
from typing import Any

from switchboard.catalog import Catalog
from switchboard.config import ConfigError, Health, parse_config
from switchboard.routing import Router


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def router(channels: list[dict[str, Any]], **health: Any) -> tuple[Router, Clock]:
    config = parse_config(
        {
            "providers": [
                {"name": "a", "kind": "openai", "base_url": "http://a", "api_key": "ka"},
                {"name": "b", "kind": "openai", "base_url": "http://b", "api_key": "kb"},
                {
                    "name": "multi",
                    "kind": "openai",
                    "base_url": "http://m",
                    "api_key": "k1",
                    "api_keys": ["k2", "k3"],
                },
            ],
            "models": [{"id": "m", "channels": channels}],
        },
        "test",
        env={},
    )
    clock = Clock()
    cfg = Health(**{"failures": 3, "cooldown_seconds": 30, **health})
    return Router(Catalog(config), cfg, clock), clock


def first(r: Router, affinity: str | None = None) -> str:
    target = r.plan("m", affinity)[0]
    return f"{target.name}#{target.channel.api_key}"


def test_best_priority_first_then_the_rest_in_order() -> None:
    r, _ = router([{"provider": "b", "model": "x", "priority": 1}, {"provider": "a", "model": "x"}])
    plan = r.plan("m")
    assert [t.name for t in plan] == ["a/x", "b/x"]
    assert {first(r) for _ in range(10)} == {"a/x#ka"}


def test_weights_share_the_traffic_exactly() -> None:
    r, _ = router(
        [{"provider": "a", "model": "x", "weight": 3}, {"provider": "b", "model": "x", "weight": 1}]
    )
    picks = Counter(first(r) for _ in range(40))
    assert picks == {"a/x#ka": 30, "b/x#kb": 10}


def test_provider_keys_rotate_and_share_their_channel_weight() -> None:
    r, _ = router(
        [{"provider": "multi", "model": "x", "weight": 3}, {"provider": "a", "model": "x"}]
    )
    picks = Counter(first(r) for _ in range(40))
    assert picks == {"multi/x#k1": 10, "multi/x#k2": 10, "multi/x#k3": 10, "a/x#ka": 10}


def test_a_channel_key_overrides_the_providers() -> None:
    r, _ = router([{"provider": "multi", "model": "x", "api_key": "own"}])
    assert {first(r) for _ in range(5)} == {"multi/x#own"}


def test_consecutive_failures_cool_a_channel_down_then_one_probe_goes() -> None:
    r, clock = router([{"provider": "a", "model": "x"}, {"provider": "b", "model": "x"}])
    a = r.plan("m")[0]
    assert a.name == "a/x"
    for _ in range(2):
        r.failed(a, "502: api_error")
    assert a.health.available(clock.now)  # two failures: still in rotation
    r.failed(a, "502: api_error")
    assert all(r.plan("m")[0].name == "b/x" for _ in range(5))
    assert r.plan("m")[-1] is a  # resting: a last resort only
    assert a.health.state(clock.now) == "cooldown"

    clock.now += 31  # cooldown over: half-open, one probe
    assert a.health.state(clock.now) == "half_open"
    probe = next(t for t in r.plan("m") if t is a)
    r.begin(probe)
    assert r.plan("m")[-1] is a  # a second request does not probe too
    r.failed(a, "502: api_error")  # the probe failed: back to cooldown at once
    assert a.health.state(clock.now) == "cooldown"

    clock.now += 31
    r.begin(a)
    r.succeeded(a)
    assert a.health.state(clock.now) == "healthy"
    assert "a/x#ka" in {first(r) for _ in range(4)}


def test_an_error_rate_over_the_window_trips_without_consecutive_failures() -> None:
    r, clock = router(
        [{"provider": "a", "model": "x"}, {"provider": "b", "model": "x"}],
        failures=100,
        min_requests=10,
        error_rate=0.5,
        window_seconds=60,
    )
    a = r.plan("m")[0]
    for _ in range(4):
        r.succeeded(a)
        r.failed(a, "529: overloaded_error")
    assert a.health.state(clock.now) == "healthy"  # 8 requests: under min_requests
    r.succeeded(a)
    r.failed(a, "529: overloaded_error")
    assert a.health.state(clock.now) == "cooldown"


def test_the_window_forgets_old_failures() -> None:
    r, clock = router(
        [{"provider": "a", "model": "x"}], failures=100, min_requests=4, window_seconds=10
    )
    a = r.plan("m")[0]
    for _ in range(3):
        r.failed(a, "x")
    clock.now += 11
    r.failed(a, "x")
    assert a.health.state(clock.now) == "healthy"


def test_a_rate_limited_key_rests_for_its_retry_after() -> None:
    r, clock = router([{"provider": "multi", "model": "x"}])
    k1 = r.plan("m")[0]
    r.failed(k1, "429: rate_limit_error", rest=5)
    assert all(first(r) != f"multi/x#{k1.channel.api_key}" for _ in range(6))
    clock.now += 6
    assert k1.health.available(clock.now)


def test_the_same_session_sticks_to_one_channel_and_key() -> None:
    r, _ = router([{"provider": "multi", "model": "x"}, {"provider": "a", "model": "x"}])
    for session in ("s1", "s2", "s3"):
        assert len({first(r, session) for _ in range(20)}) == 1
    spread = Counter(first(r, f"session-{i}") for i in range(400))
    assert len(spread) == 4  # every target gets some sessions...
    assert min(spread.values()) > 50  # ...about evenly by weight (a: 200, each key: ~67)


def test_a_sticky_session_moves_when_its_channel_fails_and_returns_after() -> None:
    r, clock = router([{"provider": "a", "model": "x"}, {"provider": "b", "model": "x"}])
    home = r.plan("m", "s1")[0]
    for _ in range(3):
        r.failed(home, "502: api_error")
    assert r.plan("m", "s1")[0] is not home
    clock.now += 31
    r.begin(home)
    r.succeeded(home)
    assert r.plan("m", "s1")[0] is home


def test_health_is_shared_by_models_on_the_same_channel() -> None:
    config = parse_config(
        {
            "providers": [{"name": "a", "kind": "openai", "base_url": "http://a"}],
            "models": [
                {"id": "m1", "channels": [{"provider": "a", "model": "x"}]},
                {"id": "m2", "channels": [{"provider": "a", "model": "x"}]},
            ],
        },
        "test",
        env={},
    )
    r = Router(Catalog(config), Health(failures=1), Clock())
    r.failed(r.plan("m1")[0], "x")
    (row,) = r.snapshot()
    assert row.models == ["m1", "m2"]
    assert row.state == "cooldown"
    assert row.failures == 1


def test_config_errors_name_the_field() -> None:
    def problem(data: dict[str, Any]) -> str:
        base: dict[str, Any] = {
            "providers": [{"name": "a", "kind": "openai", "base_url": "http://a"}],
            "models": [{"id": "m", "channels": [{"provider": "a", "model": "x"}]}],
        }
        try:
            parse_config({**base, **data}, "sb.yaml", env={})
        except ConfigError as exc:
            return str(exc)
        raise AssertionError("no error")

    bad_weight = {
        "models": [{"id": "m", "channels": [{"provider": "a", "model": "x", "weight": 0}]}]
    }
    assert problem(bad_weight) == "sb.yaml: models[0].channels[0].weight: must be >= 1"
    assert problem({"routing": {"max_attempts": 0}}).endswith(
        "routing.max_attempts: must be at least 1"
    )
    assert "routing.max_attempt: is not a known field" in problem({"routing": {"max_attempt": 2}})
    assert "routing.health.error_rate" in problem({"routing": {"health": {"error_rate": 2}}})


def test_an_operator_puts_a_cooled_down_key_back_in_service() -> None:
    r, _ = router([{"provider": "a", "model": "x"}, {"provider": "b", "model": "x", "priority": 1}])
    a = r.plan("m")[0]
    for _ in range(3):
        r.failed(a, "502 api_error")
    r.failed(a, "connect: api_error")
    (status,) = [s for s in r.snapshot() if s.channel == "a/x"]
    assert status.state == "cooldown"
    assert status.error_kinds == {"502 api_error": 3, "connect: api_error": 1}
    assert first(r) == "b/x#kb"
    assert r.reset("a/x", 0)
    (status,) = [s for s in r.snapshot() if s.channel == "a/x"]
    assert (status.state, status.consecutive_failures, status.failures) == ("healthy", 0, 4)
    assert first(r) == "a/x#ka"
    assert not r.reset("a/x", 1)
    assert not r.reset("nope/x", 0)

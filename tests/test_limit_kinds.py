"""Every limit kind and key setting is described once (tenancy/limit_kinds.py): the CLI's options,
the admin API's fields, the JSON a key is shown as and the storage columns all come from the
descriptions, so none of them can miss one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
import pytest
from sqlalchemy import BigInteger, Integer

from switchboard.errors import InvalidRequest
from switchboard.storage.tables import api_keys
from switchboard.tenancy import cli
from switchboard.tenancy.admin import FIELDS, parse_limits
from switchboard.tenancy.keys import ApiKey, Limits, Team
from switchboard.tenancy.limit_kinds import (
    BUDGET,
    EXPIRES_AT,
    KEY_FIELDS,
    KINDS,
    TEAM_FIELDS,
    KeyField,
    LimitKind,
)

# A value each field accepts from the admin API, and how `public()` shows it back.
GIVEN: dict[str, tuple[Any, Any]] = {
    "models": (["a", "b*"], ["a", "b*"]),
    "rpm": (10, 10),
    "tpm": (1000, 1000),
    "max_concurrent": (2, 2),
    "budget_usd": (2.5, 2.5),
    "budget_period": ("day", "day"),
    "expires_at": ("2100-01-01T00:00:00Z", "2100-01-01T00:00:00Z"),
}


def _options(command: click.Command) -> dict[str, click.Parameter]:
    return {p.name: p for p in command.params if p.name is not None}


def test_the_counters_are_the_limit_kinds_the_limiters_enforce() -> None:
    assert {k.field for k in KINDS} == {"rpm", "tpm", "max_concurrent", "budget_usd"}
    assert {k.verdict for k in KINDS} == {"rpm", "tpm", "concurrency", "budget"}
    assert all(k in KEY_FIELDS for k in KINDS)
    assert len({f.field for f in KEY_FIELDS}) == len(KEY_FIELDS)
    assert len({f.column for f in KEY_FIELDS}) == len(KEY_FIELDS)


@pytest.mark.parametrize("f", KEY_FIELDS, ids=lambda f: f.field)
def test_every_field_has_a_cli_option_on_create_and_update(f: KeyField) -> None:
    for command in (cli.create, cli.update):
        option = _options(command)[f.field]
        assert isinstance(option, click.Option)
        assert option.opts == [f.option]
        assert option.help == f.help
    clear = _options(cli.update)["cleared"]
    assert isinstance(clear.type, click.Choice)
    assert (f.field in clear.type.choices) == f.clearable


@pytest.mark.parametrize("f", KEY_FIELDS, ids=lambda f: f.field)
def test_every_field_is_an_admin_field_shown_back_as_given(f: KeyField) -> None:
    assert f.field in FIELDS
    given, shown = GIVEN[f.field]
    limits = parse_limits({f.field: given}, Limits())
    key = ApiKey("key_1", "k", "sk-sb-abcd", limits, datetime.now(UTC))
    assert key.public()[f.field] == shown
    if f.clearable:
        assert f.get(parse_limits({f.field: None}, limits)) is None


@pytest.mark.parametrize("f", KEY_FIELDS, ids=lambda f: f.field)
def test_every_field_has_a_column_of_its_type(f: KeyField) -> None:
    column = api_keys.c[f.column]
    assert type(column.type) is type(f.column_type)
    assert column.nullable == f.clearable


def test_counts_fit_their_columns() -> None:
    for kind in KINDS:
        expected = BigInteger if kind is BUDGET else Integer
        assert type(api_keys.c[kind.column].type) is expected


@pytest.mark.parametrize("kind", [k for k in KINDS if k.parse is not BUDGET.parse])
def test_every_count_is_bounded_and_the_error_names_its_field(kind: LimitKind) -> None:
    for bad in (-1, 2**31, 1.5, True, "3"):
        with pytest.raises(InvalidRequest, match=rf"^{kind.field}: must be") as caught:
            parse_limits({kind.field: bad}, Limits())
        assert caught.value.param == kind.field


def test_a_kind_kept_in_limits_more_is_shown_once_in_the_cli_and_the_json() -> None:
    rpd = LimitKind(
        field="rpd",
        option="--rpd",
        help="Requests per day.",
        column="rpd",
        column_type=Integer(),
        attr="",
        window_ms=86_400_000,
    )
    limits = rpd.set(parse_limits({"rpm": 5}, Limits()), 3)
    key = ApiKey("key_1", "k", "sk-sb-abcd", limits, datetime.now(UTC))
    assert (key.public()["rpm"], key.public()["rpd"]) == (5, 3)
    assert cli._limits(key) == "rpm=5  rpd=3"


def test_a_kind_without_an_attribute_must_be_a_window_kind() -> None:
    """The limiters' generic path holds sliding windows only."""
    with pytest.raises(ValueError, match=r"^rpd: a kind kept in Limits\.more must be a window"):
        LimitKind(
            field="rpd",
            option="--rpd",
            help="h",
            column="rpd",
            column_type=Integer(),
            attr="",
            shape="lease",
        )


@pytest.mark.parametrize("f", TEAM_FIELDS, ids=lambda f: f.field)
def test_a_team_carries_the_same_fields_through_the_same_descriptions(f: KeyField) -> None:
    from switchboard.storage.tables import teams
    from switchboard.tenancy import team_cli
    from switchboard.tenancy.admin import TEAM_GIVEN

    assert f in KEY_FIELDS
    assert f.field in TEAM_GIVEN
    assert type(teams.c[f.column].type) is type(f.column_type)
    for command in (team_cli.create, team_cli.update):
        option = _options(command)[f.field]
        assert isinstance(option, click.Option)
        assert option.opts == [f.option]
    given, shown = GIVEN[f.field]
    limits = parse_limits({f.field: given}, Limits(), TEAM_FIELDS, TEAM_GIVEN)
    assert Team("team_1", "t", limits, datetime.now(UTC)).public()[f.field] == shown


def test_a_team_has_every_limit_kind_and_no_expiry() -> None:
    assert set(KINDS) <= set(TEAM_FIELDS)
    assert EXPIRES_AT not in TEAM_FIELDS
    with pytest.raises(InvalidRequest, match="expires_at: unknown field"):
        parse_limits({"expires_at": "1d"}, Limits(), TEAM_FIELDS, ("name", "rpm"))

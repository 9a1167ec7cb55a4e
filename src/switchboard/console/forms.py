"""The key and team forms' fields -> the fields KeyAdmin and TeamAdmin take (the same ones
`switchboard keys create` and `POST /admin/keys` give them), every error naming its field."""

from __future__ import annotations

import math
from typing import Any

from switchboard.errors import InvalidRequest
from switchboard.tenancy.admin import FIELDS, TEAM_GIVEN

COUNTS = ("rpm", "tpm", "max_concurrent")


def _count(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise InvalidRequest(f"{name}: must be a whole number, 0 or more", param=name)
    return int(text)


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequest(
            "budget_usd: must be a number of dollars", param="budget_usd"
        ) from None
    if not math.isfinite(value):
        raise InvalidRequest("budget_usd: must be finite", param="budget_usd")
    return value


def key_fields(
    form: dict[str, str], *, creating: bool, names: tuple[str, ...] = FIELDS
) -> dict[str, Any]:
    """Creating, an empty field is left out (no limit); editing, an empty field clears it."""
    fields: dict[str, Any] = {}
    for name in names:
        text = form.get(name, "").strip()
        if name == "name":
            if text or creating:
                fields["name"] = text
            continue
        if not text:
            if not creating and name != "budget_period":
                fields[name] = None
            continue
        if name in COUNTS:
            fields[name] = _count(name, text)
        elif name == "budget_usd":
            fields[name] = _usd(text)
        else:  # team, models, budget_period, expires_at: KeyAdmin reads the text
            fields[name] = text
    return fields


def team_fields(form: dict[str, str]) -> dict[str, Any]:
    """The team form's fields, as `switchboard teams create` gives them."""
    return key_fields(form, creating=True, names=TEAM_GIVEN)

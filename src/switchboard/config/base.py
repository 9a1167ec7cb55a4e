"""The base of every config record: frozen, and an unknown field is an error (a typo in the
YAML is reported, not ignored)."""

from __future__ import annotations

import msgspec


class Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass

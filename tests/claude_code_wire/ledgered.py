"""The gateway these tests run: `switchboard serve` on loopback with a SQLite ledger, its config
file written from the providers and models a test gives, and an admin API to read the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.tenancy.gateway import MASTER, Gateway


@contextmanager
def ledgered_gateway(tmp: Path, **fields: Any) -> Iterator[Gateway]:
    config = {"master_key": MASTER, "database": f"sqlite:///{tmp / 'switchboard.db'}", **fields}
    path = tmp / "switchboard.yaml"
    path.write_text(yaml.safe_dump(config))
    gateway = Gateway(path, tmp / "gateway.log")
    try:
        assert gateway.url.startswith("http://127.0.0.1:")
        yield gateway
    finally:
        gateway.stop()


def new_key(gateway: Gateway, name: str) -> tuple[str, str]:
    """(id, secret) of a new key."""
    status, made = gateway.admin("POST", "/admin/keys", {"name": name})
    assert status == 201, made
    return made["id"], made["key"]

"""Which requests are captured, how a capture is cleaned before it is stored, and the writer
that stores captures and deletes them after `retention_days`, off the request path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Callable, Mapping
from contextvars import Token
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import orjson

from switchboard.capture import CURRENT, Capture, CaptureConfig, Part
from switchboard.record import RequestRecord
from switchboard.redact import MASK, masked
from switchboard.storage.captures import CaptureStore

logger = logging.getLogger("switchboard")

# Captures waiting for the writer: beyond this many (the database is slow or down) new ones are
# not kept; a debugging aid must never hold up or grow a gateway without bound.
MAX_PENDING = 1000
FLUSH_SECONDS = 0.5
PURGE_SECONDS = 3600.0


class Capturer:
    def __init__(
        self, config: CaptureConfig, redact: Callable[[str], str], store: CaptureStore
    ) -> None:
        self._config = config
        self._redact = redact
        self._patterns = re.compile("|".join(f"(?:{p})" for p in config.redact))
        self._store = store
        # Built into rows (redacted) by the writer, not on the request's path.
        self._pending: list[tuple[Capture, RequestRecord, str, int]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0  # captures not kept because the writer fell behind

    # -- the request's side ------------------------------------------------------------------

    def begin(self, headers: Mapping[str, str]) -> tuple[Capture, Token[Capture | None]]:
        capture = Capture(self._config.max_bytes, client_headers=masked(headers))
        return capture, CURRENT.set(capture)

    def end(
        self,
        capture: Capture,
        token: Token[Capture | None],
        record: RequestRecord,
        request_id: str,
        status: int,
    ) -> None:
        CURRENT.reset(token)
        if not self._wanted(record):
            return
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append((capture, record, request_id, status))
        self._wake.set()

    def _wanted(self, record: RequestRecord) -> bool:
        cfg = self._config
        if record.key_id is not None and (
            record.key_id in cfg.keys or (record.key_name or "") in cfg.keys
        ):
            return True
        names = [n for n in (record.model, record.model_id) if n]
        if any(fnmatchcase(n, pattern) for n in names for pattern in cfg.models):
            return True
        return cfg.sample_ratio > 0 and random.random() < cfg.sample_ratio

    def _row(
        self, capture: Capture, record: RequestRecord, request_id: str, status: int
    ) -> dict[str, Any]:
        client = {"headers": capture.client_headers, "body": self._clean(capture.client_request)}
        upstream = [
            {
                "url": self._redact(call.url),
                "headers": call.headers,
                "request": self._clean(call.request),
                "status": call.status,
                "response": self._clean(call.response),
            }
            for call in capture.upstream
        ]
        return {
            "request_id": request_id,
            "at": datetime.now(UTC),
            "key_id": record.key_id,
            "model": (record.model or "")[:200] or None,
            "status": status,
            "client_request": orjson.dumps(client).decode(),
            "upstream": orjson.dumps(upstream).decode(),
            "client_response": self._clean(capture.client_response),
        }

    def _clean(self, part: Part) -> str:
        """Text as stored: masked (the gateway's secrets, then the operator's patterns), with
        a note of what was cut."""
        text = bytes(part.data).decode("utf-8", "replace").replace("\x00", "")
        text = self._redact(text)
        if self._config.redact:
            text = self._patterns.sub(MASK, text)
        if part.total > len(part.data):
            text += f"\n[... {part.total - len(part.data)} more bytes not kept]"
        return text

    # -- the writer --------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._write())

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _write(self) -> None:
        next_purge = 0.0
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() >= next_purge:
                next_purge = loop.time() + PURGE_SECONDS
                await self._purge()
            if not self._pending and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
                self._wake.clear()
            pending, self._pending = self._pending, []
            try:
                await self._store.add([self._row(*p) for p in pending])
            except Exception:
                logger.exception("%d request captures could not be stored", len(pending))
            if self._closing and not self._pending:
                return

    async def _purge(self) -> None:
        before = datetime.now(UTC) - timedelta(days=self._config.retention_days)
        try:
            gone = await self._store.purge(before)
        except Exception:
            logger.exception("old request captures could not be deleted")
            return
        if gone:
            logger.info("deleted %d request captures older than %s", gone, before.isoformat())

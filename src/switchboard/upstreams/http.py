"""Upstream HTTP calls as the pipeline sees them: a POST with the provider's deadlines, error
statuses and broken connections turned into UpstreamError in this one place (the upstream's text
masked by the app's redactor: providers quote the key they received), and the reply read whole
(bounded) or as SSE events. The connections themselves are in pool.py and reply.py."""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

import orjson

from switchboard import ir
from switchboard.capture import CURRENT
from switchboard.config import ProviderConfig, Upstreams
from switchboard.dialects.sse import SSEDecoder, SSEEvent
from switchboard.errors import UpstreamError
from switchboard.redact import Redactor, masked
from switchboard.upstreams.base import Forward, Relayed
from switchboard.upstreams.connection import ConnectionFailed, Deadlines, ReplyTimeout
from switchboard.upstreams.pool import Pool
from switchboard.upstreams.proxy import Proxies
from switchboard.upstreams.reply import Reply

ErrorReader = Callable[[bytes], str]
T = TypeVar("T")

_MAX_ERROR_BODY = 64 * 1024


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, else `retry-after` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class HttpClient:
    def __init__(
        self,
        redactor: Redactor,
        settings: Upstreams | None = None,
        env: Mapping[str, str] | None = None,
        trace_context: Callable[[], Mapping[str, str]] | None = None,
        capturing: bool = False,
    ) -> None:
        """`redactor`: every upstream text that becomes an error message passes it, here and in
        the stream readers of upstreams/ (in-stream error events), which take it from here.
        `env`: where HTTPS_PROXY, HTTP_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE are read (the
        process environment). `trace_context`: the headers that carry the current trace to
        the upstream (traceparent), when tracing is on. `capturing`: request capture is on
        (capture/): what goes to and comes from upstreams is copied into the current
        request's capture, if it has one."""
        self.redactor = redactor
        self._settings = settings or Upstreams()
        self._env = env
        self._trace_context = trace_context
        self._capturing = capturing
        self._pool: Pool | None = None
        self._deadlines: dict[tuple[str, bool], Deadlines] = {}

    async def start(self) -> None:
        env = os.environ if self._env is None else self._env
        # The config's bundle, else requests' convention; with neither, OpenSSL's defaults
        # (which honour SSL_CERT_FILE and SSL_CERT_DIR by themselves).
        ca = self._settings.ca_bundle or env.get("REQUESTS_CA_BUNDLE")
        self._pool = Pool(
            self._settings.max_connections_per_origin,
            ca_bundle=ca or None,
            proxies=Proxies.from_env(env),
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _deadlines_for(self, provider: ProviderConfig, stream: bool) -> Deadlines:
        found = self._deadlines.get((provider.name, stream))
        if found is None:
            t = provider.timeouts
            found = Deadlines(t.connect, t.first_byte, t.idle, None if stream else t.total)
            self._deadlines[(provider.name, stream)] = found
        return found

    async def post(
        self,
        provider: ProviderConfig,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        read_error: ErrorReader,
        *,
        stream: bool,
        read_retry: Callable[[bytes], float | None] | None = None,
    ) -> Reply:
        """POST and wait for the status. Error statuses are read and raised as UpstreamError;
        the caller owns (and must release) a successful reply. `read_retry`: the retry delay an
        error body asks for, for upstreams that say it there rather than in Retry-After."""
        assert self._pool is not None, "HttpClient.start() was not awaited"
        if self._trace_context is not None:
            headers = {**headers, **self._trace_context()}
        capture = CURRENT.get() if self._capturing else None
        call = None if capture is None else capture.call(url, masked(headers), body)
        try:
            resp = await self._pool.request(
                url, headers, body, self._deadlines_for(provider, stream)
            )
        except ReplyTimeout as exc:
            raise UpstreamError.timed_out(provider.name, str(exc)) from None
        except ConnectionFailed as exc:
            # The message may quote the URL, and a URL may carry a key (`?key=`).
            why = self.redactor.text(str(exc))
            raise UpstreamError.unreachable(provider.name, why) from None
        if call is not None:
            call.status = resp.status
            resp.tap = call.response.add
        if resp.status >= 400:
            raw = b""
            try:
                while len(raw) < _MAX_ERROR_BODY:
                    piece = await resp.chunk()
                    if not piece:
                        break
                    raw += piece
            except (ConnectionFailed, ReplyTimeout):
                pass
            finally:
                resp.close()
            retry_after = retry_after_seconds(resp.headers)
            if retry_after is None and read_retry is not None:
                retry_after = read_retry(raw[:_MAX_ERROR_BODY])
            raise UpstreamError.from_status(
                resp.status,
                self.redactor.upstream(read_error(raw[:_MAX_ERROR_BODY])),
                provider=provider.name,
                retry_after=retry_after,
            )
        if stream and resp.content_type == "application/json":
            # A JSON body where an event stream was asked for: the upstream ignored `stream`
            # or hid an error behind a 200; either way there is no stream to relay.
            resp.close()
            raise UpstreamError.malformed(provider.name, "a JSON reply to a streaming request")
        return resp

    async def read_count(self, provider: ProviderConfig, resp: Reply, field: str) -> int:
        """A token-count reply's integer `field` (`count`, `totalTokens`, `inputTokens`)."""
        raw = await self.read(provider, resp)
        try:
            count = orjson.loads(raw)[field]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise UpstreamError.malformed(
                provider.name, f"the count reply has no {field}"
            ) from None
        if type(count) is not int:
            raise UpstreamError.malformed(provider.name, f"the count reply's {field} is no integer")
        return count

    @staticmethod
    async def read(provider: ProviderConfig, resp: Reply) -> bytes:
        """The whole reply, at most `max_reply_bytes` of it: a bigger one is a failure of the
        upstream's, and its connection is closed rather than drained."""
        limit = provider.max_reply_bytes
        declared = resp.content_length
        ok = False
        try:
            if declared is not None and declared > limit:
                raise _too_big(provider)
            chunks: list[bytes] = []
            size = 0
            while chunk := await resp.chunk():
                size += len(chunk)
                if size > limit:
                    raise _too_big(provider)
                chunks.append(chunk)
            ok = True
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        except ReplyTimeout as exc:
            raise UpstreamError.timed_out(provider.name, str(exc)) from None
        except ConnectionFailed as exc:
            raise UpstreamError.unreachable(provider.name, str(exc)) from None
        finally:
            # Closing (not releasing) a reply read only in part, or abandoned by a cancelled
            # request, so the upstream sees the connection end at once.
            if ok:
                resp.release()
            else:
                resp.close()

    @classmethod
    async def read_reply(
        cls, provider: ProviderConfig, resp: Reply, parse: Callable[[bytes], T]
    ) -> T:
        """The whole reply, parsed; a reply that does not parse is the upstream's failure."""
        raw = await cls.read(provider, resp)
        try:
            return parse(raw)
        except ValueError as exc:  # orjson's and msgspec's decode errors are ValueErrors
            raise UpstreamError.malformed(provider.name, str(exc)[:300]) from None

    @classmethod
    async def read_relayed(
        cls, fwd: Forward, resp: Reply, rewrite: Callable[[bytes, str], tuple[bytes, ir.Usage]]
    ) -> Relayed:
        """A pass-through's whole reply: `rewrite` gives it the client's model name back and
        reads its usage."""
        body, usage = await cls.read_reply(
            fwd.channel.provider, resp, lambda raw: rewrite(raw, fwd.client_model)
        )
        return Relayed(body, usage)


class Framing(Protocol):
    """How a streamed reply's bytes become events: SSE (SSEDecoder), or another framing read as
    events (Bedrock's event stream: each message's type and payload)."""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events `chunk` completed. Bytes the framing cannot read (an event over the
        bound, a corrupt message) raise ValueError: EventTooLarge, EventStreamError."""
        ...

    def flush(self) -> list[SSEEvent]:
        """At the end of the reply: what is left."""
        ...


class EventSource:
    """A streamed reply's events, one upstream read at a time: the events a read completed
    come back together, so the relay sends them as one chunk (one write to the client). SSE
    unless the upstream gives another `framing`."""

    __slots__ = ("_decoder", "_ended", "_provider", "_resp")

    def __init__(
        self, provider: ProviderConfig, resp: Reply, framing: Framing | None = None
    ) -> None:
        self._provider = provider
        self._resp = resp
        if framing is None:
            framing = SSEDecoder(provider.max_event_bytes)
        self._decoder = framing
        self._ended = False

    async def read(self) -> list[SSEEvent] | None:
        """The events of the next read ([] when it completed none); None after the end."""
        if self._ended:
            return None
        try:
            chunk = await self._resp.chunk()
        except ReplyTimeout as exc:
            raise UpstreamError.timed_out(self._provider.name, str(exc)) from None
        except ConnectionFailed as exc:
            raise UpstreamError.unreachable(self._provider.name, str(exc)) from None
        if chunk:
            try:
                return self._decoder.feed(chunk)
            except ValueError as exc:  # EventTooLarge, or another framing's unreadable bytes
                self._resp.close()
                raise UpstreamError.malformed(self._provider.name, str(exc)) from None
        self._ended = True
        return self._decoder.flush()

    def close(self) -> None:
        """A stream read to its end leaves its connection for the next request; one abandoned
        early (a client that left) closes it, so the upstream's request ends at once."""
        self._resp.release()


def _too_big(provider: ProviderConfig) -> UpstreamError:
    return UpstreamError.malformed(
        provider.name, f"the reply is larger than the {provider.max_reply_bytes}-byte limit"
    )

"""The only aiohttp user: one session per process, timeouts per provider, and the one place
where upstream HTTP failures become UpstreamError."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncGenerator, Callable, Mapping

import aiohttp

from switchboard.config import ProviderConfig
from switchboard.dialects.sse import SSEDecoder, SSEEvent
from switchboard.errors import UpstreamError

ErrorReader = Callable[[bytes], str]

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
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        provider: ProviderConfig,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        read_error: ErrorReader,
        *,
        stream: bool,
    ) -> aiohttp.ClientResponse:
        """POST and wait for the status. Error statuses are read and raised as UpstreamError;
        the caller owns (and must release) a successful response."""
        assert self._session is not None, "HttpClient.start() was not awaited"
        t = provider.timeouts
        timeout = aiohttp.ClientTimeout(
            total=None if stream else t.total, sock_connect=t.connect, sock_read=t.idle
        )
        try:
            async with asyncio.timeout(t.first_byte):
                resp = await self._session.post(url, data=body, headers=headers, timeout=timeout)
        except TimeoutError:
            raise UpstreamError.timed_out(provider.name, "waiting for the first byte") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError.unreachable(provider.name, _describe(exc)) from None
        if resp.status >= 400:
            try:
                raw = await resp.content.read(_MAX_ERROR_BODY)
            except (aiohttp.ClientError, TimeoutError):
                raw = b""
            finally:
                resp.release()
            raise UpstreamError.from_status(
                resp.status,
                read_error(raw),
                provider=provider.name,
                retry_after=retry_after_seconds(resp.headers),
            )
        return resp

    @staticmethod
    async def read(provider: ProviderConfig, resp: aiohttp.ClientResponse) -> bytes:
        try:
            return await resp.read()
        except TimeoutError:
            raise UpstreamError.timed_out(provider.name, "reading the reply") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError.unreachable(provider.name, _describe(exc)) from None
        finally:
            resp.release()

    @staticmethod
    async def events(
        provider: ProviderConfig, resp: aiohttp.ClientResponse
    ) -> AsyncGenerator[SSEEvent, None]:
        """The reply's SSE events; the connection is closed when the iteration ends or is
        abandoned, so a cancelled client cancels the upstream request at once."""
        decoder = SSEDecoder()
        try:
            while True:
                try:
                    chunk = await resp.content.readany()
                except TimeoutError:
                    raise UpstreamError.timed_out(provider.name, "idle between chunks") from None
                except aiohttp.ClientError as exc:
                    raise UpstreamError.unreachable(provider.name, _describe(exc)) from None
                if not chunk:
                    for event in decoder.flush():
                        yield event
                    return
                for event in decoder.feed(chunk):
                    yield event
        finally:
            resp.close()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]

"""An HTTP transport for the openai SDK's client that keeps a copy of every event-stream body
it reads, so a test can run each stream the SDK parsed through a grammar validator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx  # the openai SDK's HTTP client


class _Tee(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, sink: bytearray) -> None:
        self._inner = inner
        self._sink = sink

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._sink.extend(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class Recorder(httpx.BaseTransport):
    """An HTTP transport that keeps a copy of every event-stream body it reads."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.streams: list[bytearray] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        sink = bytearray()
        self.streams.append(sink)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tee(response.stream, sink),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()

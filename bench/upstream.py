"""The scripted upstream: OpenAI chat completions (`POST /v1/chat/completions`) and Anthropic
Messages (`POST /v1/messages`), non-streaming and paced SSE, from pre-built bytes; for the
provider lanes also the Gemini API (`.../models/M:generateContent`, `:streamGenerateContent`)
and Bedrock InvokeModel for Claude (`/model/M/invoke`, `/invoke-with-response-stream`, AWS
event-stream framing; the signature is not checked: the bench measures the gateway's cost).

Raw asyncio protocol on uvloop with the httptools parser: per request it finds `"stream"` and the
script marker in the body and writes bytes it built at start. Run it on the rig's core:

    taskset -c 1 python -m bench.upstream --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

import httptools
import uvloop

from bench import provider_replies, replies

Reply = tuple[bytes, list[bytes], bytes, float]  # head, paced deltas, tail, pace


class Replies:
    def __init__(self) -> None:
        self.openai_json = {
            False: replies.http_response(replies.openai_completion(tools=False)),
            True: replies.http_response(replies.openai_completion(tools=True)),
        }
        self.anthropic_json = {
            False: replies.http_response(replies.anthropic_message(tools=False)),
            True: replies.http_response(replies.anthropic_message(tools=True)),
        }
        gemini = replies.http_response(provider_replies.gemini_response())
        self.gemini_json = {False: gemini, True: gemini}
        self.openai_sse: dict[str, Reply] = {}
        self.anthropic_sse: dict[str, Reply] = {}
        self.gemini_sse: dict[str, Reply] = {}
        self.bedrock_sse: dict[str, Reply] = {}
        for name, script in replies.SCRIPTS.items():
            self.openai_sse[name] = (*replies.openai_stream(script), script.pace)
            self.anthropic_sse[name] = (*replies.anthropic_stream(script), script.pace)
            self.gemini_sse[name] = (*provider_replies.gemini_stream(script), script.pace)
            self.bedrock_sse[name] = (*provider_replies.bedrock_stream(script), script.pace)
        self.not_found = replies.error_response(404, "no such route")


OTLP_ACCEPTED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
)


def _script(body: bytes) -> str:
    at = body.rfind(b"[[bench:")
    if at < 0:
        return "text"
    end = body.find(b"]]", at)
    return body[at + 8 : end].decode() if end > 0 else "text"


def _wants_stream(body: bytes) -> bool:
    at = body.find(b'"stream"')
    if at < 0:
        return False
    rest = body[at + 8 : at + 16].lstrip(b" :")
    return rest.startswith(b"true")


class Stats:
    requests = 0
    streams_open = 0


class UpstreamProtocol(asyncio.Protocol):
    __slots__ = ("_body", "_loop", "_parser", "_replies", "_transport", "_url", "_writing")

    def __init__(self, table: Replies) -> None:
        self._replies = table
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._body: list[bytes] = []
        self._url = b""
        self._loop = asyncio.get_running_loop()
        self._writing: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._writing is not None:
            self._writing.cancel()
            self._writing = None
            Stats.streams_open -= 1
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self._body)
        url = self._url
        self._body = []
        self._url = b""
        self._respond(url, body)

    def _respond(self, url: bytes, body: bytes) -> None:
        t = self._transport
        if t is None:
            return
        path = url.split(b"?", 1)[0]
        if path == b"/v1/traces":
            # The OTLP collector of the switchboard-otel lane: takes the spans, keeps nothing.
            t.write(OTLP_ACCEPTED)
            return
        Stats.requests += 1
        table = self._replies
        stream: bool | None = None  # None: the body says (OpenAI, Anthropic); else the route
        if path.endswith(b"/chat/completions"):
            json_table, sse_table = table.openai_json, table.openai_sse
        elif path.endswith(b"/v1/messages"):
            json_table, sse_table = table.anthropic_json, table.anthropic_sse
        elif path.endswith((b":generateContent", b":streamGenerateContent")):
            json_table, sse_table = table.gemini_json, table.gemini_sse
            stream = path.endswith(b":streamGenerateContent")
        elif path.endswith((b"/invoke", b"/invoke-with-response-stream")):
            json_table, sse_table = table.anthropic_json, table.bedrock_sse
            stream = path.endswith(b"/invoke-with-response-stream")
        else:
            t.write(table.not_found)
            return
        script = _script(body)
        if not (_wants_stream(body) if stream is None else stream):
            t.write(json_table[script == "tools"])
            return
        head, deltas, tail, pace = sse_table.get(script, sse_table["text"])
        if pace <= 0:
            t.write(head + b"".join(deltas) + tail)
            return
        t.write(head)
        Stats.streams_open += 1
        self._pace(deltas, tail, pace, 0)

    def _pace(self, deltas: list[bytes], tail: bytes, pace: float, i: int) -> None:
        """Write delta i now and schedule the next; the first goes at once, with the head."""
        t = self._transport
        if t is None:
            return
        if i == len(deltas):
            self._writing = None
            Stats.streams_open -= 1
            t.write(tail)
            return
        t.write(deltas[i])
        self._writing = self._loop.call_later(pace, self._pace, deltas, tail, pace, i + 1)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    table = Replies()
    server = await loop.create_server(
        lambda: UpstreamProtocol(table), host, port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"upstream: listening on http://{host}:{port}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args: Any = parser.parse_args(argv)
    if args.host != "127.0.0.1":
        parser.error("the bench listens on 127.0.0.1 only")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

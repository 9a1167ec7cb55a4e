"""AWS Bedrock (`kind: bedrock`). Anthropic models speak the Messages API through InvokeModel
(`anthropic_version: bedrock-2023-05-31`, betas in the body, the model in the URL): Anthropic
clients are relayed, others translated through the IR. Other models speak Converse, translated
through the IR. Every request is SigV4-signed with botocore's signer; streamed replies come in
the AWS event-stream framing (dialects/aws_eventstream.py).

botocore is imported only here, at a bedrock provider's first request."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

import orjson

from switchboard import ir
from switchboard.catalog import Channel
from switchboard.config import ProviderConfig
from switchboard.dialects.anthropic import upstream_request as anthropic_request
from switchboard.dialects.anthropic.passthrough import StreamRelay, rewrite_response
from switchboard.dialects.anthropic.platforms import bedrock_foundation_model
from switchboard.dialects.anthropic.response import decode_response as anthropic_response
from switchboard.dialects.anthropic.stream import StreamDecoder as AnthropicDecoder
from switchboard.dialects.aws_eventstream import EventMessage, EventStreamDecoder, EventStreamError
from switchboard.dialects.bedrock_converse import upstream_request as converse_request
from switchboard.dialects.bedrock_converse.errors import exception_status, upstream_error_message
from switchboard.dialects.bedrock_converse.response import decode_response as converse_response
from switchboard.dialects.bedrock_converse.stream import StreamDecoder as ConverseDecoder
from switchboard.dialects.sse import SSEEvent
from switchboard.dialects.validation import dump_body, load_body
from switchboard.errors import InvalidRequest, UpstreamError
from switchboard.redact import Redactor
from switchboard.upstreams.base import Call, Completion, Forward, Relayed
from switchboard.upstreams.connection import ConnectionFailed, ReplyTimeout
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import DecodingReader, RelayingReader, UpstreamStream

ANTHROPIC_VERSION = "bedrock-2023-05-31"
SERVICE = "bedrock"


def is_anthropic(model: str) -> bool:
    """Claude on Bedrock: `anthropic.claude-...`, a cross-region profile `us.anthropic.claude-...`
    or an inference-profile ARN naming one."""
    return "anthropic." in model


def endpoint(provider: ProviderConfig) -> str:
    return (
        provider.base_url.rstrip("/")
        if provider.base_url
        else f"https://bedrock-runtime.{provider.region}.amazonaws.com"
    )


class Signer:
    """One provider's credentials and SigV4 signer. Credentials come from the config, else the
    standard AWS chain (resolved once, off the event loop; botocore refreshes temporary ones,
    which is done off the loop too when due)."""

    def __init__(self, provider: ProviderConfig) -> None:
        self._provider = provider
        self._credentials: Any = None
        self._lock = asyncio.Lock()
        self._auth: Any = None  # the signer for the current frozen credentials

    def _resolve(self) -> Any:
        import botocore.credentials
        import botocore.session

        p = self._provider
        if p.aws_access_key_id and p.aws_secret_access_key:
            return botocore.credentials.Credentials(
                p.aws_access_key_id, p.aws_secret_access_key, p.aws_session_token or None
            )
        session = botocore.session.Session(profile=p.aws_profile or None)
        return session.get_credentials()

    async def _frozen(self) -> Any:
        if self._credentials is None:
            async with self._lock:
                if self._credentials is None:
                    from botocore.exceptions import BotoCoreError

                    try:
                        found = await asyncio.to_thread(self._resolve)
                    except (BotoCoreError, OSError, ValueError) as exc:  # a missing profile...
                        raise self._no_credentials(type(exc).__name__) from None
                    if found is None:
                        raise self._no_credentials("the AWS credential chain found none")
                    self._credentials = found
        creds = self._credentials
        refresh_needed = getattr(creds, "refresh_needed", None)
        if refresh_needed is not None and refresh_needed():
            return await asyncio.to_thread(creds.get_frozen_credentials)
        return creds.get_frozen_credentials()

    def _no_credentials(self, why: str) -> UpstreamError:
        return UpstreamError(
            f"upstream provider '{self._provider.name}' has no usable AWS credentials ({why}); "
            "the gateway operator must configure them",
            status=502,
            error_type="api_error",
            upstream_status=0,
            provider=self._provider.name,
            retryable=True,
        )

    async def headers(self, url: str, body: bytes, accept: str) -> dict[str, str]:
        from botocore.awsrequest import AWSRequest

        frozen = await self._frozen()
        if self._auth is None or self._auth.credentials != frozen:  # new or refreshed ones
            self._auth = _sigv4()(frozen, SERVICE, self._provider.region)
        # The host botocore would work out from the URL (per request, a quarter of its cost
        # before): signed, and left out of what is sent, since the client writes its own.
        host = _host(url)
        headers = {"content-type": "application/json", "accept": accept, "host": host}
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        self._auth.add_auth(request)
        signed = {k.lower(): v for k, v in request.headers.items()}
        del signed["host"]
        signed.update(self._provider.headers)
        return signed


@functools.lru_cache(maxsize=256)  # URLs are per provider, model and action
def _host(url: str) -> str:
    from botocore.auth import _host_from_url

    host: str = _host_from_url(url)
    return host


@functools.cache
def _sigv4() -> Any:
    """botocore's SigV4 signer (a subclass made on first use: botocore is imported late) that
    works out once what is the same from one request to the next, about a third of its cost
    per request: the signing key, four HMACs over the secret, the day, the region and the
    service (once a day per credentials); each path's canonical form; the signed headers
    selected once per request, not twice; the payload hash from the body bytes, without
    botocore preparing a copy of the request. What is signed and how is botocore's."""
    from botocore.auth import EMPTY_SHA256_HASH, SigV4Auth

    class CachingSigV4Auth(SigV4Auth):  # type: ignore[misc]  # botocore has no type hints
        def __init__(self, credentials: Any, service: str, region: str) -> None:
            super().__init__(credentials, service, region)
            self._day_key: tuple[str, bytes] = ("", b"")
            self._paths: dict[str, str] = {}
            self._selected: tuple[Any, Any] | None = None  # (request, its headers to sign)

        def add_auth(self, request: Any) -> None:
            try:
                super().add_auth(request)
            finally:
                self._selected = None  # holds the request (and its body) only while signing

        def signature(self, string_to_sign: str, request: Any) -> str:
            day = request.context["timestamp"][0:8]
            if self._day_key[0] != day:
                key = self._sign(f"AWS4{self.credentials.secret_key}".encode(), day)
                for part in (self._region_name, self._service_name, "aws4_request"):
                    key = self._sign(key, part)
                self._day_key = (day, key)
            signature: str = self._sign(self._day_key[1], string_to_sign, hex=True)
            return signature

        def _normalize_url_path(self, path: str) -> str:
            found = self._paths.get(path)
            if found is None:
                if len(self._paths) >= 1024:  # paths are per model and action: few
                    self._paths.clear()
                found = self._paths[path] = super()._normalize_url_path(path)
            return found

        def headers_to_sign(self, request: Any) -> Any:
            # add_auth asks twice (the canonical request, then the Authorization header)
            # with nothing changed in between.
            if self._selected is not None and self._selected[0] is request:
                return self._selected[1]
            selected = super().headers_to_sign(request)
            self._selected = (request, selected)
            return selected

        def payload(self, request: Any) -> str:
            data = request.data
            if (
                isinstance(data, bytes)
                and not self._is_streaming_checksum_payload(request)
                and self._should_sha256_sign_payload(request)
            ):
                return hashlib.sha256(data).hexdigest() if data else EMPTY_SHA256_HASH
            found: str = super().payload(request)
            return found

    return CachingSigV4Auth


def _model_path(model: str) -> str:
    return "/model/" + quote(model, safe="")


class BedrockUpstream:
    def __init__(self, http: HttpClient) -> None:
        self._http = http
        self._signers: dict[str, Signer] = {}

    def _signer(self, provider: ProviderConfig) -> Signer:
        found = self._signers.get(provider.name)
        if found is None:
            found = self._signers[provider.name] = Signer(provider)
        return found

    @staticmethod
    def relays(channel: Channel) -> bool:
        """Whether an Anthropic client's body goes through as it is (Claude on Bedrock)."""
        return is_anthropic(channel.model)

    async def _post(
        self, channel: Channel, action: str, body: bytes, *, stream: bool, model: str | None = None
    ) -> Reply:
        provider = channel.provider
        url = endpoint(provider) + _model_path(model or channel.model) + "/" + action
        accept = "application/vnd.amazon.eventstream" if stream else "application/json"
        headers = await self._signer(provider).headers(url, body, accept)
        try:
            return await self._http.post(
                provider, url, body, headers, upstream_error_message, stream=stream
            )
        except UpstreamError as exc:
            raise _remap(exc) from None

    # Relayed (Anthropic client, Claude on Bedrock): the client's body with Bedrock's changes.

    async def _forward(self, fwd: Forward, *, stream: bool) -> Reply:
        try:
            body = invoke_body(fwd.body, fwd.headers.get("anthropic-beta"))
        except (orjson.JSONDecodeError, TypeError, ValueError):
            raise InvalidRequest(
                "the request body is not a JSON object the gateway can forward "
                "(numbers must be finite)"
            ) from None
        action = "invoke-with-response-stream" if stream else "invoke"
        return await self._post(fwd.channel, action, body, stream=stream)

    async def forward(self, fwd: Forward) -> Relayed:
        resp = await self._forward(fwd, stream=False)
        body, usage = await self._http.read_reply(
            fwd.channel.provider, resp, lambda raw: rewrite_response(raw, fwd.client_model)
        )
        return Relayed(body, usage)

    async def forward_stream(self, fwd: Forward) -> UpstreamStream[bytes]:
        resp = await self._forward(fwd, stream=True)
        provider = fwd.channel.provider
        redactor = self._http.redactor
        reader = RelayReader(provider.name, StreamRelay(fwd.client_model), redactor)
        source = FrameSource(provider, resp, redactor)
        return UpstreamStream(provider, resp, reader, source=source)

    async def count_tokens(self, fwd: Forward) -> int:
        """CountTokens of a relayed Claude body, as InvokeModel would take it (CountTokens
        names foundation models: an inference profile's geography is taken off)."""
        try:
            invoke = _for_invoke(load_body(fwd.body), fwd.headers.get("anthropic-beta"))
        except TypeError:
            raise InvalidRequest("the request body is not a JSON object") from None
        invoke.setdefault("max_tokens", 1)  # InvokeModel's body requires one; counts ignore it
        body = {"input": {"invokeModel": {"body": dump_body(invoke, fwd.body).decode()}}}
        channel = fwd.channel
        model = bedrock_foundation_model(channel.model)
        resp = await self._post(
            channel, "count-tokens", orjson.dumps(body), stream=False, model=model
        )
        return await self._http.read_count(channel.provider, resp, "inputTokens")

    # Translated: Claude through InvokeModel, other models through Converse.

    async def complete(self, call: Call) -> Completion:
        channel = call.channel
        if is_anthropic(channel.model):
            encoded = anthropic_request.encode_request(call.request, _anthropic_profile(call))
            body = orjson.dumps(_for_invoke(encoded.body, None))
            resp = await self._post(channel, "invoke", body, stream=False)
            parse: Callable[[bytes], tuple[ir.Response, list[str]]] = anthropic_response
            dropped = encoded.dropped
        else:
            converse = converse_request.encode_request(call.request, _converse_profile(call))
            resp = await self._post(channel, "converse", orjson.dumps(converse.body), stream=False)
            parse, dropped = converse_response, converse.dropped
        response, notes = await self._http.read_reply(channel.provider, resp, parse)
        return Completion(response, dropped + notes)

    async def stream(self, call: Call) -> UpstreamStream[list[ir.Event]]:
        channel = call.channel
        provider = channel.provider
        if is_anthropic(channel.model):
            encoded = anthropic_request.encode_request(call.request, _anthropic_profile(call))
            body = orjson.dumps(_for_invoke(encoded.body, None))
            resp = await self._post(channel, "invoke-with-response-stream", body, stream=True)
            decoder: Decoder = _AnthropicChunks(provider.name)
            dropped = encoded.dropped
        else:
            converse = converse_request.encode_request(call.request, _converse_profile(call))
            resp = await self._post(
                channel, "converse-stream", orjson.dumps(converse.body), stream=True
            )
            decoder = ConverseDecoder(provider=provider.name)
            dropped = converse.dropped
        redactor = self._http.redactor
        source = FrameSource(provider, resp, redactor)
        reader = EventReader(decoder, redactor)
        return UpstreamStream(provider, resp, reader, dropped, source=source)


def _remap(exc: UpstreamError) -> UpstreamError:
    """Bedrock's own statuses that the generic mapping would call the client's mistake: a model
    that timed out (408) or failed (424) may do better on another try or channel."""
    if exc.upstream_status in (408, 424):
        exc.status, exc.error_type, exc.retryable = 502, "api_error", True
    return exc


def _for_invoke(body: Any, beta: str | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise TypeError("the body is not a JSON object")
    body.pop("model", None)
    body.pop("stream", None)  # the action says it
    body["anthropic_version"] = ANTHROPIC_VERSION
    if beta:
        betas = [b.strip() for b in beta.split(",") if b.strip()]
        listed = body.get("anthropic_beta")
        if isinstance(listed, list):
            betas = [*listed, *(b for b in betas if b not in listed)]
        if betas:
            body["anthropic_beta"] = betas
    return body


def invoke_body(body: bytes, beta: str | None) -> bytes:
    """An Anthropic client's body as InvokeModel takes it: no `model` or `stream`, Bedrock's
    `anthropic_version`, the `anthropic-beta` header's betas as the `anthropic_beta` list."""
    return dump_body(_for_invoke(load_body(body), beta), body)


def _anthropic_profile(call: Call) -> anthropic_request.UpstreamProfile:
    p = call.profile
    return anthropic_request.UpstreamProfile(
        model_id=p.id,
        upstream_model=call.channel.model,
        max_output_tokens=p.max_output_tokens,
        vision=p.capabilities.vision,
        pdf=p.capabilities.pdf,
    )


def _converse_profile(call: Call) -> converse_request.UpstreamProfile:
    p = call.profile
    return converse_request.UpstreamProfile(
        model_id=p.id,
        upstream_model=call.channel.model,
        max_output_tokens=p.max_output_tokens,
        vision=p.capabilities.vision,
        pdf=p.capabilities.pdf,
    )


def chunk_event(payload: bytes) -> SSEEvent:
    """An InvokeModelWithResponseStream `chunk`'s payload: `{"bytes": base64(one Anthropic
    event's data)}` -> that event as an SSE event, named by its `type` as the Anthropic API
    names it."""
    wrapper = orjson.loads(payload)
    data = base64.b64decode(wrapper["bytes"], validate=True)
    event = orjson.loads(data)
    name = event["type"]
    if not isinstance(name, str):
        raise ValueError("an event without a type")
    if b"\n" in data or b"\r" in data:  # one `data:` line: JSON laid out over lines is packed
        data = orjson.dumps(event)
    return SSEEvent(name, data, b"event: " + name.encode() + b"\ndata: " + data)


class FrameSource:
    """A streamed reply's event-stream messages, one upstream read at a time, each as an event
    (its `:event-type` and payload) for UpstreamStream's readers. Exception and error messages
    raise UpstreamError, mapped as the same exception over HTTP would be."""

    __slots__ = ("_decoder", "_ended", "_failed", "_provider", "_redactor", "_resp", "name")

    def __init__(self, provider: ProviderConfig, resp: Reply, redactor: Redactor) -> None:
        self._provider = provider
        self.name = provider.name
        self._resp = resp
        self._redactor = redactor
        self._decoder = EventStreamDecoder(provider.max_event_bytes)
        self._ended = False
        self._failed: UpstreamError | None = None

    async def read(self) -> list[SSEEvent] | None:
        if self._failed is not None:
            raise self._failed
        if self._ended:
            return None
        name = self._provider.name
        try:
            chunk = await self._resp.chunk()
        except ReplyTimeout as exc:
            raise UpstreamError.timed_out(name, str(exc)) from None
        except ConnectionFailed as exc:
            raise UpstreamError.unreachable(name, str(exc)) from None
        if not chunk:
            self._ended = True
            if self._decoder.pending:
                raise UpstreamError.malformed(name, "the stream ended inside a message")
            return None
        try:
            messages = self._decoder.feed(chunk)
        except EventStreamError as exc:
            self._resp.close()
            raise UpstreamError.malformed(name, str(exc)) from None
        events: list[SSEEvent] = []
        for message in messages:
            if message.message_type != "event":
                if not events:
                    raise self._failure(message)
                # The events before it go out first; the failure ends the next read.
                self._failed = self._failure(message)
                return events
            events.append(SSEEvent(message.event_type, message.payload, b""))
        return events

    def _failure(self, message: EventMessage) -> UpstreamError:
        headers = message.headers
        if message.message_type == "exception":
            kind = headers.get(":exception-type", "exception")
            text = upstream_error_message(message.payload)
        else:  # "error": the framing's own error, its code and message in headers
            kind = headers.get(":error-code", "error")
            text = headers.get(":error-message", "")
        text = self._redactor.upstream(f"{kind}: {text}")
        return _remap(
            UpstreamError.from_status(
                exception_status(kind), f"error in stream: {text}", provider=self._provider.name
            )
        )

    def close(self) -> None:
        self._resp.release()


class Decoder(Protocol):
    """What EventReader feeds: Converse's decoder, or _AnthropicChunks."""

    @property
    def finished(self) -> bool: ...

    @property
    def usage(self) -> ir.Usage: ...

    @property
    def notes(self) -> list[str]: ...

    def feed(self, event_type: str, payload: bytes) -> list[ir.Event]: ...

    def finish(self) -> list[ir.Event]: ...


class _AnthropicChunks:
    """Claude's streamed `chunk`s, each one Anthropic event's data, for the Anthropic decoder."""

    __slots__ = ("_decoder", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._decoder = AnthropicDecoder(provider=provider)

    @property
    def finished(self) -> bool:
        return self._decoder.finished

    @property
    def usage(self) -> ir.Usage:
        return self._decoder.usage

    @property
    def notes(self) -> list[str]:
        return self._decoder.notes

    def feed(self, event_type: str, payload: bytes) -> list[ir.Event]:
        if event_type != "chunk":
            return []
        try:
            data = base64.b64decode(orjson.loads(payload)["bytes"], validate=True)
        except (ValueError, KeyError, TypeError):
            raise UpstreamError.malformed(self._provider, "a chunk without bytes") from None
        return self._decoder.feed(data)

    def finish(self) -> list[ir.Event]:
        if not self._decoder.finished:
            raise UpstreamError.malformed(self._provider, "the stream ended before message_stop")
        return []


class EventReader(DecodingReader[Decoder]):
    """A translated stream: Converse events, or Claude's chunks, decoded into IR batches."""

    __slots__ = ()

    def take(self, events: list[SSEEvent]) -> list[ir.Event]:
        decoder = self._decoder
        batch: list[ir.Event] = []
        for event in events:
            try:
                batch += decoder.feed(event.event or "", event.data)
            except UpstreamError as exc:  # an in-stream `error` event, in Claude's words
                raise self._redactor.error(exc) from None
            if decoder.finished:
                self.done = True
                break
        return batch

    def end(self) -> list[ir.Event]:
        return self._decoder.finish()


class RelayReader(RelayingReader[StreamRelay]):
    """Claude's stream relayed to an Anthropic client: each `chunk` becomes the SSE event it
    carries, through the same relay as Anthropic's own streams."""

    __slots__ = ()

    def take(self, events: list[SSEEvent]) -> bytes:
        relay = self._relay
        out: list[bytes] = []
        for event in events:
            if event.event != "chunk":
                continue
            try:
                out.append(relay.relay(chunk_event(event.data)))
            except (ValueError, KeyError, TypeError):
                raise UpstreamError.malformed(
                    self._name, "a chunk that is not an Anthropic event"
                ) from None
            if relay.stopped:
                if out[-1].startswith(b"event: error"):
                    out[-1] = self._redactor.frame(out[-1])  # relayed: masked first
                self.done = True
                break
        return b"".join(out)

    def end(self) -> bytes:
        raise UpstreamError.malformed(self._name, "the stream ended before message_stop")

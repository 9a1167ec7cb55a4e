"""A scripted Bedrock server on 127.0.0.1: the ScriptedUpstream's replies, behind Bedrock's
SigV4 check. Every request's signature is recomputed with botocore from the request as received
(known test credentials); a wrong one is refused with 403 and Bedrock's error shape, as AWS
does. With an empty queue each route answers with a plausible default."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .bedrock_wire import (
    bedrock_error,
    claude_message,
    claude_stream,
    converse_message,
    converse_stream,
)
from .mock_upstream import Responder, ScriptedUpstream
from .replies import Received, Reply, SSEReply

ACCESS_KEY = "AKIDSWITCHBOARDTEST"
SECRET_KEY = "switchboard/test/secret/key/0123456789abcd"
REGION = "us-east-1"


@dataclass(frozen=True)
class ResetReply:
    """Write these frames, then reset the connection (RST) inside the unfinished body."""

    frames: list[bytes]


class BedrockServer(ScriptedUpstream):
    def __init__(
        self,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        responder: Responder | None = None,
    ) -> None:
        super().__init__(responder)
        self._credentials = Credentials(access_key, secret_key)
        self.refused = 0

    def reset(self) -> None:
        super().reset()
        self.refused = 0

    def __enter__(self) -> BedrockServer:
        self.start()
        return self

    def enqueue(self, *replies: Reply | ResetReply) -> None:
        super().enqueue(*replies)  # type: ignore[arg-type]

    def signature_ok(self, request: web.Request, body: bytes) -> bool:
        auth = request.headers.get("authorization", "")
        amz_date = request.headers.get("x-amz-date", "")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or not amz_date:
            return False
        fields = dict(
            part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(",")
        )
        credential = fields.get("Credential", "").split("/")
        if len(credential) != 5 or credential[0] != self._credentials.access_key:
            return False
        if credential[2:] != [REGION, "bedrock", "aws4_request"]:
            return False
        signed = fields.get("SignedHeaders", "").split(";")
        headers = {h: request.headers.get(h, "") for h in signed if h != "host"}
        url = f"http://{request.headers['host']}{request.raw_path}"
        aws = AWSRequest(method=request.method, url=url, data=body, headers=headers)
        aws.context["timestamp"] = amz_date
        signer = SigV4Auth(self._credentials, "bedrock", REGION)
        canonical = signer.canonical_request(aws)
        expected = signer.signature(signer.string_to_sign(aws, canonical), aws)
        return bool(expected == fields.get("Signature"))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if not self.signature_ok(request, body):
            self.refused += 1
            reply = bedrock_error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.",
            )
            with self._cond:
                self._received.append(Received(request.method, request.path, "", {}, body, None))
            return await self._send(request, self._received[-1], reply)
        if not self.pending and self._responder is None:
            self.enqueue(_default(request.path))
        return await super()._handle(request)

    async def _send(self, request: web.Request, rec: Received, reply: Reply) -> web.StreamResponse:
        if isinstance(reply, ResetReply):
            resp = web.StreamResponse(
                headers={"Content-Type": "application/vnd.amazon.eventstream"}
            )
            await resp.prepare(request)
            for frame in reply.frames:
                await resp.write(frame)
            sock = request.transport.get_extra_info("socket") if request.transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if request.transport is not None:
                request.transport.abort()
            return resp
        return await super()._send(request, rec, reply)


def _default(path: str) -> Reply:
    if path.endswith("/invoke-with-response-stream"):
        return claude_stream()
    if path.endswith("/invoke"):
        return claude_message()
    if path.endswith("/converse-stream"):
        return converse_stream()
    if path.endswith("/converse"):
        return converse_message()
    return bedrock_error(404, "UnknownOperationException", "no such operation")


__all__ = ["ACCESS_KEY", "REGION", "SECRET_KEY", "BedrockServer", "ResetReply", "SSEReply"]

"""Builders for Gemini API upstream replies (`generateContent`, `streamGenerateContent?alt=sse`,
Google's error body) and for the OAuth token endpoint google-auth calls (Vertex AI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .replies import JsonReply, SSEReply

SIGNATURE = "CiQBcsjafE2nSnRSIGb1u4iWkLXd2DVp8k1k5gZnTl0SI2GkKc0="  # opaque, as Gemini sends


def text_part(text: str, *, signature: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"text": text}
    if signature:
        part["thoughtSignature"] = signature
    return part


def thought_part(text: str, *, signature: str | None = None) -> dict[str, Any]:
    return {**text_part(text, signature=signature), "thought": True}


def call_part(
    name: str, args: dict[str, Any], *, id_: str | None = None, signature: str | None = None
) -> dict[str, Any]:
    call: dict[str, Any] = {"name": name, "args": args}
    if id_:
        call["id"] = id_
    part: dict[str, Any] = {"functionCall": call}
    if signature:
        part["thoughtSignature"] = signature
    return part


def usage_metadata(
    prompt: int = 11, candidates: int = 3, *, cached: int = 0, thoughts: int = 0
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
    }
    if cached:
        out["cachedContentTokenCount"] = cached
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    return out


def gemini_body(
    parts: list[dict[str, Any]] | None,
    *,
    finish: str | None = "STOP",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-test"}
    if usage is not None:
        body["usageMetadata"] = usage
    body["responseId"] = "resp-1"
    return body


def gemini_response(
    parts: list[dict[str, Any]] | str = "ok",
    *,
    finish: str = "STOP",
    usage: dict[str, Any] | None = None,
) -> JsonReply:
    if isinstance(parts, str):
        parts = [text_part(parts)]
    return JsonReply(gemini_body(parts, finish=finish, usage=usage or usage_metadata()))


def gemini_frame(body: dict[str, Any]) -> str:
    # Gemini ends its SSE events with CRLF pairs.
    return "data: " + json.dumps(body, separators=(",", ":")) + "\r\n\r\n"


def gemini_stream(
    chunks: list[list[dict[str, Any]]],
    *,
    finish: str = "STOP",
    usage: dict[str, Any] | None = None,
    delay: float = 0.0,
) -> SSEReply:
    """One SSE frame per chunk of parts; the last carries the finishReason. Every chunk carries
    the usage so far, as Gemini's do."""
    final = usage or usage_metadata()
    frames: list[str | bytes] = []
    for i, parts in enumerate(chunks):
        last = i == len(chunks) - 1
        partial = {**final, "candidatesTokenCount": i}
        frames.append(
            gemini_frame(
                gemini_body(
                    parts, finish=finish if last else None, usage=final if last else partial
                )
            )
        )
    return SSEReply(frames, delay=delay)


def gemini_error(
    code: int, status: str, message: str, *, retry_delay: str | None = None
) -> JsonReply:
    details: list[dict[str, Any]] = []
    if retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        )
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return JsonReply({"error": error}, status=code)


def token_reply(token: str, expires_in: int = 3600) -> JsonReply:
    return JsonReply({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})


def service_account(path: Path, token_uri: str, project: str = "test-project") -> Path:
    """A throwaway service-account file (a fresh RSA key) whose token_uri is on loopback."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": f"switchboard@{project}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path

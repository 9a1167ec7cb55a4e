"""The Messages body as Claude's cloud platforms take it (AWS Bedrock's InvokeModel, Google
Vertex AI's rawPredict) -> the Messages API's own body and headers, so the rest of the gateway
sees an Anthropic request. On those platforms the model (and, on Bedrock, whether to stream)
is in the URL, and the version and betas are body fields (`anthropic_version`, a list
`anthropic_beta`), where the Messages API has headers. Pure: bytes in, bytes out.

Model ids: the platforms name Claude models their own way (`us.anthropic.claude-sonnet-4-5-
20250929-v1:0` on Bedrock, `claude-sonnet-4-5@20250929` on Vertex). `*_model_names` give the
names to look up in the catalogue, the id as sent first, then with the platform's decoration
taken off step by step; the first name the catalogue resolves (an id, alias or glob) wins."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.dialects.validation import dump_body, load_body
from switchboard.errors import InvalidRequest

# The Messages API version the unwrapped body is in (what the platforms' versions pin).
MESSAGES_VERSION = "2023-06-01"
_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_BETAS = 64
_BETA = re.compile(r"[A-Za-z0-9._-]{1,128}")
MAX_MODEL_CHARS = 256
_MODEL = re.compile(r"[\x21-\x7e]+")  # visible ASCII: an id that is safe in a log line


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    version: str  # the `anthropic_version` its requests carry


BEDROCK = Platform("Bedrock", "bedrock-2023-05-31")
VERTEX = Platform("Vertex AI", "vertex-2023-10-16")


@dataclass(frozen=True, slots=True)
class Unwrapped:
    body: bytes  # a Messages API body
    headers: dict[str, str]  # anthropic-version, and anthropic-beta when betas were asked


def unwrap(
    platform: Platform,
    body: bytes,
    *,
    model: str | None,
    stream: bool | None,
    name: Callable[[str], str],
    beta_header: str | None = None,
) -> Unwrapped:
    """The Messages body: its model the `name` (a catalogue name) of `model` (from the URL;
    None: the body's own, as Vertex's token count sends it), `stream` set (from the URL; None:
    the body's), `anthropic_version` checked and removed, `anthropic_beta` merged with the
    `anthropic-beta` header and removed."""
    data = load_body(body)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object")
    if model is None:
        model = data.get("model")
        if not isinstance(model, str):
            raise InvalidRequest("model: Field required", param="model")
    data["model"] = name(check_model_id(model))
    version = data.pop("anthropic_version", None)
    if version is None:
        raise InvalidRequest("anthropic_version: Field required", param="anthropic_version")
    # The platform's own version pins the Messages API's first; newer SDKs send the Messages
    # API version they speak, which goes on as the header.
    if version == platform.version:
        version = MESSAGES_VERSION
    elif not isinstance(version, str) or _API_VERSION.fullmatch(version) is None:
        raise InvalidRequest(
            f"anthropic_version: {platform.name} takes '{platform.version}' or a Messages API "
            "version (YYYY-MM-DD)",
            param="anthropic_version",
        )
    betas = _betas(data.pop("anthropic_beta", None))
    if beta_header:
        betas += [b for b in (p.strip() for p in beta_header.split(",")) if b and b not in betas]
    if stream is not None:
        data["stream"] = stream
    headers = {"anthropic-version": version}
    if betas:
        headers["anthropic-beta"] = ",".join(betas)
    return Unwrapped(dump_body(data, body), headers)


def _betas(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest("anthropic_beta: Input should be a valid list", param="anthropic_beta")
    if len(value) > MAX_BETAS:
        raise InvalidRequest(
            f"anthropic_beta: List should have at most {MAX_BETAS} items", param="anthropic_beta"
        )
    out: list[str] = []
    for i, beta in enumerate(value):
        # They become a header upstream: names only, nothing that could end or forge one.
        if not isinstance(beta, str) or _BETA.fullmatch(beta) is None:
            raise InvalidRequest(
                f"anthropic_beta.{i}: Input should be a beta name (letters, digits, '.', '_', '-')",
                param=f"anthropic_beta.{i}",
            )
        if beta not in out:
            out.append(beta)
    return out


def check_model_id(model_id: str) -> str:
    """A model id from a URL, bounded and printable (it reaches the log and the ledger)."""
    if not model_id or len(model_id) > MAX_MODEL_CHARS or _MODEL.fullmatch(model_id) is None:
        raise InvalidRequest(
            f"model: the model id in the URL must be 1 to {MAX_MODEL_CHARS} visible ASCII "
            "characters",
            param="model",
        )
    return model_id


# Cross-region inference profiles prefix a geography (us., eu., apac., global., ...).
_BEDROCK_GEO = re.compile(r"^(?:[a-z]{2,6}(?:-[a-z]+)?)\.(?=[a-z0-9-]+\.)")
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_DATE = re.compile(r"-\d{8}$")


def bedrock_foundation_model(model_id: str) -> str:
    """A cross-region inference profile id without its geography (`us.anthropic.x` ->
    `anthropic.x`): the foundation model's id."""
    return _BEDROCK_GEO.sub("", model_id)


def bedrock_model_names(model_id: str) -> tuple[str, ...]:
    """`us.anthropic.claude-sonnet-4-5-20250929-v1:0` -> itself, `anthropic.claude-sonnet-4-5-
    20250929-v1:0`, `claude-sonnet-4-5-20250929-v1:0`, `claude-sonnet-4-5-20250929`,
    `claude-sonnet-4-5`."""
    names = [model_id]
    name = bedrock_foundation_model(model_id)
    names.append(name)
    name = name.removeprefix("anthropic.")
    names.append(name)
    name = _BEDROCK_VERSION.sub("", name)
    names.append(name)
    names.append(_DATE.sub("", name))
    return tuple(dict.fromkeys(names))


def vertex_model_names(model_id: str) -> tuple[str, ...]:
    """`claude-sonnet-4-5@20250929` -> itself, `claude-sonnet-4-5-20250929`,
    `claude-sonnet-4-5`."""
    base, at, version = model_id.partition("@")
    names = [model_id]
    if at:
        names += [f"{base}-{version}" if version else base, base]
    return tuple(dict.fromkeys(names))

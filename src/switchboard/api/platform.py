"""What the Bedrock and Vertex surfaces share: a request in a cloud platform's Messages format
(api/bedrock.py, api/vertex.py) made an Anthropic request: authenticated with a Switchboard
key, its body unwrapped (dialects/anthropic/platforms.py), the model in its URL looked up in
the catalogue under the names the platform's id maps to."""

from __future__ import annotations

from collections.abc import Callable

from switchboard.api.anthropic import messages_inbound
from switchboard.api.exchange import Exchange
from switchboard.api.post import read_body
from switchboard.api.surface import Parts
from switchboard.catalog import Catalog
from switchboard.dialects.anthropic.platforms import Platform, unwrap
from switchboard.errors import NotFound
from switchboard.kinds import Endpoint
from switchboard.pipeline import Inbound


def catalogue_name(catalog: Catalog, model_id: str, names: tuple[str, ...]) -> str:
    """The first of `names` (what `model_id` maps to) the catalogue offers on the Anthropic
    endpoint."""
    for name in names:
        entry = catalog.resolve(name)
        if entry is not None and Endpoint.ANTHROPIC in entry.profile.endpoints:
            return name
    tried = ", ".join(names[1:])
    raise NotFound(
        f"model: {model_id}" + (f" (also looked up as {tried})" if tried else ""), param="model"
    )


async def platform_inbound(
    ex: Exchange,
    parts: Parts,
    platform: Platform,
    model: str | None,
    names: Callable[[str], tuple[str, ...]],
    *,
    stream: bool | None,
    count_tokens: bool = False,
) -> Inbound:
    """`model`: the platform's model id from the URL (None: the body's), looked up under
    `names` of it."""
    principal, body = await read_body(ex, parts.auth, parts.bounds)
    catalog = parts.gateway.catalog

    def name(model_id: str) -> str:
        return catalogue_name(catalog, model_id, names(model_id))

    beta = ex.headers.get("anthropic-beta")
    unwrapped = unwrap(platform, body, model=model, stream=stream, name=name, beta_header=beta)
    return messages_inbound(
        ex, parts.bounds, principal, unwrapped.body, unwrapped.headers, count_tokens=count_tokens
    )

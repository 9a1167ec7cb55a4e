"""`POST /v1/embeddings` (also under `/openai`): OpenAI's embeddings, for catalogue models
offered on the `embeddings` endpoint. The body is checked (dialects/openai_embeddings.py) and
relayed to the model's OpenAI-dialect channels with only `model` changed; its usage (input
tokens) is charged at the model's input price, in the ledger like any request."""

from __future__ import annotations

from switchboard import ir
from switchboard.api.bounds import affinity
from switchboard.api.disconnect import cancel_on_disconnect
from switchboard.api.exchange import Exchange
from switchboard.api.post import PostHandler, read_body
from switchboard.api.report import served_headers
from switchboard.dialects.openai_embeddings import decode_head
from switchboard.errors import InvalidRequest
from switchboard.kinds import Endpoint, ProviderKind
from switchboard.pipeline import Inbound, Inlet

INLET = Inlet(Endpoint.EMBEDDINGS, relays=frozenset({ProviderKind.OPENAI}))


def _not_translated() -> ir.Request:
    # Embeddings are only ever relayed (service.Gateway.embed): nothing asks for their IR.
    raise InvalidRequest("embeddings requests are relayed, not translated")


class EmbeddingsHandler(PostHandler):
    async def __call__(self, ex: Exchange) -> None:
        principal, body = await read_body(ex, self._auth, self._bounds, key_header=None)
        record = ex.record
        head = decode_head(body)
        inbound = Inbound(
            inlet=INLET,
            body=body,
            model=head.model,
            stream=False,
            headers={},
            decode=_not_translated,
            principal=principal,
            max_tokens=0,  # nothing to reserve for output
            affinity=affinity(ex, head.user),
        )
        record.model = head.model
        async with cancel_on_disconnect(ex):
            done = await self._gateway.embed(inbound, record)
            assert done.raw is not None
            await ex.respond(200, done.raw, served_headers(record))

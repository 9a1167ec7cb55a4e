"""The inbound surfaces this gateway serves: the one registration each (api/surface.py).
create_app builds its routes from these, in this order (the first is the default envelope)."""

from __future__ import annotations

from switchboard.api import anthropic, bedrock, openai, vertex
from switchboard.api.surface import Surface

SURFACES: tuple[Surface, ...] = (anthropic.SURFACE, openai.SURFACE, bedrock.SURFACE, vertex.SURFACE)

"""The canonical internal representation (IR) every dialect translates to and from."""

from switchboard.ir.content import (
    Block,
    Document,
    Image,
    Message,
    RedactedThinking,
    Role,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
)
from switchboard.ir.events import (
    BlockStart,
    BlockStop,
    Event,
    InputJsonDelta,
    MessageDelta,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    ThinkingDelta,
)
from switchboard.ir.request import Request, ResponseFormat, ThinkingConfig, Tool, ToolChoice
from switchboard.ir.response import Response, StopReason, Usage

__all__ = [
    "Block",
    "BlockStart",
    "BlockStop",
    "Document",
    "Event",
    "Image",
    "InputJsonDelta",
    "Message",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "RedactedThinking",
    "Request",
    "Response",
    "ResponseFormat",
    "Role",
    "SignatureDelta",
    "StopReason",
    "Text",
    "TextDelta",
    "Thinking",
    "ThinkingConfig",
    "ThinkingDelta",
    "Tool",
    "ToolChoice",
    "ToolResult",
    "ToolUse",
    "Usage",
]

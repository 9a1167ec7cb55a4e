"""An IR response -> the Responses API's response object, as the openai SDK's types read it.
The item builders here are shared with the stream encoder, so a streamed response ends with
the same object a non-streamed one returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, assert_never

import orjson

from switchboard import ir
from switchboard.dialects.openai_responses import wire
from switchboard.ids import item_id

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Echo:
    """What the response object repeats of the request, and its identity."""

    id: str
    created_at: int
    model: str
    instructions: str | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    reasoning: Json = field(default_factory=lambda: {"effort": None, "summary": None})
    store: bool = False
    temperature: float | None = None
    text: Json = field(default_factory=lambda: {"format": {"type": "text"}})
    tool_choice: Any = "auto"
    tools: list[Json] = field(default_factory=list)
    top_p: float | None = None
    user: str | None = None
    namespaces: dict[str, str] = field(default_factory=dict)  # function -> its namespace

    @classmethod
    def of(cls, w: wire.ResponsesRequest, *, id: str, created_at: int, store: bool) -> Echo:
        choice: Any = "auto"
        if isinstance(w.tool_choice, str):
            choice = w.tool_choice
        elif w.tool_choice is not None:
            choice = {"type": w.tool_choice.type, "name": w.tool_choice.name}
        text: Json = {"format": {"type": "text"}}
        if w.text is not None and w.text.format is not None:
            f = w.text.format
            text = {"format": {"type": f.type}}
            if f.type == "json_schema":
                text["format"].update(
                    name=f.name or "response",
                    schema=f.schema,
                    strict=f.strict,
                    description=f.description,
                )
        reasoning: Json = {"effort": None, "summary": None}
        if w.reasoning is not None:
            reasoning = {"effort": w.reasoning.effort, "summary": w.reasoning.summary}
        return cls(
            id=id,
            created_at=created_at,
            model=w.model,
            instructions=w.instructions,
            max_output_tokens=w.max_output_tokens,
            metadata=w.metadata or {},
            parallel_tool_calls=w.parallel_tool_calls is not False,
            previous_response_id=w.previous_response_id,
            reasoning=reasoning,
            store=store,
            temperature=w.temperature,
            text=text,
            tool_choice=choice,
            tools=[
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    "strict": t.strict,
                }
                for t in w.tools or ()
                if t.type == "function"
            ],
            top_p=w.top_p,
            user=w.user,
            namespaces=wire.namespaces(w.tools),
        )


def usage_json(u: ir.Usage) -> Json:
    """OpenAI counts cached tokens inside input_tokens; the IR (as Anthropic) does not."""
    prompt = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "output_tokens": u.output_tokens,
        # The IR carries no separate count: the upstream's reasoning is inside output_tokens.
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + u.output_tokens,
    }


# stop reason -> (status, incomplete_details.reason)
_STATUS: dict[ir.StopReason, tuple[str, str | None]] = {
    "end_turn": ("completed", None),
    "stop_sequence": ("completed", None),
    "tool_use": ("completed", None),
    "pause_turn": ("completed", None),
    "max_tokens": ("incomplete", "max_output_tokens"),
    "model_context_window_exceeded": ("incomplete", "max_output_tokens"),
    "refusal": ("incomplete", "content_filter"),
}


def status_of(reason: ir.StopReason) -> tuple[str, str | None]:
    return _STATUS[reason]


def response_json(
    echo: Echo,
    *,
    status: str,
    output: list[Json],
    usage: ir.Usage | None,
    incomplete: str | None = None,
    error: Json | None = None,
) -> Json:
    return {
        "id": echo.id,
        "object": "response",
        "created_at": echo.created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": echo.instructions,
        "max_output_tokens": echo.max_output_tokens,
        "metadata": echo.metadata,
        "model": echo.model,
        "output": output,
        "parallel_tool_calls": echo.parallel_tool_calls,
        "previous_response_id": echo.previous_response_id,
        "reasoning": echo.reasoning,
        "store": echo.store,
        "temperature": echo.temperature,
        "text": echo.text,
        "tool_choice": echo.tool_choice,
        "tools": echo.tools,
        "top_p": echo.top_p,
        "truncation": "disabled",
        "usage": usage_json(usage) if usage is not None else None,
        "user": echo.user,
    }


def deleted(response_id: str) -> Json:
    """What `DELETE /v1/responses/{id}` answers, as OpenAI does."""
    return {"id": response_id, "object": "response.deleted", "deleted": True}


def message_item(id: str, text: str | None, status: str = "completed") -> Json:
    content = [] if text is None else [output_text(text)]
    return {"id": id, "type": "message", "role": "assistant", "status": status, "content": content}


def output_text(text: str) -> Json:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def reasoning_item(id: str, text: str | None, signature: str = "") -> Json:
    item: Json = {
        "id": id,
        "type": "reasoning",
        "summary": [] if text is None else [{"type": "summary_text", "text": text}],
    }
    if signature:
        # What Anthropic needs back to accept the thinking in a later turn; a client that
        # replays the item (Codex does) sends it back as encrypted_content.
        item["encrypted_content"] = signature
    return item


def function_call_item(
    id: str, block: ir.ToolUse, arguments: str, status: str, namespaces: dict[str, str]
) -> Json:
    item = {
        "id": id,
        "type": "function_call",
        "call_id": block.id,
        "name": block.name,
        "arguments": arguments,
        "status": status,
    }
    if block.name in namespaces:
        item["namespace"] = namespaces[block.name]
    return item


def output_items(resp: ir.Response, namespaces: dict[str, str]) -> tuple[list[Json], list[str]]:
    """The output items, and what they could not carry."""
    out: list[Json] = []
    dropped: list[str] = []
    for block in resp.content:
        match block:
            case ir.Text():
                last = out[-1] if out else None
                if last is not None and last["type"] == "message":
                    last["content"][0]["text"] += block.text
                else:
                    out.append(message_item(item_id("msg"), block.text))
            case ir.Thinking():
                out.append(reasoning_item(item_id("rs"), block.thinking, block.signature))
            case ir.ToolUse():
                args = orjson.dumps(block.input).decode()
                out.append(function_call_item(item_id("fc"), block, args, "completed", namespaces))
            case ir.RedactedThinking():
                dropped.append("redacted_thinking")
            case ir.Image() | ir.Document() | ir.ToolResult():
                dropped.append(f"{type(block).__name__} in a response")
            case ir.ServerToolUse() | ir.WebSearchResult() | ir.WebFetchResult():
                # Only an Anthropic request can ask for server tools (servertools/).
                dropped.append(f"{type(block).__name__} in a response")
            case _:
                assert_never(block)
    return out, dropped


def encode_response(resp: ir.Response, echo: Echo) -> tuple[Json, list[str]]:
    """The response object, and what it could not carry."""
    output, dropped = output_items(resp, echo.namespaces)
    status, incomplete = status_of(resp.stop_reason)
    body = response_json(
        echo, status=status, output=output, usage=resp.usage, incomplete=incomplete
    )
    return body, dropped

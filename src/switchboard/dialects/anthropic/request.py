"""Anthropic request bytes -> IR request (for Anthropic clients). Validation errors name the
field the way the real API does (`max_tokens: Field required`, `messages.0.content.1.type: ...`)."""

from __future__ import annotations

import base64
import re

import msgspec

from switchboard import ir
from switchboard.dialects.anthropic import wire
from switchboard.dialects.anthropic.attribution import NOTE as ATTRIBUTION_NOTE
from switchboard.dialects.anthropic.attribution import is_attribution
from switchboard.dialects.validation import MAX_COUNT, decode, encodable, loose_items
from switchboard.errors import InvalidRequest

_decode_request = msgspec.json.Decoder(wire.MessagesRequest).decode
_decode_count = msgspec.json.Decoder(wire.CountTokensRequest).decode
_decode_head = msgspec.json.Decoder(wire.RequestHead).decode
_INDEX = re.compile(r"\[(\d+)\]")
_decode_tool_heads = msgspec.json.Decoder(list[wire.ToolHead]).decode


def head_thinking(head: wire.RequestHead) -> bool:
    """Whether the request asks for thinking (any `thinking` but `disabled`)."""
    return head.thinking is not None and head.thinking.type not in (None, "disabled")


def tool_keys(raw: msgspec.Raw) -> frozenset[str]:
    """Each tool's type and name, for routing."""
    tools = loose_items(_decode_tool_heads, raw)
    return frozenset(k for t in tools for k in (t.type, t.name) if k)


def decode_head(body: bytes) -> wire.RequestHead:
    head = decode(_decode_head, body)
    # Loose in the head, but what limits reserve (and a pass-through forwards) is bounded.
    if type(head.max_tokens) is int and head.max_tokens > MAX_COUNT:
        raise InvalidRequest(
            f"max_tokens: Input should be less than or equal to {MAX_COUNT}", param="max_tokens"
        )
    return head


def decode_request(body: bytes) -> ir.Request:
    return _to_ir(decode(_decode_request, body), body)


def decode_count_tokens(body: bytes) -> ir.Request:
    return _to_ir(decode(_decode_count, body), body)


def _to_ir(w: wire.MessagesRequest | wire.CountTokensRequest, body: bytes) -> ir.Request:
    dropped: set[str] = set()
    if w.cache_control is not None:
        dropped.add("cache_control")
    system: tuple[ir.Text, ...] = ()
    if isinstance(w.system, str):
        system = (ir.Text(w.system),) if w.system else ()
    elif w.system:
        system = tuple(_text(b, dropped) for b in w.system if b.text)
    if system and any(is_attribution(t.text) for t in system):
        system = tuple(t for t in system if not is_attribution(t.text))
        dropped.add(ATTRIBUTION_NOTE)
    loaded: set[str] = set()  # tools a tool_reference has loaded (tool search)
    messages = _messages(w.messages, dropped, loaded)
    if not messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    params = w.tools or []
    if params and any(t.defer_loading for t in params):
        # (only deferred tools need to know what the conversation has used: most requests
        # have none, and this is a pass over every block)
        loaded.update(b.name for m in messages for b in m.content if isinstance(b, ir.ToolUse))
        if w.tool_choice is not None and w.tool_choice.name:
            loaded.add(w.tool_choice.name)
    tools, server_tools = _tools(params, dropped, loaded)
    # What an encoder will write again for the upstream, free-form: checked once.
    encodable(
        [b.input for m in messages for b in m.content if isinstance(b, ir.ToolUse)]
        + [t.input_schema for t in tools],
        body,
    )
    choice = None
    if w.tool_choice is not None:
        if w.tool_choice.type == "tool" and not w.tool_choice.name:
            raise InvalidRequest("tool_choice.name: Field required", param="tool_choice.name")
        choice = ir.ToolChoice(
            w.tool_choice.type, w.tool_choice.name, bool(w.tool_choice.disable_parallel_tool_use)
        )
    thinking = None
    if w.thinking is not None:
        kind = "adaptive" if w.thinking.type == "between_tools" else w.thinking.type
        thinking = ir.ThinkingConfig(kind, w.thinking.budget_tokens)
    for i, seq in enumerate(w.stop_sequences or []):
        if not seq.strip():
            raise InvalidRequest(
                f"stop_sequences.{i}: each stop sequence must contain non-whitespace",
                param="stop_sequences",
            )
    return ir.Request(
        model=w.model,
        messages=messages,
        max_tokens=w.max_tokens,
        system=system,
        stream=bool(w.stream),
        stop_sequences=tuple(w.stop_sequences or ()),
        temperature=w.temperature,
        top_p=w.top_p,
        top_k=w.top_k,
        user_id=w.metadata.user_id if w.metadata else None,
        tools=tools,
        tool_choice=choice,
        thinking=thinking,
        server_tools=server_tools,
        dropped=tuple(sorted(dropped)),
    )


def _text(block: wire.TextBlock, dropped: set[str]) -> ir.Text:
    if block.cache_control is not None:
        dropped.add("cache_control")
    if block.citations:
        dropped.add("citations")
    return ir.Text(block.text)


def _image(block: wire.ImageBlock, where: str) -> ir.Image:
    src = block.source
    if src.type == "base64" and src.data is not None:
        return ir.Image(media_type=src.media_type, data=src.data)
    if src.type == "url" and src.url:
        return ir.Image(url=src.url)
    raise InvalidRequest(
        f"{where}.source: image source type '{src.type}' is not supported by Switchboard "
        "(use base64 or url)",
        param=f"{where}.source",
    )


def _document(block: wire.DocumentBlock, where: str, dropped: set[str]) -> ir.Document:
    src = block.source
    if block.citations:
        dropped.add("citations")
    if block.cache_control is not None:
        dropped.add("cache_control")
    common = {"title": block.title, "context": block.context}
    if src.type == "text" and isinstance(src.data, str):
        return ir.Document(text=src.data, media_type=src.media_type or "text/plain", **common)
    if src.type == "content" and src.content is not None:
        if isinstance(src.content, str):
            return ir.Document(text=src.content, **common)
        texts = [b.text for b in src.content if isinstance(b, wire.TextBlock)]
        if len(texts) != len(src.content):
            dropped.add("document.content.image")
        return ir.Document(text="\n".join(texts), **common)
    if src.type == "base64" and src.data is not None:
        return ir.Document(media_type=src.media_type, data=src.data, **common)
    if src.type == "url" and src.url:
        return ir.Document(url=src.url, media_type="application/pdf", **common)
    raise InvalidRequest(
        f"{where}.source: document source type '{src.type}' is not supported by Switchboard",
        param=f"{where}.source",
    )


def loaded_text(name: str) -> str:
    """What a `tool_reference` becomes for an upstream without tool search: the tool itself
    is sent from this turn on (see `_tools`), and the model is told so."""
    return f"Tool {name} loaded: it is now available to call."


def _tool_result(
    block: wire.ToolResultBlock, where: str, dropped: set[str], loaded: set[str]
) -> ir.ToolResult:
    if block.cache_control is not None:
        dropped.add("cache_control")
    parts: list[ir.Text | ir.Image] = []
    if isinstance(block.content, str):
        if block.content:
            parts.append(ir.Text(block.content))
    elif block.content:
        for j, item in enumerate(block.content):
            match item:
                case wire.TextBlock():
                    parts.append(_text(item, dropped))
                case wire.ImageBlock():
                    parts.append(_image(item, f"{where}.content.{j}"))
                case wire.DocumentBlock():
                    doc = _document(item, f"{where}.content.{j}", dropped)
                    if doc.text is None:
                        raise InvalidRequest(
                            f"{where}.content.{j}: only text documents can be tool results",
                            param=f"{where}.content.{j}",
                        )
                    parts.append(ir.Text(doc.text))
                case wire.SearchResultBlock():
                    parts.append(ir.Text(_search_result_text(item)))
                case wire.ToolReferenceBlock():
                    if item.tool_name:
                        loaded.add(item.tool_name)
                        parts.append(ir.Text(loaded_text(item.tool_name)))
    return ir.ToolResult(block.tool_use_id, tuple(parts), bool(block.is_error))


def _search_result_text(block: wire.SearchResultBlock) -> str:
    body = "\n".join(t.text for t in block.content)
    return f"{block.title} ({block.source})\n{body}"


def _blocks(
    content: str | list[wire.ContentBlock], where: str, dropped: set[str], loaded: set[str]
) -> list[ir.Block]:
    if isinstance(content, str):
        return [ir.Text(content)] if content else []
    out: list[ir.Block] = []
    for j, block in enumerate(content):
        at = f"{where}.content.{j}"
        match block:
            case wire.TextBlock():
                if block.text:
                    out.append(_text(block, dropped))
            case wire.ImageBlock():
                if block.cache_control is not None:
                    dropped.add("cache_control")
                out.append(_image(block, at))
            case wire.DocumentBlock():
                out.append(_document(block, at, dropped))
            case wire.SearchResultBlock():
                dropped.add("search_result (sent as text)")
                out.append(ir.Text(_search_result_text(block)))
            case wire.ToolUseBlock():
                if block.cache_control is not None:
                    dropped.add("cache_control")
                out.append(ir.ToolUse(block.id, block.name, block.input))
            case wire.ToolResultBlock():
                out.append(_tool_result(block, at, dropped, loaded))
            case wire.ThinkingBlock():
                out.append(ir.Thinking(block.thinking, block.signature))
            case wire.RedactedThinkingBlock():
                out.append(ir.RedactedThinking(block.data))
            case wire.ServerToolUseBlock() if block.name in _SERVER_TOOLS:
                # An earlier turn's web search or fetch: to a model without server tools, a
                # call of the function tool the gateway offers in their place
                # (servertools/), and its result (split into a turn of its own, _messages).
                out.append(ir.ToolUse(block.id, block.name, block.input))
            case wire.WebSearchToolResultBlock():
                result = _search_result(block)
                out.append(ir.ToolResult(block.tool_use_id, (ir.Text(result.model_text()),)))
            case wire.WebFetchToolResultBlock():
                fetched = _fetch_result(block)
                out.append(ir.ToolResult(block.tool_use_id, (ir.Text(fetched.model_text()),)))
            case _:
                dropped.add(str(type(block).__struct_config__.tag))
    return out


def _messages(
    params: list[wire.MessageParam], dropped: set[str], loaded: set[str]
) -> tuple[ir.Message, ...]:
    """Consecutive turns of the same role are merged, as the real API does."""
    merged: list[ir.Message] = []
    for i, m in enumerate(params):
        blocks = _blocks(m.content, f"messages.{i}", dropped, loaded)
        if m.role == "system":
            blocks = [b for b in blocks if isinstance(b, ir.Text)]
        for role, part in _server_turns(m.role, blocks):
            if merged and merged[-1].role == role:
                merged[-1] = ir.Message(role, merged[-1].content + tuple(part))
            else:
                merged.append(ir.Message(role, tuple(part)))
    return tuple(m for m in merged if m.content or m.role == "assistant")


def _server_turns(role: ir.Role, blocks: list[ir.Block]) -> list[tuple[ir.Role, list[ir.Block]]]:
    """An assistant turn holding server tool results (which Anthropic keeps in the assistant's
    turn) as the other dialects need it: each run of results in a user turn of its own, after
    the calls they answer."""
    if role != "assistant" or not any(isinstance(b, ir.ToolResult) for b in blocks):
        return [(role, blocks)]
    turns: list[tuple[ir.Role, list[ir.Block]]] = []
    for block in blocks:
        side: ir.Role = "user" if isinstance(block, ir.ToolResult) else "assistant"
        if turns and turns[-1][0] == side:
            turns[-1][1].append(block)
        else:
            turns.append((side, [block]))
    return turns


_SERVER_TOOLS = ("web_search", "web_fetch")
_SERVER_TYPE = re.compile(r"^(web_search|web_fetch)_\d{8}$")


def _unopaque(text: object) -> str:
    """What the gateway's own `encrypted_content` holds (the page text, response.opaque);
    Anthropic's real one reads as nothing."""
    if not isinstance(text, str):
        return ""
    try:
        decoded = base64.b64decode(text, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return ""
    return decoded if decoded.isprintable() or "\n" in decoded else ""


def _search_result(block: wire.WebSearchToolResultBlock) -> ir.WebSearchResult:
    content = block.content
    if isinstance(content, dict):
        return ir.WebSearchResult(block.tool_use_id, error_code=str(content.get("error_code")))
    hits = tuple(
        ir.SearchHit(
            url=str(item.get("url", "")),
            title=str(item.get("title", "")),
            snippet=_unopaque(item.get("encrypted_content")),
        )
        for item in (content if isinstance(content, list) else [])
        if isinstance(item, dict)
    )
    return ir.WebSearchResult(block.tool_use_id, hits)


def _fetch_result(block: wire.WebFetchToolResultBlock) -> ir.WebFetchResult:
    content = block.content if isinstance(block.content, dict) else {}
    url = str(content.get("url", ""))
    if content.get("type") != "web_fetch_result":
        return ir.WebFetchResult(block.tool_use_id, url, error_code=str(content.get("error_code")))
    document = content.get("content")
    source = document.get("source") if isinstance(document, dict) else None
    if isinstance(source, dict) and source.get("type") == "text":
        return ir.WebFetchResult(block.tool_use_id, url, text=str(source.get("data", "")))
    return ir.WebFetchResult(block.tool_use_id, url, media_type="application/pdf")


def _tools(
    params: list[wire.ToolParam], dropped: set[str], loaded: set[str]
) -> tuple[tuple[ir.Tool, ...], tuple[ir.ServerTool, ...]]:
    """The tools an upstream without tool search is given: every tool not deferred, and each
    deferred one (`defer_loading`) once the conversation has loaded it, as Anthropic's tool
    search would show them to the model. Claude Code's catalogue of deferred tools stays out
    of every prompt until it is used. Server tools (web_search_*, web_fetch_*) apart: the
    gateway runs them (servertools/)."""
    tools: list[ir.Tool] = []
    server: list[ir.ServerTool] = []
    held = 0
    for i, t in enumerate(params):
        if t.cache_control is not None:
            dropped.add("cache_control")
        kind = _SERVER_TYPE.match(t.type or "")
        if kind is not None:
            server.append(_server_tool(t, kind.group(1), i))
            continue
        if t.defer_loading and t.name not in loaded:
            held += 1
            continue
        if t.type not in (None, "custom"):
            # Anthropic-defined tools (bash_20250124, web_search_...) have no schema we can send.
            dropped.add(f"tool {t.name} ({t.type})")
            continue
        if t.input_schema is None:
            raise InvalidRequest(
                f"tools.{i}.input_schema: Field required", param=f"tools.{i}.input_schema"
            )
        tools.append(ir.Tool(t.name, t.description, t.input_schema))
    if held:
        dropped.add("deferred tools not yet loaded (tool search): not sent")
    return tuple(tools), tuple(server)


def _server_tool(t: wire.ToolParam, name: str, i: int) -> ir.ServerTool:
    if t.allowed_domains and t.blocked_domains:
        raise InvalidRequest(
            f"tools.{i}: allowed_domains and blocked_domains cannot both be set",
            param=f"tools.{i}",
        )
    if name == "web_search" and t.max_content_tokens is not None:
        # Anthropic refuses it too; ignored, it would look honoured.
        raise InvalidRequest(
            f"tools.{i}.max_content_tokens: {t.type} does not take max_content_tokens "
            "(web_fetch does)",
            param=f"tools.{i}.max_content_tokens",
        )
    return ir.ServerTool(
        "web_search" if name == "web_search" else "web_fetch",
        str(t.type),
        i,
        t.max_uses,
        tuple(t.allowed_domains or ()),
        tuple(t.blocked_domains or ()),
        t.max_content_tokens,
    )

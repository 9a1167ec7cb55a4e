"""The server tool loop: call the model, run the web searches and fetches it asked for, give it
the results, call it again, until it answers. The client sees what Anthropic's API returns for
the same request: each call as a `server_tool_use` block followed at once by its result block,
the model's own blocks around them, one message with the usage of every call summed and
`usage.server_tool_use` counting the searches and fetches.

The pipeline (service.py) drives it: `ServerTools.prepare` turns a request's server tools into
function tools (or refuses the request, naming the tool the gateway cannot run), and the loop
calls the upstream through the function the pipeline hands it, on the channel that took the
first call. A reply whose model also called a client's tool ends with `tool_use` after the
server calls are served (the client runs its own); a loop that reaches its cap of model calls
ends with `pause_turn`, as Anthropic's does, and the client may send it back to continue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import orjson

from switchboard import ir
from switchboard.config import Documents, Search
from switchboard.errors import InvalidRequest
from switchboard.ids import server_tool_use_id
from switchboard.servertools.tools import OFFERED, Runner
from switchboard.tenancy.keys import NANO
from switchboard.upstreams.base import Call, Completion, EventStream

Result = ir.WebSearchResult | ir.WebFetchResult


class ServerTools:
    """What the gateway can run (built once, from the config's `search` and `documents`)."""

    def __init__(self, search: Search | None, documents: Documents) -> None:
        self._search = search
        self._documents = documents
        default = Search("searxng")
        self.cap = (search or default).max_uses
        # One search, in nano-USD: the gateway's own, and those an Anthropic upstream runs
        # (relayed requests), which without `search:` cost Anthropic's price.
        self.search_nusd = round((search or default).price_per_1000 * NANO / 1000)

    def worst_case_nusd(self, request: ir.Request) -> int:
        """The most the searches of a request may cost (what a key's budget reserves)."""
        uses = [t.max_uses or self.cap for t in request.server_tools if t.name == "web_search"]
        return min(self.cap, sum(uses)) * self.search_nusd

    def prepare(self, call: Call) -> Loop | None:
        """The loop for a translated call that has server tools (None: it has none); the
        call it makes offers function tools in their place."""
        request = call.request
        if not request.server_tools:
            return None
        names = {t.name for t in request.tools}
        for tool in request.server_tools:
            where = f"tools.{tool.index}"
            if tool.name == "web_search" and self._search is None:
                raise InvalidRequest(
                    f"{where}: {tool.type} is not available for model '{request.model}': its "
                    "upstream has no web search, and this gateway has no search engine "
                    "configured to run it (the operator can set one: search: in the config)",
                    param=f"{where}.type",
                )
            if tool.name == "web_fetch" and not self._documents.fetch_urls:
                raise InvalidRequest(
                    f"{where}: {tool.type} is not available for model '{request.model}': its "
                    "upstream has no web fetch, and this gateway does not fetch URLs (the "
                    "operator can enable documents.fetch_urls)",
                    param=f"{where}.type",
                )
            if tool.name in names:
                raise InvalidRequest(
                    f"{where}: tool name '{tool.name}' is used by another tool",
                    param=f"{where}.name",
                )
        offered = tuple(OFFERED[t.name] for t in request.server_tools)
        first = msgspec.structs.replace(request, tools=request.tools + offered, server_tools=())
        tools: dict[str, ir.ServerTool] = {t.name: t for t in request.server_tools}
        runner = Runner.build(self._search, self._documents, self.cap)
        # One model call per use allowed, one to read the last results, one to answer.
        return Loop(msgspec.structs.replace(call, request=first), tools, runner, self.cap + 2)


@dataclass(slots=True)
class Loop:
    call: Call
    tools: dict[str, ir.ServerTool]
    runner: Runner
    max_calls: int

    def _server(self, block: ir.ResponseBlock) -> ir.ServerTool | None:
        return self.tools.get(block.name) if isinstance(block, ir.ToolUse) else None

    async def _run(self, use: ir.ToolUse, tool: ir.ServerTool) -> tuple[str, Result]:
        use_id = server_tool_use_id()
        return use_id, await self.runner.run(use, tool, use_id)

    def next_call(self, call: Call, said: Sequence[ir.Block], results: list[ir.Block]) -> Call:
        """The call that gives the model its results. A forced tool choice is for the first
        call only (forced again, the model could never answer)."""
        request = call.request
        choice = request.tool_choice
        if choice is not None and choice.type in ("any", "tool"):
            choice = ir.ToolChoice("auto", None, choice.disable_parallel_tool_use)
        messages = (*request.messages, ir.Message("assistant", tuple(said)))
        messages += (ir.Message("user", tuple(results)),)
        request = msgspec.structs.replace(request, messages=messages, tool_choice=choice)
        return msgspec.structs.replace(call, request=request)

    async def complete(self, run: Callable[[Call], Awaitable[Completion]]) -> Completion:
        call = self.call
        content: list[ir.ResponseBlock] = []
        usage = ir.Usage()
        dropped: list[str] = []
        stop: ir.StopReason = "pause_turn"
        sequence: str | None = None
        for n in range(1, self.max_calls + 1):
            done = await run(call)
            response = done.response
            usage = usage + response.usage
            dropped += [d for d in done.dropped if d not in dropped]
            said = [b for b in response.content if not isinstance(b, ir.ServerBlock)]
            if not any(self._server(b) for b in said):
                content += response.content
                stop, sequence = response.stop_reason, response.stop_sequence
                break
            results: list[ir.Block] = []
            for block in said:
                tool = self._server(block)
                if tool is None or not isinstance(block, ir.ToolUse):
                    content.append(block)
                    continue
                use_id, result = await self._run(block, tool)
                content += (ir.ServerToolUse(use_id, block.name, block.input), result)
                results.append(_for_model(block.id, result))
            paused = _paused(said, n >= self.max_calls, self.tools)
            if paused is not None:
                stop = paused
                break
            call = self.next_call(call, said, results)
        response = ir.Response(tuple(content), stop, usage + self.runner.usage(), sequence)
        return Completion(response, dropped)

    def stream(
        self, first: EventStream, open_: Callable[[Call], Awaitable[EventStream]]
    ) -> LoopStream:
        return LoopStream(self, first, open_)


def _for_model(call_id: str, result: Result) -> ir.ToolResult:
    return ir.ToolResult(call_id, (ir.Text(result.model_text()),), result.error_code is not None)


def _paused(
    said: Sequence[ir.Block], last: bool, tools: dict[str, ir.ServerTool]
) -> ir.StopReason | None:
    """Why the loop stops after serving a model call's server tools (None: it goes on): the
    model called a client's tool too, or it may not be called again."""
    if any(isinstance(b, ir.ToolUse) and b.name not in tools for b in said):
        return "tool_use"
    return "pause_turn" if last else None


@dataclass(slots=True)
class _Said:
    """One model call's blocks, rebuilt from its stream (the next call repeats them)."""

    blocks: dict[int, ir.Block] = field(default_factory=dict)
    parts: dict[int, list[str]] = field(default_factory=dict)

    def start(self, index: int, block: ir.Text | ir.ToolUse | ir.Thinking) -> None:
        self.blocks[index] = block
        self.parts[index] = []

    def add(self, index: int, text: str) -> None:
        self.parts[index].append(text)

    def sign(self, index: int, signature: str) -> None:
        block = self.blocks[index]
        if isinstance(block, ir.Thinking):
            self.blocks[index] = ir.Thinking(block.thinking, block.signature + signature)

    def finish(self, index: int) -> ir.Block:
        block, text = self.blocks[index], "".join(self.parts[index])
        match block:
            case ir.Text():
                block = ir.Text(block.text + text)
            case ir.Thinking():
                block = ir.Thinking(block.thinking + text, block.signature)
            case ir.ToolUse():
                block = ir.ToolUse(block.id, block.name, _input(text, block.input))
        self.blocks[index] = block
        return block

    def all(self) -> list[ir.Block]:
        return [self.blocks[i] for i in sorted(self.blocks)]


def _input(text: str, started: dict[str, object]) -> dict[str, object]:
    if not text:
        return started
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class LoopStream:
    """The loop over streams: the model's events go to the client as they come (their block
    indices renumbered into one message), a server tool call's block is held until it is
    whole, then sent with its result; each call's end is held back, and the next call's
    stream follows in the same message."""

    def __init__(
        self, loop: Loop, first: EventStream, open_: Callable[[Call], Awaitable[EventStream]]
    ) -> None:
        self._loop = loop
        self._source = first
        self._open = open_
        self._before = ir.Usage()  # the usage of the finished calls
        self._dropped = first.dropped
        self._notes: list[str] = []
        self._noted = 0  # of the current source's notes

    @property
    def dropped(self) -> Sequence[str]:
        return self._dropped

    @property
    def notes(self) -> list[str]:
        return self._notes

    @property
    def usage(self) -> ir.Usage:
        return self._before + self._source.usage + self._loop.runner.usage()

    def __aiter__(self) -> AsyncIterator[list[ir.Event]]:
        return self._events()

    async def aclose(self) -> None:
        await self._source.aclose()

    def _note(self) -> None:
        new = self._source.notes[self._noted :]
        self._noted += len(new)
        self._notes += [n for n in new if n not in self._notes]

    async def _events(self) -> AsyncIterator[list[ir.Event]]:
        loop = self._loop
        call = loop.call
        index = 0  # the client's next block index
        for n in range(1, loop.max_calls + 1):
            said = _Said()
            mapped: dict[int, int] = {}
            held: dict[int, ir.ServerTool] = {}  # server calls being streamed, by upstream index
            results: list[ir.Block] = []
            end: ir.MessageDelta | None = None
            async for batch in self._source:
                self._note()
                out: list[ir.Event] = []
                for event in batch:
                    match event:
                        case ir.MessageStart():
                            if n == 1:
                                out.append(event)
                        case ir.BlockStart(index=i, block=block):
                            if isinstance(block, ir.ServerBlock):
                                continue  # upstream decoders never make these
                            said.start(i, block)
                            tool = loop._server(block)
                            if tool is not None:
                                held[i] = tool
                                continue
                            mapped[i] = index
                            index += 1
                            out.append(ir.BlockStart(mapped[i], block))
                        case (
                            ir.TextDelta(index=i, text=text)
                            | ir.ThinkingDelta(index=i, thinking=text)
                        ):
                            said.add(i, text)
                            out.append(msgspec.structs.replace(event, index=mapped[i]))
                        case ir.InputJsonDelta(index=i, partial_json=text):
                            said.add(i, text)
                            if i not in held:
                                out.append(ir.InputJsonDelta(mapped[i], text))
                        case ir.SignatureDelta(index=i, signature=signature):
                            said.sign(i, signature)
                            out.append(ir.SignatureDelta(mapped[i], signature))
                        case ir.BlockStop(index=i):
                            whole = said.finish(i)
                            if i in mapped:
                                out.append(ir.BlockStop(mapped[i]))
                                continue
                            assert isinstance(whole, ir.ToolUse)
                            # The call goes to the client before it runs (a search takes a
                            # while), its result once it has.
                            use_id = server_tool_use_id()
                            yield [*out, *_call_events(index, use_id, whole)]
                            out = []
                            result = await loop.runner.run(whole, held[i], use_id)
                            out += [ir.BlockStart(index + 1, result), ir.BlockStop(index + 1)]
                            index += 2
                            results.append(_for_model(whole.id, result))
                        case ir.MessageDelta():
                            end = event
                        case ir.MessageStop():
                            pass
                if out:
                    yield out
            self._note()
            stop: ir.StopReason | None
            sequence: str | None = None
            if not held:
                stop = end.stop_reason if end is not None else "end_turn"
                sequence = end.stop_sequence if end is not None else None
            else:
                stop = _paused(said.all(), n >= loop.max_calls, loop.tools)
            if stop is not None:
                yield [ir.MessageDelta(stop, self.usage, sequence), ir.MessageStop()]
                return
            call = loop.next_call(call, said.all(), results)
            await self._source.aclose()
            source = await self._open(call)
            self._before = self._before + self._source.usage
            self._source, self._noted = source, 0


def _call_events(index: int, use_id: str, call: ir.ToolUse) -> list[ir.Event]:
    """A server tool call as Anthropic streams it: empty input at the start, then the input in
    one delta. (Its result comes whole in its own start.)"""
    return [
        ir.BlockStart(index, ir.ServerToolUse(use_id, call.name, {})),
        ir.InputJsonDelta(index, orjson.dumps(call.input).decode()),
        ir.BlockStop(index),
    ]

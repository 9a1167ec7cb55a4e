"""Routing by scenario: which catalogue model a request goes to, chosen from what it asks for.

The config's `routes:` are rules tried in order before the catalogue lookup; the first whose
every condition holds names the model (`to`); none: the name the client sent is looked up as it
is. What a rule can test of a request is a `Scenario`; `Routes.choose` is pure, so the CLI's
`switchboard route` explains a sample request with the same code the gateway runs.

Replies still carry the name the client sent: only the catalogue entry (and so the channels,
prices and the key's allow-list check) is the routed one.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from switchboard.config import RouteConfig, is_glob
from switchboard.kinds import Endpoint

# Claude Code asks for `claude-opus-4-6[1m]` when the user picks a 1M-context variant: the
# suffix is a client-side marker, never part of a model's name.
LONG_CONTEXT_SUFFIX = "[1m]"


def base_name(name: str) -> str:
    """The model name without Claude Code's 1M-context marker."""
    return name.removesuffix(LONG_CONTEXT_SUFFIX)


@dataclass(frozen=True, slots=True)
class Scenario:
    """What a route can test of one request. `input_tokens` is the estimate limits reserve
    before routing (service.Inbound.input_estimate); `tools` holds each tool's type and name."""

    model: str
    endpoint: Endpoint
    thinking: bool = False
    input_tokens: int = 0
    tools: frozenset[str] = frozenset()


def _name_matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) if is_glob(pattern) else name == pattern


@dataclass(frozen=True, slots=True)
class Rule:
    """One route: every condition that is not None must hold."""

    index: int  # its place in the config's `routes:`
    to: str
    model: str | None = None
    thinking: bool | None = None
    input_tokens_over: int | None = None
    has_tool: str | None = None
    endpoint: Endpoint | None = None

    @classmethod
    def of(cls, index: int, cfg: RouteConfig) -> Rule:
        m = cfg.match
        return cls(index, cfg.to, m.model, m.thinking, m.input_tokens_over, m.has_tool, m.endpoint)

    def matches(self, s: Scenario) -> bool:
        if self.model is not None and not (
            fnmatch.fnmatchcase(s.model, self.model)
            if is_glob(self.model)
            else s.model == self.model
        ):
            return False
        if self.thinking is not None and s.thinking != self.thinking:
            return False
        if self.input_tokens_over is not None and s.input_tokens <= self.input_tokens_over:
            return False
        if self.has_tool is not None and self.has_tool not in s.tools:
            return False
        return self.endpoint is None or s.endpoint == self.endpoint

    @property
    def literal_model(self) -> str | None:
        """The one model name this rule matches, when it names one (no glob)."""
        return self.model if self.model is not None and not is_glob(self.model) else None

    def describe(self) -> str:
        tests = [
            f"model {self.model}" if self.model is not None else "",
            f"thinking {str(self.thinking).lower()}" if self.thinking is not None else "",
            f"input tokens over {self.input_tokens_over}"
            if self.input_tokens_over is not None
            else "",
            f"has tool {self.has_tool}" if self.has_tool is not None else "",
            f"endpoint {self.endpoint}" if self.endpoint is not None else "",
        ]
        return " and ".join(t for t in tests if t) or "every request"


@dataclass(frozen=True, slots=True)
class Choice:
    """Where a request goes: the name to look up, and the rule that chose it (None: no rule
    matched, the client's name is looked up as it is)."""

    target: str
    rule: Rule | None = None


@dataclass(frozen=True, slots=True)
class Routes:
    rules: tuple[Rule, ...] = ()

    @classmethod
    def of(cls, configs: Sequence[RouteConfig]) -> Routes:
        return cls(tuple(Rule.of(i, r) for i, r in enumerate(configs)))

    @property
    def needs_tools(self) -> bool:
        """Whether any rule tests tools (reading them costs a pass over the request's tools)."""
        return any(r.has_tool is not None for r in self.rules)

    def choose(self, s: Scenario) -> Choice:
        for rule in self.rules:
            if rule.matches(s):
                return Choice(rule.to, rule)
        return Choice(s.model)

    def table(self) -> list[str]:
        """The routes as `switchboard check` prints them, in the order they are tried."""
        if not self.rules:
            return ["routes: none (each request's model name is looked up as it is)"]
        lines = ["routes (the first that matches wins; none: the name as it is):"]
        lines += [f"  routes[{r.index}]: {r.describe()} -> {r.to}" for r in self.rules]
        return lines

    def literal_names(self) -> list[tuple[str, str]]:
        """(name, target) for each rule that routes one literal model name whatever else the
        request holds: names a client can pick from a model list."""
        out: dict[str, str] = {}
        for r in self.rules:
            name = r.literal_model
            unconditional = (r.thinking, r.input_tokens_over, r.has_tool, r.endpoint) == (None,) * 4
            if name is not None and unconditional:
                out.setdefault(name, r.to)
        return list(out.items())

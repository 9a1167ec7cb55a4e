"""Claude Code's attribution line, recognized so a translation can keep it out of the prompt.

Claude Code puts `x-anthropic-billing-header: cc_version=2.1.330.711; cc_entrypoint=sdk-cli;`
in `system[0]`. The last part of the version is a fingerprint of the conversation's first
prompt: the same within one conversation, different in every new session, subagent or side
request. It is the first thing in the prompt, so an upstream that caches by prefix (DeepSeek,
Kimi, vLLM and SGLang with prefix caching) misses the cache for everything after it (the whole
system prompt and the tools) whenever it changes. The model has no use for it: Anthropic reads
it, nobody else does. Pure; the pattern is bounded: a whole system block that is exactly this
header name followed by `key=value;` pairs, nothing else, is recognized, and no user text is."""

from __future__ import annotations

import re

# The header name, then one or more `key=value;` pairs (keys lowercase, values without spaces
# or `;`), all within 400 characters: the line Claude Code writes, and newer fields of its
# kind (`cch=...;`), never free text.
_LINE = re.compile(r"x-anthropic-billing-header:(?: [a-z_]{1,32}=[^\s;]{0,64};){1,8}\s?")
MAX_CHARS = 400

NOTE = "Claude Code attribution line (system): not sent, so the upstream's prompt cache holds"


def is_attribution(text: str) -> bool:
    """Whether a whole system block is Claude Code's attribution line."""
    return len(text) <= MAX_CHARS and _LINE.fullmatch(text) is not None

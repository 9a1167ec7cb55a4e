"""A Containerfile read into its stages and instructions: what the tests check, and what
test_image_root.py replays (COPY, RUN, ENV, USER, CMD) to build the image's filesystem."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """RUN/CMD arguments: the JSON exec form, or the shell form as `/bin/sh -c`."""
        if self.args.startswith("["):
            found: list[str] = json.loads(self.args)
            return found
        return ["/bin/sh", "-c", self.args]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Containerfile:
    args: dict[str, str]
    stages: list[Stage]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse(path: Path) -> Containerfile:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            arg, _, default = rest.partition("=")
            args[arg] = default
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, alias))
        else:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return Containerfile(args, stages)


def env_pairs(instruction: Instruction) -> list[tuple[str, str]]:
    """ENV a=b c="d e": the pairs, in order (each may refer to earlier values)."""
    pairs = []
    for word in shlex.split(instruction.args):
        name, _, value = word.partition("=")
        pairs.append((name, value))
    return pairs

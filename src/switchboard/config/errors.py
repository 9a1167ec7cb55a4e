"""The error a bad config raises, and the list its problems are gathered in."""

from __future__ import annotations


class ConfigError(Exception):
    """What is wrong with a config: `field` and `problem` are the first problem's, `lines` has
    one line per problem found (str() joins them), so a user fixes them all in one go."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        where = f"{field}: " if field else ""
        super().__init__(f"{source}: {where}{problem}")
        self.source = source
        self.field = field
        self.problem = problem
        self.lines = [str(self)]


class Problems:
    """Every problem found in one file, collected before any is reported."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[ConfigError] = []

    def add(self, field: str, problem: str) -> None:
        self.found.append(ConfigError(self.source, field, problem))

    def raise_any(self) -> None:
        if not self.found:
            return
        first = self.found[0]
        first.lines = [line for error in self.found for line in error.lines]
        first.args = ("\n".join(first.lines),)
        raise first

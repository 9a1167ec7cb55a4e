"""Jinja2 templates from the package, autoescaped, and the filters that format numbers the same
way on every page. Jinja2 is imported when the console is first opened: a gateway nobody opens
the console of carries none of it (1.4 MiB of RSS, more once templates are compiled)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:,.2f} s" if value >= 10_000 else f"{value:,.1f} ms"


def when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class Renderer:
    def __init__(self) -> None:
        self._env: Environment | None = None

    def _environment(self) -> Environment:
        if self._env is None:
            from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

            self._env = Environment(
                loader=PackageLoader("switchboard.console", "templates"),
                autoescape=select_autoescape(default=True, default_for_string=True),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            self._env.filters.update(usd=usd, num=num, ms=ms, when=when)
        return self._env

    def render(self, template: str, **context: Any) -> str:
        return self._environment().get_template(template).render(**context)

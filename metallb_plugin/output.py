"""Everything printed: data documents, tables, check lists, colour and progress.

Data goes to stdout; progress and diagnostics go to stderr. Colour and redrawn progress lines only appear
on a terminal, and never when NO_COLOR is set or --no-color is given.
"""

import json
from typing import Any, Callable, ClassVar, Dict, Iterable, Optional, Sequence, TextIO

from metallb_plugin.core.text import shorten

FORMATS = ("table", "json", "yaml")


class Style:
    """ANSI colours that vanish when colour is off."""

    _CODES: ClassVar[Dict[str, str]] = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __getattr__(self, name: str) -> Callable[[str], str]:
        code = self._CODES.get(name)
        if code is None:
            raise AttributeError(name)
        return lambda text: f"\033[{code}m{text}\033[0m" if self.enabled else text


EXACT_LIMIT = 2**53  # the integers a JSON reader holding numbers as doubles (jq, JavaScript) keeps exactly


def exact(data: Any) -> Any:
    """data with every integer beyond EXACT_LIMIT as a decimal string (IPv6 pool sizes reach 2^128)."""
    if isinstance(data, bool):
        return data
    if isinstance(data, int):
        return str(data) if abs(data) >= EXACT_LIMIT else data
    if isinstance(data, dict):
        return {key: exact(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [exact(value) for value in data]
    return data


def dump(data: Any, fmt: str) -> str:
    """A data document as JSON or YAML text; integers too big for a double as decimal strings (exact())."""
    if fmt == "json":
        return json.dumps(exact(data), indent=2) + "\n"
    import yaml

    return str(yaml.safe_dump(exact(data), sort_keys=False, default_flow_style=False, allow_unicode=True))


def emit(data: Any, fmt: str, table: Callable[[Any], str], stream: TextIO) -> None:
    """Print data as -o asks: JSON/YAML documents, or table(data) -> text for the table format."""
    text = table(data) if fmt == "table" else dump(data, fmt)
    stream.write(text if text.endswith("\n") else text + "\n")


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain kubectl-style table: upper-case headers, columns separated by three spaces."""
    from tabulate import tabulate

    return str(tabulate(rows, headers=[h.upper() for h in headers], tablefmt="plain", disable_numparse=True))


class Progress:
    """One status line: redrawn in place on a terminal (cut to its width, so it never wraps and leaves debris),
    printed only when it changes elsewhere."""

    def __init__(self, stream: TextIO, enabled: bool, width: int = 80) -> None:
        self.stream = stream
        self.live = enabled
        self.width = width
        self._last: Optional[str] = None

    def update(self, message: str) -> None:
        if message == self._last:
            return
        self._last = message
        if self.live:
            self.stream.write("\r\033[2K" + shorten(message, max(self.width - 1, 10)))
        else:
            self.stream.write(message + "\n")
        self.stream.flush()

    def done(self, message: Optional[str] = None) -> None:
        if self.live and self._last is not None:
            self.stream.write("\r\033[2K")
        if message:
            self.stream.write(message + "\n")
        self.stream.flush()
        self._last = None


SYMBOLS = {"ok": "√", "warn": "‼", "fail": "×", "skip": "-"}


def render_checks(outcomes: Sequence[Any], style: Style) -> str:
    """linkerd-style text: a block per category, √ ‼ × lines, message and hint indented under problems."""
    from metallb_plugin.core.checks import FAIL, OK, WARN, grouped, succeeded

    colour = {"ok": style.green, "warn": style.yellow, "fail": style.red, "skip": style.dim}
    lines = []
    for category, group in grouped(outcomes):
        lines += [category.title, "-" * len(category.title)]
        for outcome in group:
            status = outcome.result.status
            lines.append(f"{colour[status](SYMBOLS[status])} {outcome.check.description}")
            if status != OK and outcome.result.message:
                lines.append(f"    {outcome.result.message}")
            lines += [f"      {d}" for d in outcome.result.details]
            if status in (WARN, FAIL) and outcome.check.hint:
                lines.append(f"    see {outcome.check.hint}")
        lines.append("")
    verdict = SYMBOLS["ok"] if succeeded(outcomes) else SYMBOLS["fail"]
    lines.append(f"Status check results are {verdict}")
    return "\n".join(lines) + "\n"

"""Durations: parsing (kubectl's flag form and Go's time.ParseDuration) and formatting (Go's and a short form).

- `parse_duration(text)`: a DURATION flag like kubectl's: 30s, 5m, 1h30m, 1.5s, or a bare number of seconds.
- `parse_duration(text, go=True)`: Go's syntax (`90s`, `1m30s`, `-2s`, `300ms`, `0`), as MetalLB reads its legacy
  ConfigMap; errors worded as Go words them.
- `format_duration(seconds)`: whole seconds as Go's Duration.String() prints them (2m0s); `short=True` leaves out
  zero parts (2m, 1h30m) for messages.
"""

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_FLAG_UNITS = ("ms", "s", "m", "h")
_NUMBER = re.compile(r"\d+(\.\d*)?")


def parse_duration(text: str, go: bool = False) -> float:
    """Seconds as a float; ValueError with a readable message when the text is not a duration."""
    value = text if go else text.strip()
    sign = 1.0
    if go and value[:1] in ("+", "-"):
        sign, value = (-1.0 if value[0] == "-" else 1.0), value[1:]
    if go and value == "0":
        return 0.0
    if not go and value and re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    total, pos = 0.0, 0
    for match in _PART.finditer(value):
        if match.start() != pos or (not go and match.group(2) not in _FLAG_UNITS):
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(value) or not value:
        if not go:
            raise ValueError(f"invalid duration '{text}': use a number with a unit, like 30s, 5m or 1h")
        if value and _NUMBER.fullmatch(value):
            raise ValueError(f'missing unit in duration "{text}"')
        raise ValueError(f'invalid duration "{text}"')
    return sign * total


def format_duration(seconds: float, short: bool = False) -> str:
    """Whole seconds as Go prints a Duration (0s, 30s, 1m30s, 2m0s, 1h0m0s); short: 2m, 1h, 1h30m."""
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if short:
        parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
        return sign + ("".join(parts) or "0s")
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"

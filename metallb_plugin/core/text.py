"""Text the plugin writes about what it was given (pure): input quoted in a message stays one short, harmless line,
and counts read as English.

printable(text)      line breaks, terminal escapes and other unprintable characters written as \\n, \\x1b, ...
shorten(text, n)     at most n characters, the cut marked with "…"
echo(text)           both: how any user input is quoted in a message
control_character(t) what an HTTP header value cannot carry
plural(n, one, many) "1 address", "3 addresses"
"""

from typing import Optional

ECHO_LIMIT = 80  # characters of an input quoted back in a message


def printable(text: str) -> str:
    """text with line breaks, terminal escapes and other unprintable characters written as \\n, \\x1b, ...: input
    quoted in a one-line message stays one harmless line. Printable non-ASCII characters stay as they are."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def shorten(text: str, limit: int = ECHO_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """User input as a message quotes it: printable, and cut after limit characters."""
    return shorten(printable(text), limit)


def control_character(text: str) -> Optional[str]:
    """The first character an HTTP header value cannot carry (Go's rule: control characters but tab), or None."""
    return next((c for c in text if (ord(c) < 32 and c != "\t") or ord(c) == 127), None)


def plural(count: int, one: str, many: Optional[str] = None) -> str:
    """The count and the noun that agrees with it: plural(1, "address", "addresses") -> "1 address"."""
    return f"{count} {one if count == 1 else (many or one + 's')}"

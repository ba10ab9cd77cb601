"""What a command touches besides its arguments: the terminal, the clock and the cluster.

Every command runs as `run(args, ctx) -> exit code` and writes, reads, waits and connects only through ctx.
`Context.system()` is the real process (cli.main builds it); tests build one with string streams, a fake clock
and a `connector` that returns a fake cluster, and so run every branch of a command in process.
"""

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, TextIO, Tuple, cast

from metallb_plugin import errors, output

Obj = Dict[str, Any]


class Target(Protocol):
    context: str
    server: str
    user: str
    namespace: str


class Cluster(Protocol):
    """The calls commands make to the API server (cluster.Client implements them over HTTPS)."""

    @property
    def target(self) -> Target: ...
    @property
    def requests(self) -> int: ...

    def get(self, path: str, query: Optional[Mapping[str, Any]] = None) -> Any: ...
    def get_or_none(self, path: str, query: Optional[Mapping[str, Any]] = None) -> Any: ...
    def list(
        self,
        path: str,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        each: Optional[Callable[[Obj], Obj]] = None,
    ) -> List[Obj]: ...
    def create(self, path: str, body: Obj, dry_run: bool = False) -> Any: ...
    def replace(self, path: str, body: Obj, dry_run: bool = False) -> Any: ...
    def patch(self, path: str, body: Any, patch_type: str = "merge", dry_run: bool = False) -> Any: ...
    def apply(self, path: str, obj: Obj, force: bool = False, dry_run: bool = False) -> Any: ...
    def delete(self, path: str, dry_run: bool = False, propagation: str = "Background") -> Any: ...
    def server_version(self) -> Any: ...
    def pod_log(
        self,
        namespace: str,
        name: str,
        container: str,
        previous: bool = False,
        tail_lines: Optional[int] = None,
        limit_bytes: Optional[int] = None,
    ) -> str: ...
    def can_i(
        self,
        verb: str,
        resource: str,
        group: str = "",
        namespace: Optional[str] = None,
        name: Optional[str] = None,
        subresource: Optional[str] = None,
    ) -> Tuple[bool, str]: ...
    def resource(self, api_version: str, kind: str) -> Tuple[str, bool]: ...
    def forget_discovery(self, api_version: Optional[str] = None) -> None: ...
    def object_path(self, obj: Obj) -> str: ...


def _connect(args: Any, ctx: "Context") -> Cluster:
    from metallb_plugin import cluster  # deferred: the client stack is only needed to talk to a cluster

    client: Cluster = cluster.connect(args, environ=ctx.environ, log=ctx.say, terminal=ctx.interactive)
    return client


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Context:
    stdout: TextIO
    stderr: TextIO
    stdin: TextIO
    interactive: bool = False  # stdin is a terminal: questions can be asked
    stdout_tty: bool = False  # colour
    stderr_tty: bool = False  # progress lines redrawn in place
    environ: Mapping[str, str] = field(default_factory=dict)
    now: Callable[[], datetime] = _utcnow  # wall clock, timezone-aware (annotations, file names)
    monotonic: Callable[[], float] = time.monotonic  # deadlines
    sleep: Callable[[float], None] = time.sleep
    connector: Callable[[Any, "Context"], Cluster] = _connect

    @classmethod
    def system(cls) -> "Context":
        """The process's own streams, environment and clocks. A closed stream (`1>&-`) reads as empty and swallows
        what is written, as kubectl's does; one whose encoding lacks a character we print gets a stand-in."""
        return cls(
            stdout=_writable(sys.stdout),
            stderr=_writable(sys.stderr),
            stdin=sys.stdin if sys.stdin is not None else open(os.devnull, encoding="utf-8"),
            interactive=_isatty(sys.stdin),
            stdout_tty=_isatty(sys.stdout),
            stderr_tty=_isatty(sys.stderr),
            environ=os.environ,
        )

    def connect(self, args: Any) -> Cluster:
        """A client for the cluster the kubectl flags in args name."""
        return self.connector(args, self)

    def out(self, text: str) -> None:
        """Data on stdout (a newline added when missing)."""
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def say(self, message: str) -> None:
        """A line of progress or diagnostics on stderr."""
        self.stderr.write(message + "\n")
        self.stderr.flush()

    def warn(self, message: str) -> None:
        self.say(f"warning: {message}")

    def emit(self, data: Any, fmt: str, table: Callable[[Any], str]) -> None:
        """A document as -o asks (output.emit) on stdout."""
        output.emit(data, fmt, table, self.stdout)
        self.stdout.flush()

    def style(self, no_color: bool = False) -> output.Style:
        """Colours for stdout: only on a terminal, never with --no-color or NO_COLOR."""
        return output.Style(self.stdout_tty and not no_color and "NO_COLOR" not in self.environ)

    def progress(self) -> output.Progress:
        return output.Progress(self.stderr, enabled=self.stderr_tty, width=_columns(self.stderr))

    def confirm(self, question: str, refusal: str, assume_yes: bool = False) -> bool:
        """Ask a yes/no question on stderr (--yes answers it); without a terminal refuse: UsageError(refusal)."""
        if assume_yes:
            return True
        if not self.interactive:
            raise errors.UsageError(refusal)
        self.stderr.write(f"{question} [y/N] ")  # a prompt is not data: stdout stays clean
        self.stderr.flush()
        answer = self.stdin.readline()
        return answer.strip().lower() in ("y", "yes")


# stand-ins for what a stream's encoding cannot hold (PYTHONIOENCODING=ascii, a latin-1 terminal)
ASCII = str.maketrans({"√": "ok", "‼": "!!", "×": "x", "…": "...", "—": "-", "–": "-"})


class _Encodable:
    """A text stream that writes the check symbols as ok / !! / x, and anything else its encoding lacks as a
    backslash escape, instead of failing."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")

    def write(self, text: str) -> int:
        return self._stream.write(text.translate(ASCII))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _writable(stream: Optional[TextIO]) -> TextIO:
    if stream is None:  # closed when the process started
        return open(os.devnull, "w", encoding="utf-8")
    try:
        "√‼×…".encode(stream.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return cast(TextIO, _Encodable(stream))
    return stream


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


def _isatty(stream: Optional[TextIO]) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except ValueError:  # a closed stream
        return False

"""Error types and the exit-code enum (see README, "Exit codes").

An expected failure is a PluginError: cli.main prints `error: <str(exc)>` on one line and returns its exit code.
APIError keeps the API server's answer as fields (status, reason, message, method, path), so callers read the
server's words instead of taking a sentence apart.
"""

from enum import IntEnum
from typing import Optional


class ExitCode(IntEnum):
    OK = 0  # success (warnings allowed)
    FAILED = 1  # checks failed or the operation failed
    USAGE = 2  # usage or bad input
    CLUSTER = 3  # cannot reach or authenticate to the cluster
    TIMEOUT = 4  # timed out waiting
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class PluginError(Exception):
    """An expected failure: shown as one line, never as a traceback."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, exit_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = ExitCode(exit_code)

    def __str__(self) -> str:
        return self.message


class UsageError(PluginError):
    """Bad flags, arguments or input files."""

    exit_code = ExitCode.USAGE


class ClusterError(PluginError):
    """The cluster cannot be reached, or will not accept who we are."""

    exit_code = ExitCode.CLUSTER


class WaitTimeout(PluginError):
    """A wait ran past its deadline."""

    exit_code = ExitCode.TIMEOUT


class APIError(PluginError):
    """The API server answered a request with an error status.

    message is the server's own words (Status.message); str(exc) is the line shown to the user.
    """

    def __init__(
        self, status: int, reason: str, message: str, method: str = "", path: str = "", text: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.method = method
        self.path = path
        self._text = text
        self.note = ""  # said after the line, e.g. "after 10 retries"

    def __str__(self) -> str:
        line = self._text or self.describe()
        return f"{line} ({self.note})" if self.note else line

    def describe(self) -> str:
        request = f"{self.method} {self.path} " if self.method else ""
        return f"{request}failed: {self.message}" if request else self.message


class NotFound(APIError):
    pass


class Conflict(APIError):
    """409: a resourceVersion precondition failed, or the object already exists."""


class Invalid(APIError):
    """422: the server (schema, CEL rule or admission) rejected the object."""


class Denied(APIError):
    """An admission webhook or policy refused the request (403 without being an RBAC decision)."""

    def describe(self) -> str:
        return f"{self.method} {self.path} was refused: {self.message}"


class Unauthorized(APIError):
    exit_code = ExitCode.CLUSTER


class Forbidden(APIError):
    exit_code = ExitCode.CLUSTER

    def describe(self) -> str:
        return (
            f"permission denied: {self.message}. Ask a cluster admin for this permission, or use a --context "
            "with more rights"
        )

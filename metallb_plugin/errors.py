"""Error types. Each carries the exit code the CLI returns for it (see README, "Exit codes")."""

OK = 0
FAILED = 1  # checks failed or the operation failed
USAGE = 2  # usage or bad input
CLUSTER = 3  # cannot reach or authenticate to the cluster
TIMEOUT = 4  # timed out waiting
INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class PluginError(Exception):
    """An expected failure: shown as one line, never as a traceback."""

    exit_code = FAILED

    def __init__(self, message, exit_code=None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(PluginError):
    """Bad flags, arguments or input files."""

    exit_code = USAGE


class ClusterError(PluginError):
    """The cluster cannot be reached, or will not accept who we are."""

    exit_code = CLUSTER


class WaitTimeout(PluginError):
    """A wait ran past its deadline."""

    exit_code = TIMEOUT


class APIError(PluginError):
    """The API server answered a request with an error status."""

    def __init__(self, status, reason, message, exit_code=None):
        super().__init__(message, exit_code)
        self.status = status
        self.reason = reason


class NotFound(APIError):
    pass


class Conflict(APIError):
    """409: a resourceVersion precondition failed, or the object already exists."""


class Invalid(APIError):
    """422: the server (schema, CEL rule or admission) rejected the object."""


class Denied(APIError):
    """An admission webhook or policy refused the request (403 without being an RBAC decision)."""


class Unauthorized(APIError):
    exit_code = CLUSTER


class Forbidden(APIError):
    exit_code = CLUSTER

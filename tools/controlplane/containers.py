"""One container as the kubelet stand-in runs it: its process, restarts, probes, and its status as a kubelet
reports it (stdlib only).

Programs that daemonize (FRR's watchfrr starts zebra, bgpd, ... with -d) leave the container's process group, but
keep its environment: every process of a container instance carries MARKER=<its own value>, and `reap` ends the
ones still running when the instance is over, as a container runtime ends a container's PID namespace.
"""

import itertools
import os
import signal
import subprocess

MARKER = "KUBELET_STANDIN_CONTAINER"
_instances = itertools.count(1)

BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET = 10, 300, 600  # the kubelet's restart back-off, in seconds


class Probe:
    """Counters of one readiness or liveness probe."""

    def __init__(self, spec):
        self.spec = spec
        self.successes = self.failures = 0
        self.next_at = 0.0


class Container:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec["name"]
        self.process = None
        self.marker = None  # the MARKER value of the running instance
        self.restarts = 0
        self.ready = False
        self.started_at = None  # (monotonic, RFC 3339) of the running process
        self.waiting = ("ContainerCreating", "")
        self.last_terminated = None
        self.completed = None  # an init container that exited 0: its terminated state
        self.backoff = BACKOFF_FIRST
        self.restart_at = 0.0
        self.readiness = Probe(spec.get("readinessProbe"))
        self.liveness = Probe(spec.get("livenessProbe"))

    def status(self, image):
        out = {"name": self.name, "image": image, "imageID": "", "ready": self.ready,
               "restartCount": self.restarts, "started": self.process is not None}
        if self.completed:
            out["state"] = {"terminated": self.completed}
        elif self.process is not None:
            out["state"] = {"running": {"startedAt": self.started_at[1]}}
            out["containerID"] = f"standin://{self.process.pid}"
        else:
            reason, message = self.waiting
            out["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        out["lastState"] = {"terminated": self.last_terminated} if self.last_terminated else {}
        return out

    def new_instance(self, pod_uid):
        """The MARKER variable for the environment of the instance about to start."""
        self.marker = f"{pod_uid}/{self.name}/{os.getpid()}.{next(_instances)}"
        return {MARKER: self.marker}

    def reap(self):
        """SIGKILL what the instance left running (daemons that left its process group)."""
        if self.marker:
            wanted = f"{MARKER}={self.marker}".encode()
            for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
                try:
                    with open(f"/proc/{pid}/environ", "rb") as handle:
                        if wanted in handle.read().split(b"\0"):
                            os.kill(pid, signal.SIGKILL)
                except (OSError, ProcessLookupError):
                    pass  # gone meanwhile
        self.marker = None


def signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def stop_group(process, grace):
    """SIGTERM the process group, wait up to grace seconds, then SIGKILL; reap the process."""
    signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=max(grace, 0.1))
    except subprocess.TimeoutExpired:
        signal_group(process.pid, signal.SIGKILL)
        process.wait()

"""Container logs, read in parallel through the API server (which asks each Pod's kubelet), with the reason when
one cannot be read: status --bgp (the speakers' session lines) and report (every MetalLB container) use it."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from metallb_plugin import defaults, errors
from metallb_plugin.context import Cluster
from metallb_plugin.core import bgp, workloads
from metallb_plugin.core import objects as k8s
from metallb_plugin.core.snapshot import Unreadable
from metallb_plugin.core.view import Facts
from metallb_plugin.defaults import READ_WORKERS


@dataclass(frozen=True)
class Target:
    namespace: str
    pod: str
    container: str
    previous: bool = False

    def __str__(self) -> str:
        return f"{self.namespace}/{self.pod} {self.container}{' (previous)' if self.previous else ''}"


@dataclass(frozen=True)
class Log:
    target: Target
    text: Optional[str]  # None: could not be read
    reason: str = ""  # why it could not be read


def why(exc: errors.APIError, target: Target) -> str:
    """The reason a log could not be read, in the server's words where it has them."""
    if isinstance(exc, errors.Forbidden):
        return f"no permission to read Pod logs in {target.namespace} (pods/log): {exc.message}"
    return exc.message


def read(
    client: Cluster,
    targets: Sequence[Target],
    tail_lines: Optional[int] = None,
    limit_bytes: Optional[int] = None,
    progress: Optional[Callable[[int, Target], None]] = None,
) -> List[Log]:
    """The logs of these containers, in order. Failing to reach or authenticate to the cluster is raised."""

    def one(target: Target) -> Log:
        try:
            text = client.pod_log(target.namespace, target.pod, target.container, target.previous,
                                  tail_lines, limit_bytes)  # fmt: skip
        except (errors.Unauthorized, errors.ClusterError):
            raise
        except errors.APIError as exc:
            return Log(target, None, why(exc, target))
        return Log(target, text)

    found: Dict[int, Log] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(READ_WORKERS, len(targets)))) as pool:
        futures = [pool.submit(one, t) for t in targets]
        for index, future in enumerate(futures):
            found[index] = future.result()
            if progress:
                progress(index + 1, targets[index])
    return [found[i] for i in range(len(targets))]


def read_speaker_sessions(client: Cluster, facts: Facts) -> None:
    """The session lines of each speaker's log into facts, for backends that publish no session state (status
    --bgp)."""
    install = facts.installation
    if not install or install.backend == "frr-k8s" or not facts.listed("bgppeers"):
        return
    if not facts.readable("pods"):
        facts.objects[bgp.SPEAKER_LOGS] = Unreadable(facts.reason("pods"))
        return
    speaker = next(
        (d for d in facts.listed("daemonsets") if k8s.key(d) == f"{install.namespace}/{install.speaker}"), None
    )
    pods = workloads.pods_of(speaker, facts.listed("pods")) if speaker else []
    targets = [Target(k8s.namespace(p), k8s.name(p), "speaker") for p in pods if k8s.spec(p).get("nodeName")]
    logs = read(client, targets, tail_lines=defaults.BGP_LOG_LINES)
    nodes = {k8s.name(p): k8s.spec(p)["nodeName"] for p in pods}
    facts.objects[bgp.SPEAKER_LOGS] = [
        {"node": nodes[log.target.pod], "pod": log.target.pod, "events": bgp.parse_speaker_log(log.text)}
        if log.text is not None
        else {"node": nodes[log.target.pod], "pod": log.target.pod, "error": log.reason}
        for log in logs
    ]

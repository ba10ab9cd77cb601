"""The status report: the outcomes of the checks over one snapshot, the verdict and the stable JSON document.

Document:
    {"namespace", "installation": {...} | null, "verdict": "healthy" | "degraded" | "unknown", "summary": str,
     "components": {"controller": {...} | null, "speaker": {...} | null, "frrK8s": {...} | null},
     "configuration": {"ipAddressPools", "l2Advertisements", "bgpAdvertisements", "bgpPeers",
                       "unannouncedPools": [...], "ignoredObjects": [...], "configurationStates": [...]},
     "services": [ServiceState.to_dict()], "bgp": bgp.Summary.to_dict() | null (no BGP configured),
     "checks": checks.to_document(outcomes),
     "drain": {"nodes": [...], "services": [announcing.Moved.to_dict()]}   (only with --simulate-drain)
     "problems": [{"id", "category", "categoryId", "severity", "message", "details", "hint"}]}
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import announcing, bgp, checks, workloads
from metallb_plugin.core import service_status as svc
from metallb_plugin.core.checks import FAIL, SKIP, WARN, Outcome, to_document
from metallb_plugin.core.installation import Installation
from metallb_plugin.core.objects import Obj, key, meta, name
from metallb_plugin.core.status.common import _plural
from metallb_plugin.core.status.configuration import ignored_objects
from metallb_plugin.core.view import Facts, View

CATEGORY_IDS = ("installation", "components", "webhook", "configuration", "services", "bgp", "metrics")


@dataclass
class Report:
    """What status shows of one snapshot, and nothing of the snapshot itself: once judged, the objects read (tens
    of MB for 20,000 Services) are freed before the table is made."""

    ns: str
    install: Optional[Installation]
    bgp: Optional[bgp.Summary]
    outcomes: List[Outcome]
    services: List[svc.ServiceState]
    components: Dict[str, Any]
    configuration: Dict[str, Any]
    drained: List[str] = field(default_factory=list)
    moves: List[announcing.Moved] = field(default_factory=list)  # with --simulate-drain

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"

    @property
    def unknown(self) -> str:
        """Why nothing can be said (the installation could not be looked for), or ""."""
        found = next((o for o in self.outcomes if o.check.id == "install.found"), None)
        return found.result.message if found is not None and found.result.status == SKIP else ""

    @property
    def problems(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.result.status in (FAIL, WARN)]

    @property
    def bgp_outcomes(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.check.category == "bgp"]

    @property
    def bgp_healthy(self) -> bool:
        return all(o.result.status != FAIL for o in self.bgp_outcomes)

    def bgp_document(self) -> Dict[str, Any]:
        """status --bgp: the BGP summary and the BGP checks (shape of bgp.Summary.to_dict() plus these keys)."""
        summary = self.bgp
        return {
            "namespace": self.ns,
            "configured": bool(summary and summary.configured),
            **(summary.to_dict() if summary else {}),
            "checks": to_document(self.bgp_outcomes),
        }

    @property
    def verdict(self) -> str:
        if any(o.result.status == FAIL for o in self.outcomes):
            return "degraded"
        return "unknown" if self.unknown else "healthy"

    def summary(self) -> str:
        failed = [o for o in self.outcomes if o.result.status == FAIL]
        warned = [o for o in self.outcomes if o.result.status == WARN]
        counts = []
        if failed:
            counts.append(_plural(len(failed), "problem"))
        if warned:
            counts.append(_plural(len(warned), "warning"))
        if self.verdict == "unknown":
            return f"MetalLB's health is unknown: {self.unknown}"
        text = f"MetalLB is {self.verdict}"
        return text + (f": {', '.join(counts)}" if counts else "")

    def to_document(self) -> Dict[str, Any]:
        drain = (
            {"drain": {"nodes": self.drained, "services": [m.to_dict() for m in self.moves]}} if self.drained else {}
        )
        return {
            "namespace": self.ns,
            "installation": self.install.to_dict() if self.install else None,
            "verdict": self.verdict,
            "summary": self.summary(),
            "components": self.components,
            "configuration": self.configuration,
            "services": [s.to_dict() for s in self.services],
            "bgp": self.bgp.to_dict() if self.bgp and self.bgp.configured else None,
            "checks": to_document(self.outcomes),
            "problems": [
                {
                    "id": o.check.id,
                    "category": o.category.title if o.category else o.check.category,
                    "categoryId": o.check.category,
                    "severity": o.result.status,
                    "message": o.result.message,
                    "details": list(o.result.details),
                    "hint": o.check.hint,
                }
                for o in self.problems
            ],
            **drain,
        }


def _components(view: View) -> Dict[str, Any]:
    return {
        "controller": _deployment_doc(view.controller),
        "speaker": _daemonset_doc(view, view.speaker),
        "frrK8s": _daemonset_doc(view, view.frr_k8s),
    }


def _configuration(view: View) -> Dict[str, Any]:
    return {
        "ipAddressPools": len(view.pools),
        "l2Advertisements": len(view.local["l2advertisements"]),
        "bgpAdvertisements": len(view.local["bgpadvertisements"]),
        "bgpPeers": len(view.local["bgppeers"]),
        "unannouncedPools": adv.unannounced_pools(view.pools, view.advertisements)
        if view.advertisements
        else [name(p) for p in view.pools],
        "ignoredObjects": ignored_objects(view),
        "configurationStates": [
            {
                "name": name(s),
                "result": (s.get("status") or {}).get("result"),
                "errorSummary": (s.get("status") or {}).get("errorSummary", ""),
            }
            for s in view.local["configurationstates"]
        ],
    }


def _deployment_doc(dep: Optional[Obj]) -> Optional[Dict[str, Any]]:
    if not dep:
        return None
    return {"name": name(dep), **workloads.deployment_counts(dep)}


def _daemonset_doc(view: View, ds: Optional[Obj]) -> Optional[Dict[str, Any]]:
    if not ds:
        return None
    pods = workloads.pods_of(ds, view.pods)
    missing = workloads.nodes_without_ready_pod(ds, view.nodes, view.pods) if pods else []
    return {
        "name": name(ds),
        "namespace": meta(ds).get("namespace"),
        **workloads.daemonset_counts(ds),
        "nodesWithoutReadyPod": missing,
    }


def evaluate(facts: Facts, skip: Iterable[str] = (), drained: Iterable[str] = ()) -> Report:
    """The Report of every status check over facts (view.Facts); skip: check ids not to run; drained: nodes
    --simulate-drain takes away (the report then says who would announce each Service)."""
    view = View(facts)
    view.states = [svc.classify(view, s) for s in view.lb_services] if facts.readable("services") else []
    view.bgp = bgp.summarize(view)
    outcomes = checks.evaluate(facts, CATEGORY_IDS, skip, subject=view)
    gone = sorted(set(drained))
    moves = announcing.drain(view, view.states, {key(s): s for s in view.lb_services}, gone) if gone else []
    return Report(
        view.ns, view.install, view.bgp, outcomes, view.states, _components(view), _configuration(view), gone, moves
    )

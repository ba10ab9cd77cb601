"""`kubectl metallb analyze`: MetalLB's configuration checked as a whole, findings with stable codes (pure).

    analysis = analyze(Model(facts))        # facts: view.Facts read from the cluster, from files, or both
    analysis = analyze_facts(facts)         # the same in one call (report, status)
    analysis.findings                       # [Finding], most severe first
    analysis.reaches("warning")             # a finding at or above this level (--failure-threshold)
    analysis.to_document("error")           # the stable JSON shape

Rules are checks of the engine (core/checks.py), one per code, each a pure function of the Model; a rule whose
kinds could not be read (or were not given with -f) is skipped with the reason, never passed. One module per
area, in display order:
    references    MLB0101-MLB0108  names and selectors that point nowhere
    native        MLB0201-MLB0203  features the native BGP backend lacks
    announcement  MLB0301-MLB0304  pools, nodes and interfaces that announce nothing
    addresses     MLB0401-MLB0407  namespaces, overlaps, invalid and unusable addresses
    bgp           MLB0501-MLB0503  aggregation lengths, local preferences, duplicate peers
    services      MLB0601-MLB0607  address sharing, deprecated annotations and fields, ignored classes
docs/analyzers.md has a section per code (Finding.to_dict() links it).

Document:
    {"namespace", "metallb": {"version", "backend"} | null, "threshold", "success",
     "counts": {"error", "warning", "info"}, "findings": [Finding.to_dict()],
     "skipped": [{"code", "title", "reason"}]}
"""

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

from metallb_plugin.core import checks

# imported for their registrations, in display order
from metallb_plugin.core.analyze import (  # noqa: F401
    addresses,
    announcement,
    bgp,
    native,
    references,
    services,
)
from metallb_plugin.core.analyze.finding import ERROR, INFO, LEVELS, RULES, WARNING, Finding, Ref, doc_url
from metallb_plugin.core.analyze.model import Model
from metallb_plugin.core.checks import SKIP, Outcome
from metallb_plugin.core.view import Facts, View

CATEGORY_IDS = (
    "analyze.references",
    "analyze.backend",
    "analyze.announcement",
    "analyze.addresses",
    "analyze.bgp",
    "analyze.services",
)
CODES = tuple(checks.check_ids(CATEGORY_IDS))
BACKENDS = ("native", "frr", "frr-k8s")

__all__ = [
    "BACKENDS",
    "CODES",
    "ERROR",
    "INFO",
    "LEVELS",
    "RULES",
    "WARNING",
    "Analysis",
    "Finding",
    "Model",
    "Ref",
    "analyze",
    "analyze_facts",
    "doc_url",
]


def at_least(level: str, threshold: str) -> bool:
    """Whether a level is as severe as the threshold (error > warning > info)."""
    return LEVELS.index(level) <= LEVELS.index(threshold)


@dataclass
class Analysis:
    model: Model
    outcomes: List[Outcome]

    @property
    def findings(self) -> List[Finding]:
        found = [f for o in self.outcomes for f in o.result.items if isinstance(f, Finding)]
        return sorted(found, key=lambda f: (LEVELS.index(f.level), f.code))

    @property
    def skipped(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.result.status == SKIP]

    def counts(self) -> Dict[str, int]:
        found = self.findings
        return {level: sum(1 for f in found if f.level == level) for level in LEVELS}

    def reaches(self, threshold: str) -> bool:
        return any(at_least(f.level, threshold) for f in self.findings)

    def about(self, refs: Iterable[Ref]) -> List[Finding]:
        """The findings naming one of these objects (kind, namespace, name; any field)."""
        wanted = {(r.kind, r.namespace, r.name) for r in refs}
        return [f for f in self.findings if any((o.kind, o.namespace, o.name) in wanted for o in f.objects)]

    def to_document(self, threshold: str = ERROR) -> Dict[str, Any]:
        install = self.model.install
        return {
            "namespace": self.model.ns,
            "metallb": {"version": install.version, "backend": install.backend} if install else None,
            "threshold": threshold,
            "success": not self.reaches(threshold),
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "skipped": [
                {"code": o.check.id, "title": o.check.description, "reason": o.result.message} for o in self.skipped
            ],
        }


def analyze(model: Model, skip: Iterable[str] = ()) -> Analysis:
    """Every rule over the model; skip: codes not to run."""
    return Analysis(model, checks.evaluate(model.facts, CATEGORY_IDS, skip, subject=model))


def analyze_facts(facts: Facts, backend: Optional[str] = None, view: Optional[View] = None) -> Analysis:
    """analyze(Model(facts)): what `report` and `status` call with the facts they read."""
    return analyze(Model(facts, backend=backend, view=view))

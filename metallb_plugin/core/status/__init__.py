"""Is MetalLB healthy and doing its job? The checks of `kubectl metallb status` and the report they make (pure).

    report = evaluate(facts)        # facts: view.Facts, read by the command (one LIST per kind)
    report.healthy                  # no failed check (warnings allowed)
    report.to_document()            # the stable JSON shape (report.py)
    report.problems                 # [Outcome] failed and warned checks, in order

One module per category, each registering its checks (core/checks.py), in display order:
    installation   install.found, install.version, install.backend, install.objects
    components     components.controller, components.speaker, components.frr-k8s, components.pods,
                   components.restarts
    webhook        webhook.endpoints, webhook.configuration, webhook.certificate, secrets.memberlist
    configuration  config.pools, config.advertisements, config.announced-pools, config.bgp, config.state
    services       services.pending, services.announced, services.foreign, services.annotations
    bgp            bgp.sessions, bgp.frr, bgp.services
    metrics        prometheus.monitors, prometheus.selected, prometheus.access, prometheus.targets (only for a
                   Prometheus variant)
Checks that cannot apply (no installation, no metallb.io API, no frr-k8s) are left out rather than skipped.
"""

# imported for their registrations, in display order
from metallb_plugin.core.status import (  # noqa: F401
    bgp,
    components,
    configuration,
    installation,
    prometheus,
    services,
    webhook,
)
from metallb_plugin.core.status.report import CATEGORY_IDS, Report, evaluate

__all__ = ["CATEGORY_IDS", "Report", "evaluate"]

"""Is MetalLB healthy and doing its job? The checks of `kubectl metallb status` and the report they make (pure).

    report = evaluate(facts)        # facts: view.Facts, gathered by the command (one LIST per kind)
    report.healthy                  # no failed check (warnings allowed)
    report.to_document()            # the stable JSON shape (below)
    report.problems                 # [(Outcome)] failed and warned checks, in order

Checks (core/checks.py), by category:
    Installation      install.found, install.version, install.backend, install.objects
    Components        components.controller, components.speaker, components.frr-k8s, components.pods,
                      components.restarts
    Webhook and secrets   webhook.endpoints, webhook.configuration, webhook.certificate, secrets.memberlist
    Configuration     config.pools, config.advertisements, config.announced-pools, config.bgp, config.state
    Services          services.pending, services.announced, services.foreign, services.annotations

Document:
    {"namespace", "installation": {...} | null, "verdict": "healthy" | "degraded", "summary": str,
     "components": {"controller": {...} | null, "speaker": {...} | null, "frrK8s": {...} | null},
     "configuration": {"ipAddressPools", "l2Advertisements", "bgpAdvertisements", "bgpPeers",
                       "unannouncedPools": [...], "ignoredObjects": [...], "configurationStates": [...]},
     "services": [ServiceState.to_dict()], "checks": checks.to_document(outcomes),
     "problems": [{"id", "category", "severity", "message", "details", "hint"}]}
"""

from dataclasses import dataclass

from metallb_plugin.core import advertisements as adv
from metallb_plugin.core import installation as inst
from metallb_plugin.core import releases, workloads
from metallb_plugin.core import service_status as svc
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, run_checks, to_document
from metallb_plugin.core.objects import meta, name
from metallb_plugin.core.view import CONFIG_KINDS, View

INSTALLATION, COMPONENTS, WEBHOOK, CONFIGURATION, SERVICES = (
    "Installation",
    "Components",
    "Webhook and secrets",
    "Configuration",
    "Services",
)
MEMBERLIST_KEY = "secretkey"
CA_KEY = "ca.crt"
LEGACY_CONFIGMAP = "config"


def _plural(n, word, suffix="s"):
    return f"{n} {word}{'' if n == 1 else suffix}"


def _need_install(view):
    if not view.install:
        raise Skip("no MetalLB installation")


# --------------------------------------------------------------------------------------------- installation


def check_found(view):
    facts = view.facts
    if view.install:
        install = view.install
        how = {
            "manifest": "manifest",
            "helm": f"Helm release {install.helm_release or '?'}",
            "operator": f"metallb-operator{' ' + install.operator if install.operator else ''}",
        }[install.managed_by]
        return Result(
            OK, f"MetalLB {install.version or '(untagged image)'} in {install.namespace}, installed with the {how}"
        )
    elsewhere = [i.namespace for i in facts.installations]
    if facts.namespace_given and elsewhere:
        return Result(
            FAIL,
            f"no MetalLB in namespace {facts.namespace} (-n); found one in {', '.join(elsewhere)}: "
            f"use -n {elsewhere[0]} or leave -n out",
        )
    return Result(
        FAIL,
        "MetalLB is not installed: no controller Deployment or speaker DaemonSet labelled "
        "app=metallb or app.kubernetes.io/name=metallb in any namespace",
    )


def check_version(view):
    _need_install(view)
    version = view.install.version
    if view.version is None:
        return Result(
            WARN,
            f"controller image tag {version or '(none)'} is not a release: version-dependent checks "
            "assume the newest release",
        )
    if view.version < (0, 13, 0):
        return Result(
            FAIL,
            f"MetalLB {version} is configured by ConfigMap; this plugin checks v0.13.0 and newer (custom resources)",
        )
    newest = releases.parse_version(releases.DEFAULT_TAG)
    if view.version > newest:
        return Result(OK, f"{version} (newer than the newest release this plugin knows, {releases.DEFAULT_TAG})")
    if view.version < newest:
        return Result(
            OK,
            f"{version} (the newest release is {releases.DEFAULT_TAG}: kubectl metallb install "
            f"--version {releases.DEFAULT_TAG} upgrades)",
        )
    return Result(OK, f"{version} is the newest release")


def check_backend(view):
    _need_install(view)
    backend = view.install.backend
    if backend == "frr" and view.at_least(0, 16, 0):
        return Result(WARN, "BGP backend: frr (FRR mode is deprecated since v0.16.0; FRR-K8s is the default)")
    detail = {
        "native": "native (MetalLB's own BGP; no BFD, no IPv6 BGP)",
        "frr": "frr (FRR containers in the speaker)",
        "frr-k8s": f"frr-k8s (DaemonSet {view.install.frr_k8s or 'not found'})",
    }.get(backend, backend)
    if backend == "frr-k8s" and not view.install.frr_k8s:
        return Result(FAIL, "BGP backend frr-k8s, but no frr-k8s DaemonSet was found")
    return Result(OK, f"BGP backend: {detail}")


def check_objects(view):
    """Renamed, deprecated and left-over objects for the installed release."""
    _need_install(view)
    install, found = view.install, []
    old_service, old_secret = releases.WEBHOOK_NAMES_OLD
    if install.webhook_service != old_service:
        if any(meta(s).get("namespace") == view.ns and name(s) == old_service for s in view.services):
            found.append(
                f"Service {old_service}: the webhook Service before v0.14.4, now {install.webhook_service}; "
                "left over, safe to delete"
            )
        if old_secret in view.secrets:
            found.append(
                f"Secret {old_secret}: the webhook certificate before v0.14.4, now {install.webhook_secret};"
                " left over, safe to delete"
            )
    legacy = view.configmaps.get(LEGACY_CONFIGMAP)
    if legacy is not None and "config" in (legacy.get("data") or {}):
        found.append(
            f"ConfigMap {LEGACY_CONFIGMAP}: the pre-v0.13 configuration, ignored since v0.13.0; convert it "
            "with kubectl metallb pools migrate"
        )
    found += list(install.notes)
    if found:
        return Result(WARN, _plural(len(found), "deprecated or left-over object"), tuple(found))
    names = f"webhook Service {install.webhook_service}, Secret {install.webhook_secret}"
    return Result(OK, f"object names match {install.version or 'this release'} ({names})")


# --------------------------------------------------------------------------------------------- components


def _pod_lines(view, pods):
    lines = []
    for pod in sorted(pods, key=name):
        if not workloads.pod_ready(pod):
            node = (pod.get("spec") or {}).get("nodeName") or "no node"
            lines.append(f"pod {name(pod)} ({node}): {workloads.why_not_ready(pod, view.pod_events(pod))}")
    return lines


def _warning_lines(view, kind, workload):
    return [
        f"event {e.get('reason')}: {' '.join((e.get('message') or '').split())}"
        for e in workloads.workload_warnings(kind, workload, view.events_by_object)
    ]


def check_controller(view):
    _need_install(view)
    if not view.controller:
        return Result(
            FAIL,
            f"controller Deployment {view.install.controller or 'controller'} not found in {view.install.namespace}",
        )
    ready, text = inst.deployment_ready(view.controller)
    message = f"controller Deployment {name(view.controller)}: {text}"
    if not ready:
        pods = workloads.pods_of(view.controller, view.pods)
        return Result(
            FAIL, message, tuple(_pod_lines(view, pods) + _warning_lines(view, "Deployment", view.controller))
        )
    return Result(OK, message)


def _daemonset_result(view, ds, what):
    ready, text = inst.daemonset_ready(ds)
    counts = workloads.daemonset_counts(ds)
    message = f"{what} DaemonSet {name(ds)}: {text}, {counts['updated']}/{counts['desired']} up to date"
    pods = workloads.pods_of(ds, view.pods)
    details = []
    if pods:
        missing = workloads.nodes_without_ready_pod(ds, view.nodes, view.pods)
        if missing:
            details.append(f"nodes without a ready {what}: {', '.join(missing)}")
    if not ready:
        details += _pod_lines(view, pods) + _warning_lines(view, "DaemonSet", ds)
        return Result(FAIL, message, tuple(details))
    return Result(OK, message, tuple(details))


def check_speaker(view):
    _need_install(view)
    if not view.speaker:
        return Result(FAIL, f"speaker DaemonSet not found in {view.install.namespace}: nothing announces addresses")
    return _daemonset_result(view, view.speaker, "speaker")


def check_frr_k8s(view):
    _need_install(view)
    if not view.install.frr_k8s:
        raise Skip("no frr-k8s DaemonSet (not used by this backend)")
    if not view.frr_k8s:
        return Result(FAIL, f"frr-k8s DaemonSet {view.install.frr_k8s} not found")
    return _daemonset_result(view, view.frr_k8s, "frr-k8s")


def _metallb_pods(view):
    pods = []
    for workload in (view.controller, view.speaker, view.frr_k8s):
        if workload:
            pods += workloads.pods_of(workload, view.pods)
    return pods


def check_pods(view):
    _need_install(view)
    view.facts.get("pods")
    pods = _metallb_pods(view)
    if not pods:
        raise Skip(f"no MetalLB Pods found in {view.install.namespace}")
    lines = _pod_lines(view, pods)
    if lines:
        return Result(FAIL, f"{_plural(len(lines), 'Pod')} of {len(pods)} not ready", tuple(lines))
    return Result(OK, f"all {_plural(len(pods), 'Pod')} ready")


def check_restarts(view):
    _need_install(view)
    view.facts.get("pods")
    pods = _metallb_pods(view)
    if not pods:
        raise Skip(f"no MetalLB Pods found in {view.install.namespace}")
    found = [r for pod in pods for r in workloads.restarts(pod, view.facts.now)]
    recent = [r for r in found if r.recent]
    if recent:
        return Result(
            WARN,
            f"{_plural(len(recent), 'container')} restarted in the last hour",
            tuple(
                f"{r.pod}/{r.container}: {_plural(r.count, 'restart')}"
                + (f", last {r.last_reason}" if r.last_reason else "")
                for r in sorted(recent, key=lambda r: (r.pod, r.container))
            ),
        )
    if found:
        return Result(
            OK, f"no recent restarts ({_plural(sum(r.count for r in found), 'restart')} more than an hour ago)"
        )
    return Result(OK, "no container restarts")


# --------------------------------------------------------------------------------------------- webhook, secrets


def check_webhook_endpoints(view):
    _need_install(view)
    wanted = view.install.webhook_service
    view.facts.get("services")
    if not any(meta(s).get("namespace") == view.ns and name(s) == wanted for s in view.services):
        return Result(FAIL, f"webhook Service {wanted} not found in {view.ns}")
    view.facts.get("endpointslices")
    ready, text = inst.endpoints_ready(view.slices.get((view.ns, wanted)))
    if not ready:
        return Result(
            FAIL,
            f"webhook Service {wanted}: {text}; every write of a metallb.io object fails until the "
            "controller serves it",
        )
    return Result(OK, f"webhook Service {wanted}: {text}")


def _webhook_config(view):
    wanted = view.install.webhook_configuration
    found = next((w for w in view.webhook_configurations if name(w) == wanted), None)
    if found:
        return found
    return next(
        (
            w
            for w in view.webhook_configurations
            for hook in w.get("webhooks") or []
            if ((hook.get("clientConfig") or {}).get("service") or {}).get("name") == view.install.webhook_service
            and hook.get("name", "").endswith("metallb.io")
        ),
        None,
    )


def check_webhook_configuration(view):
    _need_install(view)
    view.facts.get("validatingwebhookconfigurations")
    config = _webhook_config(view)
    if not config:
        return Result(
            WARN,
            f"no ValidatingWebhookConfiguration {view.install.webhook_configuration}: metallb.io "
            "objects are not validated when written",
        )
    hooks = config.get("webhooks") or []
    empty = [h.get("name", "") for h in hooks if not (h.get("clientConfig") or {}).get("caBundle")]
    elsewhere = sorted(
        {
            f"{s.get('namespace')}/{s.get('name')}"
            for h in hooks
            for s in [(h.get("clientConfig") or {}).get("service") or {}]
            if s and s.get("namespace") != view.ns
        }
    )
    details = []
    if elsewhere:
        details.append(f"its webhooks call {', '.join(elsewhere)}, not the Service in {view.ns}")
    if empty:
        details.append(f"no caBundle in: {', '.join(empty)}")
        return Result(
            FAIL,
            f"ValidatingWebhookConfiguration {name(config)} has no CA bundle in "
            f"{len(empty)} of {len(hooks)} webhooks (the controller injects it when it starts)",
            tuple(details),
        )
    if elsewhere:
        return Result(
            FAIL, f"ValidatingWebhookConfiguration {name(config)} points at another namespace", tuple(details)
        )
    return Result(
        OK, f"ValidatingWebhookConfiguration {name(config)} has a CA bundle ({_plural(len(hooks), 'webhook')})"
    )


def check_certificate(view):
    _need_install(view)
    view.facts.get("secrets")
    wanted = view.install.webhook_secret
    if wanted not in view.secrets:
        return Result(FAIL, f"Secret {wanted} (webhook certificate) not found in {view.ns}")
    if CA_KEY not in view.secrets[wanted]:
        return Result(FAIL, f"Secret {wanted} has no {CA_KEY}: the controller has not written its certificate yet")
    return Result(OK, f"Secret {wanted} has {CA_KEY}")


def _speaker_uses_secret(speaker, secret):
    volumes = (((speaker.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or []
    return any((v.get("secret") or {}).get("secretName") == secret for v in volumes)


def check_memberlist(view):
    _need_install(view)
    view.facts.get("secrets")
    wanted = view.install.memberlist_secret
    if view.speaker and not _speaker_uses_secret(view.speaker, wanted):
        raise Skip("the speaker does not use memberlist")
    if wanted not in view.secrets:
        return Result(
            FAIL,
            f"Secret {wanted} not found in {view.ns}: speakers cannot start (the controller creates it when it starts)",
        )
    if MEMBERLIST_KEY not in view.secrets[wanted]:
        return Result(FAIL, f"Secret {wanted} has no key {MEMBERLIST_KEY}")
    return Result(OK, f"Secret {wanted} has {MEMBERLIST_KEY}")


# --------------------------------------------------------------------------------------------- configuration


def _need_crds(view):
    if view.facts.served is None:
        raise Skip("the metallb.io API is not served (CRDs not installed)")


def check_crds(view):
    if view.facts.served is None:
        if view.install:
            return Result(FAIL, "the metallb.io API is not served: MetalLB's CRDs are not installed")
        raise Skip("the metallb.io API is not served (CRDs not installed)")
    return check_pools(view)


def _ignored(view):
    lines = []
    for kind in CONFIG_KINDS:
        by_ns = {}
        for obj in view.elsewhere[kind]:
            by_ns.setdefault(meta(obj).get("namespace", ""), []).append(name(obj))
        for namespace, names in sorted(by_ns.items()):
            lines.append(f"{kind} in {namespace}: {', '.join(names)}")
    return lines


def check_pools(view):
    _need_crds(view)
    for kind in CONFIG_KINDS:
        view.facts.get(kind)
    counts = (
        f"{_plural(len(view.pools), 'IPAddressPool')}, "
        f"{_plural(len(view.local['l2advertisements']), 'L2Advertisement')}, "
        f"{_plural(len(view.local['bgpadvertisements']), 'BGPAdvertisement')}, "
        f"{_plural(len(view.local['bgppeers']), 'BGPPeer')} in {view.ns}"
    )
    ignored = _ignored(view)
    if ignored:
        ignored = [f"ignored (MetalLB only reads {view.ns}): {line}" for line in ignored]
    if not view.pools:
        return Result(FAIL, f"no IPAddressPool in {view.ns}: MetalLB assigns no address", tuple(ignored))
    if ignored:
        return Result(WARN, counts, tuple(ignored))
    return Result(OK, counts)


def check_advertisements(view):
    _need_crds(view)
    if not view.pools:
        raise Skip("no pools")
    if not view.advertisements:
        return Result(FAIL, "no L2Advertisement or BGPAdvertisement: addresses are assigned but never announced")
    return Result(OK, f"{_plural(len(view.advertisements), 'advertisement')}")


def check_announced_pools(view):
    _need_crds(view)
    if not view.pools or not view.advertisements:
        raise Skip("no pools or no advertisements")
    missing = adv.unannounced_pools(view.pools, view.advertisements)
    if missing:
        return Result(
            WARN,
            f"{_plural(len(missing), 'pool')} no advertisement selects (addresses assigned from "
            f"{'it' if len(missing) == 1 else 'them'} are never announced): {', '.join(missing)}",
        )
    return Result(OK, "every pool is announced by an advertisement")


def check_bgp(view):
    _need_crds(view)
    bgp_ads, peers = view.local["bgpadvertisements"], view.local["bgppeers"]
    if not bgp_ads and not peers:
        raise Skip("no BGP configuration")
    if bgp_ads and not peers:
        return Result(WARN, "BGPAdvertisements exist but no BGPPeer: nothing is announced over BGP")
    if peers and not bgp_ads:
        return Result(
            WARN, f"{_plural(len(peers), 'BGPPeer')} but no BGPAdvertisement: sessions come up, nothing is announced"
        )
    return Result(OK, f"{_plural(len(peers), 'BGPPeer')}, {_plural(len(bgp_ads), 'BGPAdvertisement')}")


def _state_line(state):
    status = state.get("status") or {}
    summary = " ".join((status.get("errorSummary") or "").split())
    return f"{name(state)}: {status.get('result', 'Unknown')}" + (f": {summary}" if summary else "")


def check_configuration_state(view):
    _need_crds(view)
    if not view.served("configurationstates"):
        raise Skip(
            "ConfigurationState needs MetalLB v0.15.3+; look for 'failed to parse the configuration' in the "
            "controller's log instead"
        )
    view.facts.get("configurationstates")
    states = view.local["configurationstates"]
    if not states:
        raise Skip("no ConfigurationState yet (MetalLB's components write them when they start)")
    invalid = [s for s in states if (s.get("status") or {}).get("result") == "Invalid"]
    unknown = [s for s in states if (s.get("status") or {}).get("result") not in ("Valid", "Invalid")]
    if invalid:
        return Result(
            FAIL,
            f"configuration rejected by {_plural(len(invalid), 'component')} (the last valid one keeps running)",
            tuple(_state_line(s) for s in invalid + unknown),
        )
    if unknown:
        return Result(
            WARN,
            f"configuration state unknown for {_plural(len(unknown), 'component')}",
            tuple(_state_line(s) for s in unknown),
        )
    return Result(OK, f"configuration valid ({_plural(len(states), 'component')}: Valid)")


# --------------------------------------------------------------------------------------------- services


def _service_lines(states):
    return tuple(f"{s.key}: {s.reason}" + (f" -> {s.hint}" if s.hint else "") for s in states)


def check_pending(view, states):
    view.facts.get("services")
    handled = [s for s in states if s.state not in (svc.IGNORED, svc.OTHER)]
    pending = [s for s in states if s.state == svc.PENDING]
    if pending:
        return Result(FAIL, f"{_plural(len(pending), 'Service')} pending", _service_lines(pending))
    if not states:
        return Result(OK, "no LoadBalancer Services")
    return Result(OK, f"{_plural(len(handled), 'LoadBalancer Service')} assigned by MetalLB")


def check_announced(view, states):
    view.facts.get("services")
    problems = [s for s in states if s.state == svc.ASSIGNED and s.severity]
    if not [s for s in states if s.state == svc.ASSIGNED]:
        raise Skip("no assigned Services")
    failing = [s for s in problems if s.severity == "fail"]
    if problems:
        return Result(
            FAIL if failing else WARN,
            f"{_plural(len(problems), 'assigned Service')} not announced as expected",
            _service_lines(problems),
        )
    announced = sum(1 for s in states if s.announced_by)
    return Result(
        OK,
        f"{announced} of {_plural(sum(1 for s in states if s.state == svc.ASSIGNED), 'assigned Service')}"
        " announced by a node",
    )


def check_foreign(view, states):
    view.facts.get("services")
    ignored = [s for s in states if s.state in (svc.IGNORED, svc.OTHER) and not s.severity]
    others = [s for s in states if s.state == svc.OTHER and s.severity]
    if others:
        return Result(
            WARN,
            f"{_plural(len(others), 'Service')} served by another load balancer implementation",
            _service_lines(others),
        )
    if ignored:
        return Result(
            OK,
            f"{_plural(len(ignored), 'Service')} left to other implementations (loadBalancerClass)",
            _service_lines(ignored),
        )
    return Result(OK, "no Service belongs to another load balancer")


def check_annotations(view, states):
    view.facts.get("services")
    old = [s for s in states if s.deprecated_annotations]
    if old:
        return Result(
            WARN,
            f"{_plural(len(old), 'Service')} {'uses' if len(old) == 1 else 'use'} deprecated "
            "metallb.universe.tf/ annotations (use metallb.io/)",
            tuple(f"{s.key}: {', '.join(s.deprecated_annotations)}" for s in old),
        )
    return Result(OK, "no deprecated annotations")


# --------------------------------------------------------------------------------------------- evaluation


def _checks(view, states):
    ns = view.ns
    install = view.install
    controller = install.controller if install and install.controller else "controller"
    speaker = install.speaker if install and install.speaker else "speaker"
    frr = (install.frr_k8s or "").partition("/")[2] if install else ""
    frr_ns = (install.frr_k8s or "").partition("/")[0] if install else ""
    service = lambda f: lambda _: f(view, states)
    on = lambda f: lambda _: f(view)
    checks = [
        Check("install.found", INSTALLATION, "MetalLB is installed", on(check_found), hint="kubectl metallb install"),
        Check(
            "install.version",
            INSTALLATION,
            "MetalLB release",
            on(check_version),
            severity="warning",
            hint="https://metallb.io/release-notes/",
        ),
        Check(
            "install.backend", INSTALLATION, "BGP backend", on(check_backend), hint="https://metallb.io/installation/"
        ),
        Check(
            "install.objects",
            INSTALLATION,
            "no renamed or left-over objects",
            on(check_objects),
            severity="warning",
            hint=f"kubectl -n {ns} get services,secrets,configmaps",
        ),
        Check(
            "components.controller",
            COMPONENTS,
            "controller ready",
            on(check_controller),
            hint=f"kubectl -n {ns} describe deployment {controller}",
        ),
        Check(
            "components.speaker",
            COMPONENTS,
            "speaker ready on every node",
            on(check_speaker),
            hint=f"kubectl -n {ns} describe daemonset {speaker}",
        ),
        Check(
            "components.frr-k8s",
            COMPONENTS,
            "frr-k8s ready on every node",
            on(check_frr_k8s),
            hint=f"kubectl -n {frr_ns} describe daemonset {frr}",
        ),
        Check(
            "components.pods",
            COMPONENTS,
            "MetalLB Pods ready",
            on(check_pods),
            hint=f"kubectl -n {ns} get pods -o wide; kubectl -n {ns} describe pod POD",
        ),
        Check(
            "components.restarts",
            COMPONENTS,
            "no containers restarting",
            on(check_restarts),
            severity="warning",
            hint=f"kubectl -n {ns} logs POD -c CONTAINER --previous",
        ),
        Check(
            "webhook.endpoints",
            WEBHOOK,
            "webhook Service has ready endpoints",
            on(check_webhook_endpoints),
            hint=f"kubectl -n {ns} get endpointslices -l kubernetes.io/service-name="
            f"{install.webhook_service if install else 'metallb-webhook-service'}",
        ),
        Check(
            "webhook.configuration",
            WEBHOOK,
            "webhook configuration has a CA bundle",
            on(check_webhook_configuration),
            hint="kubectl get validatingwebhookconfiguration "
            f"{install.webhook_configuration if install else 'metallb-webhook-configuration'} -o yaml",
        ),
        Check(
            "webhook.certificate",
            WEBHOOK,
            "webhook certificate Secret has ca.crt",
            on(check_certificate),
            hint=f"kubectl -n {ns} logs deployment/{controller} (the certificate rotator writes it)",
        ),
        Check(
            "secrets.memberlist",
            WEBHOOK,
            "memberlist Secret has secretkey",
            on(check_memberlist),
            hint=f"kubectl -n {ns} logs deployment/{controller} (the controller creates it)",
        ),
        Check(
            "config.pools",
            CONFIGURATION,
            "address pools",
            on(check_crds),
            hint="kubectl metallb pools create NAME --addresses RANGE --l2",
        ),
        Check(
            "config.advertisements",
            CONFIGURATION,
            "advertisements",
            on(check_advertisements),
            hint="kubectl metallb pools create NAME --addresses RANGE --l2 (or create an L2Advertisement)",
        ),
        Check(
            "config.announced-pools",
            CONFIGURATION,
            "every pool is announced",
            on(check_announced_pools),
            severity="warning",
            hint="kubectl metallb pools",
        ),
        Check(
            "config.bgp",
            CONFIGURATION,
            "BGP peers and advertisements",
            on(check_bgp),
            severity="warning",
            hint="https://metallb.io/configuration/_advanced_bgp_configuration/",
        ),
        Check(
            "config.state",
            CONFIGURATION,
            "configuration accepted",
            on(check_configuration_state),
            hint=f"kubectl -n {ns} get configurationstates -o yaml",
        ),
        Check(
            "services.pending",
            SERVICES,
            "every LoadBalancer Service has an address",
            service(check_pending),
            hint="kubectl metallb status --service NAMESPACE/NAME",
        ),
        Check(
            "services.announced",
            SERVICES,
            "assigned addresses are announced",
            service(check_announced),
            hint="kubectl metallb status --service NAMESPACE/NAME",
        ),
        Check(
            "services.foreign",
            SERVICES,
            "no Service taken by another load balancer",
            service(check_foreign),
            severity="warning",
            hint="https://metallb.io/faq/",
        ),
        Check(
            "services.annotations",
            SERVICES,
            "no deprecated annotations",
            service(check_annotations),
            severity="warning",
            hint="https://metallb.io/usage/",
        ),
    ]
    # leave out what cannot apply, rather than a wall of skipped lines
    drop = set()
    if not install:
        drop |= {c.id for c in checks if c.category in (COMPONENTS, WEBHOOK)} | {
            "install.version",
            "install.backend",
            "install.objects",
        }
    elif not install.frr_k8s:
        drop.add("components.frr-k8s")
    if view.facts.served is None:
        drop |= {c.id for c in checks if c.category == CONFIGURATION and c.id != "config.pools"}
    return [c for c in checks if c.id not in drop]


@dataclass
class Report:
    facts: object
    view: object
    outcomes: list
    services: list

    @property
    def healthy(self):
        return all(o.result.status != FAIL for o in self.outcomes)

    @property
    def problems(self):
        return [o for o in self.outcomes if o.result.status in (FAIL, WARN)]

    @property
    def verdict(self):
        return "healthy" if self.healthy else "degraded"

    def summary(self):
        failed = [o for o in self.outcomes if o.result.status == FAIL]
        warned = [o for o in self.outcomes if o.result.status == WARN]
        counts = []
        if failed:
            counts.append(_plural(len(failed), "problem"))
        if warned:
            counts.append(_plural(len(warned), "warning"))
        text = f"MetalLB is {self.verdict}"
        return text + (f": {', '.join(counts)}" if counts else "")

    def to_document(self):
        view = self.view
        install = view.install
        return {
            "namespace": view.ns,
            "installation": install.to_dict() if install else None,
            "verdict": self.verdict,
            "summary": self.summary(),
            "components": {
                "controller": _deployment_doc(view.controller),
                "speaker": _daemonset_doc(view, view.speaker),
                "frrK8s": _daemonset_doc(view, view.frr_k8s),
            },
            "configuration": {
                "ipAddressPools": len(view.pools),
                "l2Advertisements": len(view.local["l2advertisements"]),
                "bgpAdvertisements": len(view.local["bgpadvertisements"]),
                "bgpPeers": len(view.local["bgppeers"]),
                "unannouncedPools": adv.unannounced_pools(view.pools, view.advertisements)
                if view.advertisements
                else [name(p) for p in view.pools],
                "ignoredObjects": _ignored(view),
                "configurationStates": [
                    {
                        "name": name(s),
                        "result": (s.get("status") or {}).get("result"),
                        "errorSummary": (s.get("status") or {}).get("errorSummary", ""),
                    }
                    for s in view.local["configurationstates"]
                ],
            },
            "services": [s.to_dict() for s in self.services],
            "checks": to_document(self.outcomes),
            "problems": [
                {
                    "id": o.check.id,
                    "category": o.check.category,
                    "severity": o.result.status,
                    "message": o.result.message,
                    "details": list(o.result.details),
                    "hint": o.check.hint,
                }
                for o in self.problems
            ],
        }


def _deployment_doc(dep):
    if not dep:
        return None
    return {"name": name(dep), **workloads.deployment_counts(dep)}


def _daemonset_doc(view, ds):
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


def evaluate(facts):
    view = View(facts)
    states = [svc.classify(view, s) for s in view.lb_services] if facts.readable("services") else []
    outcomes = run_checks(_checks(view, states), facts)
    return Report(facts, view, outcomes, states)

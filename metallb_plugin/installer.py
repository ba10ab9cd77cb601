"""Applying a prepared MetalLB manifest to the cluster and waiting until it serves (the shell of install).

Decisions are core/install/plan.py's and the record is core/install/inventory.py's; this module reads the
cluster and plans a server-side apply of every object in the manifest's order and the removal of what the previous
release had and this one has not; writes.carry_out dry-runs, checks, asks and applies it; then install records
what it applied and waits, all through the command's context and client.
"""

from metallb_plugin import cluster, defaults, errors, writes
from metallb_plugin.core import endpoints, installation, manifests
from metallb_plugin.core import plan as model
from metallb_plugin.core.duration import format_duration
from metallb_plugin.core.install import inventory, plan, removal
from metallb_plugin.core.plan import Step, Write
from metallb_plugin.core.text import plural
from metallb_plugin.errors import ExitCode

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def object_path(client, obj):
    """REST path of a manifest object: built-in kinds from the static table, others through discovery."""
    groups, plural, namespaced, _ = manifests.KINDS[obj["kind"]]
    if groups[0] == "monitoring.coreos.com":
        return client.object_path(obj)
    meta = obj["metadata"]
    return cluster.api_path(obj["apiVersion"], plural, meta.get("namespace") if namespaced else None, meta["name"])


def read_inventory(client, namespace):
    """The refs install recorded in the namespace and its details; (None, {}) without a record."""
    found = client.get_or_none(cluster.api_path("v1", "configmaps", namespace, defaults.INVENTORY))
    try:
        return inventory.parse(found, namespace)
    except ValueError as exc:
        raise errors.PluginError(str(exc)) from None


def find_installation(client, namespace):
    """(the MetalLB installation closest to namespace or None, the operator Deployment or None)."""
    deployments = client.list("/apis/apps/v1/deployments")
    daemonsets = client.list("/apis/apps/v1/daemonsets")
    found = installation.find_installation(deployments, daemonsets, namespace=namespace)
    return found, installation.find_operator(deployments)


class Installer:
    def __init__(self, ctx, client, args, manifest, source, digest, origin=None):
        self.ctx = ctx
        self.client = client
        self.args = args
        self.manifest = manifest
        self.source = source
        self.digest = digest
        self.namespace = manifest.namespace
        self.version = manifest.version
        self.mode = manifest.mode
        self.notes = []  # shown with the plan (a backend switch, a takeover)
        self.origin = origin  # provenance.Report of a --manifest that is not a pinned release file
        self.needs_yes = ""  # why --yes is needed even on a terminal
        if origin is not None and origin.needs_yes:
            self.needs_yes = (
                "the manifest adds or changes RBAC or kinds compared with "
                + (f"MetalLB {origin.reference}" if origin.reference else "any pinned MetalLB release")
                + " (listed above): install it only if you trust where it comes from"
            )

    # -- planning

    def _existing(self):
        found, operator = find_installation(self.client, self.namespace)
        refused = plan.refusal(found, operator, self.namespace)
        if refused:
            raise errors.PluginError(refused)
        return found

    def _check_kubernetes(self):
        if not plan.kubernetes_floor(self.version):
            return  # no documented floor: no need to ask the server
        message = plan.kubernetes_too_old(self.version, self.client.server_version())
        if message and not self.args.force:
            raise errors.PluginError(message + " (--force to install anyway)")
        if message:
            self.ctx.warn(message)

    def _action(self, found):
        """(action, previous version, from -> to, the question to ask); a downgrade is refused without --force."""
        action, previous = plan.action(found, self.version, self.mode)
        what = f"MetalLB {self.version} ({self.mode})"
        if action == "install":
            return action, previous, "", f"Install {what} in namespace {self.namespace}?"
        if action == "reinstall":
            return action, previous, "", f"Re-apply {what} in namespace {self.namespace}?"
        if action == "downgrade" and not self.args.force:
            raise errors.PluginError(plan.downgrade_refusal(previous, self.version))
        change = plan.change_text(found, self.version, self.mode)
        if found.backend not in (self.mode, "unknown"):
            self.notes.append(
                f"the BGP backend changes from {found.backend} to {self.mode}; objects only the old mode used are "
                "removed after the new ones are applied"
            )
        return action, previous, change, f"{action.capitalize()} MetalLB in {self.namespace} {change}?"

    def _steps(self, objects, paths, before, old_refs, found):
        """A server-side apply per manifest object, then a delete per object the previous release had and this one
        has not."""
        foreign = "it exists and was not installed by kubectl metallb"
        recorded = {inventory.ref_key(r): r for r in old_refs or [] if r.get("uid")}

        def ours(live):
            """Recorded by the previous install (same uid), or written by kubectl-metallb: a hand edit that took
            every field install set leaves no managedFields entry of ours, yet the object is still ours."""
            ref = recorded.get(inventory.ref_key(inventory.ref(live)))
            return (ref is not None and inventory.same_object(ref, live)) or model.managed_by_us(live)

        steps = [
            Step.of(
                obj,
                Write("apply", paths[id(obj)], obj, force=self.args.force_conflicts),
                before=before[id(obj)],
                foreign=foreign if before[id(obj)] is not None and not ours(before[id(obj)]) else "",
            )
            for obj in objects
        ]
        if found and old_refs is None and any(s.foreign for s in steps):
            self.notes.append(
                f"MetalLB {found.version or ''} in {found.namespace} was installed another way (kubectl apply?): "
                "install takes its objects over only with --force-conflicts"
            )
        for ref in inventory.stale(old_refs, [inventory.ref(o) for o in objects]):
            plural = manifests.KINDS.get(ref["kind"], (None, None))[1]
            if plural is None:
                continue
            path = cluster.api_path(ref["apiVersion"], plural, ref.get("namespace"), ref["name"])
            live = self.client.get_or_none(path)
            if live is not None:
                mine = inventory.same_object(ref, live) if ref.get("uid") else model.managed_by_us(live)
                steps.append(
                    Step(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace"), Write("delete", path),
                         before=live, note="not in this release", foreign="" if mine else foreign)
                )  # fmt: skip
        return steps

    def _plan(self, question):
        objects = self.manifest.objects
        try:
            paths = {id(obj): object_path(self.client, obj) for obj in objects}
        except errors.NotFound as exc:
            raise errors.PluginError(
                f"{exc}: the Prometheus variants need the Prometheus operator's CRDs (monitoring.coreos.com); "
                "install it first, or drop --prometheus. Nothing was changed"
            ) from None
        old_refs, _ = read_inventory(self.client, self.namespace)
        before = {id(obj): self.client.get_or_none(paths[id(obj)]) for obj in objects}
        namespace = before[id(objects[0])]
        holdup = removal.terminating(namespace)
        if holdup:
            raise errors.PluginError(
                f"namespace {self.namespace} is being deleted ({holdup}): MetalLB cannot be installed into it until "
                f"it is gone. Wait until `kubectl get namespace {self.namespace}` says NotFound, then run install "
                "again. Nothing was changed"
            )
        record = cluster.api_path("v1", "configmaps", self.namespace, defaults.INVENTORY)
        group, resource, ns, _ = model.resource_of(record)
        return model.Plan(
            "install",
            question,
            self._steps(objects, paths, before, old_refs, self._found),
            notes=self.notes,
            needs_yes=self.needs_yes,
            resume=f"Run the same install again to finish it, or `kubectl metallb uninstall -n {self.namespace}` to "
            "remove what was applied",
            extra_access=[model.Access(v, group, resource, ns) for v in ("patch", "create")],
            absent_namespaces=() if namespace is not None else (self.namespace,),
        ), old_refs

    # -- applying

    def _write_inventory(self, refs):
        details = {"version": self.version or "", "mode": self.mode, "source": self.source, "sha256": self.digest}
        path = cluster.api_path("v1", "configmaps", self.namespace, defaults.INVENTORY)
        self.client.apply(path, inventory.configmap(self.namespace, refs, details), force=True)

    def _wait_crds(self, crds, deadline):
        """Poll until every CRD reports Established; the newly served kinds then show up in discovery."""
        pending = {c["metadata"]["name"]: c for c in crds if not plan.established(c)}
        progress = self.ctx.progress()
        while pending:
            progress.update(f"waiting for {plural(len(pending), 'CRD')} to be Established")
            for name in list(pending):
                live = self.client.get_or_none(f"{CRDS}/{name}")
                if live and plan.established(live):
                    del pending[name]
            if pending and self.ctx.monotonic() > deadline:
                progress.done()
                raise errors.WaitTimeout(
                    f"CRDs not Established in time: {', '.join(sorted(pending))}: "
                    "check `kubectl get crd <name> -o yaml` for NamesAccepted conflicts"
                )
            if pending:
                self.ctx.sleep(0.2)
        progress.done()
        self.ctx.say(f"CRDs Established ({len(crds)}/{len(crds)})")
        self.client.forget_discovery()

    def run(self):
        args = self.args
        started = self.ctx.monotonic()
        self._found = self._existing()
        self._check_kubernetes()
        action, previous, change, question = self._action(self._found)
        install_plan, old_refs = self._plan(question)
        objects = self.manifest.objects
        new_refs = [inventory.ref(o) for o in objects]
        deadline = self.ctx.monotonic() + max(args.timeout, defaults.CRD_TIMEOUT)

        def record_first():  # an interrupted install can still be uninstalled: record before the first object
            if install_plan.absent_namespaces == ():
                self._write_inventory(inventory.merge(old_refs, new_refs))

        uids = {}

        def applies_crd(step):
            return step.kind == "CustomResourceDefinition" and step.write.method == "apply"

        def after(step, answer):
            uids[inventory.ref_key(step.ref())] = ((answer or {}).get("metadata") or {}).get("uid")
            if step.kind == "Namespace":
                self._write_inventory(inventory.merge(old_refs, new_refs))
            if applies_crd(step):  # a CRD this release drops is deleted at the end, not waited for
                crds.append(answer or step.write.body)
                # the last CRD that changes: known only once carry_out's server dry run has marked what writes
                if step is [s for s in install_plan.pending() if applies_crd(s)][-1]:
                    self._wait_crds(crds, deadline)  # the new kinds are served before anything else is applied

        def begin():
            if action in ("upgrade", "downgrade"):
                self.ctx.say(f"{action.replace('grade', 'grading')} MetalLB in {self.namespace} {change}")
            record_first()

        crds = []
        if action in ("upgrade", "downgrade") and args.dry_run:
            self.ctx.say(f"dry run: would {action} MetalLB in {self.namespace} {change}")
        applied = writes.carry_out(
            self.ctx, self.client, args, install_plan, args.force_conflicts, "--force-conflicts", before_apply=begin,
            after_step=after,
        )  # fmt: skip
        if applied:  # only this release's objects now, each with its uid
            for step in install_plan.steps:
                key = inventory.ref_key(step.ref())
                uids.setdefault(key, ((step.before or {}).get("metadata") or {}).get("uid"))
            self._write_inventory(inventory.with_uids(new_refs, uids))
        return self._finish(install_plan, action, previous, started, applied)

    def _finish(self, install_plan, action, previous, started, applied):
        args = self.args
        doc = {
            **install_plan.document(args.dry_run),
            "action": action,
            "version": self.version,
            "previousVersion": previous,
            "mode": self.mode,
            "namespace": self.namespace,
            "source": self.source,
            "sha256": self.digest,
            "provenance": self.origin.document() if self.origin is not None else None,
            "ready": None,
        }
        what = f"MetalLB {self.version} ({self.mode})"
        summary = install_plan.summary()
        unchecked = install_plan.unchecked()
        counts = install_plan.counts()
        self.ctx.say(plan.headline(what, self.namespace, action, previous, counts, summary, args.dry_run, unchecked))
        if args.verbose:
            self.ctx.say(f"{self.client.requests} API requests in {self.ctx.monotonic() - started:.2f}s")
        if args.dry_run or not args.wait:
            if not args.dry_run:
                self.ctx.say("not waiting (--no-wait): `kubectl metallb status` shows when MetalLB serves")
            writes.show(self.ctx, args, install_plan, doc, applied=applied)
            return ExitCode.OK
        if args.output == "table" and not applied:
            writes.show(self.ctx, args, install_plan, applied=applied)
        try:
            self._wait_ready(started)
        except errors.WaitTimeout:
            doc["ready"] = False
            self._emit(doc)
            raise
        doc["ready"] = True
        self._emit(doc)
        return ExitCode.OK

    def _emit(self, doc):
        if self.args.output != "table":
            self.ctx.emit(doc, self.args.output, lambda d: "")

    # -- waiting

    def _wait_targets(self):
        """(label, object, check) of every workload of the manifest, then of every Service a webhook calls."""
        targets = []
        for obj in self.manifest.objects:
            name = obj["metadata"]["name"]
            if obj["kind"] == "Deployment":
                path = cluster.api_path("apps/v1", "deployments", self.namespace, name)
                targets.append(
                    (f"Deployment {name}", obj, lambda p=path: installation.deployment_ready(self.client.get(p)))
                )
            elif obj["kind"] == "DaemonSet":
                path = cluster.api_path("apps/v1", "daemonsets", self.namespace, name)
                targets.append(
                    (f"DaemonSet {name}", obj, lambda p=path: installation.daemonset_ready(self.client.get(p)))
                )
        slices = cluster.api_path("discovery.k8s.io/v1", "endpointslices", self.namespace)
        for service in plan.webhook_services(self.manifest.objects, self.namespace):
            check = lambda s=service: endpoints.readiness(
                self.client.list(slices, label_selector=f"{endpoints.SERVICE_NAME_LABEL}={s}", each=endpoints.reduce)
            )
            targets.append((f"webhook Service {service}", None, check))
        return targets

    def _wait_ready(self, started):
        timeout = self.args.timeout
        deadline = self.ctx.monotonic() + timeout
        pending = self._wait_targets()
        states = {}
        progress = self.ctx.progress()
        self.ctx.say(
            f"waiting up to {format_duration(timeout, short=True)} for MetalLB to serve (--timeout; --no-wait "
            "skips this)"
        )
        while True:
            for target in list(pending):
                label, _, check = target
                ready, text = check()
                states[label] = text
                if ready:
                    pending.remove(target)
                    progress.done()
                    self.ctx.say(f"{label}: {text}")
            if not pending:
                break
            if self.ctx.monotonic() >= deadline:
                progress.done()
                raise errors.WaitTimeout(self._stuck_message(pending, states))
            progress.update("waiting: " + "; ".join(f"{label} {states[label]}" for label, _, _ in pending))
            self.ctx.sleep(min(defaults.POLL_SECONDS, max(0.0, deadline - self.ctx.monotonic())))
        progress.done()
        self.ctx.say(
            f"MetalLB {self.version} is ready ({self.ctx.monotonic() - started:.0f}s): its webhook serves, so "
            "`kubectl metallb pools create` can run now"
        )

    def _stuck_message(self, pending, states):
        """One line naming each stuck part and why (Pending pods and their events, failed pod creation)."""
        pods = self.client.list(cluster.api_path("v1", "pods", self.namespace))
        events = self.client.list(cluster.api_path("v1", "events", self.namespace))
        parts = []
        for label, obj, _ in pending:
            why = states[label]
            if obj is not None:
                why += "; " + installation.why_not_ready(obj, pods, events)
            elif "controller" not in why:
                why += " (the controller Pod that serves the webhook is not ready)"
            parts.append(f"{label}: {why}")
        return (
            f"MetalLB is not ready after {format_duration(self.args.timeout, short=True)}: "
            + "; ".join(parts)
            + f". Look at `kubectl -n {self.namespace} get pods,events`"
        )

"""Applying a prepared MetalLB manifest to the cluster and waiting until it serves (the shell of install).

Decisions are core/install/plan.py's and the record is core/install/inventory.py's; this module reads the
cluster, asks, applies with server-side apply in the manifest's order, records what it applied, removes what the
previous release had and this one has not, and waits, all through the command's context and client.
"""

from metallb_plugin import cluster, defaults, errors
from metallb_plugin.core import installation, manifests
from metallb_plugin.core.duration import format_duration
from metallb_plugin.core.install import inventory, plan
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
    def __init__(self, ctx, client, args, manifest, source, digest):
        self.ctx = ctx
        self.client = client
        self.args = args
        self.manifest = manifest
        self.source = source
        self.digest = digest
        self.namespace = manifest.namespace
        self.version = manifest.version
        self.mode = manifest.mode
        self.results = []  # {"kind", "apiVersion", "namespace", "name", "result"}
        self._unchecked = 0  # dry run: namespaced objects the server could not check (no namespace yet)
        self._namespace_exists = False
        self.style = ctx.style(args.no_color)

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

    def _plan(self, found):
        """(action, previous version), asking when the install changes the release or the mode."""
        action, previous = plan.action(found, self.version, self.mode)
        if action in ("install", "reinstall"):
            return action, previous
        if action == "downgrade" and not self.args.force:
            raise errors.PluginError(plan.downgrade_refusal(previous, self.version))
        change = plan.change_text(found, self.version, self.mode)
        question = f"{action.capitalize()} MetalLB in {self.namespace} {change}?"
        refusal = f"{question} Pass --yes to {action} (there is no terminal to ask on)"
        if self.args.dry_run:
            self.ctx.say(f"dry run: would {action} MetalLB in {self.namespace} {change}")
        elif not self.ctx.confirm(question, refusal, assume_yes=self.args.yes):
            raise errors.PluginError(f"{action} cancelled; nothing was changed")
        else:
            self.ctx.say(f"{action.replace('grade', 'grading')} MetalLB in {self.namespace} {change}")
        if found.backend not in (self.mode, "unknown"):
            self.ctx.say(
                f"note: the BGP backend changes from {found.backend} to {self.mode}; objects only the old mode "
                "used are removed after the new ones are applied"
            )
        return action, previous

    # -- applying

    def _apply_one(self, obj, path, before):
        dry_run = self.args.dry_run
        namespaced = manifests.KINDS[obj["kind"]][2]
        if dry_run and before is None and obj["kind"] != "Namespace" and namespaced and not self._namespace_exists:
            self._unchecked += 1  # the server cannot dry-run into a namespace that does not exist yet
            return "created", None
        try:
            after = self.client.apply(path, obj, force=self.args.force_conflicts, dry_run=dry_run)
        except errors.Conflict as exc:
            if dry_run:
                self.ctx.say(f"  {manifests.describe(obj)}: {exc.message}")
                return "conflict", None
            raise errors.PluginError(
                f"{manifests.describe(obj)}: {exc.message}. Another field manager owns these fields; re-run with "
                "--force-conflicts to take them over (kubectl-metallb becomes their owner)"
            ) from None
        except errors.Invalid as exc:
            raise errors.PluginError(f"the API server rejected {manifests.describe(obj)}: {exc.message}") from None
        return plan.outcome(before, after, dry_run), after

    def _record(self, obj, result):
        self.results.append({**inventory.ref(obj), "result": result})
        if self.args.output == "table":
            colour = {"created": self.style.green, "changed": self.style.yellow, "deleted": self.style.red}.get(
                result, lambda t: t
            )
            suffix = " (server dry run)" if self.args.dry_run and result != "deleted" else ""
            if self.args.dry_run and result == "deleted":
                suffix = " (dry run)"
            self.ctx.out(f"{manifests.describe(obj)} {colour(result)}{suffix}")

    def _write_inventory(self, refs, details):
        path = cluster.api_path("v1", "configmaps", self.namespace, defaults.INVENTORY)
        self.client.apply(path, inventory.configmap(self.namespace, refs, details), force=True)

    def _wait_crds(self, crds, deadline):
        """Poll until every CRD reports Established; the newly served kinds then show up in discovery."""
        pending = {c["metadata"]["name"]: c for c in crds if not plan.established(c)}
        progress = self.ctx.progress()
        while pending:
            progress.update(f"waiting for {len(pending)} CRDs to be Established")
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

    def _conflict_check(self, objects, paths, before, foreign=None):
        """Dry-run the objects that already exist, to report every conflict before anything is written."""
        problems = []
        for obj in objects:
            if before[id(obj)] is None:
                continue
            try:
                self.client.apply(paths[id(obj)], obj, force=False, dry_run=True)
            except errors.Conflict as exc:
                problems.append(f"{manifests.describe(obj)}: {exc.message}")
            except errors.Invalid as exc:
                problems.append(f"{manifests.describe(obj)} rejected: {exc.message}")
        if problems:
            for line in problems:
                self.ctx.say(f"  {line}")
            origin = ""
            if foreign:
                origin = (
                    f"MetalLB {foreign.version or ''} in {foreign.namespace} was installed another way (kubectl "
                    "apply?) and "
                )
            raise errors.PluginError(
                f"{origin}{len(problems)} object(s) would conflict with other field managers (listed above); nothing "
                "was changed. Re-run with --force-conflicts to take ownership of those fields"
            )

    def _delete_stale(self, ref):
        """An object the previous install created that this release no longer has (e.g. a renamed Service)."""
        plural = manifests.KINDS.get(ref["kind"], (None, None))[1]
        if plural is None:
            return
        try:
            self.client.delete(
                cluster.api_path(ref["apiVersion"], plural, ref.get("namespace"), ref["name"]),
                dry_run=self.args.dry_run,
            )
        except errors.NotFound:
            return
        meta = {"name": ref["name"], **({"namespace": ref["namespace"]} if ref.get("namespace") else {})}
        self._record({"apiVersion": ref["apiVersion"], "kind": ref["kind"], "metadata": meta}, "deleted")

    def _apply_all(self, objects, paths, before, old_refs, new_refs, details):
        deadline = self.ctx.monotonic() + max(self.args.timeout, defaults.CRD_TIMEOUT)
        last_crd_step = [o for o in objects if manifests.step(o) == 1][-1:] or [None]
        crds = []
        for obj in objects:
            result, after = self._apply_one(obj, paths[id(obj)], before[id(obj)])
            self._record(obj, result)
            if obj["kind"] == "Namespace" and not self.args.dry_run:
                # record what is about to be applied first, so an interrupted install can still be uninstalled
                self._write_inventory(inventory.merge(old_refs, new_refs), details)
            if obj["kind"] == "CustomResourceDefinition":
                crds.append(after or obj)
            if crds and obj is last_crd_step[0] and not self.args.dry_run:
                self._wait_crds(crds, deadline)

    def run(self):
        args = self.args
        started = self.ctx.monotonic()
        found = self._existing()
        self._check_kubernetes()
        action, previous = self._plan(found)
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
        self._namespace_exists = before[id(objects[0])] is not None
        if (
            not args.force_conflicts
            and not args.dry_run
            and any(before.values())
            and (action != "reinstall" or any(b is not None and not plan.ours(b) for b in before.values()))
        ):
            self._conflict_check(objects, paths, before, foreign=found if found and old_refs is None else None)

        new_refs = [inventory.ref(o) for o in objects]
        details = {"version": self.version or "", "mode": self.mode, "source": self.source, "sha256": self.digest}
        self._apply_all(objects, paths, before, old_refs, new_refs, details)
        stale = inventory.stale(old_refs, new_refs)
        for ref in stale:
            self._delete_stale(ref)
        if stale and not args.dry_run:
            self._write_inventory(new_refs, details)
        return self._finish(action, previous, started)

    def _finish(self, action, previous, started):
        args = self.args
        counts = plan.counts(self.results)
        doc = {
            "action": action,
            "version": self.version,
            "previousVersion": previous,
            "mode": self.mode,
            "namespace": self.namespace,
            "source": self.source,
            "sha256": self.digest,
            "dryRun": args.dry_run,
            "objects": self.results,
            "summary": counts,
            "ready": None,
        }
        if counts["conflict"]:
            self._emit(doc)
            raise errors.PluginError(
                f"dry run: {counts['conflict']} object(s) conflict with other field managers (listed above); "
                "--force-conflicts would take ownership of those fields"
            )
        what = f"MetalLB {self.version} ({self.mode})"
        self.ctx.say(plan.headline(what, self.namespace, action, previous, counts, args.dry_run, self._unchecked))
        if args.verbose:
            self.ctx.say(f"{self.client.requests} API requests in {self.ctx.monotonic() - started:.2f}s")
        if args.dry_run or not args.wait:
            if not args.dry_run:
                self.ctx.say("not waiting (--no-wait): `kubectl metallb status` shows when MetalLB serves")
            self._emit(doc)
            return ExitCode.OK
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
            check = lambda s=service: installation.endpoints_ready(
                self.client.list(slices, label_selector=f"kubernetes.io/service-name={s}")
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

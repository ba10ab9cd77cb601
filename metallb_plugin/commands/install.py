"""Install or upgrade a pinned MetalLB release, verified by checksum, and wait until it serves.

The manifest is MetalLB's own release file (native, FRR or FRR-K8s mode; optionally the Prometheus variant),
downloaded over HTTPS from the release tag and checked against the sha256 pinned in this plugin before anything is
applied. Objects are applied with server-side apply (field manager kubectl-metallb) in dependency order: the
Namespace, the CRDs (then waiting until they are Established), RBAC, configuration, Services, workloads and the
webhook configuration last. Running it again changes nothing; a newer --version upgrades (from -> to is shown).

By default install waits until MetalLB serves: the controller Deployment is available, the speaker DaemonSet is
ready on every node, and the webhook Service has ready endpoints. Creating address pools right after install
(`kubectl metallb pools create ...`) is therefore safe: the webhook that validates them already answers.

examples:
  kubectl metallb install                                  # newest known release, native mode
  kubectl metallb install --version v0.15.3 --mode frr-k8s
  kubectl metallb install --dry-run                        # what would change, checked by the API server
  kubectl metallb install --print > metallb.yaml           # the exact YAML, for GitOps; no cluster needed
  kubectl metallb install --manifest ./metallb-native.yaml --sha256 <hex> --image-registry registry.local/metallb
"""

from metallb_plugin import defaults, errors, output
from metallb_plugin.commands import duration, read_manifest
from metallb_plugin.core.duration import format_duration
from metallb_plugin.errors import ExitCode


def add_arguments(parser):
    from metallb_plugin.core import releases

    source = parser.add_argument_group("what to install")
    source.add_argument(
        "--version",
        dest="release",
        metavar="vX.Y.Z",
        help=f"MetalLB release (default {releases.DEFAULT_TAG}, the newest known)",
    )
    source.add_argument(
        "--mode",
        choices=releases.MODES,
        default=None,
        help="BGP implementation: native (default), frr (deprecated upstream since v0.16), frr-k8s",
    )
    source.add_argument(
        "--prometheus", action="store_true", help="the variant with ServiceMonitors (needs the Prometheus operator)"
    )
    source.add_argument("--list-versions", action="store_true", help="list the releases this plugin knows and exit")
    source.add_argument(
        "--manifest",
        metavar="PATH|URL",
        help="install this manifest instead (air-gapped or mirrored setups; - reads stdin)",
    )
    source.add_argument("--sha256", metavar="HEX", help="expected sha256 of --manifest (strongly recommended)")
    source.add_argument("--insecure", action="store_true", help="allow a plain http:// --manifest URL")
    source.add_argument(
        "--image-registry",
        metavar="HOST/PATH",
        help="pull MetalLB and FRR images from this registry (HOST/PATH/controller:TAG, ...)",
    )
    how = parser.add_argument_group("how")
    how.add_argument(
        "--dry-run",
        action="store_true",
        help="server-side dry run of every object: show created / changed / unchanged, change nothing",
    )
    how.add_argument(
        "--print",
        dest="print_yaml",
        action="store_true",
        help="write the final YAML to stdout and exit; the cluster is not contacted",
    )
    how.add_argument(
        "--wait", dest="wait", action="store_true", default=True, help="wait until MetalLB serves (default)"
    )
    how.add_argument("--no-wait", dest="wait", action="store_false", help="return once everything is applied")
    how.add_argument(
        "--timeout",
        type=duration,
        default=defaults.INSTALL_TIMEOUT,
        metavar="DURATION",
        help="how long to wait (default 5m)",
    )
    how.add_argument("-y", "--yes", action="store_true", help="do not ask before an upgrade")
    how.add_argument(
        "--force", action="store_true", help="allow a downgrade, or a cluster older than the release supports"
    )
    how.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take ownership of fields another field manager set (server-side apply force)",
    )


def run(args, ctx):
    from metallb_plugin.core import manifests, releases

    if args.list_versions:
        return _list_versions(args, ctx)
    if args.manifest and (args.release or args.mode or args.prometheus):
        raise errors.UsageError(
            "--manifest installs the given file: do not combine it with --version, --mode or --prometheus"
        )
    if args.sha256 and not args.manifest:
        raise errors.UsageError(
            "--sha256 checks a --manifest; released manifests are checked against the digests pinned in this plugin"
        )
    if args.print_yaml and args.dry_run:
        raise errors.UsageError("--print and --dry-run do not go together: --print never contacts the cluster")

    data, source, expected = _load_source(args, ctx)
    try:
        digest = manifests.verify_sha256(data, expected, source) if expected else manifests.sha256_hex(data)
        manifest = manifests.prepare(data, registry=args.image_registry, source=source)
    except manifests.ManifestError as exc:
        raise errors.PluginError(str(exc), exit_code=ExitCode.USAGE if args.manifest else ExitCode.FAILED) from None
    if args.namespace_given and args.namespace != manifest.namespace:
        raise errors.UsageError(
            f"MetalLB's manifests install into namespace {manifest.namespace}; installing into "
            f"{args.namespace} (-n) is not supported (the Helm chart can do that)"
        )
    if not expected:
        known = releases.known_digest(digest)
        note = f" (it is MetalLB's {known[0]} {known[1]})" if known else ""
        ctx.say(f"warning: no --sha256 given: the manifest's sha256 is {digest}{note}; pass --sha256 to verify it")
    for old, new in sorted(manifest.images.items()):
        _verbose(ctx, args, f"image {old} -> {new}")

    if args.print_yaml:
        ctx.out(manifests.render(manifest.objects))
        ctx.say(
            f"printed {len(manifest.objects)} objects of MetalLB {manifest.version} ({manifest.mode}); "
            "nothing was applied"
        )
        return ExitCode.OK

    client = ctx.connect(args)
    installer = Installer(ctx, client, args, manifest, source, digest)
    return installer.run()


# ------------------------------------------------------------------------------------------- versions


def _list_versions(args, ctx):
    from metallb_plugin.core import releases

    rows = []
    for tag in reversed(releases.TAGS):
        files = releases.RELEASES[tag]
        modes = [m for m in releases.MODES if releases.manifest_file(m) in files]
        prom = [m for m in releases.MODES if releases.manifest_file(m, True) in files]
        floor = releases.min_kubernetes(tag)
        rows.append(
            {
                "version": tag,
                "default": tag == releases.DEFAULT_TAG,
                "modes": modes,
                "prometheusModes": prom,
                "minKubernetes": "%d.%d" % floor if floor else None,
            }
        )

    def text(doc):
        return output.table(
            [
                [
                    r["version"] + (" (default)" if r["default"] else ""),
                    ",".join(r["modes"]),
                    ",".join(r["prometheusModes"]) or "-",
                    r["minKubernetes"] or "-",
                ]
                for r in doc["releases"]
            ],
            ["version", "modes", "prometheus", "min kubernetes"],
        )

    ctx.emit({"releases": rows}, args.output, text)
    return ExitCode.OK


# ------------------------------------------------------------------------------------------- source


def _verbose(ctx, args, message):
    if args.verbose:
        ctx.say(message)


def _load_source(args, ctx):
    """(bytes, source label, expected sha256 or None)."""
    from metallb_plugin.core import manifests, releases

    if args.manifest:
        expected = None
        if args.sha256:
            try:
                expected = manifests.normalize_digest(args.sha256)
            except manifests.ManifestError as exc:
                raise errors.UsageError(str(exc)) from None
        target = args.manifest
        if target.startswith(("https://", "http://")):
            return _download(target, args, ctx), target, expected
        if "://" in target:
            raise errors.UsageError(
                f"--manifest {target}: only https:// (or http:// with --insecure) URLs and local files are supported"
            )
        return read_manifest(target, ctx), target, expected
    try:
        art = releases.artifact(args.release, args.mode or "native", args.prometheus)
    except releases.ReleaseError as exc:
        raise errors.UsageError(str(exc)) from None
    _verbose(ctx, args, f"MetalLB {art.tag} ({art.file}) from {art.url}")
    return _download(art.url, args, ctx), art.url, art.sha256


def _redirect_handler(allow_http):
    """A urllib redirect handler that will not follow a redirect from https:// down to http://."""
    import urllib.request

    class Handler(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            if newurl.startswith("http://") and not allow_http:
                raise errors.PluginError(
                    f"{req.full_url} redirects to {newurl}, which is not HTTPS; refusing (pass --insecure to allow it)"
                )
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return Handler()


def _download(url, args, ctx):
    """The body of url over HTTPS (HTTPS_PROXY / NO_PROXY honoured by urllib); progress on a terminal only."""
    import ssl
    import urllib.error
    import urllib.request

    from metallb_plugin.core import manifests

    if url.startswith("http://") and not args.insecure:
        raise errors.UsageError(
            f"{url} is plain http://: anyone on the path could change it. Use https://, or "
            "pass --insecure (and --sha256) if you must"
        )
    opener = urllib.request.build_opener(_redirect_handler(args.insecure))
    request = urllib.request.Request(url, headers={"User-Agent": defaults.USER_AGENT})
    progress = ctx.progress()
    show = progress.live
    try:
        with opener.open(request, timeout=args.request_timeout or defaults.DOWNLOAD_TIMEOUT) as response:
            total = int(response.headers.get("Content-Length") or 0)
            chunks, size = [], 0
            while True:
                chunk = response.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > manifests.MAX_BYTES:
                    raise errors.PluginError(
                        f"{url} is larger than {manifests.MAX_BYTES} bytes: not a MetalLB manifest"
                    )
                chunks.append(chunk)
                if show:
                    of = f" / {total // 1024} KiB" if total else ""
                    progress.update(f"downloading {url}: {size // 1024} KiB{of}")
            if show:
                progress.done()
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise errors.PluginError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise errors.PluginError(
                f"downloading {url} failed: the server's certificate is not trusted "
                f"({reason.verify_message}); set SSL_CERT_FILE to your CA bundle if a proxy or "
                "mirror uses its own CA"
            ) from None
        reason = getattr(reason, "strerror", None) or reason
        raise errors.PluginError(
            f"downloading {url} failed: {reason}. Behind a proxy? Set HTTPS_PROXY; "
            "air-gapped? use --manifest FILE --sha256 HEX"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise errors.PluginError(f"downloading {url} failed: {exc}") from None
    finally:
        if show:
            progress.done()


# ------------------------------------------------------------------------------------------- the installer


def object_path(client, obj):
    """REST path of a manifest object: built-in kinds from the static table, others through discovery."""
    from metallb_plugin import cluster
    from metallb_plugin.core import manifests

    kind = obj["kind"]
    groups, plural, namespaced, _ = manifests.KINDS[kind]
    if groups[0] == "monitoring.coreos.com":
        return client.object_path(obj)
    meta = obj["metadata"]
    return cluster.api_path(obj["apiVersion"], plural, meta.get("namespace") if namespaced else None, meta["name"])


def _ref(obj):
    meta = obj["metadata"]
    ref = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"]}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return ref


def _comparable(obj):
    """An object without what changes on every write, to compare a dry-run result with the live object."""
    import copy

    obj = copy.deepcopy(obj or {})
    meta = obj.get("metadata") or {}
    for field in ("managedFields", "resourceVersion", "generation"):
        meta.pop(field, None)
    return obj


def read_inventory(client, namespace):
    """The refs install recorded in the namespace, and the recorded details; (None, {}) without a record."""
    import json

    from metallb_plugin import cluster

    found = client.get_or_none(cluster.api_path("v1", "configmaps", namespace, defaults.INVENTORY))
    if not found:
        return None, {}
    data = found.get("data") or {}
    try:
        refs = json.loads(data.get("objects") or "[]")
    except ValueError:
        raise errors.PluginError(
            f"ConfigMap {namespace}/{defaults.INVENTORY} (install's record) is corrupt: its objects are not JSON"
        ) from None
    return refs, data


def _inventory(namespace, refs, details):
    import json

    data = dict(details)
    data["objects"] = json.dumps(refs, indent=0, sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": defaults.INVENTORY,
            "namespace": namespace,
            "labels": dict(defaults.MANAGED_BY),
        },
        "data": data,
    }


def _ref_key(ref):
    return (
        ref["apiVersion"].split("/")[0] if "/" in ref["apiVersion"] else "",
        ref["kind"],
        ref.get("namespace", ""),
        ref["name"],
    )


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
        self.style = ctx.style(args.no_color)

    # -- planning

    def _existing(self):
        """The MetalLB install already on the cluster (any namespace), or None; refuses Helm and operator."""
        from metallb_plugin.core import installation

        deployments = self.client.list("/apis/apps/v1/deployments")
        daemonsets = self.client.list("/apis/apps/v1/daemonsets")
        operator = installation.find_operator(deployments)
        found = installation.find_installation(deployments, daemonsets, namespace=self.namespace)
        if found and found.managed_by == installation.HELM:
            raise errors.PluginError(
                f"MetalLB {found.version or ''} in namespace {found.namespace} was installed with Helm (release "
                f"{found.helm_release or 'unknown'}); upgrade it with `helm upgrade` rather than mixing installers, "
                "or `helm uninstall` it first"
            )
        if operator or (found and found.managed_by == installation.OPERATOR):
            raise errors.PluginError(
                f"MetalLB is managed by metallb-operator ({operator or found.operator or found.namespace}); change "
                "its MetalLB resource instead, or remove the operator first"
            )
        if found and found.namespace != self.namespace:
            raise errors.PluginError(
                f"MetalLB {found.version or ''} already runs in namespace {found.namespace}; two installs would "
                "fight over the same Services. Remove it first (kubectl metallb uninstall -n "
                f"{found.namespace})"
            )
        return found

    def _check_kubernetes(self):
        from metallb_plugin.core import releases

        floor = None
        try:
            floor = releases.min_kubernetes(self.version) if self.version else None
        except ValueError:
            pass
        if not floor:
            return
        info = self.client.server_version()
        try:
            have = (int(info.get("major", "0")), int("".join(ch for ch in info.get("minor", "0") if ch.isdigit())))
        except ValueError:
            return
        if have < floor:
            message = (
                f"MetalLB {self.version} needs Kubernetes {floor[0]}.{floor[1]} or newer; this cluster runs "
                f"{info.get('gitVersion')}"
            )
            if not self.args.force:
                raise errors.PluginError(message + " (--force to install anyway)")
            self.ctx.say("warning: " + message)

    def _plan(self, found):
        """(action, previous version) and a confirmation when the install changes release or mode."""
        from metallb_plugin.core import releases

        previous = found.version if found else None
        if not found:
            return "install", None
        try:
            old, new = releases.parse_version(previous), releases.parse_version(self.version)
        except ValueError:
            old = new = None
        if previous == self.version and found.backend in (self.mode, "unknown"):
            return "reinstall", previous
        if old is not None and new is not None and new < old:
            action = "downgrade"
            if not self.args.force:
                raise errors.PluginError(
                    f"MetalLB {previous} is installed; {self.version} is older. Downgrades are "
                    "not supported upstream (CRDs and stored objects may not convert back); "
                    "pass --force to do it anyway"
                )
        else:
            action = "upgrade"
        change = f"from {previous or 'an unknown version'} ({found.backend}) to {self.version} ({self.mode})"
        question = f"{action.capitalize()} MetalLB in {self.namespace} {change}?"
        if self.args.dry_run:
            self.ctx.say(f"dry run: would {action} MetalLB in {self.namespace} {change}")
        elif not self.ctx.confirm(
            question, f"{question} Pass --yes to {action} (there is no terminal to ask on)", assume_yes=self.args.yes
        ):
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

    def _get_all(self, objects, paths):
        return {id(obj): self.client.get_or_none(paths[id(obj)]) for obj in objects}

    def _apply_one(self, obj, path, before):
        from metallb_plugin.core import manifests

        dry_run = self.args.dry_run
        if (
            dry_run
            and before is None
            and obj["kind"] != "Namespace"
            and manifests.KINDS[obj["kind"]][2]
            and not self._namespace_exists
        ):
            self._unchecked += 1  # the server cannot dry-run into a namespace that does not exist yet
            return "created", None
        try:
            after = self.client.apply(path, obj, force=self.args.force_conflicts, dry_run=dry_run)
        except errors.Conflict as exc:
            detail = exc.message
            if dry_run:
                self.ctx.say(f"  {manifests.describe(obj)}: {detail}")
                return "conflict", None
            raise errors.PluginError(
                f"{manifests.describe(obj)}: {detail}. Another field manager owns these fields; re-run with "
                "--force-conflicts to take them over (kubectl-metallb becomes their owner)"
            ) from None
        except errors.Invalid as exc:
            detail = exc.message
            raise errors.PluginError(f"the API server rejected {manifests.describe(obj)}: {detail}") from None
        if before is None:
            return "created", after
        if dry_run:
            return ("unchanged" if _comparable(before) == _comparable(after) else "changed"), after
        same = (before.get("metadata") or {}).get("resourceVersion") == (after.get("metadata") or {}).get(
            "resourceVersion"
        )
        return ("unchanged" if same else "changed"), after

    def _record(self, obj, result):
        from metallb_plugin.core import manifests

        ref = _ref(obj)
        self.results.append({**ref, "result": result})
        if self.args.output == "table":
            colour = {"created": self.style.green, "changed": self.style.yellow, "deleted": self.style.red}.get(
                result, lambda t: t
            )
            suffix = " (server dry run)" if self.args.dry_run and result != "deleted" else ""
            if self.args.dry_run and result == "deleted":
                suffix = " (dry run)"
            self.ctx.out(f"{manifests.describe(obj)} {colour(result)}{suffix}")

    def _wait_crds(self, crds, deadline):
        """Poll until every CRD reports Established; the newly served kinds then show up in discovery."""
        pending = {c["metadata"]["name"]: c for c in crds if not _established(c)}
        if pending:
            progress = self.ctx.progress()
            while pending:
                progress.update(f"waiting for {len(pending)} CRDs to be Established")
                for name in list(pending):
                    live = self.client.get_or_none(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                    if live and _established(live):
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
        from metallb_plugin.core import manifests

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

    def run(self):
        from metallb_plugin.core import manifests

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
                f"{exc}: the Prometheus variants need the Prometheus operator's CRDs "
                "(monitoring.coreos.com); install it first, or drop --prometheus. Nothing was "
                "changed"
            ) from None
        old_refs, _ = read_inventory(self.client, self.namespace)
        before = self._get_all(objects, paths)
        self._namespace_exists = before[id(objects[0])] is not None
        if (
            not args.force_conflicts
            and not args.dry_run
            and any(before.values())
            and (action != "reinstall" or any(b is not None and not _ours(b) for b in before.values()))
        ):
            self._conflict_check(objects, paths, before, foreign=found if found and old_refs is None else None)

        new_refs = [_ref(o) for o in objects]
        new_keys = {_ref_key(r) for r in new_refs}
        stale = [r for r in (old_refs or []) if _ref_key(r) not in new_keys]
        details = {"version": self.version or "", "mode": self.mode, "source": self.source, "sha256": self.digest}
        deadline = self.ctx.monotonic() + max(args.timeout, defaults.CRD_TIMEOUT)
        crds = []
        for obj in objects:
            result, after = self._apply_one(obj, paths[id(obj)], before[id(obj)])
            self._record(obj, result)
            if obj["kind"] == "Namespace" and not args.dry_run:
                # record what is about to be applied first, so an interrupted install can still be uninstalled
                self.client.apply(
                    f"/api/v1/namespaces/{self.namespace}/configmaps/{defaults.INVENTORY}",
                    _inventory(self.namespace, _merge_refs(old_refs, new_refs), details),
                    force=True,
                )
            if obj["kind"] == "CustomResourceDefinition":
                crds.append(after or obj)
            if crds and manifests.step(obj) == 1 and obj is _last_of_step(objects, 1) and not args.dry_run:
                self._wait_crds(crds, deadline)
        for ref in sorted(stale, key=_ref_step, reverse=True):
            self._delete_stale(ref)
        if stale and not args.dry_run:
            self.client.apply(
                f"/api/v1/namespaces/{self.namespace}/configmaps/{defaults.INVENTORY}",
                _inventory(self.namespace, new_refs, details),
                force=True,
            )

        counts = {
            k: sum(1 for r in self.results if r["result"] == k)
            for k in ("created", "changed", "unchanged", "deleted", "conflict")
        }
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
        summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n or k not in ("deleted", "conflict"))
        if counts["conflict"]:
            self._emit(doc)
            raise errors.PluginError(
                f"dry run: {counts['conflict']} object(s) conflict with other field managers (listed above); "
                "--force-conflicts would take ownership of those fields"
            )
        if args.dry_run:
            headline = f"dry run: MetalLB {self.version} ({self.mode}): {summary}; nothing was changed"
            if self._unchecked:
                headline += (
                    f" ({self._unchecked} objects in namespace {self.namespace} could not be checked by "
                    "the server: the namespace does not exist yet)"
                )
        elif action == "reinstall" and not counts["created"] and not counts["changed"] and not counts["deleted"]:
            headline = (
                f"MetalLB {self.version} ({self.mode}) is already installed in {self.namespace}: nothing "
                f"changed ({summary})"
            )
        else:
            verb = {
                "install": "installed",
                "upgrade": f"upgraded from {previous}",
                "downgrade": f"downgraded from {previous}",
                "reinstall": "re-applied",
            }[action]
            headline = f"MetalLB {self.version} ({self.mode}) {verb} in {self.namespace}: {summary}"
        self.ctx.say(headline)
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

    def _delete_stale(self, ref):
        """An object the previous install created that this release no longer has (e.g. a renamed Service)."""
        from metallb_plugin import cluster
        from metallb_plugin.core import manifests

        plural = manifests.KINDS.get(ref["kind"], (None, None))[1]
        if plural is None:
            return
        obj = {"apiVersion": ref["apiVersion"], "kind": ref["kind"], "metadata": {"name": ref["name"]}}
        path = cluster.api_path(ref["apiVersion"], plural, ref.get("namespace"), ref["name"])
        try:
            self.client.delete(path, dry_run=self.args.dry_run)
        except errors.NotFound:
            return
        if ref.get("namespace"):
            obj["metadata"]["namespace"] = ref["namespace"]
        self._record(obj, "deleted")

    # -- waiting

    def _wait_targets(self):
        """(label, check) pairs: every workload of the manifest, then every Service a webhook calls."""
        from metallb_plugin import cluster
        from metallb_plugin.core import installation

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
        for service in _webhook_services(self.manifest.objects, self.namespace):
            path = cluster.api_path("discovery.k8s.io/v1", "endpointslices", self.namespace)
            targets.append(
                (
                    f"webhook Service {service}",
                    None,
                    lambda p=path, s=service: installation.endpoints_ready(
                        self.client.list(p, label_selector=f"kubernetes.io/service-name={s}")
                    ),
                )
            )
        return targets

    def _wait_ready(self, started):
        args = self.args
        deadline = self.ctx.monotonic() + args.timeout
        pending = self._wait_targets()
        states = {}
        progress = self.ctx.progress()
        self.ctx.say(
            f"waiting up to {format_duration(args.timeout, short=True)} for MetalLB to serve (--timeout; --no-wait skips this)"
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
        from metallb_plugin import cluster
        from metallb_plugin.core import installation

        pods = self.client.list(cluster.api_path("v1", "pods", self.namespace))
        events = self.client.list(cluster.api_path("v1", "events", self.namespace))
        parts = []
        for label, obj, _ in pending:
            why = states[label]
            if obj is not None:
                why += "; " + installation.why_not_ready(obj, pods, events)
            else:
                why += " (the controller Pod that serves the webhook is not ready)" if "controller" not in why else ""
            parts.append(f"{label}: {why}")
        return (
            f"MetalLB is not ready after {format_duration(self.args.timeout, short=True)}: "
            + "; ".join(parts)
            + f". Look at `kubectl -n {self.namespace} get pods,events`"
        )


def _webhook_services(objects, namespace):
    """Names of the Services the manifest's webhooks call (validating webhooks and CRD conversion), in order."""
    names = []
    for obj in objects:
        configs = []
        if obj["kind"] == "ValidatingWebhookConfiguration":
            configs = [hook.get("clientConfig") or {} for hook in obj.get("webhooks") or []]
        elif obj["kind"] == "CustomResourceDefinition":
            conversion = (obj.get("spec") or {}).get("conversion") or {}
            configs = [((conversion.get("webhook") or {}).get("clientConfig")) or {}]
        for config in configs:
            service = config.get("service") or {}
            if (
                service.get("name")
                and service.get("namespace", namespace) == namespace
                and service["name"] not in names
            ):
                names.append(service["name"])
    return names


def _established(crd):
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


def _ours(obj):
    from metallb_plugin.cluster import FIELD_MANAGER

    return any(
        m.get("manager") == FIELD_MANAGER and m.get("operation") == "Apply"
        for m in (obj.get("metadata") or {}).get("managedFields") or []
    )


def _last_of_step(objects, step):
    from metallb_plugin.core import manifests

    return [o for o in objects if manifests.step(o) == step][-1]


def _ref_step(ref):
    from metallb_plugin.core import manifests

    return manifests.KINDS.get(ref["kind"], (None, None, None, 0))[3]


def _merge_refs(old, new):
    seen, merged = set(), []
    for ref in list(new) + list(old or []):
        if _ref_key(ref) not in seen:
            seen.add(_ref_key(ref))
            merged.append(ref)
    return merged

"""Check MetalLB's configuration as a whole: findings with stable codes, the objects and fields involved, and fixes.

Every finding has a code (MLB0101, ...), a level (error, warning, info), the objects and field paths it is
about, what is wrong and how to fix it; each code has a page section (docs/analyzers.md) linked from -o json.

examples:
  kubectl metallb analyze                                  # the live cluster
  kubectl metallb analyze -f metallb/ -R                   # files only: no cluster needed (GitOps, CI)
  kubectl metallb analyze -f pool.yaml --overlay           # a change checked against the cluster before applying it
  kubectl metallb analyze --failure-threshold warning -o json

Offline (-f without --overlay) the files are the whole MetalLB configuration; kinds they lack (Nodes, Services,
Secrets, ...) are unknown and the rules that need them are skipped, saying so. --backend tells the BGP backend
when no MetalLB installation is found (files without MetalLB's manifest).

exit codes: 0 no finding at or above --failure-threshold, 1 some finding reaches it, 2 bad flags or files,
3 the cluster cannot be reached.
"""

import os

from metallb_plugin import errors, reading
from metallb_plugin.commands import read_manifest
from metallb_plugin.core import analyze as core
from metallb_plugin.core import manifests
from metallb_plugin.core.analyze import files
from metallb_plugin.core.view import CLUSTER_SOURCES, METALLB_KINDS, NAMESPACE_SOURCES, Facts, locate
from metallb_plugin.errors import ExitCode

EXTENSIONS = (".yaml", ".yml", ".json")
# announceFailed events and ServiceL2Statuses tell which Services an L2Advertisement's interfaces keep unannounced
CLUSTER_KEYS = (
    "deployments",
    "daemonsets",
    "services",
    "nodes",
    "servicecidrs",
    "serviceEvents",
    "servicel2statuses",
) + files.CONFIG_KEYS
NAMESPACE_KEYS = ("secrets", "configmaps")
ANNOUNCE_FAILED_EVENTS = "involvedObject.kind=Service,reason=announceFailed"


def add_arguments(parser):
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        metavar="FILE|DIR|-",
        help="YAML or JSON files, directories of them, or - for standard input (repeatable); without --overlay "
        "the cluster is not contacted",
    )
    parser.add_argument("-R", "--recursive", action="store_true", help="read the directories given with -f recursively")
    parser.add_argument(
        "--overlay",
        action="store_true",
        help="analyze the cluster with the -f objects applied over it (nothing is written)",
    )
    parser.add_argument(
        "--backend", choices=core.BACKENDS, help="MetalLB's BGP backend, when no installation is found to tell it"
    )
    parser.add_argument(
        "--failure-threshold",
        choices=core.LEVELS,
        default=core.ERROR,
        help="exit 1 when a finding is at least this severe (default error)",
    )
    parser.add_argument(
        "--skip-check",
        action="append",
        default=[],
        metavar="CODE",
        help="do not run this rule (repeatable), e.g. MLB0605",
    )


def _options(args):
    unknown = sorted({c.upper() for c in args.skip_check} - set(core.CODES))
    if unknown:
        raise errors.UsageError(
            f"--skip-check {', '.join(unknown)}: no such code; the codes are {', '.join(core.CODES)}"
        )
    if args.overlay and not args.filename:
        raise errors.UsageError("--overlay needs the files to lay over the cluster: add -f FILE|DIR")


def run(args, ctx):
    _options(args)
    objects = read_files(args, ctx) if args.filename else []
    where = "the files"
    if args.filename and not args.overlay:
        facts, ignored = files.offline_facts(objects, args.namespace, args.namespace_given)
    else:
        client = ctx.connect(args)
        facts = gather(client, args)
        ignored = files.overlay(facts, objects) if args.overlay else []
        where = f'context "{client.target.context}"' + (" with the files laid over it" if args.overlay else "")
    facts.now = ctx.now()
    if ignored and args.verbose:
        ctx.say(f"not analyzed (kinds the analyzer does not read): {', '.join(ignored)}")
    analysis = core.analyze(core.Model(facts, backend=args.backend), skip={c.upper() for c in args.skip_check})
    ctx.emit(
        analysis.to_document(args.failure_threshold),
        args.output,
        lambda doc: text(doc, where, ctx.style(args.no_color)),
    )
    return ExitCode.FAILED if analysis.reaches(args.failure_threshold) else ExitCode.OK


# --------------------------------------------------------------------------------------------- reading


def _sources(table, keys):
    """The status Sources of these keys, none of them required (an unreadable kind skips the rules needing it)."""
    from dataclasses import replace

    return tuple(replace(s, required=False) for s in table if s.key in keys)


def gather(client, args):
    """The cluster's snapshot of what the rules read: one LIST per kind, in parallel."""
    facts = Facts(namespace=args.namespace, namespace_given=args.namespace_given)
    reading.read_snapshot(
        client, _sources(CLUSTER_SOURCES, CLUSTER_KEYS), facts, {"service_events": ANNOUNCE_FAILED_EVENTS}
    )
    served = frozenset(k for k in METALLB_KINDS if facts.objects.get(k) is not None)
    facts.metallb_served = served or None
    locate(facts)
    reading.read_snapshot(client, _sources(NAMESPACE_SOURCES, NAMESPACE_KEYS), facts, {})
    return facts


def _paths(args):
    """Every file -f names, directories expanded (recursively with -R), in a stable order."""
    for given in args.filename:
        if given == "-" or not os.path.isdir(given):
            yield given
            continue
        for top, dirs, names in os.walk(given):
            dirs[:] = sorted(dirs) if args.recursive else []
            for found in sorted(names):
                if found.endswith(EXTENSIONS):
                    yield os.path.join(top, found)


def read_files(args, ctx):
    """The objects of every file -f names; UsageError naming the file that cannot be read or parsed."""
    objects = []
    for path in _paths(args):
        data = read_manifest(path, ctx, flag="-f")
        source = "standard input" if path == "-" else path
        try:
            objects += manifests.parse(data, source=source, lists=True)
        except manifests.ManifestError as exc:
            raise errors.UsageError(f"-f: {exc}") from None
    return objects


# --------------------------------------------------------------------------------------------- output

SYMBOLS = {core.ERROR: "×", core.WARNING: "‼", core.INFO: "i"}


def text(doc, where, style):
    colours = {core.ERROR: style.red, core.WARNING: style.yellow, core.INFO: style.dim}
    metallb = doc["metallb"]
    about = (
        f"MetalLB {metallb['version'] or '(untagged)'}, {metallb['backend']} backend" if metallb else "no MetalLB found"
    )
    lines = [style.bold(f"Analyzing MetalLB's configuration in namespace {doc['namespace']} ({where}; {about})"), ""]
    for item in doc["findings"]:
        level = item["level"]
        lines.append(f"{colours[level](SYMBOLS[level])} {item['code']} {item['message']}")
        lines += [f"    {_ref(r)}" for r in item["objects"]]
        lines += [f"    fix: {item['fix']}", f"    see {item['documentation']}", ""]
    if not doc["findings"]:
        lines += ["no findings", ""]
    by_reason = {}
    for skipped in doc["skipped"]:
        by_reason.setdefault(skipped["reason"], []).append(skipped["code"])
    for reason, codes in by_reason.items():
        lines.append(f"{style.dim('-')} skipped {', '.join(codes)}: {reason}")
    if by_reason:
        lines.append("")
    counts = ", ".join(
        f"{n} {level}{'' if n == 1 or level == core.INFO else 's'}" for level, n in doc["counts"].items()
    )
    verdict = style.green("√") if doc["success"] else style.red("×")
    lines.append(f"{verdict} {counts} (failure threshold: {doc['threshold']})")
    return "\n".join(lines) + "\n"


def _ref(ref):
    where = f"{ref['namespace']}/{ref['name']}" if ref["namespace"] else ref["name"]
    return f"{ref['kind']} {where}" + (f" {ref['field']}" if ref["field"] else "")

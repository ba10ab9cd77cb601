"""Print a shell completion script.

bash, zsh and fish complete the kubectl-metallb command itself. `kubectl metallb <TAB>` is completed by kubectl
(1.26 or newer, with kubectl's own completion loaded): it runs an executable called kubectl_complete-metallb from
PATH, which `completion kubectl` prints. krew cannot install that second file, so put it next to the plugin.

examples:
  source <(kubectl metallb completion bash)                                   # bash, in ~/.bashrc
  kubectl metallb completion zsh > "${fpath[1]}/_kubectl-metallb"             # zsh
  kubectl metallb completion fish > ~/.config/fish/completions/kubectl-metallb.fish
  kubectl metallb completion kubectl > "${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-metallb"
  chmod +x "${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-metallb"           # kubectl metallb <TAB>

Candidates come from the plugin's own flags; pool names, namespaces and kubeconfig contexts are looked up on the
fly (the cluster gets at most 2 seconds, and a failure just means no candidates).
"""

import os
import threading

from metallb_plugin import defaults
from metallb_plugin.core.completion_scripts import KUBECTL_HOOK, SCRIPTS  # noqa: F401  (KUBECTL_HOOK: krew's tests)

SHELLS = ("bash", "zsh", "fish", "kubectl")
OUTPUTS = ("table",)  # a script: -o json or yaml does not apply
TIME_BOX = 2.0  # seconds for a cluster lookup while the user waits at the prompt


def add_arguments(parser):
    parser.add_argument(
        "shell",
        choices=SHELLS,
        help="bash, zsh or fish: completion of kubectl-metallb; kubectl: the "
        "kubectl_complete-metallb executable for `kubectl metallb <TAB>` (kubectl >= 1.26)",
    )


def run(args, ctx):
    ctx.stdout.write(SCRIPTS[args.shell])
    return 0


# --------------------------------------------------------------------------------------------- __complete


def complete(words, ctx):
    """`kubectl-metallb __complete WORDS... CURRENT`: print candidates, then :<directive>. Never fails loudly."""
    from metallb_plugin import cli
    from metallb_plugin.core import completion

    words = list(words) or [""]
    try:
        answer = completion.complete(cli.build_parser(), words[:-1], words[-1])
    except Exception:  # a completion must never print a traceback into the user's prompt
        ctx.stdout.write(completion.render([], completion.ERROR))
        return 0
    candidates = answer.candidates
    finished = True
    if answer.source:
        _silence_stderr()  # client warnings and credential plugins must not scribble over the prompt
        ctx.interactive = False  # nor may a credential plugin ask for a login at the prompt
        names, finished = _fetch(ctx, answer.source, answer.global_argv)
        candidates = completion.matching(sorted(names), answer.prefix)
    ctx.stdout.write(completion.render(candidates, answer.directive))
    ctx.stdout.flush()
    if not finished:  # a lookup is still waiting on the network or on a credential plugin: do not wait for it
        from metallb_plugin import credentials

        credentials.stop_all()
        os._exit(0)
    return 0


def _silence_stderr():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _fetch(ctx, source, global_argv, timeout=TIME_BOX):
    """Names from the kubeconfig or the cluster, or nothing after `timeout` seconds or on any failure."""
    found = []

    def work():
        try:
            found.extend(SOURCES[source](ctx, global_argv, timeout))
        except BaseException:
            found.clear()

    thread = threading.Thread(target=work, name=f"complete-{source}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return [], False
    return list(found), True


def _options(global_argv, timeout):
    from metallb_plugin import cli

    _, args = cli.parse([*global_argv, "version"])
    if not args.request_timeout or args.request_timeout > timeout:
        args.request_timeout = timeout
    return args


def _kubeconfig_names(section):
    def names(ctx, global_argv, timeout):
        from metallb_plugin import connection
        from metallb_plugin.core import kubeconfig

        args = _options(global_argv, timeout)
        files = connection.kubeconfig_files(args.kubeconfig, ctx.environ)
        merged = kubeconfig.merge([(path, connection.read_kubeconfig(path)) for path in files])
        return [item["name"] for item in merged[section]]

    return names


def _cluster_names(api_version, plural, namespaced):
    def names(ctx, global_argv, timeout):
        from metallb_plugin import cluster

        args = _options(global_argv, timeout)
        client = ctx.connect(args)
        path = cluster.api_path(api_version, plural, args.namespace if namespaced else None)
        return [item["metadata"]["name"] for item in client.list(path)]

    return names


SOURCES = {
    "contexts": _kubeconfig_names("contexts"),
    "clusters": _kubeconfig_names("clusters"),
    "users": _kubeconfig_names("users"),
    "namespaces": _cluster_names("v1", "namespaces", namespaced=False),
    "pools": _cluster_names(defaults.V1BETA1, "ipaddresspools", namespaced=True),
}

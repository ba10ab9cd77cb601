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

SHELLS = ("bash", "zsh", "fish", "kubectl")
TIME_BOX = 2.0  # seconds for a cluster lookup while the user waits at the prompt

KUBECTL_HOOK = """\
#!/bin/sh
# kubectl (1.26 or newer) runs this for `kubectl metallb <TAB>`, with the words typed so far, when it is on PATH
# as kubectl_complete-metallb (next to kubectl-metallb, e.g. in ${KREW_ROOT:-~/.krew}/bin). The plugin answers
# with one candidate per line and a final :<directive> line (cobra's completion protocol).
here=$(dirname "$0")
if [ -x "$here/kubectl-metallb" ]; then
  exec "$here/kubectl-metallb" __complete "$@"
fi
if command -v kubectl-metallb >/dev/null 2>&1; then
  exec kubectl-metallb __complete "$@"
fi
echo ":4"
"""

BASH = r"""# bash completion for kubectl-metallb; load it with: source <(kubectl-metallb completion bash)
# (`kubectl metallb <TAB>` goes through kubectl's own completion and kubectl_complete-metallb instead.)
_kubectl_metallb() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: cur words cword
    else
        cur=${COMP_WORDS[COMP_CWORD]} words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi
    local out line directive=0
    local -a found=()
    out=$("${words[0]}" __complete "${words[@]:1:cword-1}" "$cur" 2>/dev/null) || return 0
    while IFS= read -r line; do
        case $line in
            :[0-9]*) directive=${line#:} ;;
            "") ;;
            *) found+=("${line%%$'\t'*}") ;;
        esac
    done <<<"$out"
    (( directive & 1 )) && return 0
    [[ $cur == -*=* ]] && cur=${cur#*=}
    if (( ${#found[@]} == 0 )); then
        if (( directive & 4 )); then
            type compopt >/dev/null 2>&1 && compopt +o default
        fi
        return 0
    fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "${found[*]}" -- "$cur"))
    if (( directive & 2 )) && type compopt >/dev/null 2>&1; then
        compopt -o nospace
    fi
    if declare -F __ltrim_colon_completions >/dev/null 2>&1; then
        __ltrim_colon_completions "$cur"
    fi
}
complete -o default -F _kubectl_metallb kubectl-metallb
"""

ZSH = r"""#compdef kubectl-metallb
# zsh completion for kubectl-metallb: save as _kubectl-metallb in a directory of $fpath, or source it.
# (`kubectl metallb <TAB>` goes through kubectl's own completion and kubectl_complete-metallb instead.)
_kubectl-metallb() {
    local cur=${words[CURRENT]} out line value description directive=0
    local -a found options
    out=$(${words[1]} __complete "${(@)words[2,CURRENT-1]}" "$cur" 2>/dev/null) || return 1
    for line in "${(@f)out}"; do
        if [[ $line =~ '^:[0-9]+$' ]]; then
            directive=${line#:}
        elif [[ -n $line ]]; then
            value=${line%%$'\t'*}
            description=
            [[ $line == *$'\t'* ]] && description=${line#*$'\t'}
            found+=("${value//:/\\:}${description:+:$description}")
        fi
    done
    (( directive & 1 )) && return 1
    [[ $cur == -*=* ]] && options+=(-P "${cur%%=*}=")
    (( directive & 2 )) && options+=(-S '')
    if (( ${#found} )); then
        if (( directive & 32 )); then
            _describe -V 'values' found "${options[@]}"
        else
            _describe 'values' found "${options[@]}"
        fi
    elif (( ! (directive & 4) )); then
        _files
    fi
}
if [[ "${funcstack[1]}" == "_kubectl-metallb" ]]; then
    _kubectl-metallb "$@"
else
    compdef _kubectl-metallb kubectl-metallb
fi
"""

FISH = r"""# fish completion for kubectl-metallb; save as ~/.config/fish/completions/kubectl-metallb.fish
# (`kubectl metallb <TAB>` goes through kubectl's own completion and kubectl_complete-metallb instead.)
function __kubectl_metallb_prepare
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -g __kubectl_metallb_results
    set -l out ($tokens[1] __complete $tokens[2..-1] "$current" 2>/dev/null)
    or return 0
    set -l directive 0
    if test (count $out) -gt 0; and string match -qr '^:[0-9]+$' -- $out[-1]
        set directive (string sub -s 2 -- $out[-1])
        set -e out[-1]
    end
    test (math "bitand($directive, 1)") -ne 0; and return 0
    set -l prefix
    string match -qr -- '^-.*=' $current; and set prefix (string replace -r -- '=.*' '=' $current)
    for line in $out
        test -n "$line"; and set -a __kubectl_metallb_results "$prefix$line"
    end
    # no candidates and no NoFileComp bit: let fish complete file names
    test (count $__kubectl_metallb_results) -gt 0; or test (math "bitand($directive, 4)") -ne 0
end
complete -c kubectl-metallb -e
complete -c kubectl-metallb -n __kubectl_metallb_prepare -f -a '$__kubectl_metallb_results'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH, "kubectl": KUBECTL_HOOK}


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
        names, finished = _fetch(ctx, answer.source, answer.global_argv)
        candidates = completion.matching(sorted(names), answer.prefix)
    ctx.stdout.write(completion.render(candidates, answer.directive))
    ctx.stdout.flush()
    if not finished:
        os._exit(0)  # a lookup thread is still waiting on the network: do not wait for it
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

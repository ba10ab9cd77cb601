"""The completion scripts `kubectl metallb completion SHELL` prints: each calls `kubectl-metallb __complete` (cobra's
protocol, answered by core/completion.py) and shows its candidates."""

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

"""Shell completion candidates, derived from the real argparse tree so they never drift from the flags.

Pure: walks an argparse parser, never reads files or the cluster. What only the cluster or the kubeconfig can
answer (pool names, namespaces, contexts) comes back as a named *source* that the caller resolves
(commands/completion.py does it, time-boxed) and then filters with `matching()`.

The answer follows cobra's `__complete` protocol, which kubectl (>= 1.26) uses for plugins through the
`kubectl_complete-metallb` executable: one candidate per line (`value<TAB>description`), then `:<directive>`.

    answer = complete(parser, args, to_complete)   # args: the words before the one being completed
    answer.candidates   [(value, description)], already filtered by to_complete
    answer.source       None, or "pools" | "namespaces" | "contexts" | "clusters" | "users"
    answer.global_argv  the kubectl global flags typed so far (["--context", "x", "-n", "y"]), for the source
    answer.prefix       what source values must start with
    render(candidates, directive) -> text

A command can steer value completion of one of its arguments by setting `action.completer` on the argparse
action to a source name ("pools", ...), or to a list of values.
"""

import argparse
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional, Set, Tuple

from metallb_plugin.core import releases

# cobra's ShellCompDirective bits
ERROR = 1
NO_SPACE = 2
NO_FILE_COMP = 4
FILTER_FILE_EXT = 8
FILTER_DIRS = 16
KEEP_ORDER = 32
DEFAULT = 0  # the shell falls back to file names

DYNAMIC_SOURCES = ("pools", "namespaces", "contexts", "clusters", "users")

# value sources chosen by an argument's dest when the command did not set action.completer
_BY_DEST = {
    "context": "contexts",
    "cluster": "clusters",
    "user": "users",
    "namespace": "namespaces",
    "pool": "pools",
    "pools": "pools",
    "release": "versions",
}
_FILE_WORDS = ("FILE", "PATH", "DIR")
_POOL_NAME_DESTS = ("name", "names", "pool", "pools")


@dataclass
class Answer:
    candidates: List[Tuple[str, str]] = field(default_factory=list)
    directive: int = NO_FILE_COMP
    source: Optional[str] = None
    prefix: str = ""
    global_argv: List[str] = field(default_factory=list)


def render(candidates: Iterable[Tuple[str, Optional[str]]], directive: int) -> str:
    """The protocol text: `value<TAB>description` lines, then `:<directive>`."""
    lines = []
    for value, description in candidates:
        description = " ".join((description or "").split())
        lines.append(f"{value}\t{description}" if description else value)
    lines.append(f":{directive}")
    return "\n".join(lines) + "\n"


def matching(values: Iterable[str], prefix: str) -> List[Tuple[str, str]]:
    """(value, "") pairs for the values that start with prefix, without duplicates, in their order."""
    seen: Set[str] = set()
    found: List[Tuple[str, str]] = []
    for value in values:
        if value.startswith(prefix) and value not in seen:
            seen.add(value)
            found.append((value, ""))
    return found


# ------------------------------------------------------------------------------------------- argparse tree


def _subparsers(parser: argparse.ArgumentParser) -> Optional[Any]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _options(parser: argparse.ArgumentParser) -> List[argparse.Action]:
    return [a for a in parser._actions if a.option_strings]


def _positionals(parser: argparse.ArgumentParser) -> List[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _repeatable(action: argparse.Action) -> bool:
    return isinstance(action, (argparse._AppendAction, argparse._CountAction, argparse._ExtendAction))


def _help_of(action: argparse.Action) -> Optional[str]:
    text = action.help or ""
    if text == argparse.SUPPRESS:
        return None
    if "%(" in text:
        try:
            text = text % {"default": action.default, "prog": "", "choices": action.choices}
        except (KeyError, TypeError, ValueError):
            pass
    return text


def _option_name(word: str) -> str:
    return word.partition("=")[0] if word.startswith("--") else word[:2]


def _find_option(parser: argparse.ArgumentParser, word: str) -> Tuple[Optional[argparse.Action], Optional[str]]:
    """(action, attached value or None) for a flag word: --flag, --flag=value, -f, -fvalue."""
    table = parser._option_string_actions
    name, eq, value = word.partition("=")
    if word.startswith("--"):
        action = table.get(name)
        return action, (value if eq else None)
    if word in table:
        return table[word], None
    if len(word) > 2 and word[:2] in table:  # -ojson, or -vv for a count flag
        action = table[word[:2]]
        if _takes_value(action):
            return action, word[2:].lstrip("=")
        return action, None
    return None, None


def _names_existing_pool(action: argparse.Action, path: List[str]) -> bool:
    """The NAME argument of `pools delete NAME` and the like (not of `pools create NAME`)."""
    return (
        path[:1] == ["pools"]
        and path[1:2] != ["create"]
        and not action.option_strings
        and action.dest in _POOL_NAME_DESTS
    )


@dataclass
class _State:
    parser: argparse.ArgumentParser
    path: List[str]
    used: Set[argparse.Action]
    positional: int = 0
    pending: Optional[argparse.Action] = None  # a flag still waiting for its value
    global_argv: List[str] = field(default_factory=list)
    root_flags: Set[str] = field(default_factory=set)
    only_positionals: bool = False  # after "--"


def _walk(root: argparse.ArgumentParser, args: List[str]) -> _State:
    root_flags = {
        s
        for a in _options(root)
        for s in a.option_strings
        if not isinstance(a, (argparse._HelpAction, argparse._VersionAction))
    }
    state = _State(parser=root, path=[], used=set(), root_flags=root_flags)
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if not state.only_positionals and word == "--":
            state.only_positionals = True
            continue
        if not state.only_positionals and word.startswith("-") and word != "-":
            action, attached = _find_option(state.parser, word)
            if action is None:
                continue  # unknown flag: the command will complain; keep completing the rest
            state.used.add(action)
            consumed = [word]
            if _takes_value(action) and attached is None:
                if index == len(args):
                    state.pending = action
                    break
                consumed.append(args[index])
                index += 1
            if _option_name(word) in root_flags:
                state.global_argv += consumed
            continue
        sub = _subparsers(state.parser)
        if sub is not None and word in sub.choices:
            state.parser = sub.choices[word]
            state.path.append(word)
            state.positional = 0
            state.used = set()
            continue
        state.positional += 1
    return state


# ------------------------------------------------------------------------------------------- candidates


def _values(action: argparse.Action, path: List[str], prefix: str) -> Answer:
    """Answer for the value of an option or a positional."""
    completer = getattr(action, "completer", None)
    if isinstance(completer, (list, tuple)):
        return Answer(matching(completer, prefix))
    if completer in DYNAMIC_SOURCES:
        return Answer(source=completer, prefix=prefix)
    if action.choices:
        return Answer(matching([str(c) for c in action.choices], prefix))
    source = _BY_DEST.get(action.dest)
    if source is None and "--version" in action.option_strings:
        source = "versions"
    if source is None and _names_existing_pool(action, path):
        source = "pools"
    if source == "versions":
        return Answer(matching(list(reversed(releases.TAGS)), prefix), directive=NO_FILE_COMP | KEEP_ORDER)
    if source is not None:
        return Answer(source=source, prefix=prefix)
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    if "file" in action.dest or any(w in metavar.upper() for w in _FILE_WORDS):
        return Answer(directive=DEFAULT)  # let the shell complete file names
    return Answer()


def _flags(state: _State, prefix: str) -> List[Tuple[str, str]]:
    """The command's own flags first, then kubectl's global flags, then help."""
    own: List[Tuple[str, str]] = []
    shared: List[Tuple[str, str]] = []
    last: List[Tuple[str, str]] = []
    for action in _options(state.parser):
        description = _help_of(action)
        if description is None:
            continue
        if action in state.used and not _repeatable(action):
            continue
        if isinstance(action, argparse._HelpAction):
            group = last
        elif state.path and set(action.option_strings) & state.root_flags:
            group = shared
        else:
            group = own
        for option in action.option_strings:
            if prefix.startswith("--") and not option.startswith("--"):
                continue
            if prefix in ("", "-") or option.startswith(prefix):
                group.append((option, description))
    return own + shared + last


def _next_positional(state: _State) -> Optional[argparse.Action]:
    position = 0
    for action in _positionals(state.parser):
        if action.nargs in ("*", "+", argparse.REMAINDER):
            return action
        count = 1 if action.nargs in (None, "?") else int(action.nargs)
        if state.positional < position + count:
            return action
        position += count
    return None


def complete(parser: argparse.ArgumentParser, args: Iterable[str], to_complete: str) -> Answer:
    """Candidates for the word to_complete, after the words args (not including the program name)."""
    state = _walk(parser, list(args))
    if state.pending is not None:
        answer = _values(state.pending, state.path, to_complete)
    elif state.only_positionals:
        action = _next_positional(state)
        answer = _values(action, state.path, to_complete) if action is not None else Answer()
    elif to_complete.startswith("-") and "=" in to_complete:
        action, value = _find_option(state.parser, to_complete)
        # cobra's convention for --flag=<TAB>: the values alone; the shell script keeps the "--flag=" part
        answer = _values(action, state.path, value or "") if action is not None and _takes_value(action) else Answer()
    elif to_complete.startswith("-"):
        answer = Answer(_flags(state, to_complete))
    else:
        sub = _subparsers(state.parser)
        if sub is not None:
            helps = {a.dest: a.help for a in sub._choices_actions}
            answer = Answer(
                [
                    (name, helps.get(name, ""))
                    for name in sub.choices
                    if name.startswith(to_complete) and not name.startswith("_")
                ]
            )
        else:
            action = _next_positional(state)
            answer = _values(action, state.path, to_complete) if action is not None else Answer()
    answer.global_argv = state.global_argv
    return answer

"""kube-proxy's configuration text: read it safely, and change ipvs.strictARP byte for byte (pure).

Only the one value changes: comments, key order, quoting and line endings are kept, and the edit is verified by
reading the result back. YAML that aliases blow up past MAX_VALUES is refused.
"""

from typing import Any, Dict, List, Optional, Tuple

MAX_VALUES = 100_000  # after YAML aliases are expanded; a real configuration has well under a hundred
SHOWN_VALUES = 20  # a value quoted in an error message


class ConfigError(ValueError):
    """kube-proxy's configuration text cannot be read or safely edited; the message names the problem."""


# --------------------------------------------------------------------------------------------- reading


def read_config(text: str) -> Tuple[str, bool]:
    """(configured mode, strictARP) from a KubeProxyConfiguration text; ConfigError when it cannot be read.

    configured mode is the raw string ("" when absent or empty); strictARP is False when absent (the default).
    """
    mode, strict, _ = _read(text)
    return mode, strict


def written_strict_arp(text: str) -> Any:
    """ipvs.strictARP exactly as written: True / False, None when absent (kube-proxy's default, false), or the
    text of anything else (e.g. a quoted "true"). ConfigError when the text cannot be read."""
    document, _ = _load_target(text)
    ipvs = document.get("ipvs")
    strict = ipvs.get("strictARP") if isinstance(ipvs, dict) else None
    return strict if strict is None or isinstance(strict, bool) else str(strict)


def _read(text: str) -> Tuple[str, bool, List[str]]:
    """(configured mode, strictARP, notes)."""
    document, _ = _load_target(text)
    notes: List[str] = []
    mode = document.get("mode")
    if mode is None:
        mode = ""
    if not isinstance(mode, str):
        raise ConfigError(f"`mode` is {_shown(mode)}, not a string")
    ipvs = document.get("ipvs")
    if ipvs is None:
        return mode, False, notes
    if not isinstance(ipvs, dict):
        raise ConfigError(f"`ipvs` is {type(ipvs).__name__} {_shown(ipvs)}, not a mapping")
    strict = ipvs.get("strictARP", False)
    if strict is None:
        strict = False
    if isinstance(strict, str) and strict.strip().lower() in ("true", "false"):
        notes.append(
            f'ipvs.strictARP is the quoted string "{strict}"; kube-proxy expects a YAML boolean '
            "(--enable / --disable write one)"
        )
        strict = strict.strip().lower() == "true"
    if not isinstance(strict, bool):
        raise ConfigError(f"ipvs.strictARP is {_shown(strict)}, not true or false")
    return mode, strict, notes


def _shown(value: Any) -> str:
    """A value as written when it is small; a big mapping or list only by its type (YAML aliases can make one
    gigantic, and its repr with it)."""
    try:
        _check_size(value, limit=SHOWN_VALUES)
    except ConfigError:
        return f"(a {type(value).__name__} of more than {SHOWN_VALUES} values)"
    return repr(value)


def _load_target(text: str) -> Tuple[Dict[str, Any], int]:
    """(the KubeProxyConfiguration document as data, its index among the YAML documents)."""

    if not isinstance(text, str) or not text.strip():
        raise ConfigError("the configuration is empty")
    documents = _safe_load_all(text)
    index = _target_index(documents)
    return documents[index], index


def _target_index(documents: List[Any]) -> int:
    kinds = [i for i, d in enumerate(documents) if isinstance(d, dict) and d.get("kind") == "KubeProxyConfiguration"]
    if len(kinds) > 1:
        raise ConfigError("the configuration holds more than one KubeProxyConfiguration document")
    if kinds:
        return kinds[0]
    mappings = [i for i, d in enumerate(documents) if isinstance(d, dict)]
    if len(mappings) == 1 and not documents[mappings[0]].get("kind"):
        return mappings[0]
    if not mappings:
        raise ConfigError("the configuration is not a YAML mapping (no KubeProxyConfiguration found)")
    raise ConfigError("no KubeProxyConfiguration document found in the configuration")


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"not valid YAML: {problem}{where}"


# --------------------------------------------------------------------------------------------- the text edit


def set_strict_arp(text: str, value: bool) -> str:
    """`text` with ipvs.strictARP set to `value` (a bool); every other byte stays as it was.

    The change is one splice into the text: the value of `strictARP` is replaced, or `strictARP` is added under
    `ipvs:`, or `ipvs:` is added to the KubeProxyConfiguration document. Comments, key order, quoting, line endings
    and other YAML documents are untouched. The result is parsed again and must equal the original data with
    exactly that one value changed; otherwise ConfigError, and the caller writes nothing. Returns `text` itself
    when strictARP already has that value.
    """
    import yaml

    if not isinstance(value, bool):
        raise TypeError("value must be a bool")
    _, _, _ = _read(text)  # the same checks (and messages) as reading
    before = _safe_load_all(text)
    _check_size(before)  # the edit is verified on an alias-free copy: refuse to expand an alias bomb
    index = _target_index(before)
    ipvs = before[index].get("ipvs")
    current = ipvs.get("strictARP") if isinstance(ipvs, dict) else None
    if current is value or (current is None and value is False):  # absent means false, kube-proxy's default
        return text
    try:
        root = list(yaml.compose_all(text, Loader=yaml.SafeLoader))[index]
    except yaml.YAMLError as exc:  # pragma: no cover - safe_load_all above accepted the same text
        raise ConfigError(_yaml_problem(exc)) from None
    start, end, replacement = _splice(text, root, "true" if value else "false")
    edited = text[:start] + replacement + text[end:]
    _verify(before, edited, index, value)
    return edited


def _safe_load_all(text: str) -> List[Any]:
    import yaml

    from metallb_plugin.core import yamlsafe

    try:
        yamlsafe.check(text, fast=False)  # bounded depth before the recursive composer runs
        return list(yaml.safe_load_all(text))
    except yamlsafe.TooDeep as exc:
        raise ConfigError(f"the configuration is {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc)) from None


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _pairs(mapping: Any, key: str) -> Any:
    """The (key node, value node) pairs of a MappingNode whose key is `key`; refuses merge keys and duplicates."""
    found = []
    for k, v in mapping.value:
        if k.tag == "tag:yaml.org,2002:merge":
            raise ConfigError("the configuration uses YAML merge keys (<<); edit it by hand")
        if getattr(k, "value", None) == key and k.tag == "tag:yaml.org,2002:str":
            found.append((k, v))
    if len(found) > 1:
        raise ConfigError(f"`{key}` appears more than once in the same mapping")
    return found[0] if found else None


def _splice(text: str, root: Any, literal: str) -> Tuple[int, int, str]:
    """(start, end, replacement) of the one change that sets ipvs.strictARP to `literal`."""
    from yaml.nodes import MappingNode, ScalarNode

    ipvs = _pairs(root, "ipvs")
    if ipvs is None:
        return _insert_entry(
            text,
            root,
            "ipvs",
            f"{{strictARP: {literal}}}",
            ["ipvs:", " " * _indent_step(root) + f"strictARP: {literal}"],
        )
    _, node = ipvs
    if isinstance(node, ScalarNode):  # `ipvs:`, `ipvs: null`, `ipvs: ~` (_read refused anything else)
        return _replace_scalar(text, node, f"{{strictARP: {literal}}}")
    if not isinstance(node, MappingNode):
        raise ConfigError("`ipvs` is not a mapping")
    strict = _pairs(node, "strictARP")
    if strict is None:
        return _insert_entry(text, node, "strictARP", literal, [f"strictARP: {literal}"])
    _, value = strict
    if not isinstance(value, ScalarNode):
        raise ConfigError("ipvs.strictARP is not a plain value")
    return _replace_scalar(text, value, literal)


def _replace_scalar(text: str, node: Any, literal: str) -> Tuple[int, int, str]:
    start, end = node.start_mark.index, node.end_mark.index
    if start == end:  # an empty value right after the colon: keep a space between them
        return start, end, " " + literal
    return start, end, literal


def _indent_step(mapping: Any) -> int:
    """How far nested block mappings are indented relative to their parent in this document (default 2)."""
    from yaml.nodes import MappingNode

    column = mapping.value[0][0].start_mark.column if mapping.value else 0
    for _, value in mapping.value:
        if isinstance(value, MappingNode) and not value.flow_style and value.value:
            step = value.value[0][0].start_mark.column - column
            if step > 0:
                return int(step)
    return 2


def _insert_entry(text: str, mapping: Any, key: str, flow_value: str, block_lines: List[str]) -> Tuple[int, int, str]:
    """Add `key` to a mapping: in a flow mapping after `{`; in a block mapping at its sorted place (kubeadm writes
    keys alphabetically), else after a last single-line entry, else before the first key."""
    from yaml.nodes import ScalarNode

    if mapping.flow_style or not mapping.value:
        start = mapping.start_mark.index
        if text[start : start + 1] != "{":
            raise ConfigError(f"cannot add `{key}`: unexpected mapping layout")
        entry = f"{key}: {flow_value}" + (", " if mapping.value else "")
        return start + 1, start + 1, entry
    newline = _newline(text)
    column = mapping.value[0][0].start_mark.column
    pad = " " * column
    entry = (newline + pad).join(block_lines)
    for k, _ in mapping.value:
        if isinstance(k, ScalarNode) and str(k.value) > key:
            if k.start_mark.column != column:
                break
            return k.start_mark.index, k.start_mark.index, entry + newline + pad
    eol = _end_of_last_line(text, mapping)
    if eol is not None:
        return eol, eol, newline + pad + entry
    first = mapping.value[0][0].start_mark.index
    return first, first, entry + newline + pad


def _end_of_last_line(text: str, mapping: Any) -> Optional[int]:
    """Where the last line of a block mapping's content ends (before its line break), or None when that last
    line cannot be found safely (it ends in a block scalar)."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    node = mapping
    while isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        node = node.value[-1][1] if isinstance(node, MappingNode) else node.value[-1]
    if isinstance(node, ScalarNode) and node.style not in (None, "'", '"'):
        return None  # | or > block scalar: its end mark lies beyond its own lines
    if isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style:
        return None
    eol = text.find("\n", node.end_mark.index)
    if eol < 0:
        return len(text)
    return eol - 1 if text[eol - 1 : eol] == "\r" else eol


def _verify(before: List[Any], edited: str, index: int, value: bool) -> None:
    """The edited text must parse to the original data with exactly ipvs.strictARP changed."""
    try:
        after = _safe_load_all(edited)
    except ConfigError as exc:
        raise ConfigError(f"refusing to write: the edited configuration would be invalid ({exc})") from None
    expected = _unshared(before)
    document = expected[index]
    if not isinstance(document.get("ipvs"), dict):
        document["ipvs"] = {}
    document["ipvs"]["strictARP"] = value
    if after != expected or not isinstance(after[index]["ipvs"]["strictARP"], bool):
        raise ConfigError(
            "refusing to write: the edit would change more than ipvs.strictARP in this "
            "configuration's layout; change it by hand"
        )


def _check_size(data: Any, limit: int = MAX_VALUES) -> None:
    """ConfigError when data, with its YAML aliases expanded, holds more than limit values (stops early)."""
    left = limit
    pending = [data]
    while pending:
        item = pending.pop()
        left -= 1
        if left < 0:
            raise ConfigError(
                f"the configuration expands to more than {limit} values through YAML aliases; edit it by hand"
            )
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _unshared(data: Any) -> Any:
    """A copy in which no mapping or list is shared (YAML aliases load as one shared object), so that changing the
    copy's ipvs.strictARP cannot silently change another place too."""
    if isinstance(data, dict):
        return {key: _unshared(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_unshared(item) for item in data]
    return data


def unified_diff(old: str, new: str, name: str) -> str:
    """A unified diff of two configuration texts (as `kubectl diff` shows them); "" when equal."""
    import difflib

    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{name}", tofile=f"b/{name}"
    )
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)

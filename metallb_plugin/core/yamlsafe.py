"""YAML from files and objects a user points us at, loaded safely and fast (pure).

load(text) / load_all(text) give what yaml.safe_load / safe_load_all give, built in one pass over the parser's
events (libyaml's when PyYAML has its C extension): PyYAML's own node composition costs ~6x the parsing, and its C
composer recurses without a limit, which crashes Python 3.9 on a deeply nested document. Plain mappings,
sequences and scalars (all a kubeconfig or manifest holds) are built here; a document with anchors, aliases,
explicit tags or merge keys is handed to PyYAML's safe loader after check() has bounded its depth. A JSON
document (a kubeconfig some tools write) is read with `json`.

check(text, max_aliases) walks the events only: TooDeep beyond MAX_DEPTH levels, TooManyAliases beyond the limit.
"""

import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

MAX_DEPTH = 200  # MetalLB's manifests nest 25 levels deep, kubeconfigs about 5
USE_LIBYAML = True  # the C parser when PyYAML was built with it (tests switch it off to cover the fallback)


class TooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")


class TooManyAliases(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"uses more than {limit} YAML aliases")


class _Unusual(Exception):
    """The document needs PyYAML's full loader (anchors, aliases, tags, merge keys, complex keys)."""


def _loader() -> Any:
    import yaml

    fast = getattr(yaml, "CSafeLoader", None) if USE_LIBYAML else None
    return fast or yaml.SafeLoader


def check(text: str, max_aliases: Optional[int] = None, fast: bool = True) -> None:
    """TooDeep / TooManyAliases (or the parser's yaml.YAMLError) without building anything. fast=False: with the
    pure-Python parser, so a syntax error reads as it will when that parser loads the text."""
    import yaml

    depth = aliases = 0
    for event in yaml.parse(text, Loader=_loader() if fast else yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise TooDeep()
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent) and max_aliases is not None:
            aliases += 1
            if aliases > max_aliases:
                raise TooManyAliases(max_aliases)


def load_all(text: str) -> List[Any]:
    """Every document, as yaml.safe_load_all gives them."""
    try:
        return list(_documents(text))
    except _Unusual:
        import yaml

        check(text)
        return list(yaml.load_all(text, Loader=_loader()))


def load(text: str) -> Any:
    """The one document of text (None when empty), as yaml.safe_load gives it; JSON is read as JSON."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # YAML's flow style looks like JSON too
    documents = load_all(text)
    if len(documents) > 1:
        import yaml

        raise yaml.composer.ComposerError(None, None, "expected one document, found several (separated by ---)")
    return documents[0] if documents else None


def _documents(text: str) -> Iterator[Any]:
    import yaml
    from yaml.constructor import SafeConstructor
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    resolvers = Resolver.yaml_implicit_resolvers
    constructor = SafeConstructor()

    def scalar(event: Any) -> Any:
        if event.anchor is not None or event.tag is not None:
            raise _Unusual()
        value = event.value
        if not event.implicit[0]:  # quoted: text
            return value
        for tag, pattern in resolvers.get(value[:1], ()):
            if pattern.match(value):
                build = SafeConstructor.yaml_constructors.get(tag)
                if build is None or tag.endswith(":merge"):
                    raise _Unusual()  # merge keys, "=" values: PyYAML's own rules
                return build(constructor, ScalarNode(tag, value))
        return value

    # each open collection: [the dict or list, the pending key of a dict (a 1-tuple) or None]
    stack: List[List[Any]] = []
    root: Any = None
    event: Any  # the parser's events; their attributes depend on the kind
    for event in yaml.parse(text, Loader=_loader()):
        kind = type(event)
        if kind is yaml.ScalarEvent:
            value = scalar(event)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Unusual()
            if len(stack) >= MAX_DEPTH:
                raise TooDeep()
            value = {} if kind is yaml.MappingStartEvent else []
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            stack.pop()
            continue
        elif kind is yaml.DocumentEndEvent:
            yield root
            root = None
            continue
        elif kind is yaml.AliasEvent:
            raise _Unusual()
        else:  # stream and document starts
            continue
        if stack:
            _add(stack[-1], value)
        else:
            root = value
        if kind is not yaml.ScalarEvent:
            stack.append([value, None])


def _add(top: List[Any], value: Any) -> None:
    container = top[0]
    if isinstance(container, list):
        container.append(value)
    elif top[1] is None:  # a key
        if isinstance(value, (dict, list)):
            raise _Unusual()  # a complex key: PyYAML reports it
        top[1] = (value,)
    else:
        pending: Tuple[Any] = top[1]
        mapping: Dict[Any, Any] = container
        mapping[pending[0]] = value
        top[1] = None

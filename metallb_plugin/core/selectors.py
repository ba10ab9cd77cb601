"""Kubernetes label selectors (metav1.LabelSelector) evaluated on plain label dicts.

    matches({"matchLabels": {"a": "b"}}, {"a": "b", "c": "d"})  -> True
    matches({}, {...})                                          -> True   (empty selector: everything)
    matches(None, {...})                                        -> False  (no selector: nothing)
    any_matches([sel1, sel2], labels)                           -> True if one of them matches
    describe({"matchLabels": {"a": "b"}})                       -> "a=b"

MetalLB uses lists of selectors (ipAddressPoolSelectors, nodeSelectors, serviceSelectors, namespaceSelectors); a
list matches when any of its selectors matches. What an EMPTY list means depends on the field (all pools, all
nodes, ...), so callers decide that before calling any_matches.
"""

from typing import Any, Iterable, Mapping, Optional

IN, NOT_IN, EXISTS, DOES_NOT_EXIST = "In", "NotIn", "Exists", "DoesNotExist"


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = str(expr.get("key") or ""), expr.get("operator")
    values = expr.get("values") or []
    if operator == IN:
        return key in labels and labels[key] in values
    if operator == NOT_IN:
        return key not in labels or labels[key] not in values
    if operator == EXISTS:
        return key in labels
    if operator == DOES_NOT_EXIST:
        return key not in labels
    return False  # unknown operator: the API server would have rejected it; never match


def matches(selector: Optional[Mapping[str, Any]], labels: Optional[Mapping[str, str]]) -> bool:
    """Whether a LabelSelector dict selects an object with these labels."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def any_matches(selectors: Optional[Iterable[Mapping[str, Any]]], labels: Optional[Mapping[str, str]]) -> bool:
    return any(matches(s, labels) for s in selectors or [])


def describe(selector: Optional[Mapping[str, Any]]) -> str:
    """kubectl's text form of a selector: "a=b,c in (x,y),!d"; "<all>" for the empty selector."""
    if selector is None:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, operator, values = expr.get("key"), expr.get("operator"), ",".join(expr.get("values") or [])
        parts.append(
            {IN: f"{key} in ({values})", NOT_IN: f"{key} notin ({values})", EXISTS: key, DOES_NOT_EXIST: f"!{key}"}.get(
                operator, f"{key} {operator} ({values})"
            )
        )
    return ",".join(parts) or "<all>"

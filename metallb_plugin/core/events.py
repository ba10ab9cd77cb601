"""Kubernetes Events (core/v1 dicts) in time order, per object, and the lines a person wants from them (pure).

Events carry their time in different fields depending on who wrote them: `lastTimestamp` (client-go's recorder,
which MetalLB uses), `eventTime` / `series.lastObservedTime` (events.k8s.io writers), `firstTimestamp`, or only
`metadata.creationTimestamp`. `when()` picks the most recent one that is set.
"""

import re
from datetime import datetime, timezone
from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional, Tuple

Event = Mapping[str, Any]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FRACTION = re.compile(r"\.(\d+)")  # the fractional seconds


def parse_time(text: Any) -> Optional[datetime]:
    """An RFC 3339 timestamp as the API server writes it -> aware datetime; None when absent or unreadable."""
    if not text or not isinstance(text, str):
        return None
    value = text.strip().replace("Z", "+00:00")
    # Python < 3.11's fromisoformat takes exactly 3 or 6 fractional digits; the API server writes up to 9
    fraction = _FRACTION.search(value)
    if fraction:
        value = f"{value[: fraction.start()]}.{fraction.group(1)[:6].ljust(6, '0')}{value[fraction.end() :]}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def when(event: Event) -> datetime:
    series = event.get("series") or {}
    for text in (
        event.get("lastTimestamp"),
        series.get("lastObservedTime"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        (event.get("metadata") or {}).get("creationTimestamp"),
    ):
        parsed = parse_time(text)
        if parsed:
            return parsed
    return EPOCH


def involved(event: Event) -> Tuple[str, str, str]:
    """(kind, namespace, name) of the object an event is about."""
    obj = event.get("involvedObject") or event.get("regarding") or {}
    return obj.get("kind", ""), obj.get("namespace", ""), obj.get("name", "")


def by_object(events: Optional[Iterable[Event]]) -> Dict[Tuple[str, str, str], List[Event]]:
    """{(kind, namespace, name): [events, oldest first]}."""
    grouped: Dict[Tuple[str, str, str], List[Event]] = {}
    for event in events or []:
        grouped.setdefault(involved(event), []).append(event)
    for items in grouped.values():
        items.sort(key=when)
    return grouped


def latest(
    events: Optional[Iterable[Event]], reasons: Optional[Collection[str]] = None, type_: Optional[str] = None
) -> Optional[Event]:
    """The most recent event (of these reasons / this type), or None."""
    chosen = [
        e
        for e in events or []
        if (reasons is None or e.get("reason") in reasons) and (type_ is None or e.get("type") == type_)
    ]
    return max(chosen, key=when) if chosen else None


def count(event: Event) -> int:
    return (event.get("series") or {}).get("count") or event.get("count") or 1


def describe(event: Event) -> str:
    """One line: "Warning AllocationFailed: Failed to allocate IP ... (x3)"."""
    times = count(event)
    suffix = f" (x{times})" if times > 1 else ""
    message = " ".join((event.get("message") or event.get("note") or "").split())
    return f"{event.get('type', 'Normal')} {event.get('reason', '')}: {message}{suffix}"

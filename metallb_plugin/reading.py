"""Reading tables of Sources into a Snapshot: every LIST in parallel, each item reduced to the fields the command
reads (Source.fields) as its page is decoded, CRD-backed kinds once the CRDs are known.
"""

from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

from metallb_plugin import errors
from metallb_plugin.cluster import Client, api_path
from metallb_plugin.core.snapshot import Read, Snapshot, Source
from metallb_plugin.defaults import KUBE_SYSTEM, READ_WORKERS


def _source_path(source: Source, snapshot: Snapshot) -> Union[str, Read]:
    """The collection path of a source, or what to store instead: [] (nothing can be there), None (the kind is not
    served), Unreadable (the CRD list could not be read)."""
    from metallb_plugin.core import objects as k8s
    from metallb_plugin.core.snapshot import METALLB, SYSTEM, Unreadable

    api_version = source.api_version
    if source.crd:
        crds = snapshot.objects.get("crds")
        if isinstance(crds, Unreadable):
            return Unreadable(f"{crds.reason}, so {source.what} cannot be looked for")
        crd = next((c for c in crds or [] if k8s.name(c) == source.crd), None)
        version = k8s.crd_version(crd) if crd else None
        if crd is None or not version:
            return None  # the kind does not exist on this cluster
        api_version = f"{crd['spec']['group']}/{version}"
    if source.after and snapshot.objects.get(source.after) == []:
        return []  # what it lives in (its namespace) does not exist: nothing there
    namespace = {SYSTEM: KUBE_SYSTEM, METALLB: snapshot.namespace}.get(source.scope)
    return api_path(api_version, source.plural, namespace)


def read_source(client: Client, source: Source, snapshot: Snapshot, params: Mapping[str, Any]) -> Read:
    """The objects of one source: a list, None (the server does not serve the kind) or Unreadable.

    Failures to reach or authenticate to the cluster are raised, as is any failure of a `required` source.
    """
    from metallb_plugin.core.snapshot import ALL, METALLB, Unreadable, project, unreadable_reason

    path = _source_path(source, snapshot)
    if not isinstance(path, str):
        return path
    fields = source.field_selector.format(**params) if source.field_selector else None
    labels = source.label_selector.format(**params) if source.label_selector else None
    try:
        fields_kept = source.fields
        each = source.reduce or ((lambda item: project(item, fields_kept)) if fields_kept else None)
        items = client.list(path, label_selector=labels or None, field_selector=fields or None, each=each)
    except errors.NotFound:
        if source.fallback:
            return read_source(client, replace(source, api_version=source.fallback, fallback=None), snapshot, params)
        if source.required:
            raise
        if source.optional or source.crd:
            return None
        return Unreadable(f"{unreadable_reason(source, snapshot.namespace, False)}: the server does not serve them")
    except (errors.Unauthorized, errors.ClusterError):
        raise
    except errors.APIError as exc:
        forbidden = isinstance(exc, errors.Forbidden)
        reason = unreadable_reason(source, snapshot.namespace, forbidden)
        if forbidden and source.narrow and source.scope == ALL:  # a user limited to MetalLB's namespace
            narrowed = read_source(client, replace(source, scope=METALLB, narrow=False), snapshot, params)
            if isinstance(narrowed, list):
                snapshot.narrowed.append(source.what)
            return narrowed
        if source.required:
            raise
        return Unreadable(reason if forbidden else f"{reason}: {exc}")
    return source.keep(items) if source.keep else items


@contextmanager
def bulk_read() -> Iterator[None]:
    """Around reading large lists: Python's cycle collector is off meanwhile, and what was read is frozen after.

    Decoded JSON has no cycles, yet every few hundred new objects a collection walks all those decoded so far:
    that took most of the time of reading 20,000 Services. Frozen objects are left out of later collections (they
    live as long as the command); reference counting still frees them.
    """
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def read_snapshot(
    client: Client,
    sources: Sequence[Source],
    snapshot: Snapshot,
    params: Optional[Mapping[str, Any]] = None,
    progress: Any = None,
) -> Snapshot:
    """Read every source into snapshot.objects, in parallel; CRD-backed sources after the CRDs.

    params fill the sources' selector templates ({namespace} is always there).
    """
    from concurrent.futures import ThreadPoolExecutor

    params = {"namespace": snapshot.namespace, **(params or {})}
    keys = {s.key for s in sources}
    then = [s for s in sources if (s.crd and "crds" in keys) or s.after in keys]  # read what they depend on first
    first = [s for s in sources if s not in then]
    with bulk_read():
        for batch in (first, then):
            if not batch:
                continue
            if progress:
                progress.update(f"reading {', '.join(s.what for s in batch[:3])}{' ...' if len(batch) > 3 else ''}")
            with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(batch))) as pool:
                futures = [(s, pool.submit(read_source, client, s, snapshot, params)) for s in batch]
                for source, future in futures:
                    snapshot.objects[source.key] = future.result()
    return snapshot

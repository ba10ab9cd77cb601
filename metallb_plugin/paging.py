"""The pages of one LIST, requested by a reader thread while the caller decodes the ones that arrived.

The API server writes a built-in kind's list metadata before its items, so a page's continue token is read from
its first bytes and the next page is requested as soon as this one has arrived: the server prepares page n+1
while page n is decoded. The request must go out from the thread that received the page: a JSON decode holds the
GIL, so a request handed to another thread during it would wait for the decode to end.

A custom resource's list comes with its keys sorted (items first): no token is read early, and each next page is
requested once the page before it is decoded. A token read early is used only while it equals the decoded one;
otherwise the pages read ahead are dropped and the rest is read one by one from the decoded token.
"""

import json
import queue
import threading
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

AHEAD = 3  # pages received but not yet decoded, at most

_METADATA, _ITEMS = b'"metadata":', b'"items":'


def early_continue(data: bytes) -> Optional[str]:
    """A LIST answer's continue token, read without decoding its items (None when its metadata does not come
    first, or has no token)."""
    start = data.find(_METADATA, 0, 4096)
    end = data.find(_ITEMS, start)
    if start < 0 or end < 0:
        return None
    try:
        meta = json.loads(data[start + len(_METADATA) : end].rstrip().rstrip(b","))
    except ValueError:
        return None
    token = meta.get("continue") if isinstance(meta, dict) else None
    return token if isinstance(token, str) and token else None


class _Reader:
    """A daemon thread that requests page after page, following the tokens read early, into a bounded queue."""

    def __init__(self, fetch: Callable[[Optional[str]], bytes]) -> None:
        self._fetch = fetch
        self._pages: queue.Queue[Tuple[Any, Optional[str], Optional[BaseException]]] = queue.Queue(AHEAD)
        self._stop = threading.Event()
        # a daemon: a Ctrl-C while a request is on its way must not wait for that request at exit
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        token: Optional[str] = None
        while not self._stop.is_set():
            try:
                data = self._fetch(token)
            except BaseException as exc:  # handed to the caller, raised there
                self._pages.put((None, None, exc))
                return
            token = early_continue(data)
            self._pages.put((data, token, None))
            if token is None:
                return

    def next(self) -> Tuple[bytes, Optional[str]]:
        """The next page's bytes and the token its successor was requested with (None: it was not)."""
        data, token, error = self._pages.get()
        if error is not None:
            try:
                raise error
            finally:  # this frame is in error's traceback: a cycle, which a read's gc.freeze would keep for good
                del error
        return data, token

    def stop(self) -> None:
        """No more pages: the thread ends after the request it may be waiting for (a put then finds room)."""
        self._stop.set()
        while True:
            try:
                self._pages.get_nowait()
            except queue.Empty:
                return


def pages(fetch: Callable[[Optional[str]], bytes], decode: Callable[[bytes], Dict[str, Any]]) -> Iterator[Any]:
    """Every page of a list, decoded, in order. fetch(token) returns a page's bytes (token None: the first)."""
    reader = _Reader(fetch)
    ahead = True  # the pages come from the reader
    try:
        data, early = reader.next()
        while True:
            page = decode(data)
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            if ahead and early == token:
                data, early = reader.next()
            else:
                ahead = False
                reader.stop()
                data = fetch(token)
    finally:
        reader.stop()

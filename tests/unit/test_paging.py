"""The pages of a LIST (paging.pages): the next page is requested from the token read early, before this one is
decoded; custom resources' lists page by page; a wrong early token, failures and a caller that stops."""

import gc
import json
import threading
import time
import types
import weakref

import pytest

from metallb_plugin import paging


@pytest.mark.parametrize(
    "body, token",
    [
        (
            b'{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"abc"},"items":[]}',
            "abc",
        ),
        (
            b'{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{}}]}',
            None,
        ),
        (
            b'{"apiVersion":"metallb.io/v1beta1","items":[{"metadata":{"continue":"x"}}],"metadata":{"continue":"y"}}',
            None,
        ),
        (b'{"metadata":{"continue":', None),
    ],
)
def test_the_continue_token_is_read_before_the_items_or_not_at_all(body, token):
    assert paging.early_continue(body) == token


def builtin_page(n, token):
    """A built-in kind's page as the API server writes it: metadata first."""
    meta = {"continue": token} if token else {}
    return json.dumps({"kind": "ConfigMapList", "metadata": meta, "items": [{"n": n}]}).encode()


def custom_page(n, token):
    """A custom resource's page: keys sorted, items before metadata."""
    meta = {"continue": token} if token else {}
    return json.dumps({"apiVersion": "x/v1", "items": [{"n": n}], "metadata": meta}, sort_keys=True).encode()


class Server:
    """Pages 0..count-1 behind the tokens t1, t2, ...; records the tokens asked for."""

    def __init__(self, count, shape=builtin_page, early=None, fail_at=None):
        self.count, self.shape, self.early, self.fail_at = count, shape, early, fail_at
        self.asked = []
        self.lock = threading.Lock()

    def fetch(self, token):
        with self.lock:
            self.asked.append(token)
        n = 0 if token is None else int(token.lstrip("tx"))
        if n == self.fail_at:
            raise RuntimeError(f"page {n} failed")
        following = f"t{n + 1}" if n + 1 < self.count else None
        body = self.shape(n, following)
        return body.replace(b'"continue": "t', b'"continue": "x') if self.early else body


def read(server, decode=json.loads):
    return [item["n"] for page in paging.pages(server.fetch, decode) for item in page["items"]]


def test_every_page_of_a_builtin_kind_is_read_once_in_order():
    server = Server(7)
    assert read(server) == list(range(7))
    assert server.asked == [None] + [f"t{n}" for n in range(1, 7)]


def test_the_next_page_is_requested_before_this_one_is_decoded():
    server = Server(3)
    second_asked = []

    def decode(data):
        page = json.loads(data)
        if page["items"][0]["n"] == 0:
            # the reader must ask for page 1 while page 0 is still being decoded here
            for _ in range(500):
                if "t1" in server.asked:
                    break
                threading.Event().wait(0.01)
            second_asked.append("t1" in server.asked)
        return page

    assert read(server, decode) == [0, 1, 2]
    assert second_asked == [True]


def test_a_custom_resource_list_is_read_page_by_page_with_the_decoded_tokens():
    server = Server(4, shape=custom_page)
    assert read(server) == [0, 1, 2, 3]
    assert server.asked == [None, "t1", "t2", "t3"]


def test_a_token_read_early_that_differs_from_the_decoded_one_is_dropped():
    # the pages name tokens x<n> (read early); decoded, they name t<n>: what was read ahead with x<n> is dropped and
    # the rest is read page by page with the decoded tokens
    server = Server(4, early=True)

    def decode(data):
        page = json.loads(data)
        if page["metadata"].get("continue"):
            page["metadata"]["continue"] = page["metadata"]["continue"].replace("x", "t")
        return page

    assert read(server, decode) == [0, 1, 2, 3]
    assert server.asked[:2] == [None, "x1"]
    assert [t for t in server.asked if t and t.startswith("t")] == ["t1", "t2", "t3"]


def test_a_failed_page_is_raised_where_it_would_have_been_read():
    server = Server(5, fail_at=3)
    seen = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for page in paging.pages(server.fetch, json.loads):
            seen.append(page["items"][0]["n"])
    assert seen == [0, 1, 2]


def test_a_caller_that_stops_stops_the_reader():
    server = Server(1000)
    for page in paging.pages(server.fetch, json.loads):
        if page["items"][0]["n"] == 2:
            break
    threading.Event().wait(0.2)
    asked = len(server.asked)
    threading.Event().wait(0.2)
    assert len(server.asked) == asked <= 3 + paging.AHEAD + 2


MADE = []  # weak references to each Gone raised


class Gone(RuntimeError):
    """A failed request."""

    def __init__(self):
        super().__init__("gone")
        MADE.append(weakref.ref(self))


@pytest.mark.parametrize("failing", [0, 1])
def test_a_failed_page_is_freed_by_reference_counting_alone(failing):
    """No reference cycle through the failure: a read freezes what it made (gc.freeze), so a cycle would keep the
    failure's frames, and the whole snapshot they reference, for as long as the command runs."""
    server = Server(3)

    def fetch(token):
        if (0 if token is None else int(token.lstrip("t"))) == failing:
            raise Gone()
        return server.fetch(token)

    MADE.clear()
    collecting = gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(Gone):
            read(types.SimpleNamespace(fetch=fetch))
        deadline = time.monotonic() + 5  # the reader thread lets go of it as it ends
        while MADE[0]() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert MADE[0]() is None
    finally:
        if collecting:
            gc.enable()

"""Reading a LIST's continue token before its items are decoded (cluster._list_continue)."""

import pytest

from metallb_plugin import cluster


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
    assert cluster._list_continue(body) == token

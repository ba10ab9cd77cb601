"""Label selector matching as the API server defines it (metav1.LabelSelector)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metallb_plugin.core.selectors import any_matches, describe, matches

LABELS = {"zone": "a", "role": "worker"}


@pytest.mark.parametrize(
    "selector, expected",
    [
        ({}, True),
        (None, False),
        ({"matchLabels": {"zone": "a"}}, True),
        ({"matchLabels": {"zone": "b"}}, False),
        ({"matchLabels": {"zone": "a", "role": "master"}}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "gpu", "operator": "NotIn", "values": ["yes"]}]}, True),
        ({"matchExpressions": [{"key": "role", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "role", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Bogus", "values": ["a"]}]}, False),
        (
            {"matchLabels": {"zone": "a"}, "matchExpressions": [{"key": "role", "operator": "In", "values": ["x"]}]},
            False,
        ),
    ],
)
def test_matches(selector, expected):
    assert matches(selector, LABELS) is expected


def test_any_matches_needs_one():
    assert any_matches([{"matchLabels": {"zone": "b"}}, {"matchLabels": {"zone": "a"}}], LABELS)
    assert not any_matches([], LABELS)
    assert not any_matches(None, LABELS)


def test_describe():
    assert describe({}) == "<all>"
    assert describe(None) == "<none>"
    assert (
        describe(
            {
                "matchLabels": {"b": "2", "a": "1"},
                "matchExpressions": [
                    {"key": "z", "operator": "In", "values": ["x", "y"]},
                    {"key": "n", "operator": "DoesNotExist"},
                    {"key": "e", "operator": "Exists"},
                    {"key": "o", "operator": "NotIn", "values": ["q"]},
                ],
            }
        )
        == "a=1,b=2,z in (x,y),!n,e,o notin (q)"
    )


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=5), max_size=5))
def test_own_labels_select_themselves(labels):
    assert matches({"matchLabels": labels}, labels)
    assert matches({"matchExpressions": [{"key": k, "operator": "Exists"} for k in labels]}, labels)

"""core/yamlsafe: the same data as PyYAML's safe loader, built from the parser's events, with a depth limit."""

import datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from metallb_plugin.core import yamlsafe


@pytest.fixture(autouse=True, params=["libyaml", "pure-python"])
def parser(request, monkeypatch):
    monkeypatch.setattr(yamlsafe, "USE_LIBYAML", request.param == "libyaml")


SAMPLES = [
    "",
    "---\n",
    "# only a comment\n",
    "a: 1\nb: [1, 2.5, -3, 0x1f, 0o17, 1_000]\nc: {d: null, e: ~, f: ''}\n",
    "yes: no\non: off\nTrue: FALSE\n",  # YAML 1.1 booleans, as keys too
    "when: 2026-05-30T12:00:00Z\nday: 2026-05-30\n",
    "quoted: '123'\nplain: 123\nversion: '1.10'\nfloat: 1.10\ninf: .inf\nnan_like: .NaN\n",
    "list:\n- a\n- - nested\n  - deeper: {x: [1, {y: z}]}\n- ''\n-\n",
    "a: 1\na: 2\n",  # a duplicate key: the last one wins, as in PyYAML
    "doc: 1\n---\ndoc: 2\n---\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
    "unicode: jürgen 日本\nemoji: \U0001f600\n",
    # handed to PyYAML itself: anchors and aliases, explicit tags, merge keys, complex keys
    "base: &b {x: 1}\nuse: *b\n",
    "defaults: &d {a: 1}\nmerged:\n  <<: *d\n  b: 2\n",
    "tagged: !!str 123\nbinary: !!binary aGVsbG8=\n",
    "? [complex, key]\n: value\n",
    "set: !!set {a, b}\n",
    "empty_tag: ! 12\n",
]


def outcome(load, text):
    try:
        return load(text)
    except yaml.YAMLError as exc:
        return type(exc), getattr(exc, "problem", None)


@pytest.mark.parametrize("text", SAMPLES)
def test_same_data_as_safe_load_all(text):
    assert outcome(yamlsafe.load_all, text) == outcome(lambda t: list(yaml.safe_load_all(t)), text)


def test_load_is_one_document():
    assert yamlsafe.load("a: 1\n") == {"a": 1}
    assert yamlsafe.load("") is None
    with pytest.raises(yaml.YAMLError, match="expected one document, found several"):
        yamlsafe.load("a: 1\n---\nb: 2\n")


def test_json_is_read_as_json():
    assert yamlsafe.load('{"apiVersion": "v1", "n": 12345678901234567890, "t": true}') == {
        "apiVersion": "v1",
        "n": 12345678901234567890,
        "t": True,
    }
    assert yamlsafe.load("{a: 1}") == {"a": 1}  # YAML flow style is not JSON: read as YAML


def test_timestamps_are_datetimes_as_in_pyyaml():
    assert yamlsafe.load("t: 2026-05-30T12:00:00Z\n")["t"] == datetime.datetime(
        2026, 5, 30, 12, 0, tzinfo=datetime.timezone.utc
    )


@pytest.mark.parametrize(
    "text", ["a: " + "[" * 201 + "]" * 201, "a:\n" + "".join(f"{'  ' * i}- \n" for i in range(1, 300))]
)
def test_too_deep_is_refused_before_anything_is_built(text):
    with pytest.raises((yamlsafe.TooDeep, yaml.YAMLError)):
        yamlsafe.load_all(text)


def test_deep_documents_with_aliases_are_checked_before_pyyaml_builds_them():
    text = "x: &a 1\ny: *a\nz: " + "[" * 300 + "]" * 300 + "\n"
    with pytest.raises((yamlsafe.TooDeep, yaml.YAMLError)):
        yamlsafe.load_all(text)


def test_check_counts_aliases_and_depth():
    yamlsafe.check("a: &x 1\nb: *x\nc: *x\n", max_aliases=2)
    with pytest.raises(yamlsafe.TooManyAliases, match="more than 1 YAML aliases"):
        yamlsafe.check("a: &x 1\nb: *x\nc: *x\n", max_aliases=1)
    with pytest.raises(yamlsafe.TooDeep, match="nested more than 200 levels deep"):
        yamlsafe.check("[" * 201 + "]" * 201)
    yamlsafe.check("[" * 200 + "]" * 200)


def test_syntax_errors_are_pyyaml_errors_with_a_position():
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yamlsafe.load("a: [\n  b: {c\n")
    assert caught.value.problem_mark is not None


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["yes", "No", "~", "null", "0x10", "1e3", "2026-01-02", "<<", "=", "- a", "a: b", "#", "'"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), children, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans(), st.sampled_from([None, "'", '"']))
def test_any_dumped_data_loads_as_pyyaml_loads_it(data, flow, style):
    text = yaml.safe_dump(data, default_flow_style=flow, default_style=style, allow_unicode=True)
    assert yamlsafe.load_all(text) == list(yaml.safe_load_all(text))

import os
import re

import pytest

from metallb_plugin import cli, cluster
from metallb_plugin.core.kubeconfig import KubeconfigError, merge, select, single_context


def doc(current=None, clusters=(), users=(), contexts=()):
    out = {
        "clusters": [{"name": n, "cluster": c} for n, c in clusters],
        "users": [{"name": n, "user": u} for n, u in users],
        "contexts": [{"name": n, "context": c} for n, c in contexts],
    }
    if current:
        out["current-context"] = current
    return out


A = doc(
    "a",
    clusters=[("c1", {"server": "https://one"})],
    users=[("u1", {"token": "t1"})],
    contexts=[("a", {"cluster": "c1", "user": "u1", "namespace": "ns-a"})],
)
B = doc(
    "b",
    clusters=[("c1", {"server": "https://shadowed"}), ("c2", {"server": "https://two"})],
    users=[("u2", {"token": "t2"})],
    contexts=[("b", {"cluster": "c2", "user": "u2"})],
)


def test_first_file_setting_current_context_wins_like_kubectl():
    merged = merge([("/x/a", A), ("/x/b", B)])
    assert merged["current-context"] == "a"
    assert merge([("/x/b", B), ("/x/a", A)])["current-context"] == "b"


def test_first_definition_of_a_name_wins():
    merged = merge([("/x/a", A), ("/x/b", B)])
    servers = {c["name"]: c["cluster"]["server"] for c in merged["clusters"]}
    assert servers == {"c1": "https://one", "c2": "https://two"}


def test_file_without_current_context_does_not_reset_it():
    merged = merge([("/x/empty", None), ("/x/b2", doc(contexts=[("z", {"cluster": "c"})])), ("/x/a", A)])
    assert merged["current-context"] == "a"


def test_relative_paths_resolve_against_their_own_file():
    one = doc(
        "a",
        clusters=[("c", {"server": "https://s", "certificate-authority": "ca.crt"})],
        users=[
            (
                "u",
                {
                    "client-certificate": "certs/u.crt",
                    "client-key": "/abs/u.key",
                    "tokenFile": "../tok",
                    "exec": {"command": "./bin/login", "args": ["x"]},
                },
            ),
            ("bare", {"exec": {"command": "aws"}}),
        ],
        contexts=[("a", {"cluster": "c", "user": "u"})],
    )
    merged = merge([("/home/me/.kube/config", one)])
    cluster = merged["clusters"][0]["cluster"]
    user = merged["users"][0]["user"]
    assert cluster["certificate-authority"] == "/home/me/.kube/ca.crt"
    assert user["client-certificate"] == "/home/me/.kube/certs/u.crt"
    assert user["client-key"] == "/abs/u.key"
    assert user["tokenFile"] == "/home/me/tok"
    assert user["exec"] == {"command": "/home/me/.kube/bin/login", "args": ["x"]}
    assert merged["users"][1]["user"]["exec"]["command"] == "aws"  # looked up on PATH, not anchored


def test_select_current_context():
    sel = select(merge([("/x/a", A), ("/x/b", B)]))
    assert (sel.context, sel.cluster_name, sel.user_name, sel.namespace) == ("a", "c1", "u1", "ns-a")
    assert sel.cluster["server"] == "https://one"
    assert sel.user == {"token": "t1"}


def test_select_overrides_cluster_and_user():
    sel = select(merge([("/x/a", A), ("/x/b", B)]), context="a", cluster="c2", user="u2")
    assert sel.cluster["server"] == "https://two"
    assert sel.user == {"token": "t2"}


def test_unknown_context_lists_the_known_ones():
    with pytest.raises(KubeconfigError, match=r'context "nope" not found in the kubeconfig \(available: a, b\)'):
        select(merge([("/x/a", A), ("/x/b", B)]), context="nope")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cluster": "zz"}, r'cluster "zz" \(from --cluster\) not found'),
        ({"user": "zz"}, r'user "zz" \(from --user\) not found'),
    ],
)
def test_unknown_overrides(kwargs, message):
    with pytest.raises(KubeconfigError, match=message):
        select(merge([("/x/a", A)]), **kwargs)


def test_no_current_context():
    with pytest.raises(KubeconfigError, match="no current context"):
        select(merge([("/x/b", doc(clusters=[("c", {"server": "s"})]))]))


def test_current_context_pointing_nowhere():
    with pytest.raises(KubeconfigError, match='current context "ghost" is not defined'):
        select(merge([("/x/g", doc("ghost"))]))


def test_cluster_without_server():
    broken = doc("a", clusters=[("c", {})], contexts=[("a", {"cluster": "c"})])
    with pytest.raises(KubeconfigError, match='cluster "c" in the kubeconfig has no server'):
        select(merge([("/x/a", broken)]))


def test_context_with_missing_user_is_anonymous():
    anon = doc("a", clusters=[("c", {"server": "s"})], contexts=[("a", {"cluster": "c", "user": "gone"})])
    assert select(merge([("/x/a", anon)])).user == {}


@pytest.mark.parametrize(
    "bad, message",
    [
        (["not", "a", "mapping"], "expected a mapping"),
        ({"clusters": {"c": 1}}, "'clusters' must be a list"),
        ({"users": [{"user": {}}]}, "every entry of 'users' needs a name"),
        ({"contexts": [{"name": "x", "context": "str"}]}, "contexts entry 'x' is not a mapping"),
    ],
)
def test_malformed_documents(bad, message):
    with pytest.raises(KubeconfigError, match=message):
        merge([("/x/bad", bad)])


def test_single_context_keeps_only_the_selection():
    sel = select(merge([("/x/a", A), ("/x/b", B)]))
    single = single_context(sel)
    assert single["current-context"] == "selected"
    assert [c["cluster"] for c in single["clusters"]] == [{"server": "https://one"}]
    assert [u["user"] for u in single["users"]] == [{"token": "t1"}]


def test_paths_are_platform_absolute():
    merged = merge(
        [(os.path.join("rel", "config"), doc("a", clusters=[("c", {"server": "s", "certificate-authority": "ca"})]))]
    )
    assert os.path.isabs(merged["clusters"][0]["cluster"]["certificate-authority"])


def with_user(**fields):
    return merge(
        [("/x/i", doc("i", [("c", {"server": "https://s"})], [("u", fields)], [("i", {"cluster": "c", "user": "u"})]))]
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"as": ["jo"]}, 'user "u" in the kubeconfig: as must be text, not list'),
        ({"as": "jo", "as-groups": "admins"}, "as-groups must be a list of text"),
        ({"as": "jo", "as-user-extra": {"scopes": "view"}}, "as-user-extra must map names to lists of text"),
        ({"as": "jo\r\nX: y"}, "an impersonation value contains a control character (\\r)"),
    ],
)
def test_impersonation_in_the_kubeconfig_is_checked(fields, message):
    with pytest.raises(KubeconfigError, match=re.escape(message)):
        select(with_user(**fields))


def test_impersonation_flags_replace_the_kubeconfigs_field_by_field():
    user = {"as": "jürgen", "as-groups": ["ops"], "as-user-extra": {"scopes": ["view", "edit"]}}
    _, args = cli.parse(["version"])
    assert cluster.impersonation_headers(args, user) == [
        ("Impersonate-User", "jürgen"),
        ("Impersonate-Group", "ops"),
        ("Impersonate-Extra-scopes", "view"),
        ("Impersonate-Extra-scopes", "edit"),
    ]
    _, args = cli.parse(["version", "--as", "jo", "--as-user-extra", "dept/ü=x"])
    assert cluster.impersonation_headers(args, user) == [
        ("Impersonate-User", "jo"),
        ("Impersonate-Group", "ops"),
        ("Impersonate-Extra-dept%2F%C3%BC", "x"),
    ]

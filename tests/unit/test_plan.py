"""The plan model (core/plan.py, pure): results, short diffs, ownership, the permissions a plan needs, and what a
failure midway says."""

from metallb_plugin.core import plan
from metallb_plugin.core.plan import Access, Plan, Step, Write

OURS = [{"manager": "kubectl-metallb", "operation": "Apply"}]


def configmap(data, managers=OURS, **meta):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "ns", "resourceVersion": "7", "managedFields": managers, **meta},
        "data": data,
    }


def test_outcome_compares_the_dry_run_answer_field_by_field():
    before = configmap({"k": "v"})
    apply = Write("apply", "/api/v1/namespaces/ns/configmaps/c")
    assert plan.outcome(Step.of(before, apply), before) == "created"  # no live object
    step = Step.of(before, apply, before=before)
    answer = configmap({"k": "v"}, resourceVersion="9")
    assert plan.outcome(step, answer) == "unchanged"  # only what the server sets differs
    assert plan.outcome(step, configmap({"k": "w"})) == "changed"
    theirs = configmap({"k": "v"}, managers=[{"manager": "kubectl-edit", "operation": "Update"}])
    taken = Step.of(theirs, apply, before=theirs)
    assert plan.outcome(taken, theirs) == "changed"  # same content, but kubectl-metallb becomes an owner
    assert plan.outcome(Step.of(before, Write("delete", "/x"), before=before), None) == "deleted"


def test_short_diff_matches_named_lists_and_shortens_values():
    old = {"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}], "n": 1}}
    new = {"spec": {"containers": [{"name": "b", "image": "y:2"}, {"name": "a", "image": "x:1"}], "m": "z" * 100}}
    lines = plan.short_diff({**old, "metadata": {"managedFields": OURS}}, {**new, "metadata": {"generation": 3}})
    assert lines == [
        "~ spec.containers[name=b].image: y:1 -> y:2",
        "+ spec.m: " + "z" * 57 + "...",
        "- spec.n: 1",
    ]


def test_short_diff_of_text_shows_the_changed_lines_and_is_limited():
    old = configmap({"config.yaml": "a: 1\nb: 2\nc: 3\n"})
    new = configmap({"config.yaml": "a: 1\nb: 5\nc: 3\n"})
    assert plan.short_diff(old, new) == ['~ data["config.yaml"]:', "    - b: 2", "    + b: 5"]
    many = plan.short_diff(configmap({str(i): "a" for i in range(20)}), configmap({str(i): "b" for i in range(20)}))
    assert len(many) == plan.DIFF_LINES and many[-1] == "... and 13 more lines"


def test_annotation_keys_are_quoted_in_paths():
    old = {"metadata": {"managedFields": OURS, "annotations": {}}}
    new = {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}
    assert plan.short_diff(old, new) == ['+ metadata.annotations["kubectl.kubernetes.io/restartedAt"]: now']


def test_foreign_by_field_manager_label_and_purpose():
    assert plan.foreign(None) == ""
    assert plan.foreign(configmap({})) == ""
    assert "not created by kubectl metallb" in plan.foreign(configmap({}, managers=[{"manager": "kubectl"}]))
    labelled = configmap({}, managers=[], labels={"app.kubernetes.io/managed-by": "kubectl-metallb"})
    assert plan.foreign(labelled) == ""  # a LIST item has no managedFields: the label says it
    migrated = configmap({}, annotations={"kubectl-metallb/purpose": "pools migrate from ConfigMap ns/a"})
    assert plan.foreign(migrated, "pools migrate from ConfigMap ns/a") == ""
    assert plan.foreign(migrated, "pools migrate from ConfigMap ns/b") == (
        "kubectl metallb created it for another purpose (pools migrate from ConfigMap ns/a)"
    )


def test_permissions_a_plan_needs():
    assert plan.resource_of("/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy") == (
        "apps", "daemonsets", "kube-system", "")  # fmt: skip
    assert plan.resource_of("/api/v1/namespaces/metallb-system") == ("", "namespaces", None, "")
    assert plan.resource_of("/apis/metallb.io/v1beta1/namespaces/x/ipaddresspools") == (
        "metallb.io", "ipaddresspools", "x", "")  # fmt: skip
    new = Step("v1", "ConfigMap", "a", "ns", Write("apply", "/api/v1/namespaces/ns/configmaps/a"), result="created")
    old = Step("v1", "ConfigMap", "b", "ns", Write("apply", "/api/v1/namespaces/ns/configmaps/b"),
               before={"metadata": {}}, result="changed")  # fmt: skip
    same = Step("v1", "Secret", "s", "ns", Write("apply", "/api/v1/namespaces/ns/secrets/s"), result="unchanged")
    gone = Step("apiextensions.k8s.io/v1", "CustomResourceDefinition", "x",
                write=Write("delete", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x"), result="deleted")  # fmt: skip
    needs = plan.needed_access(Plan("t", "?", [new, old, same, gone]))
    assert [str(a) for a in needs] == [
        "patch configmaps in namespace ns",
        "create configmaps in namespace ns",  # server-side apply of a new object creates it
        "delete customresourcedefinitions.apiextensions.k8s.io (cluster-wide)",
    ]  # nothing for the unchanged Secret: it is not written
    assert plan.needed_access(Plan("t", "?", [same], extra_access=[Access("patch", "", "x")])) == []


def test_failure_midway_says_what_was_applied_and_how_to_finish():
    steps = [Step("v1", "ConfigMap", n, "ns", Write("apply", f"/api/v1/namespaces/ns/configmaps/{n}"),
                  result="created") for n in "abc"]  # fmt: skip
    run = Plan("install", "?", steps, resume="Run the same install again to finish it")
    assert plan.failure(run, steps[:1], steps[1], "boom") == (
        "configmap/b failed: boom. Applied before it (1 of 3): configmap/a created. Not applied: configmap/b, "
        "configmap/c. Run the same install again to finish it"
    )
    assert plan.failure(run, [], steps[0], "boom") == (
        "configmap/a failed: boom. Nothing was applied. Not applied: configmap/a, configmap/b, configmap/c."
    )


def test_render_and_document():
    step = Step("apps/v1", "Deployment", "controller", "ns", Write("apply", "/x"), result="changed",
                diff=["~ spec.replicas: 1 -> 2"])  # fmt: skip
    kept = Step("v1", "Namespace", "ns", note="kept: --keep-namespace", result="left alone")
    refused = Step("v1", "Secret", "s", "ns", Write("apply", "/y"), result="changed", refused="no")
    run = Plan("install", "?", [step, kept, refused], notes=["first backs up 3 objects"])
    assert plan.render(run, dry_run=True).splitlines() == [
        "deployment.apps/controller changed (server dry run)",
        "    ~ spec.replicas: 1 -> 2",
        "namespace/ns left alone (kept: --keep-namespace)",
        "secret/s refused: no",
        "note: first backs up 3 objects",
    ]
    doc = run.document(dry_run=True)
    assert doc["summary"] == {"created": 0, "changed": 2, "unchanged": 0, "deleted": 0, "left alone": 1,
                              "refused": 1}  # fmt: skip
    assert doc["objects"][0] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "controller",
                                 "namespace": "ns", "result": "changed", "diff": ["~ spec.replicas: 1 -> 2"]}  # fmt: skip

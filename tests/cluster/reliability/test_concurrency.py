"""Concurrency on the real control plane: the plugin racing other writers, and racing itself.

strict-arp rewrites one key of kube-proxy's ConfigMap, a file other tools edit too. 50 trials each race
`strict-arp --enable` against another writer and then count lost updates: the plugin's strictARP gone, or the
other writer's change gone. The other writer alternates between a read-modify-write of the same key guarded by
resourceVersion (as `kubectl edit` does) and a blind merge patch of another key and an annotation (as
`kubectl patch` does), and starts either right after the plugin has read the ConfigMap (inside its read-write
window) or after a random delay. Two `install` runs started together must converge too.
This module writes kube-system and installs MetalLB, so it runs on its own API server.
"""

import random
import threading

import pytest
import yaml

from metallb_plugin import cluster, errors

from .common import (KS, KUBE_PROXY_IPVS, V0161_NATIVE, Driven, admin_client, installed_objects, kube_proxy,
                     manifest_refs)

TRIALS = 50
CM_PATH = cluster.api_path("v1", "configmaps", KS, "kube-proxy")
CONFLICT_LINE = "was changed by someone else meanwhile"


@pytest.fixture(scope="module")
def controlplane(private_controlplane):
    return private_controlplane


@pytest.fixture(scope="module")
def api(controlplane):
    return kube_proxy(controlplane)


def reset(api):
    cm = api.get(CM_PATH)
    cm["data"] = {"config.conf": KUBE_PROXY_IPVS}
    cm["metadata"].pop("managedFields", None)
    api.replace(CM_PATH, cm)


def edit_scheduler(api, value):
    """A careful editor: read, change ipvs.scheduler in the text, write with the resourceVersion; retry on 409."""
    for _ in range(20):
        cm = api.get(CM_PATH)
        cm["data"]["config.conf"] = cm["data"]["config.conf"].replace('scheduler: ""', f'scheduler: "{value}"')
        try:
            api.replace(CM_PATH, cm)
            return
        except errors.Conflict:
            continue
    raise AssertionError("the other writer could not write in 20 attempts")


def patch_other_key(api, value):
    """A blind writer: merge-patch another data key and an annotation, no resourceVersion."""
    api.patch(CM_PATH, {"metadata": {"annotations": {"example.com/touched": value}}, "data": {"other": value}})


def lost_updates(api, trial, careful):
    cm = api.get(CM_PATH)
    config = yaml.safe_load(cm["data"]["config.conf"])
    lost = 0
    if config["ipvs"].get("strictARP") is not True:
        lost += 1  # the plugin's change is gone
    if careful and config["ipvs"].get("scheduler") != f"rr-{trial}":
        lost += 1  # the careful writer's change is gone
    if not careful and (cm["data"].get("other") != f"v{trial}"
                        or cm["metadata"]["annotations"].get("example.com/touched") != f"v{trial}"):
        lost += 1  # the blind writer's change is gone
    return lost


def test_strict_arp_races_another_writer(admin, api, tally):
    rng = random.Random(20261125)  # reproducible timings; the interleavings still come from real scheduling
    lost = conflicts = failures = 0
    for trial in range(TRIALS):
        reset(api)
        careful = trial % 2 == 0
        in_window = trial % 4 < 2
        write = (lambda: edit_scheduler(api, f"rr-{trial}")) if careful else (lambda: patch_other_key(api, f"v{trial}"))
        run = Driven(["strict-arp", "--enable", "--yes", "--no-restart", "-v"], admin, tally)
        if in_window:  # right after the plugin's last read before its write
            run.wait_for(lambda line, _: line.startswith(f"GET /apis/apps/v1/namespaces/{KS}/daemonsets/kube-proxy"))
            write()
        else:
            writer = threading.Timer(rng.uniform(0, 0.6), write)
            writer.start()
            writer.join()
        run.finish()
        tally.add("race trials")
        conflicts += run.stderr.count(CONFLICT_LINE)
        if run.returncode != 0:
            failures += 1
        lost += lost_updates(api, trial, careful)
    tally.add("lost updates", lost)
    tally.add("race conflicts detected and retried", conflicts)
    assert (lost, failures) == (0, 0), f"{lost} lost updates, {failures} failed runs in {TRIALS} trials"
    assert conflicts >= TRIALS // 4  # the races were real: at least the in-window ones met a conflict


def test_two_installs_at_once_converge(admin, api, controlplane, upstream_manifest, tally):
    manifest = upstream_manifest("v0.16.1")
    argv = ["install", "--manifest", manifest, "--sha256", V0161_NATIVE, "--no-wait", "--yes"]
    runs = [Driven(argv, admin, tally) for _ in range(2)]
    for run in runs:
        run.finish()
        assert run.returncode == 0, run.stderr
    expected = manifest_refs(manifest) | {("ConfigMap", "metallb-system", "kubectl-metallb-install")}
    assert installed_objects(admin_client(controlplane)) == expected
    third = tally.run(*argv, env=admin)
    assert third.returncode == 0, third.stderr
    assert "is already installed in metallb-system: nothing changed" in third.stderr

"""The benchmark's request count (bench.Audit): the API server logs a request as it arrives and again when its
response is complete, and a mark waits for the second of every first, however late it is written."""

import json
import os
import sys
import threading
import time

import pytest
from helpers import REPO

sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import bench


def _event(audit_id, stage, agent="kubectl-metallb", verb="list"):
    return json.dumps({"auditID": audit_id, "stage": stage, "verb": verb, "userAgent": agent}) + "\n"


def test_a_mark_waits_for_the_requests_that_arrived_to_complete(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text(_event("old", "RequestReceived") + _event("old", "ResponseComplete"))
    audit = bench.Audit(str(log))
    with open(log, "a") as handle:
        handle.write(_event("a", "RequestReceived") + _event("b", "RequestReceived", agent="bench-raw"))
        handle.write(_event("a", "ResponseComplete") + _event("w", "RequestReceived", verb="watch"))
        handle.write(_event("b", "ResponseComplete", agent="bench-raw")[:20])  # half written

    def complete_later():
        time.sleep(0.5)
        with open(log, "a") as handle:
            handle.write(_event("b", "ResponseComplete", agent="bench-raw")[20:])

    writer = threading.Thread(target=complete_later)
    writer.start()
    try:
        raw = audit.since_mark("bench-raw")
    finally:
        writer.join()
    assert [e["auditID"] for e in raw] == ["b"]  # the watch, never complete, is not waited for
    with open(log, "a") as handle:
        handle.write(_event("c", "RequestReceived") + _event("c", "ResponseComplete"))
    assert [e["auditID"] for e in audit.since_mark("kubectl-metallb")] == ["c"]  # from the last mark on


def test_a_request_that_never_completes_is_an_error(tmp_path, monkeypatch):
    log = tmp_path / "audit.log"
    log.write_text("")
    audit = bench.Audit(str(log))
    log.write_text(_event("a", "RequestReceived"))
    monkeypatch.setattr(bench.Audit, "MAX_S", 0.2)
    with pytest.raises(RuntimeError, match="1 requests not complete in the audit log"):
        audit.since_mark("")

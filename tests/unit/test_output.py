import io
import json

import yaml

from metallb_plugin.output import Progress, emit, table


def test_emit_formats():
    doc = {"b": 1, "a": [1, 2]}
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        out = io.StringIO()
        emit(doc, fmt, table=lambda d: "unused", stream=out)
        assert load(out.getvalue()) == doc
    out = io.StringIO()
    emit(doc, "table", table=lambda d: "TABLE", stream=out)
    assert out.getvalue() == "TABLE\n"


def test_yaml_keeps_key_order():
    out = io.StringIO()
    emit({"z": 1, "a": 2}, "yaml", table=str, stream=out)
    assert out.getvalue() == "z: 1\na: 2\n"


def test_table_is_plain_and_does_not_reformat_numbers():
    text = table([["pool-a", "10.0.0.0/24", "0010"]], ["name", "addresses", "size"])
    assert text.splitlines()[0].split() == ["NAME", "ADDRESSES", "SIZE"]
    assert "0010" in text


def test_progress_prints_changes_only_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress(out, enabled=False)
    for message in ("waiting: 0/3", "waiting: 0/3", "waiting: 2/3"):
        progress.update(message)
    progress.done("ready")
    assert out.getvalue() == "waiting: 0/3\nwaiting: 2/3\nready\n"


def test_progress_redraws_on_a_terminal():
    out = io.StringIO()
    progress = Progress(out, enabled=True)
    progress.update("a")
    progress.update("b")
    progress.done()
    assert out.getvalue() == "\r\033[2Ka\r\033[2Kb\r\033[2K"

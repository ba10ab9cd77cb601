import io
import json
import os
import subprocess
import sys

import pytest
import yaml
from helpers import REPO

from metallb_plugin.output import Progress, dump, emit, table


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


def test_progress_on_a_terminal_is_cut_to_its_width():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True, width=30)
    progress.update("waiting for MetalLB to become healthy (12s): speaker not ready on node-1, node-2, node-3")
    drawn = stream.getvalue().split("\r\x1b[2K")[-1]
    assert drawn == "waiting for MetalLB to becom…" and len(drawn) == 29  # never wraps into a second line


def test_integers_json_cannot_hold_are_strings():
    doc = {"size": 2**128, "small": 2**53 - 1, "edge": 2**53, "neg": -(2**60), "flag": True, "list": [2**64, 3]}
    parsed = json.loads(dump(doc, "json"))
    assert parsed == {
        "size": "340282366920938463463374607431768211456",
        "small": 9007199254740991,
        "edge": "9007199254740992",
        "neg": "-1152921504606846976",
        "flag": True,
        "list": ["18446744073709551616", 3],
    }
    assert yaml.safe_load(dump(doc, "yaml"))["size"] == "340282366920938463463374607431768211456"


def run_python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def test_streams_whose_encoding_lacks_the_symbols_get_ascii_stand_ins():
    code = (
        "from metallb_plugin.context import Context\n"
        "ctx = Context.system()\n"
        "ctx.out('√ ok ‼ warn × fail … jürgen 日本')\n"
        "ctx.say('× error …')\n"
    )
    done = run_python(code, PYTHONIOENCODING="ascii")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok ok !! warn x fail ... j\\xfcrgen \\u65e5\\u672c\n"
    assert done.stderr == "x error ...\n"
    utf8 = run_python(code, PYTHONIOENCODING="utf-8")
    assert utf8.stdout == "√ ok ‼ warn × fail … jürgen 日本\n"


@pytest.mark.parametrize("argv", [["version", "--client"], ["version", "--client", "-o", "json"], ["--help"]])
@pytest.mark.parametrize("closed", ["0<&-", "1>&-", "2>&-", "0<&- 1>&- 2>&-"])
def test_closed_standard_streams(argv, closed):
    command = f"exec {sys.executable} -m metallb_plugin {' '.join(argv)} {closed}; "
    done = subprocess.run(["sh", "-c", command], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stderr
    if "1>&-" in closed:
        assert done.stdout == ""
    else:
        assert done.stdout


def test_a_closed_stdin_is_an_empty_manifest_not_a_crash():
    command = f"exec {sys.executable} -m metallb_plugin install --print --manifest - 0<&-"
    done = subprocess.run(["sh", "-c", command], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert "contains no objects" in done.stderr and "Traceback" not in done.stderr

"""The release build (tools/dist/build.py): archive format and the guards against compiled code.

Building the real archive needs the PyPI downloads; tests/cluster/test_krew.py does that once and proves the
result with the real krew (the manifest, rendered from .krew.yaml, is tested in tests/release). Here the pieces
run on small inputs made in the test.
"""

import gzip
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest
from helpers import REPO

from metallb_plugin import __version__


def _load_build():
    spec = importlib.util.spec_from_file_location("dist_build", os.path.join(REPO, "tools", "dist", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()


# ------------------------------------------------------------------------------------------- pins


def test_requirements_are_pinned_with_hashes_and_cover_the_package():
    pins = build.read_requirements()
    names = {build.normalize(name) for name, _, _ in pins}
    assert {build.normalize(n) for n in build.declared_requirements()} <= names
    assert "pyyaml" in names  # kubernetes needs it; bundled without its C extension
    versions = {build.normalize(name): version for name, version, _ in pins}
    assert int(versions["kubernetes"].split(".")[0]) < 36  # 36+ pulls compiled dependencies


def test_a_malformed_pin_is_refused(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("# comment\nrequests>=2\n")
    with pytest.raises(build.BuildError, match=r"r.txt:2: expected 'name==version --hash=sha256:HEX'"):
        build.read_requirements(str(path))


# ------------------------------------------------------------------------------------------- dependencies


def make_wheel(path, files, purelib=True, requires=()):
    info = "-".join(os.path.basename(str(path)).split("-")[:2]) + ".dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: {str(purelib).lower()}\n")
        wheel.writestr(
            f"{info}/METADATA",
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        )
        wheel.writestr(f"{info}/RECORD", "")
        wheel.writestr(f"{info}/licenses/LICENSE", "MIT")
    return str(path)


def test_wheel_contents_without_tests_stubs_or_bytecode(tmp_path):
    path = make_wheel(
        tmp_path / "demo-1.0-py3-none-any.whl",
        {
            "demo/__init__.py": "x = 1",
            "demo/core_test.py": "",
            "demo/tests/t.py": "",
            "demo/__init__.pyi": "",
            "demo/__pycache__/x.cpython-311.pyc": "",
            "demo/data.pem": "cert",
            "demo-1.0.data/purelib/extra.py": "y = 2",
            "demo-1.0.data/scripts/tool": "#!/bin/sh",
        },
        requires=["six>=1", 'wcwidth; extra == "wide"'],
    )
    files, requires = build.wheel_files(path)
    assert sorted(files) == [
        "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/licenses/LICENSE",
        "demo/__init__.py",
        "demo/data.pem",
        "extra.py",
    ]
    assert requires == ["six"]


def test_a_wheel_with_a_compiled_extension_fails_the_build(tmp_path):
    path = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", {"demo/_speed.cpython-311-x86_64-linux-gnu.so": ""})
    with pytest.raises(build.BuildError, match="contains a compiled extension: demo/_speed"):
        build.wheel_files(path)
    path = make_wheel(tmp_path / "demo-1.0-cp311-cp311-linux_x86_64.whl", {"demo/a.py": ""}, purelib=False)
    with pytest.raises(build.BuildError, match="is not a pure-Python wheel"):
        build.wheel_files(path)


@pytest.mark.parametrize(
    "name", ["yaml/_yaml.cpython-311-x86_64-linux-gnu.so", "x/mod.pyd", "lib/a.dylib", "lib/libz.so.1"]
)
def test_check_pure_rejects_compiled_files(name):
    with pytest.raises(build.BuildError, match="compiled extensions cannot go into the zipapp"):
        build.check_pure({"a.py": b"", name: b""})


def make_sdist(path, project, files):
    with tarfile.open(path, "w:gz") as sdist:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{project}/{name}")
            info.size = len(data)
            sdist.addfile(info, io.BytesIO(data))
    return str(path)


def test_pyyaml_sdist_gives_its_pure_package_only(tmp_path):
    path = make_sdist(
        tmp_path / "pyyaml-6.0.3.tar.gz",
        "pyyaml-6.0.3",
        {
            "lib/yaml/__init__.py": b"pure",
            "lib/yaml/cyaml.py": b"",
            "lib/_yaml/__init__.py": b"",
            "yaml/_yaml.pyx": b"",
            "yaml/_yaml.c": b"",
            "LICENSE": b"MIT",
            "PKG-INFO": b"Name: PyYAML",
        },
    )
    files = build.sdist_files(path, "PyYAML")
    assert sorted(files) == [
        "PyYAML-6.0.3.dist-info/LICENSE",
        "PyYAML-6.0.3.dist-info/METADATA",
        "yaml/__init__.py",
        "yaml/cyaml.py",
    ]


def test_other_sdists_are_refused(tmp_path):
    path = make_sdist(tmp_path / "fast-1.0.tar.gz", "fast-1.0", {"fast/__init__.py": b""})
    with pytest.raises(build.BuildError, match="is a source distribution; only pure wheels can be bundled"):
        build.sdist_files(path, "fast")


def test_an_unpinned_runtime_requirement_fails_the_build(tmp_path):
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", {"demo/__init__.py": ""}, requires=["missing>=1"])
    pins = [("demo", "1.0", "0" * 64), ("kubernetes", "35.0.0", "1" * 64), ("tabulate", "0.9.0", "2" * 64)]
    downloads = {
        "demo": wheel,
        "kubernetes": make_wheel(tmp_path / "kubernetes-35.0.0-py3-none-any.whl", {}),
        "tabulate": make_wheel(tmp_path / "tabulate-0.9.0-py3-none-any.whl", {}),
    }
    with pytest.raises(
        build.BuildError,
        match=r"not pinned in tools/dist/requirements.txt: missing \(needed by "
        r"demo==1.0\)",
    ):
        build.collect(pins, downloads)


# ------------------------------------------------------------------------------------------- archives


def test_zipapp_is_deterministic_and_runs(tmp_path):
    files = {"pkg/__init__.py": b"", "pkg/hello.py": b"def hi():\n    print('hi from the zip')\n"}
    main = b"from pkg.hello import hi\nhi()\n"
    first, second = build.zipapp(files, main), build.zipapp(dict(reversed(list(files.items()))), main)
    assert first == second
    assert first.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["__main__.py", "pkg/__init__.py", "pkg/hello.py"]
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    app = tmp_path / "app"
    app.write_bytes(first)
    app.chmod(0o755)
    assert subprocess.run([sys.executable, str(app)], capture_output=True, text=True).stdout == "hi from the zip\n"


def test_tarball_is_deterministic_with_normalised_metadata():
    members = [("kubectl-metallb", b"#!/usr/bin/env python3\n", 0o755), ("LICENSE", b"text", 0o644)]
    data = build.tarball(members)
    assert data == build.tarball(list(reversed(members)))
    assert data[4:8] == b"\0\0\0\0"  # gzip header without a timestamp
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        infos = tar.getmembers()
    assert [(i.name, i.mode, i.uid, i.gid, i.uname, i.mtime) for i in infos] == [
        ("LICENSE", 0o644, 0, 0, "root", build.TAR_MTIME),
        ("kubectl-metallb", 0o755, 0, 0, "root", build.TAR_MTIME),
    ]
    assert gzip.decompress(data)  # plain gzip, as krew detects it


def test_build_id_follows_the_content():
    one = build.build_id("1.0", {"a": b"1"})
    assert one == build.build_id("1.0", {"a": b"1"})
    assert one != build.build_id("1.0", {"a": b"2"}) and one.startswith("1.0-")


def test_bootstrap_refuses_old_pythons_with_a_message():
    with open(build.BOOTSTRAP) as handle:
        text = handle.read()
    assert "@BUILD@" in text and "needs Python %d.%d or newer" in text
    compile(text, "bootstrap", "exec", flags=0, dont_inherit=True)
    assert build.PYTHON_MINIMUM == "3.9" and "MINIMUM = (3, 9)" in text


def test_the_version_and_python_floor_come_from_the_package():
    assert build.plugin_version() == __version__
    with open(os.path.join(REPO, "setup.cfg")) as handle:
        assert f"python_requires = >={build.PYTHON_MINIMUM}" in handle.read()


def test_the_bundled_plugin_parses_as_python_3_9():
    """The archive promises Python 3.9+ (caveats): no newer syntax (match, except*, ...) in the plugin."""
    import ast

    floor = tuple(int(p) for p in build.PYTHON_MINIMUM.split("."))
    for name, data in sorted(build.plugin_files().items()):
        if name.endswith(".py"):
            ast.parse(data, filename=name, feature_version=floor)

#!/usr/bin/env python3
"""Build the krew release archive.

    python3 tools/dist/build.py [--out dist] [--cache DIR] [--fetch-only]

writes dist/kubectl-metallb_v<version>.tar.gz holding two files:
  kubectl-metallb  one executable Python zipapp (#!/usr/bin/env python3): the plugin plus its dependencies,
                   pinned in tools/dist/requirements.txt and downloaded from PyPI (cached, by sha256)
  LICENSE
and dist/checksums.txt (`sha256sum` format) naming its digest; `make dist` then renders the krew manifest from
.krew.yaml. --fetch-only only fills the download cache. The build fails when a dependency is not pure Python
(no .so/.pyd), when a run-time dependency is not pinned, or when a download does not match its pinned sha256. It
is reproducible: sorted entries, fixed timestamps and owners, no bytecode, so the same inputs give the same sha256.
Standard library only (plus pip, to download).
"""

import argparse
import configparser
import email.parser
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
BOOTSTRAP = os.path.join(HERE, "bootstrap.py")

BINARY = "kubectl-metallb"
PYTHON_MINIMUM = "3.9"  # also in setup.cfg (python_requires), bootstrap.py and .krew.yaml's caveats
CHECKSUMS = "checksums.txt"

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
TAR_MTIME = 315532800  # the same instant (1980-01-01T00:00:00Z), unless SOURCE_DATE_EPOCH says otherwise
COMPILED = (".so", ".pyd", ".dylib", ".dll")
# Only the pure-Python package of these sdists goes in (they have no pure wheel; their C part is optional).
SDIST_PACKAGES = {"pyyaml": "lib/yaml"}


class BuildError(Exception):
    pass


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------------------------- dependencies


def read_requirements(path=REQUIREMENTS):
    """[(name, version, sha256)] from `name==version --hash=sha256:HEX` lines."""
    pins = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            found = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s+--hash=sha256:([0-9a-f]{64})", line)
            if not found:
                raise BuildError(f"{path}:{number}: expected 'name==version --hash=sha256:HEX', got {line!r}")
            pins.append(found.groups())
    return pins


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached(cache):
    return {_sha256_file(os.path.join(cache, n)): os.path.join(cache, n) for n in sorted(os.listdir(cache))
            if n.endswith((".whl", ".tar.gz", ".zip"))}


def fetch(pins, cache, python=sys.executable):
    """{name: file} for every pin: from the cache when a file with the pinned sha256 is there, else from PyPI."""
    os.makedirs(cache, exist_ok=True)
    have = _cached(cache)
    missing = [p for p in pins if p[2] not in have]
    if missing:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
            listing.writelines(f"{name}=={version} --hash=sha256:{sha}\n" for name, version, sha in missing)
        sdists = ",".join(SDIST_PACKAGES)
        command = [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                   "--require-hashes", "--only-binary=:all:", f"--no-binary={sdists}", "--platform", "any",
                   "--implementation", "py", "--abi", "none", "--python-version", PYTHON_MINIMUM,
                   "--dest", cache, "-r", listing.name]
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        finally:
            os.unlink(listing.name)
        if done.returncode != 0:
            names = ", ".join(f"{n}=={v}" for n, v, _ in missing)
            raise BuildError(f"cannot download {names} as pure-Python packages for Python {PYTHON_MINIMUM}+ "
                             f"(a dependency that only ships compiled wheels cannot go into the zipapp):\n"
                             f"{done.stderr.strip()}")
        have = _cached(cache)
    files = {}
    for name, version, sha in pins:
        if sha not in have:
            raise BuildError(f"{name}=={version}: no downloaded file has the pinned sha256 {sha}")
        files[normalize(name)] = have[sha]
    return files


def _is_license(name):
    return re.search(r"(^|/)(licen[cs]es?|copying|notice|authors)([./]|$)", name, re.IGNORECASE) is not None


def _wanted(path):
    """Whether a file of a dependency belongs in the zipapp (no tests, stubs or bytecode)."""
    parts = path.split("/")
    if "__pycache__" in parts or "tests" in parts or "test" in parts:
        return False
    return not path.endswith((".pyc", ".pyo", ".pyi", "py.typed", "_test.py"))


def wheel_files(path):
    """{archive path: bytes} of a pure wheel, and the names it requires at run time."""
    out, requires = {}, []
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        info = next((n for n in names if re.fullmatch(r"[^/]+\.dist-info/WHEEL", n)), None)
        if info is None:
            raise BuildError(f"{os.path.basename(path)} is not a wheel (no .dist-info/WHEEL)")
        if "root-is-purelib: true" not in wheel.read(info).decode().lower():
            raise BuildError(f"{os.path.basename(path)} is not a pure-Python wheel")
        for source in names:
            if source.endswith("/"):
                continue
            if source.lower().endswith(COMPILED) or ".so." in source:
                raise BuildError(f"{os.path.basename(path)} contains a compiled extension: {source}")
            top, _, rest = source.partition("/")
            name = source
            if top.endswith(".dist-info"):
                if rest == "METADATA":
                    metadata = email.parser.Parser().parsestr(wheel.read(source).decode("utf-8"))
                    requires = [r for r in metadata.get_all("Requires-Dist") or [] if "extra" not in r]
                elif not _is_license(rest):
                    continue
            else:
                if top.endswith(".data"):
                    kind, _, name = rest.partition("/")
                    if kind not in ("purelib", "platlib"):
                        continue  # scripts, headers, data: not importable, not needed
                if not _wanted(name):
                    continue
            out[name] = wheel.read(source)
    return out, [re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in requires]


def sdist_files(path, project):
    """{archive path: bytes}: the pure-Python package of an sdist (PyYAML without its C extension)."""
    package_dir = SDIST_PACKAGES.get(normalize(project))
    if package_dir is None:
        raise BuildError(f"{os.path.basename(path)} is a source distribution; only pure wheels can be bundled "
                         f"(and the sdists known to be pure Python: {', '.join(SDIST_PACKAGES)})")
    out = {}
    package = package_dir.rsplit("/", 1)[-1]
    with tarfile.open(path, "r:gz") as sdist:
        for member in sdist.getmembers():
            root, _, inner = member.name.partition("/")
            if not member.isfile():
                continue
            if inner.startswith(package_dir + "/") and inner.endswith(".py"):
                out[package + inner[len(package_dir):]] = sdist.extractfile(member).read()
            elif inner == "PKG-INFO" or (_is_license(inner) and "/" not in inner):
                version = root.rsplit("-", 1)[-1]
                out[f"{project}-{version}.dist-info/{'METADATA' if inner == 'PKG-INFO' else inner}"] = \
                    sdist.extractfile(member).read()
    if not any(name.startswith(package + "/") for name in out):
        raise BuildError(f"{os.path.basename(path)} has no {package_dir}/ package")
    return out


def plugin_files(repo=REPO):
    """{archive path: bytes} of the metallb_plugin package as it is in the work tree."""
    out = {}
    base = os.path.join(repo, "metallb_plugin")
    for folder, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in names:
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(folder, name)
            with open(full, "rb") as handle:
                out[os.path.relpath(full, repo).replace(os.sep, "/")] = handle.read()
    return out


def declared_requirements(repo=REPO):
    """Run-time dependency names of the plugin, from setup.cfg's install_requires."""
    config = configparser.ConfigParser()
    config.read(os.path.join(repo, "setup.cfg"), encoding="utf-8")
    text = config.get("options", "install_requires", fallback="")
    return [re.match(r"[A-Za-z0-9._-]+", line.strip()).group(0) for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def check_pure(files):
    compiled = sorted(n for n in files if n.lower().endswith(COMPILED) or ".so." in n)
    if compiled:
        raise BuildError(f"compiled extensions cannot go into the zipapp: {', '.join(compiled)}")


def collect(pins, downloads, repo=REPO):
    """Every file of the zipapp except __main__.py, checked: pure, and each run-time requirement pinned."""
    files = plugin_files(repo)
    pinned = {normalize(name) for name, _, _ in pins}
    needed = {normalize(n): "setup.cfg" for n in declared_requirements(repo)}
    for name, version, _ in pins:
        path = downloads[normalize(name)]
        if path.endswith(".whl"):
            found, requires = wheel_files(path)
            needed.update({normalize(r): f"{name}=={version}" for r in requires})
        else:
            found = sdist_files(path, name)
        clash = sorted(set(found) & set(files))
        if clash:
            raise BuildError(f"{name}=={version} would overwrite {clash[0]}")
        files.update(found)
    unpinned = sorted(f"{n} (needed by {who})" for n, who in needed.items() if n not in pinned)
    if unpinned:
        raise BuildError(f"not pinned in {os.path.relpath(REQUIREMENTS, repo)}: {', '.join(unpinned)}")
    check_pure(files)
    return files


# --------------------------------------------------------------------------------------------- archives


def build_id(version, files):
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return f"{version}-{digest.hexdigest()[:16]}"


def zipapp(files, main):
    """Bytes of an executable zipapp: a shebang line, then a deterministic zip (sorted, fixed dates/modes)."""
    buffer = io.BytesIO()
    buffer.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in sorted({**files, "__main__.py": main}.items()):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so the modes below are read back
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def tarball(members, mtime=TAR_MTIME):
    """Bytes of a deterministic .tar.gz: members [(name, bytes, mode)] sorted, owner root, fixed times."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data, mode in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, compresslevel=9, mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def archive_name(version):
    return f"{BINARY}_v{version}.tar.gz"


def plugin_version(repo=REPO):
    with open(os.path.join(repo, "metallb_plugin", "__init__.py"), encoding="utf-8") as handle:
        found = re.search(r'^__version__ = "([^"]+)"', handle.read(), re.MULTILINE)
    if not found:
        raise BuildError("metallb_plugin/__init__.py does not set __version__")
    return found.group(1)


def build(out, cache, repo=REPO):
    """Write the archive and checksums.txt; returns (archive path, sha256, zipapp)."""
    version = plugin_version(repo)
    pins = read_requirements()
    files = collect(pins, fetch(pins, cache), repo)
    with open(BOOTSTRAP, encoding="utf-8") as handle:
        main = handle.read().replace("@BUILD@", build_id(version, files)).encode()
    app = zipapp(files, main)
    with open(os.path.join(repo, "LICENSE"), "rb") as handle:
        license_text = handle.read()
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", TAR_MTIME))
    data = tarball([(BINARY, app, 0o755), ("LICENSE", license_text, 0o644)], mtime)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, archive_name(version))
    with open(path, "wb") as handle:
        handle.write(data)
    sha256 = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, CHECKSUMS), "w", encoding="utf-8") as handle:
        handle.write(f"{sha256}  {archive_name(version)}\n")
    return path, sha256, app


def default_cache():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kubectl-metallb-build", "pypi")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "dist"), help="where the archive goes (default dist/)")
    parser.add_argument("--cache", default=default_cache(), help="downloaded dependencies (default ~/.cache/...)")
    parser.add_argument("--fetch-only", action="store_true", help="only download the pinned dependencies")
    opts = parser.parse_args(argv)
    try:
        if opts.fetch_only:
            fetch(read_requirements(), opts.cache)
            return 0
        path, sha256, app = build(opts.out, opts.cache)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = os.path.getsize(path)
    print(f"{os.path.relpath(path)}  {size / 1e6:.2f} MB (zipapp {len(app) / 1e6:.2f} MB)  sha256 {sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

# kubectl-metallb: the plugin and its pure-Python dependencies in one zip file (Python zipapp), built by
# tools/dist/build.py, which puts this file into the archive as __main__.py and fills in BUILD.
#
# Python cannot keep compiled bytecode for modules imported from a zip file, so importing the Kubernetes client
# from the archive would recompile ~800 modules on every run (about 2 s). The first run therefore unpacks the
# archive into the user's cache directory (one folder per build, written atomically) and later runs import from
# there; a new build removes the folders of older ones. When that is impossible (read-only home,
# KUBECTL_METALLB_NO_CACHE set) everything runs from the zip.
# Keep this file importable by old Pythons, so that they get the message below instead of a syntax error.
import os
import sys

BUILD = "@BUILD@"
MINIMUM = (3, 9)

if sys.version_info < MINIMUM:
    sys.stderr.write("error: kubectl-metallb needs Python %d.%d or newer as python3 on PATH; this is Python %d.%d\n"
                     % (MINIMUM + tuple(sys.version_info[:2])))
    sys.exit(2)


def _complete(folder):
    return os.path.isfile(os.path.join(folder, ".complete"))


def _unpacked(archive):
    """The folder holding this build unpacked, or None to run from the zip file."""
    if os.environ.get("KUBECTL_METALLB_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    target = os.path.join(base, "kubectl-metallb", BUILD)
    if _complete(target):
        return target
    import shutil
    import tempfile
    import zipfile

    staging = None
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".unpack-", dir=os.path.dirname(target))
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(staging, [n for n in bundle.namelist() if n != "__main__.py"])
        open(os.path.join(staging, ".complete"), "w").close()
        os.rename(staging, target)  # atomic; fails when another run finished first, which is fine
        staging = None
        _prune(os.path.dirname(target), os.path.basename(target))
    except OSError:
        pass
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    return target if _complete(target) else None


def _prune(base, keep):
    """Remove other builds (this one replaced them) and staging folders that a crashed run left behind."""
    import shutil
    import time

    for name in os.listdir(base):
        path = os.path.join(base, name)
        if name == keep:
            continue
        if name.startswith(".unpack-") and time.time() - os.path.getmtime(path) < 3600:
            continue  # maybe another run unpacking right now
        shutil.rmtree(path, ignore_errors=True)


_root = _unpacked(sys.path[0])
if _root:
    sys.path[0] = _root
    # bytecode is what the unpacked copy is for; it stays inside this private folder (PYTHONDONTWRITEBYTECODE
    # is about not littering source trees)
    sys.dont_write_bytecode = False

from metallb_plugin.cli import main  # noqa: E402

sys.exit(main())

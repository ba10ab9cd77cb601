"""Run a program in a root filesystem of its own, as a container runtime runs an image made of several files
(stdlib only; used by the kubelet stand-in for frr-k8s' containers).

    rootfs.py SPEC.json PROGRAM [ARGS...]

SPEC (JSON): {"root": an empty directory to build the root in,
              "image": a directory whose files appear at / (the image's own files, e.g. /frr-k8s),
              "mounts": [[source, path, read_only], ...]   (the Pod's volumes at their mount paths, /tmp, /run)}

It must run in a mount namespace of its own (`ip netns exec` gives one). The root is a tmpfs in which every
top-level directory of the machine is bound, the image's files are bound over it, then the volumes at their
paths; a directory that has to receive a path the machine lacks (/etc/frr_reloader, /var/tmp/frr) is replaced in
the root by a tmpfs holding binds of its entries, so nothing is ever created on the machine's own filesystem.
Then it chroots there and execs PROGRAM (same pid: the stand-in keeps tracking it).
"""

import json
import os
import subprocess
import sys

SKIP = {"proc", "sys", "dev", "tmp", "run", "lost+found"}  # mounted fresh, or private to the Pod
MAX_LINKS = 40


def mount(*args):
    subprocess.run(["mount", *args], check=True)


class Root:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.shadowed = {self.root}  # directories of the root that are tmpfs (safe to create entries in)

    def host(self, path):
        """Where a path of the new root is on this machine, following symlinks inside the new root."""
        parts = [p for p in path.split("/") if p]
        resolved = []
        links = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                resolved = resolved[:-1]
                continue
            candidate = os.path.join(self.root, *resolved, part)
            if os.path.islink(candidate):
                links += 1
                if links > MAX_LINKS:
                    raise OSError(f"too many symbolic links in {path}")
                target = os.readlink(candidate)
                parts = [p for p in target.split("/") if p] + parts
                if target.startswith("/"):
                    resolved = []
                continue
            resolved.append(part)
        return os.path.join(self.root, *resolved)

    def writable(self, directory):
        """Make a directory of the root (an existing host bind) a tmpfs holding binds of its entries."""
        if directory in self.shadowed:
            return
        parent = os.path.dirname(directory)
        self.writable(parent)
        source = "/" + os.path.relpath(directory, self.root)
        mount("-t", "tmpfs", "tmpfs", directory)  # over the bind of the machine's directory
        self.shadowed.add(directory)
        for entry in os.listdir(source):
            self.bind(os.path.join(source, entry), os.path.join(directory, entry))

    def bind(self, source, target, read_only=False):
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
            return
        if os.path.isdir(source):
            os.mkdir(target)
        else:
            open(target, "w").close()
        mount("--rbind", source, target)
        if read_only:
            mount("-o", "remount,bind,ro", target)

    def place(self, source, path, read_only=False):
        """Bind source at path of the root, making its parent writable first when path does not exist."""
        if not os.path.lexists(source):
            raise SystemExit(f"rootfs.py: {source} (for {path}) does not exist")
        target = self.host(path)
        if os.path.lexists(target):
            mount("--rbind", source, target)
            if read_only:
                mount("-o", "remount,bind,ro", target)
            return
        parent = os.path.dirname(target)
        missing = []
        while not os.path.isdir(parent):
            missing.append(os.path.basename(parent))
            parent = os.path.dirname(parent)
        self.writable(parent)
        for name in reversed(missing):
            parent = os.path.join(parent, name)
            if not os.path.isdir(parent):  # the machine's directory may have had it
                os.mkdir(parent)
                self.shadowed.add(parent)
        if os.path.lexists(target):
            mount("--rbind", source, target)
            if read_only:
                mount("-o", "remount,bind,ro", target)
        else:
            self.bind(source, target, read_only)
        if os.path.isdir(target):
            self.shadowed.add(target)  # a volume: what is created in it belongs to the Pod


def build(spec):
    root = Root(spec["root"])
    mount("--make-rprivate", "/")
    mount("-t", "tmpfs", "tmpfs", root.root)
    for entry in sorted(os.listdir("/")):
        if entry not in SKIP:
            root.bind(os.path.join("/", entry), os.path.join(root.root, entry))
    for name in ("proc", "sys", "dev", "tmp", "run"):
        os.mkdir(os.path.join(root.root, name))
        root.shadowed.add(os.path.join(root.root, name))
    mount("-t", "proc", "proc", os.path.join(root.root, "proc"))
    mount("--rbind", "/sys", os.path.join(root.root, "sys"))
    mount("--rbind", "/dev", os.path.join(root.root, "dev"))
    mounts = sorted(spec.get("mounts", []), key=lambda m: m[1] not in ("/tmp", "/run"))  # the Pod's own first
    for source, path, read_only in mounts[:2]:
        if path in ("/tmp", "/run"):
            root.place(source, path, read_only)
    image = spec.get("image")
    for directory, _, files in os.walk(image) if image else ():
        for name in files:
            source = os.path.join(directory, name)
            root.place(source, "/" + os.path.relpath(source, image), read_only=True)
    for source, path, read_only in mounts:
        if path not in ("/tmp", "/run"):
            root.place(source, path, read_only)
    return root


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as handle:
        spec = json.load(handle)
    root = build(spec)
    os.chroot(root.root)
    os.chdir("/")
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Which program the kubelet stand-in runs for a container image (stdlib only).

    resolve(bin_dir, image) -> Image | None     None: an image this machine has nothing for (ErrImagePull)

Two kinds of image:
- "binary": MetalLB's controller and speaker images hold one Go binary each: bin/metallb/<tag>/<name>. The
  stand-in runs it directly (its args and env pointed at the Pod's volumes).
- "rootfs": images of several files whose programs use fixed paths (/etc/frr, /var/run/frr, /etc/frr_reloader...):
  frr-k8s (quay.io/metallb/frr-k8s:<tag>: bin/frr-k8s/<tag>/, built by frrk8s/build.sh) and FRR
  (quay.io/frrouting/frr: the FRR of this machine, Debian's frr package, plus frrk8s/image/frr for the two files of
  FRR's image that Debian lacks). rootfs.py runs their commands in a root of their own: the machine's directories,
  the image's files at /, the volumes at their mount paths.
"""

import json
import os
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
FRR_IMAGE = os.path.join(HERE, "frrk8s", "image", "frr")
BINARY, ROOTFS = "binary", "rootfs"
BUILD_HINT = ("build MetalLB with tools/controlplane/metallb/build.sh, frr-k8s with tools/controlplane/frrk8s/"
              "build.sh; FRR's image needs Debian's frr and frr-pythontools")


@dataclass(frozen=True)
class Image:
    kind: str  # BINARY | ROOTFS
    path: str  # the binary, or the directory of the image's own files


def resolve(bin_dir, image):
    name, _, tag = image.split("@")[0].rpartition(":")
    if "/" in tag or not name:
        return None
    base = name.rsplit("/", 1)[-1]
    if name.endswith("metallb/frr-k8s"):
        directory = os.path.join(bin_dir, "frr-k8s", tag)
        return Image(ROOTFS, directory) if os.access(os.path.join(directory, "frr-k8s"), os.X_OK) else None
    if name.endswith("frrouting/frr"):
        ready = os.access("/usr/lib/frr/watchfrr", os.X_OK) and os.path.exists("/usr/lib/frr/frr-reload.py")
        return Image(ROOTFS, FRR_IMAGE) if ready else None
    path = os.path.join(bin_dir, "metallb", tag, base)
    return Image(BINARY, path) if os.access(path, os.X_OK) else None


def rootfs_argv(pod_dir, container, image, mounts, command):
    """argv that runs command in a root of its own for this container (rootfs.py); mounts: [(source, path,
    read_only)] of its volumes, /tmp and /run first."""
    root = os.path.join(pod_dir, "roots", container)
    os.makedirs(root, exist_ok=True)
    spec = os.path.join(pod_dir, "roots", f"{container}.json")
    with open(spec, "w") as handle:
        json.dump({"root": root, "image": image.path, "mounts": [list(m) for m in mounts]}, handle)
    return ["python3", os.path.join(HERE, "rootfs.py"), spec, *command]

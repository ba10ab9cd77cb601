#!/usr/bin/env python3
"""Derive what `kubectl metallb install --manifest` compares an unpinned manifest with: for every release file
pinned in metallb_plugin/core/releases.py, the identity and digest of each object, the rules and bindings of its
RBAC objects and the images of its workloads (metallb_plugin/core/install/pinned.json).

    python3 tools/manifests/derive.py [--from DIR] [--check]

Each file is read from DIR/<tag>/<file> when given (a mirror of the release files), else downloaded from the
release tag (releases.URL_PATTERN); either way its sha256 must be the pinned one. --check compares the result with
the file in the repository instead of writing it (only for the files DIR holds). Run it after pinning a release.
"""

import argparse
import hashlib
import json
import os
import sys
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from metallb_plugin.core import releases  # noqa: E402
from metallb_plugin.core.install import provenance  # noqa: E402

OUT = os.path.join(REPO, "metallb_plugin", "core", "install", "pinned.json")


def read(tag, name, source):
    if source:
        path = os.path.join(source, tag, name)
        if not os.path.exists(path):
            return None
        with open(path, "rb") as handle:
            data = handle.read()
    else:
        with urllib.request.urlopen(releases.URL_PATTERN.format(tag=tag, file=name), timeout=60) as response:
            data = response.read()
    if hashlib.sha256(data).hexdigest() != releases.RELEASES[tag][name][1]:
        raise SystemExit(f"{tag}/{name}: sha256 is not the pinned one")
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", metavar="DIR")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    index = {"objects": {}, "rbac": {}, "images": {}, "manifests": {}}
    for tag, files in releases.RELEASES.items():
        for name in files:
            data = read(tag, name, args.source)
            if data is not None:
                provenance.add(index, f"{tag}/{name}", data)
    if args.check:
        with open(OUT, encoding="utf-8") as handle:
            pinned = json.load(handle)
        wrong = [k for k, v in index["manifests"].items() if pinned["manifests"].get(k) != v]
        wrong += [d for d in index["objects"] if pinned["objects"].get(d) != index["objects"][d]]
        if wrong:
            raise SystemExit(f"{OUT} does not match the release files for: {', '.join(wrong[:5])}")
        print(f"{len(index['manifests'])} release files match {os.path.relpath(OUT, REPO)}")
        return
    with open(OUT, "w", encoding="utf-8") as handle:  # an entry per line: reviewable diffs when a release is added
        sections = []
        for name in sorted(index):
            entries = [f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(index[name].items())]
            sections.append(f'"{name}": {{\n' + ",\n".join(entries) + "\n}")
        handle.write("{\n" + ",\n".join(sections) + "\n}\n")
    print(f"{len(index['manifests'])} release files, {len(index['objects'])} distinct objects -> {OUT}")


if __name__ == "__main__":
    main()

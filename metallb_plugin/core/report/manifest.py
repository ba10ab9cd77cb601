"""The report's own record: what it holds, what it could not collect and why, how it was made (pure).

manifest.json is the last entry of every archive; manifest.txt says the same for a reader without tools.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List


@dataclass
class Manifest:
    created: str  # RFC 3339, UTC
    plugin: str  # the plugin's version
    context: str
    server: str
    user: str
    namespace: str  # MetalLB's namespace
    redacted: bool
    tail_lines: int  # -1: whole logs
    max_bytes: int
    namespaces: List[str] = field(default_factory=list)  # every namespace read in full
    installation: Any = None  # Installation.to_dict() or None
    files: List[Dict[str, Any]] = field(default_factory=list)  # {"path", "bytes"}
    not_collected: List[Dict[str, str]] = field(default_factory=list)  # {"path", "reason"}
    commands: List[Dict[str, Any]] = field(default_factory=list)  # {"command", "exitCode", "stderr"}
    size_capped: int = 0  # entries left out because of max_bytes

    @property
    def bytes(self) -> int:
        return sum(int(f["bytes"]) for f in self.files)

    def collected(self, path: str, size: int) -> None:
        self.files.append({"path": path, "bytes": size})

    def missing(self, path: str, reason: str) -> None:
        self.not_collected.append({"path": path, "reason": reason})

    def to_document(self) -> Dict[str, Any]:
        return {
            "kind": "MetalLBReport",
            "version": 1,
            "created": self.created,
            "plugin": self.plugin,
            "cluster": {"context": self.context, "server": self.server, "user": self.user},
            "namespace": self.namespace,
            "namespaces": self.namespaces,
            "installation": self.installation,
            "redacted": self.redacted,
            "logs": {"tailLines": self.tail_lines},
            "maxBytes": self.max_bytes,
            "bytes": self.bytes,
            "files": self.files,
            "notCollected": self.not_collected,
            "commands": self.commands,
        }

    def text(self) -> str:
        redaction = (
            "passwords, tokens and keys redacted; Secret values never collected"
            if self.redacted
            else "NOT redacted (--no-redact): passwords, tokens and keys in clear text; Secret values never collected"
        )
        lines = [
            f"MetalLB report, {self.created}, kubectl-metallb {self.plugin}",
            f'cluster: context "{self.context}", server {self.server}, user "{self.user}"',
            f"MetalLB namespace: {self.namespace}; namespaces read in full: {', '.join(self.namespaces) or 'none'}",
            f"redaction: {redaction}",
            "",
            f"collected ({len(self.files)} files, {self.bytes} bytes before compression):",
            *(f"  {f['path']}  {f['bytes']}" for f in self.files),
            "",
            f"not collected ({len(self.not_collected)}):",
            *(f"  {m['path']}: {m['reason']}" for m in self.not_collected),
            "",
            "plugin commands:",
            *(f"  kubectl metallb {c['command']}: exit code {c['exitCode']}" for c in self.commands),
        ]
        return "\n".join(lines) + "\n"

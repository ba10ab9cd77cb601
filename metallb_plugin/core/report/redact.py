"""What a report must not carry: credentials in objects, in text (configurations, logs, JSON in annotations) and
any value of a Secret the report's reader saw (pure).

    redactor = Redactor(known=secret_values)      # values to scrub wherever they appear (kept in memory only)
    redactor.object(obj)  -> a redacted copy      # password/token/key fields, env values, --password=... flags
    redactor.text(text)   -> redacted text        # "password X" (FRR), "token: X" lines, "password":"X" JSON
    secret_summary(secret) -> its names only       # name, type, labels, owners, key names: never a value

Secrets are never written, redacted or not: the report keeps their names and key names. Field names that hold
references, not values (`key` of a selector or toleration, `secretName`, `passwordSecret: {name}`), are kept.
"""

import base64
import json
import re
from typing import Any, Dict, Iterable, List, Optional

from metallb_plugin.core.objects import Obj

REDACTED = "<redacted>"
MIN_KNOWN = 4  # shorter values are not scrubbed from text (too many false hits)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# most strings of an object (names, addresses, times) are short: one search for a credential word costs less than
# the three substitutions it rules out (a long text is rarely without one, and scanning it first would cost more)
SHORT = 256

# names of fields, variables, flags and config lines whose values are credentials: password, bgpPassword, token,
# id-token, client-key-data, secretkey, tls.key, privateKey, apiKey ... (not `key`, `topologyKey`, `secretName`)
_CREDENTIAL = r"(?:password|passwd|passphrase|token|credential|authorization|(?:secret|private|api|client|tls|ssh|signing|encryption)[-_.]?key)"
_SECRET_NAME = re.compile(rf"(?i){_CREDENTIAL}")
_ENV_SECRET = re.compile(r"(?i)secret")  # METALLB_..._SECRET: an environment variable may say it more loosely
_NAMES_A_THING = re.compile(r"(?i)[-_.](path|file|dir|name|namespace|ref)$")  # it names a file or an object
_FLAG = re.compile(r"^(--?[\w.-]+)=(.*)$")
# text: FRR's "neighbor X password Y", YAML/INI/env lines "token: Y", JSON pairs "password": "Y"
_FRR_PASSWORD = re.compile(r"(?i)(\bpassword\s+)(?!<redacted>)(\S+)")
_LINE = re.compile(
    rf"(?im)^([ \t]*-*[ \t]*[\"']?([\w.-]*{_CREDENTIAL}[\w.-]*)[\"']?[ \t]*[:=][ \t]*)(?!<redacted>)(\S[^\n]*?)[ \t]*$"
)
_JSON = re.compile(rf'(?i)("[\w.-]*{_CREDENTIAL}[\w.-]*"\s*:\s*)"(?:[^"\\]|\\.)*"')


def secret_field(name: str) -> bool:
    """Whether a field, variable or flag of this name holds a credential (not when it names a file or object)."""
    return bool(_SECRET_NAME.search(name)) and not _NAMES_A_THING.search(name)


def secret_env(name: str) -> bool:
    return (secret_field(name) or bool(_ENV_SECRET.search(name))) and not _NAMES_A_THING.search(name)


def secret_values(secrets: Iterable[Obj]) -> List[str]:
    """Every value of these Secrets, decoded and as stored (base64), to scrub from whatever the report holds."""
    found: List[str] = []
    for secret in secrets:
        for value in (secret.get("data") or {}).values():
            found.append(str(value))
            try:
                found.append(base64.b64decode(str(value)).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                pass
        found += [str(v) for v in (secret.get("stringData") or {}).values()]
    return found


def secret_summary(secret: Obj) -> Dict[str, Any]:
    """A Secret without its values: name, type, labels, owners and the names of its keys."""
    meta = secret.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "labels", "creationTimestamp", "ownerReferences", "uid")
            if key in meta
        },
        "type": secret.get("type"),
        "keys": sorted(set(secret.get("data") or {}) | set(secret.get("stringData") or {})),
        "annotationKeys": sorted(meta.get("annotations") or {}),
    }


class Redactor:
    def __init__(self, known: Iterable[str] = (), enabled: bool = True) -> None:
        self.enabled = enabled
        values = sorted({v for v in known if len(v) >= MIN_KNOWN}, key=len, reverse=True)
        self._known: Optional[re.Pattern[str]] = re.compile("|".join(map(re.escape, values))) if values else None

    def text(self, text: str) -> str:
        if not self.enabled:
            return text
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        if len(text) < SHORT and not _SECRET_NAME.search(text):
            return text  # each pattern below needs a credential word
        text = _FRR_PASSWORD.sub(lambda m: m.group(1) + REDACTED, text)
        text = _LINE.sub(lambda m: m.group(0) if _NAMES_A_THING.search(m.group(2)) else m.group(1) + REDACTED, text)
        return _JSON.sub(lambda m: m.group(1) + json.dumps(REDACTED), text)

    def object(self, obj: Any) -> Any:
        """A redacted copy of a JSON-like value."""
        return self._walk(obj) if self.enabled else obj

    def _walk(self, value: Any, field: str = "") -> Any:
        """The redacted copy of a value (dicts and lists are new, the value is left as it was)."""
        if isinstance(value, dict):
            env = "name" in value and "value" in value and isinstance(value.get("name"), str)  # an env var
            hide_value = env and secret_env(value["name"]) and isinstance(value["value"], str)
            out = {}
            for key, item in value.items():
                if hide_value and key == "value":
                    item = REDACTED
                if key == LAST_APPLIED and isinstance(item, str):
                    out[key] = self._json_text(item)
                elif isinstance(item, str) and secret_field(str(key)):
                    out[key] = REDACTED
                else:
                    out[key] = self._walk(item, str(key))
            return out
        if isinstance(value, list):
            if field in ("args", "command"):
                return self._argv(value)
            if secret_field(field):
                return [REDACTED if isinstance(v, str) else self._walk(v) for v in value]
            return [self._walk(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def _argv(self, argv: List[Any]) -> List[Any]:
        """--password=X and --password X redacted in a container's command line."""
        out: List[Any] = []
        hide_next = False
        for arg in argv:
            if not isinstance(arg, str):
                out.append(self._walk(arg))
                continue
            match = _FLAG.match(arg)
            if hide_next and not arg.startswith("-"):
                out.append(REDACTED)
            elif match and secret_field(match.group(1).lstrip("-")):
                out.append(f"{match.group(1)}={REDACTED}")
            else:
                out.append(self.text(arg))
            hide_next = arg.startswith("-") and not match and secret_field(arg.lstrip("-"))
        return out

    def _json_text(self, text: str) -> str:
        """JSON kept in a string (kubectl's last-applied-configuration): redacted as an object."""
        try:
            parsed = json.loads(text)
        except ValueError:
            return self.text(text)
        return json.dumps(self._walk(parsed), separators=(",", ":"))

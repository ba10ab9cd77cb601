"""What a kubelet derives from a Pod before it starts a container: env, args, volume contents, probes.

Pure functions over the Pod object and the Secrets/ConfigMaps it references (the caller reads those), plus the
kubelet's atomic writer for volume directories. Errors carry the messages a kubelet reports.
"""

import base64
import os
import re
import shutil
import time

VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


class ConfigError(Exception):
    """The container cannot start with this configuration yet (kubelet: CreateContainerConfigError)."""


class MountError(Exception):
    """A volume cannot be set up yet (kubelet: FailedMount; the Pod stays ContainerCreating)."""


def expand(text, env):
    """Kubernetes' $(VAR) expansion: known variables are replaced, unknown ones kept, $$ escapes a $."""
    def one(match):
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return VAR_REF.sub(one, text)


def field(pod, path):
    """A downward API fieldRef.fieldPath of the Pod (the fields the kubelet supports)."""
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
    simple = {
        "metadata.name": meta["name"], "metadata.namespace": meta["namespace"], "metadata.uid": meta["uid"],
        "spec.nodeName": spec.get("nodeName", ""), "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""), "status.podIP": status.get("podIP", ""),
        "status.hostIPs": ",".join(i["ip"] for i in status.get("hostIPs", [])),
        "status.podIPs": ",".join(i["ip"] for i in status.get("podIPs", [])),
    }
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return meta.get(match.group(1), {}).get(match.group(2), "")
    raise ConfigError(f"unsupported fieldPath: {path}")


def _key_ref(ref, objects, kind):
    obj = objects.get(ref["name"])
    if obj is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind} "{ref["name"]}" not found')
    data = _data(obj)
    if ref["key"] not in data:
        if ref.get("optional"):
            return None
        raise ConfigError(f"couldn't find key {ref['key']} in {kind} {obj['metadata']['namespace']}/{ref['name']}")
    return data[ref["key"]].decode()


def _data(obj):
    """{key: bytes} of a Secret or ConfigMap."""
    if obj["kind"] == "Secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    out = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return out


def environment(pod, container, secrets, configmaps):
    """The container's environment as the kubelet builds it (envFrom first, then env in order)."""
    env = {}
    for source in container.get("envFrom", []):
        ref, kind, objects = ((source["configMapRef"], "configmap", configmaps) if "configMapRef" in source
                              else (source["secretRef"], "secret", secrets))
        obj = objects.get(ref["name"])
        if obj is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{kind} "{ref["name"]}" not found')
        env.update({source.get("prefix", "") + k: v.decode() for k, v in _data(obj).items()})
    for var in container.get("env", []):
        source = var.get("valueFrom")
        if source is None:
            env[var["name"]] = expand(var.get("value", ""), env)
        elif "fieldRef" in source:
            env[var["name"]] = field(pod, source["fieldRef"]["fieldPath"])
        elif "secretKeyRef" in source or "configMapKeyRef" in source:
            kind = "secret" if "secretKeyRef" in source else "configmap"
            value = _key_ref(source.get("secretKeyRef") or source["configMapKeyRef"],
                             secrets if kind == "secret" else configmaps, kind)
            if value is not None:
                env[var["name"]] = value
        else:
            raise ConfigError(f"unsupported valueFrom in env {var['name']}: {sorted(source)}")
    return env


def volume_files(pod, volume, secrets, configmaps, token):
    """{relative path: (bytes, mode)} of a secret, configMap, projected, downwardAPI or emptyDir volume.

    token(audience, seconds) returns a service account token for the Pod (projected serviceAccountToken).
    Raises MountError with the kubelet's message when a referenced object is missing and not optional.
    """
    name = volume["name"]
    if "emptyDir" in volume:
        return {}
    if "secret" in volume or "configMap" in volume:
        ref = volume.get("secret") or volume["configMap"]
        return _object_files(ref, "secret" in volume, secrets, configmaps, name, ref.get("defaultMode", 0o644))
    if "downwardAPI" in volume:
        return _downward_files(pod, volume["downwardAPI"])
    if "projected" in volume:
        files = {}
        mode = volume["projected"].get("defaultMode", 0o644)
        for source in volume["projected"].get("sources", []):
            if "serviceAccountToken" in source:
                spec = source["serviceAccountToken"]
                files[spec["path"]] = (token(spec.get("audience"), spec.get("expirationSeconds", 3600)).encode(),
                                       mode)
            elif "downwardAPI" in source:
                files.update(_downward_files(pod, source["downwardAPI"]))
            elif "secret" in source or "configMap" in source:
                files.update(_object_files(source.get("secret") or source["configMap"], "secret" in source,
                                           secrets, configmaps, name, mode))
        return files
    raise MountError(f"volume {name!r}: this kubelet stand-in supports secret, configMap, projected, downwardAPI "
                     f"and emptyDir volumes, not {sorted(k for k in volume if k != 'name')}")


def _object_files(ref, is_secret, secrets, configmaps, volume, mode):
    kind = "secret" if is_secret else "configmap"
    name = ref["secretName"] if "secretName" in ref else ref["name"]  # a secret volume's or a projection's
    obj = (secrets if is_secret else configmaps).get(name)
    if obj is None:
        if ref.get("optional"):
            return {}
        raise MountError(f'MountVolume.SetUp failed for volume "{volume}" : {kind} "{name}" not found')
    data = _data(obj)
    if "items" not in ref:
        return {k: (v, mode) for k, v in data.items()}
    files = {}
    for item in ref["items"]:
        if item["key"] not in data:
            if ref.get("optional"):
                continue
            what = "references non-existent secret key" if is_secret else "configmap references non-existent config key"
            raise MountError(f'MountVolume.SetUp failed for volume "{volume}" : {what}: {item["key"]}')
        files[item["path"]] = (data[item["key"]], item.get("mode", mode))
    return files


def _downward_files(pod, spec):
    return {item["path"]: (field(pod, item["fieldRef"]["fieldPath"]).encode(), item.get("mode", 0o644))
            for item in spec.get("items", []) if "fieldRef" in item}


def write_atomically(directory, files):
    """Make directory hold exactly files, switching all at once as the kubelet's atomic writer does.

    The files live in a timestamped directory that the symlink `..data` points at; each visible name is a
    symlink through `..data`. One rename of `..data` publishes a new version, so a reader (or a file watcher such
    as controller-runtime's certificate watcher) never sees half an update. Returns True when something changed.
    """
    os.makedirs(directory, exist_ok=True)
    current = os.path.join(directory, "..data")
    if os.path.islink(current) and _same(os.path.join(directory, os.readlink(current)), files):
        return False
    version = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns() % 10**9:09d}"
    for path, (data, mode) in files.items():
        target = os.path.join(directory, version, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        os.chmod(target, mode)
    os.makedirs(os.path.join(directory, version), exist_ok=True)
    old = os.readlink(current) if os.path.islink(current) else None
    os.symlink(version, current + "_tmp")
    os.rename(current + "_tmp", current)
    top = {path.split("/")[0] for path in files}
    for name in top:
        link = os.path.join(directory, name)
        if not os.path.islink(link):
            os.symlink(os.path.join("..data", name), link)
    for name in os.listdir(directory):  # names no longer published (nested mount points are directories: kept)
        if not name.startswith("..") and name not in top and os.path.islink(os.path.join(directory, name)):
            os.remove(os.path.join(directory, name))
    if old:
        shutil.rmtree(os.path.join(directory, old), ignore_errors=True)
    return True


def _same(version_dir, files):
    found = {}
    for root, _, names in os.walk(version_dir):
        for name in names:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                found[os.path.relpath(full, version_dir)] = (handle.read(), os.stat(full).st_mode & 0o777)
    return found == files


PRIVATE = ("/run", "/tmp")  # directories a Pod's process has of its own
ELSEWHERE = "/run/volumes"  # where volumes mounted outside them are, as the process sees it


def in_pod(mount_path):
    """Where a volume mounted at mount_path is, as the Pod's process sees it.

    The process gets its own /run and /tmp, so a volume under them is at its mountPath; any other volume (say
    /etc/ml_secret_key) is kept under /run/volumes (/run/volumes/etc/ml_secret_key) and the process's env and args
    are rewritten to point there (rewrite_paths). /var/run is /run, as in every image.
    """
    path = "/run" + mount_path[len("/var/run"):] if mount_path.split("/")[1:3] == ["var", "run"] else mount_path
    if any(path == p or path.startswith(p + "/") for p in PRIVATE):
        return path
    return ELSEWHERE + path


def rewrite_paths(text, mount_paths):
    """Point absolute paths under a volume's mountPath at where the process sees that volume (no chroot here)."""
    for mount in sorted(mount_paths, key=len, reverse=True):
        seen_as = in_pod(mount)
        if seen_as != mount:
            text = re.sub(r"(?<![\w./-])" + re.escape(mount) + r"(?=/|$|[^\w.-])", lambda _, to=seen_as: to, text)
    return text


def http_probe(probe, pod, container):
    """(host, port, path, scheme, timeout, period, initial delay, failure, success) of an httpGet probe."""
    get = probe["httpGet"]
    port = get["port"]
    if isinstance(port, str) and not port.isdigit():
        named = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
        if not named:
            raise ConfigError(f"probe port {port!r} is not a named port of container {container['name']}")
        port = named[0]
    host = get.get("host") or pod.get("status", {}).get("podIP", "")
    return (host, int(port), get.get("path", "/"), get.get("scheme", "HTTP"), probe.get("timeoutSeconds", 1),
            probe.get("periodSeconds", 10), probe.get("initialDelaySeconds", 0), probe.get("failureThreshold", 3),
            probe.get("successThreshold", 1))

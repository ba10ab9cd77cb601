"""Webhook and secrets: the webhook Service's endpoints, its CA bundle and certificate, the memberlist key."""

from typing import Optional

from metallb_plugin.core import endpoints
from metallb_plugin.core.checks import FAIL, OK, WARN, Check, Result, Skip, register
from metallb_plugin.core.installation import Installation
from metallb_plugin.core.objects import Obj, meta, name
from metallb_plugin.core.status.common import (
    CA_KEY,
    MEMBERLIST_KEY,
    _need_install,
    _plural,
    installed,
    named,
)
from metallb_plugin.core.text import plural
from metallb_plugin.core.view import View


def check_webhook_endpoints(view: View) -> Result:
    install = _need_install(view)
    wanted = install.webhook_service
    view.facts.get("services")
    if not any(meta(s).get("namespace") == view.ns and name(s) == wanted for s in view.services):
        return Result(FAIL, f"webhook Service {wanted} not found in {view.ns}")
    view.facts.get("endpointslices")
    ready, text = endpoints.readiness(view.slices.get((view.ns, wanted)))
    if not ready:
        return Result(
            FAIL,
            f"webhook Service {wanted}: {text}; every write of a metallb.io object fails until the "
            "controller serves it",
        )
    return Result(OK, f"webhook Service {wanted}: {text}")


def _webhook_config(view: View, install: Installation) -> Optional[Obj]:
    wanted = install.webhook_configuration
    found = next((w for w in view.webhook_configurations if name(w) == wanted), None)
    if found:
        return found
    return next(
        (
            w
            for w in view.webhook_configurations
            for hook in w.get("webhooks") or []
            if ((hook.get("clientConfig") or {}).get("service") or {}).get("name") == install.webhook_service
            and hook.get("name", "").endswith("metallb.io")
        ),
        None,
    )


def check_webhook_configuration(view: View) -> Result:
    install = _need_install(view)
    view.facts.get("validatingwebhookconfigurations")
    config = _webhook_config(view, install)
    if not config:
        return Result(
            WARN,
            f"no ValidatingWebhookConfiguration {install.webhook_configuration}: metallb.io "
            "objects are not validated when written",
        )
    hooks = config.get("webhooks") or []
    empty = [h.get("name", "") for h in hooks if not (h.get("clientConfig") or {}).get("caBundle")]
    elsewhere = sorted(
        {
            f"{s.get('namespace')}/{s.get('name')}"
            for h in hooks
            for s in [(h.get("clientConfig") or {}).get("service") or {}]
            if s and s.get("namespace") != view.ns
        }
    )
    details = []
    if elsewhere:
        details.append(f"its webhooks call {', '.join(elsewhere)}, not the Service in {view.ns}")
    if empty:
        details.append(f"no caBundle in: {', '.join(empty)}")
        return Result(
            FAIL,
            f"ValidatingWebhookConfiguration {name(config)} has no CA bundle in "
            f"{len(empty)} of {plural(len(hooks), 'webhook')} (the controller injects it when it starts)",
            tuple(details),
        )
    if elsewhere:
        return Result(
            FAIL, f"ValidatingWebhookConfiguration {name(config)} points at another namespace", tuple(details)
        )
    return Result(
        OK, f"ValidatingWebhookConfiguration {name(config)} has a CA bundle ({_plural(len(hooks), 'webhook')})"
    )


def _secret_key(view: View, secret: str, key: str, missing: str, keyless: str) -> Result:
    """Whether MetalLB's Secret holds the key (only key names were read): missing/keyless say what that means."""
    if secret not in view.secrets:
        return Result(FAIL, f"Secret {secret} {missing}")
    if key not in view.secrets[secret]:
        return Result(FAIL, f"Secret {secret} has no {keyless}")
    return Result(OK, f"Secret {secret} has {key}")


def check_certificate(view: View) -> Result:
    install = _need_install(view)
    wanted = install.webhook_secret
    return _secret_key(view, wanted, CA_KEY, f"(webhook certificate) not found in {view.ns}",
                       f"{CA_KEY}: the controller has not written its certificate yet")  # fmt: skip


def _speaker_uses_secret(speaker: Obj, secret: str) -> bool:
    volumes = (((speaker.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or []
    return any((v.get("secret") or {}).get("secretName") == secret for v in volumes)


def check_memberlist(view: View) -> Result:
    install = _need_install(view)
    wanted = install.memberlist_secret
    if view.speaker and not _speaker_uses_secret(view.speaker, wanted):
        raise Skip("the speaker does not use memberlist")
    missing = f"not found in {view.ns}: speakers cannot start (the controller creates it when it starts)"
    return _secret_key(view, wanted, MEMBERLIST_KEY, missing, f"key {MEMBERLIST_KEY}")


register(
    "webhook",
    "Webhook and secrets",
    (
        Check(
            "webhook.endpoints",
            "webhook",
            "webhook Service has ready endpoints",
            check_webhook_endpoints,
            hint=named("kubectl -n {ns} get endpointslices -l kubernetes.io/service-name={webhook_service}"),
            when=installed,
        ),
        Check(
            "webhook.configuration",
            "webhook",
            "webhook configuration has a CA bundle",
            check_webhook_configuration,
            hint=named("kubectl get validatingwebhookconfiguration {webhook_configuration} -o yaml"),
            needs=("validatingwebhookconfigurations",),
            when=installed,
        ),
        Check(
            "webhook.certificate",
            "webhook",
            "webhook certificate Secret has ca.crt",
            check_certificate,
            hint=named("kubectl -n {ns} logs deployment/{controller} (the certificate rotator writes it)"),
            needs=("secrets",),
            when=installed,
        ),
        Check(
            "secrets.memberlist",
            "webhook",
            "memberlist Secret has secretkey",
            check_memberlist,
            hint=named("kubectl -n {ns} logs deployment/{controller} (the controller creates it)"),
            needs=("secrets",),
            when=installed,
        ),
    ),
)

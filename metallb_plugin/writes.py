"""The one path every write takes: dry-run the plan on the server, check permissions, show it, ask, apply.

    applied = writes.carry_out(ctx, client, args, plan, overwrite=args.overwrite, timeout=args.timeout,
                               before_apply=write_the_backup, after_step=record)

1. every step is dry-run on the API server (schemas, admission webhooks, conflicts, RBAC), which says whether it
   creates, changes (and how: a short diff) or leaves the object as it is; objects in a namespace that does not
   exist yet cannot be checked and are marked so;
2. one SelfSubjectAccessReview per permission the remaining writes need: any denied -> all listed, exit 3;
3. a step the server refuses, or that would change an object the operation does not own, refuses the whole plan
   (exit 1, the objects named, nothing written);
4. --dry-run stops here; otherwise the plan is shown and asked about on a terminal (--yes answers; without a
   terminal and without --yes: exit 2); a plan with needs_yes asks for --yes even on a terminal;
5. the steps are applied in order; a failure midway says what was applied and how to finish or undo (an atomic
   plan deletes again what it created).
While MetalLB's admission webhook is not serving yet (right after install), writes are retried until `timeout`.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from metallb_plugin import errors
from metallb_plugin.context import Cluster, Context
from metallb_plugin.core import plan as model
from metallb_plugin.core.plan import Access, Plan, Step
from metallb_plugin.defaults import READ_WORKERS
from metallb_plugin.errors import ExitCode

WEBHOOK_DOWN = ("failed calling webhook", "failed to call webhook", "conversion webhook")
TERMINATING = "because it is being terminated"


def carry_out(
    ctx: Context,
    client: Cluster,
    args: Any,
    plan: Plan,
    overwrite: bool = False,
    overwrite_flag: str = "--overwrite",
    timeout: float = 0.0,
    before_apply: Optional[Callable[[], None]] = None,
    after_step: Optional[Callable[[Step, Any], None]] = None,
) -> bool:
    """Run the plan through every stage above; True when it was applied (False: dry run, or nothing to do).

    The caller reports the result with show() (a dry run, or nothing to do) or its own document after applying.
    """
    dry_run(ctx, client, plan, overwrite, timeout)
    check_access(ctx, client, plan)
    if plan.refusals():
        if args.dry_run:
            show(ctx, args, plan)
        else:
            ctx.say(model.render(plan, unchanged=False))
        raise errors.PluginError(refusal(plan, overwrite_flag))
    if args.dry_run or not plan.pending():
        return False
    confirm(ctx, args, plan)
    if before_apply:
        before_apply()
    apply(ctx, client, args, plan, timeout, after_step)
    return True


def show(ctx: Context, args: Any, plan: Plan, extra: Optional[Dict[str, Any]] = None, applied: bool = False) -> None:
    """The plan on stdout: its document for -o json|yaml; as text unless apply() printed it line by line."""
    if args.output != "table":
        ctx.emit({**plan.document(args.dry_run), **(extra or {})}, args.output, lambda d: "")
    elif not applied and plan.steps:
        ctx.out(model.render(plan, dry_run=args.dry_run))


# ------------------------------------------------------------------------------------------- sending


def send(client: Cluster, step: Step, dry_run: bool) -> Any:
    """Make the step's write (or its dry run); the server's answer."""
    write = step.write
    assert write is not None
    if step.execute is not None:
        return step.execute(step, dry_run)
    if write.method == "apply":
        return client.apply(write.path, write.body, force=write.force, dry_run=dry_run)
    if write.method == "create":
        return client.create(write.path, write.body, dry_run=dry_run)
    if write.method == "replace":
        return client.replace(write.path, write.body, dry_run=dry_run)
    if write.method == "patch":
        return client.patch(write.path, write.body, patch_type=write.patch_type, dry_run=dry_run)
    return client.delete(write.path, dry_run=dry_run)


def _webhook_down(exc: errors.PluginError) -> bool:
    return (
        isinstance(exc, errors.APIError)
        and not isinstance(exc, (errors.Forbidden, errors.Unauthorized))
        and any(marker in exc.message for marker in WEBHOOK_DOWN)
    )


def terminating(exc: errors.PluginError, namespace: Optional[str]) -> Optional[errors.PluginError]:
    """The API server's 403 for writes into a namespace being deleted is not a permission problem: say what it is."""
    if not (isinstance(exc, errors.Forbidden) and TERMINATING in exc.message):
        return None
    where = f"namespace {namespace}" if namespace else "the namespace"
    return errors.PluginError(
        f"{where} is being deleted (Terminating): nothing can be created in it until it is gone. Wait until "
        f"`kubectl get namespace {namespace or ''}` says NotFound (a namespace finalizer may hold it: see its "
        "status.conditions), then run this again"
    )


def send_retrying(ctx: Context, client: Cluster, step: Step, dry_run: bool, timeout: float) -> Any:
    """send(), retried with backoff while MetalLB's admission webhook is not serving yet."""
    deadline = ctx.monotonic() + timeout
    delay = 1.0
    progress = ctx.progress()
    while True:
        try:
            result = send(client, step, dry_run)
            progress.done()
            return result
        except errors.PluginError as exc:
            if not _webhook_down(exc) or timeout <= 0:
                progress.done()
                raise
            reason = exc.message.rsplit(": ", 1)[-1].strip() or exc.message
            progress.update(
                f"waiting for MetalLB's admission webhook to serve ({reason}); retrying {step.describe()} for up "
                f"to {timeout:g}s"
            )
            if ctx.monotonic() + delay > deadline:
                progress.done()
                raise errors.WaitTimeout(
                    f"MetalLB's admission webhook did not accept {step.describe()} within {timeout:g}s ({reason}). "
                    "Is the controller running? Check with: kubectl metallb status"
                ) from None
            ctx.sleep(delay)
            delay = min(delay * 2, 10.0)


# ------------------------------------------------------------------------------------------- 1. dry run


def _rejected(exc: errors.APIError) -> str:
    """Why the server will not take a step, on one line (conflict messages list one field per line)."""
    message = " ".join(exc.message.split())
    if isinstance(exc, errors.Denied):
        who, _, detail = message.partition("denied the request:")
        return f"{'MetalLB' if 'metallb.io' in who else 'an admission webhook'} rejected it: {detail.strip()}"
    if isinstance(exc, errors.Conflict):
        return message
    return f"rejected by the API server: {message}"


def _expected(step: Step) -> str:
    """What a step would do, when its dry run could not say (the server refused it)."""
    if step.write is not None and step.write.method == "delete":
        return model.DELETED
    return model.CREATED if step.before is None else model.CHANGED


def dry_run(ctx: Context, client: Cluster, plan: Plan, overwrite: bool, timeout: float) -> None:
    """Fill in every step's result and diff from a server-side dry run; refusals and 403s are recorded."""
    progress = ctx.progress()
    for index, step in enumerate(plan.steps):
        if step.write is None:
            step.result = step.result or model.LEFT_ALONE
            continue
        if ctx.stderr_tty:  # a line per object only where it is redrawn in place
            progress.update(f"dry-running {index + 1}/{len(plan.steps)}: {step.describe()}")
        if step.before is None and step.namespace in plan.absent_namespaces and step.kind != "Namespace":
            step.result, step.checked = model.CREATED, False
            step.note = step.note or f"namespace {step.namespace} does not exist yet"
            continue
        try:
            after = send_retrying(ctx, client, step, True, timeout)
        except errors.NotFound as exc:
            if step.write.method == "delete":
                step.result, step.note = model.LEFT_ALONE, "already gone"
                continue
            progress.done()
            step.result, step.refused = _expected(step), f"the server cannot take it: {exc.message}"
            continue
        except errors.Forbidden as exc:
            progress.done()
            problem = terminating(exc, step.namespace)
            if problem:
                raise problem from None
            step.result, step.denied = _expected(step), " ".join(exc.message.split())
            continue
        except (errors.Conflict, errors.Invalid, errors.Denied) as exc:
            step.result = _expected(step)
            conflict = isinstance(exc, errors.Conflict) and step.write.method == "apply"
            # an object that is not ours conflicts because it is not ours: say that
            step.refused = step.foreign if conflict and step.foreign and not overwrite else _rejected(exc)
            step.overridable = conflict
            continue
        step.result = model.outcome(step, after)
        if step.result == model.CHANGED and not step.diff:
            step.diff = model.short_diff(step.before, after)
        if step.writes and step.foreign and not overwrite:
            step.refused, step.overridable = step.foreign, True
    progress.done()


def refusal(plan: Plan, flag: str) -> str:
    refused = plan.refusals()
    overridable = [s for s in refused if s.overridable]
    text = "" if len(refused) == 1 else f"{len(refused)} objects cannot be written: "
    text += "; ".join(f"{s.where()}: {s.refused}" for s in refused[:5])
    if len(refused) > 5:
        text += f"; and {len(refused) - 5} more (listed above)"
    text += ". Nothing was changed"
    if overridable:
        text += f"; {flag} changes objects kubectl metallb does not own and takes over fields others set"
    return text


# ------------------------------------------------------------------------------------------- 2. permissions


def review(client: Cluster, needs: Sequence[Access]) -> List[Tuple[bool, str]]:
    """(allowed, reason) of one SelfSubjectAccessReview per access, sent in parallel; errors.Forbidden when the
    user may not ask."""
    if not needs:
        return []

    def ask(access: Access) -> Tuple[bool, str]:
        return client.can_i(
            access.verb, access.resource, group=access.group, namespace=access.namespace, subresource=access.subresource
        )

    with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(needs))) as pool:
        return list(pool.map(ask, needs))


def check_access(ctx: Context, client: Cluster, plan: Plan) -> None:
    """One SelfSubjectAccessReview per permission the writes need; every denial listed, exit 3, nothing written."""
    needs = model.needed_access(plan)
    missing: List[str] = []
    if needs:
        try:
            missing = [str(a) for a, (allowed, _) in zip(needs, review(client, needs)) if not allowed]
        except errors.Forbidden:
            ctx.warn("cannot ask the API server which permissions you have (SelfSubjectAccessReview refused)")
    # a dry run the server forbade although the reviews allow it (e.g. granting RBAC the user does not hold)
    missing += [
        f"{s.where()}: {s.denied}"
        for s in plan.pending()
        if s.denied and not {str(a) for a in model.access_of(s)} & set(missing)
    ]
    if not missing:
        return
    for line in missing:
        ctx.say(f"  {line}")
    raise errors.PluginError(
        f"permission denied: {len(missing)} permission(s) this needs are missing (listed above); nothing was "
        "changed. Ask a cluster admin for them, or use a --context with more rights",
        exit_code=ExitCode.CLUSTER,
    )


# ------------------------------------------------------------------------------------------- 4. asking


def confirm(ctx: Context, args: Any, plan: Plan) -> None:
    """Show the plan and ask on a terminal; --yes answers; plan.needs_yes wants --yes even on a terminal."""
    if plan.needs_yes and not args.yes:
        ctx.say(model.render(plan, unchanged=False))
        raise errors.UsageError(f"{plan.needs_yes}: pass --yes to go ahead. Nothing was changed")
    if args.yes:
        return
    if ctx.interactive:
        ctx.say(model.render(plan, unchanged=False))
    refusal = (
        f"{plan.question} Pass --yes to go ahead, or --dry-run to see the plan (there is no terminal to ask on). "
        "Nothing was changed"
    )
    if not ctx.confirm(plan.question, refusal):
        raise errors.PluginError(f"{plan.operation} cancelled; nothing was changed")


# ------------------------------------------------------------------------------------------- 5. applying


def apply(
    ctx: Context,
    client: Cluster,
    args: Any,
    plan: Plan,
    timeout: float,
    after_step: Optional[Callable[[Step, Any], None]] = None,
) -> None:
    """Apply the pending steps in order; every step is printed in plan order (table output) as it is reached, and
    a failure midway is reported with what was applied."""
    done: List[Step] = []
    for step in plan.steps:
        if step.writes:
            try:
                try:
                    answer = send_retrying(ctx, client, step, False, timeout)
                except errors.NotFound:
                    if step.write is None or step.write.method != "delete":
                        raise
                    answer = None  # deleted meanwhile: what this step wanted
                if after_step:
                    after_step(step, answer)
            except errors.PluginError as exc:
                problem = terminating(exc, step.namespace) or exc
                undone = _undo(client, done) if plan.atomic else ""
                raise errors.PluginError(
                    model.failure(plan, done, step, _words(problem), undone), exit_code=problem.exit_code
                ) from None
            except KeyboardInterrupt:
                ctx.say(model.failure(plan, done, step, "interrupted") if done else "interrupted: nothing applied")
                raise
            done.append(step)
        if args.output == "table":
            ctx.out(model.step_line(step))


def _words(exc: errors.PluginError) -> str:
    """The server's own words for an API error (the request is named by the step), else the error's line."""
    if isinstance(exc, errors.APIError) and not isinstance(exc, (errors.Forbidden, errors.Unauthorized)):
        return exc.message
    return str(exc)


def _undo(client: Cluster, done: List[Step]) -> str:
    """Delete what this run created, newest first (an atomic plan); says what it did."""
    removed, kept = [], []
    for step in reversed([s for s in done if s.result == model.CREATED and s.write is not None]):
        assert step.write is not None
        path = step.write.path if step.write.method != "create" else f"{step.write.path}/{step.name}"
        try:
            client.delete(path)
            removed.append(step.describe())
        except errors.NotFound:
            removed.append(step.describe())
        except errors.PluginError as exc:
            kept.append(f"{step.describe()} ({exc})")
    text = f"Removed again: {', '.join(removed)}." if removed else ""
    if kept:
        text += f" Could not remove: {', '.join(kept)}; delete it yourself."
    return text.strip() or "Nothing was applied."

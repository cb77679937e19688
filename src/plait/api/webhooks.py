"""``/api/v1/webhooks``: other systems start a workflow's runs with its own credentials
(``plait.queue.webhooks``); the server's own credentials make, list and revoke them."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from plait.api.catalogue import find_entry
from plait.api.errors import COMMON_ERRORS, ApiError, errors
from plait.api.services import Services, services_of
from plait.errors import NotFoundError, RunStateError
from plait.model import iso_time
from plait.queue import webhooks as hooks

router = APIRouter(prefix="/api/v1", tags=["webhooks"], responses=COMMON_ERRORS)
Svc = Annotated[Services, Depends(services_of)]
CALL_PREFIX = "/api/v1/webhooks/"  # authenticated by the workflow's own credentials


def _webhook_json(hook: Any) -> dict[str, Any]:
    return {
        "workflow": hook.workflow,
        "createdAt": iso_time(hook.created_at),
        "lastUsedAt": iso_time(hook.last_used_at),
        "url": f"{CALL_PREFIX}{hook.workflow}",
    }


@router.get("/webhooks", summary="The workflows that have a webhook token")
def list_webhooks(services: Svc) -> dict[str, Any]:
    return {"webhooks": [_webhook_json(h) for h in services.store.webhooks()]}


@router.get(
    "/workflows/{name}/webhook",
    summary="A workflow's webhook token: when it was made and last used (never the token)",
    responses=errors(404),
)
def get_webhook(name: str, services: Svc) -> dict[str, Any]:
    hook = services.store.webhook(name)
    if hook is None:
        raise NotFoundError(f"{name} has no webhook token")
    return _webhook_json(hook)


@router.post(
    "/workflows/{name}/webhook",
    status_code=201,
    summary="Make (or replace) a workflow's webhook token; the reply is the only time it is shown",
    responses=errors(404, 422),
)
def create_webhook(name: str, services: Svc) -> dict[str, Any]:
    entry = find_entry(services.home.dags_dir, name)
    if entry.workflow is None or entry.document > 0:
        raise ApiError(422, f"{name} cannot be started by a webhook: it does not load as a root")
    token = hooks.new_token()
    services.store.set_webhook(entry.name, hooks.token_hash(token))
    hook = services.store.webhook(entry.name)
    return {**_webhook_json(hook), "token": token}


@router.delete(
    "/workflows/{name}/webhook",
    summary="Revoke a workflow's webhook token",
    responses=errors(404),
)
def revoke_webhook(name: str, services: Svc) -> dict[str, Any]:
    if not services.store.revoke_webhook(name):
        raise NotFoundError(f"{name} has no webhook token")
    return {"workflow": name, "revoked": True}


@router.post(
    "/webhooks/{name}",
    status_code=202,
    summary="Start a run of a workflow from another system (its token or an HMAC signature)",
    description=(
        "Authenticated by the workflow's own token (`Authorization: Bearer TOKEN`) or by "
        "`X-Hub-Signature-256: sha256=HMAC` of the body with the server's "
        "`PLAIT_WEBHOOK_SECRET_<NAME>`; needs neither the server's credentials nor "
        "`X-Plait-Request`. The JSON body becomes the param `WEBHOOK_PAYLOAD` (and the params "
        "the workflow maps in `webhook.params`). With `Idempotency-Key` (or "
        "`X-GitHub-Delivery`) a redelivery starts no second run: the reply is 200 with the "
        "first run's id and `duplicate: true`."
    ),
    responses=errors(400, 401, 404, 413, 422, 429),
)
async def call_webhook(
    name: str,
    request: Request,
    services: Svc,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    github_delivery: Annotated[str | None, Header(alias="X-GitHub-Delivery")] = None,
) -> JSONResponse:
    client = request.client.host if request.client else "?"
    body = await request.body()
    headers = request.headers
    return await run_in_threadpool(
        _call, services, name, client, body, headers, idempotency_key or github_delivery
    )


def _call(
    services: Services,
    name: str,
    client: str,
    body: bytes,
    headers: Any,
    key: str | None,
) -> JSONResponse:
    if not _authenticated(services, name, body, headers):
        wait = services.webhook_refusals.take(client)
        if wait:
            raise _too_many(wait)
        raise ApiError(401, f"webhook of {name}: missing or wrong token or signature")
    wait = services.webhook_calls.take(name)
    if wait:
        raise _too_many(wait)
    try:
        text = body.decode("utf-8") if body.strip() else "{}"
        payload = json.loads(text)
    except ValueError as error:
        raise ApiError(400, f"the webhook body is not JSON: {error}") from None
    if key is not None and not 0 < len(key) <= hooks.MAX_KEY_LENGTH:
        raise ApiError(400, f"Idempotency-Key must be 1 to {hooks.MAX_KEY_LENGTH} characters")
    try:
        entry = find_entry(services.home.dags_dir, name)
    except NotFoundError:
        raise NotFoundError(f"workflow {name} is not in the DAGs folder") from None
    workflow = entry.workflow
    if workflow is None or entry.document > 0:
        raise ApiError(422, f"{name} does not load as a workflow to start: {entry.error or ''}")
    params = hooks.payload_params(workflow, text, payload)
    limit = services.config().max_param_size
    size = len(text.encode())
    if size > limit:
        raise ApiError(413, f"the payload is {size} bytes, more than {limit} (server.maxParamSize)")
    from plait.queue import dispatch, enqueue_run, queue_of

    run_id = None if key is None else hooks.delivery_run_id(name, key)
    try:
        run_id = enqueue_run(
            services.store,
            workflow,
            params=params,
            run_id=run_id,
            dags_dir=str(services.home.dags_dir),
        )
    except RunStateError:
        assert run_id is not None
        run = services.store.get_run(run_id, children_limit=0)
        return JSONResponse(
            {"runId": run_id, "status": str(run.status), "duplicate": True}, status_code=200
        )
    services.store.webhook_used(name)
    dispatch(services.store, services.config(), services.launch_agent, queues=[queue_of(workflow)])
    run = services.store.get_run(run_id, children_limit=0)
    return JSONResponse({"runId": run_id, "status": str(run.status)}, status_code=202)


def _authenticated(services: Services, name: str, body: bytes, headers: Any) -> bool:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        hook = services.store.webhook(name)
        return hook is not None and hooks.token_ok(hook.token_hash, token.strip())
    signature = headers.get("x-hub-signature-256")
    if signature:
        secret = hooks.signing_secret(name)
        return secret is not None and hooks.signature_ok(secret, body, signature)
    return False


def _too_many(wait: float) -> ApiError:
    seconds = max(1, round(wait))
    return ApiError(
        429, f"too many webhook calls: try again in {seconds} s", {"Retry-After": str(seconds)}
    )

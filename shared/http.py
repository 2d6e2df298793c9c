"""What every HTTP API shares: error bodies that name the field, body size limits, serving in the service's loop."""

from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.security.http_auth import ApiRefused, Guard, answer_refusal

DEFAULT_MAX_BODY_BYTES = 1_048_576


def validation_problems(error: RequestValidationError) -> list[dict[str, Any]]:
    problems = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        if location and location[0] == "body":
            location = location[1:]
        problems.append({"path": ".".join(location) or "<body>", "reason": item.get("msg", "invalid")})
    return problems


VALIDATION_FAILED_SCHEMA: dict[str, Any] = {
    "title": "ValidationFailed", "type": "object", "required": ["error", "detail", "problems"],
    "properties": {
        "error": {"type": "string", "enum": ["validation_failed"]},
        "detail": {"type": "string"},
        "problems": {"type": "array", "items": {
            "type": "object", "required": ["path", "reason"],
            "properties": {"path": {"type": "string", "description": "The field at fault, e.g. body.entities.0"},
                           "reason": {"type": "string"}}}},
    },
}


def _document_validation_failures(app: FastAPI) -> None:
    """FastAPI documents 422 as its own `{"detail": [...]}`; what is answered is VALIDATION_FAILED_SCHEMA."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = VALIDATION_FAILED_SCHEMA
            schemas.pop("ValidationError", None)  # referenced only by FastAPI's HTTPValidationError
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


UNREADABLE_BODY: dict[int | str, dict[str, Any]] = {400: {"description": "The body could not be read as JSON."}}


def validation_failed(problems: list[dict[str, Any]]) -> JSONResponse:
    """422 with the field paths at fault: the one shape of every validation failure (VALIDATION_FAILED_SCHEMA)."""
    return JSONResponse(
        status_code=422,
        content={"error": "validation_failed", "detail": "the request does not match the contract", "problems": problems},
    )


async def _on_validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    return validation_failed(validation_problems(error))


class BodySizeLimit:
    """Answers 413 before reading more than the limit, whatever Content-Length claims."""

    def __init__(self, app: ASGIApp, max_bytes: int,
                 on_too_large: Callable[[Scope, int], Awaitable[None]] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_too_large = on_too_large  # records the refusal (security events)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        if self.on_too_large is not None:
            await self.on_too_large(scope, self.max_bytes)
        await _too_large(send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    body = JSONResponse(
        status_code=413, content={"error": "payload_too_large", "detail": f"the body exceeds {max_bytes} bytes"}
    ).body
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


RETRY_AFTER_SECONDS = 5


def service_unavailable(reason: str, retry_after: int = RETRY_AFTER_SECONDS) -> JSONResponse:
    return JSONResponse(
        status_code=503, headers={"Retry-After": str(retry_after)},
        content={"error": "unavailable", "detail": f"{reason}; nothing was accepted, try again later"},
    )


def answer_unavailable_on(app: FastAPI, error_types: tuple[type[Exception], ...]) -> None:
    """Storage or broker outages become 503 with Retry-After: the client knows nothing was kept."""

    async def _unavailable(_: Request, error: Exception) -> JSONResponse:
        return service_unavailable(f"storage unavailable ({type(error).__name__})")

    for error_type in error_types:
        app.add_exception_handler(error_type, _unavailable)


def create_app(title: str, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, guard: "Guard | None" = None,
               **kwargs: Any) -> FastAPI:
    """With a guard (shared/security/http_auth.py), refusals answer 401/403/429 bodies and 413s are recorded."""
    app = FastAPI(title=title, version="1.0", **kwargs)
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    _document_validation_failures(app)
    if guard is not None:
        app.add_exception_handler(ApiRefused, answer_refusal)  # type: ignore[arg-type]
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, on_too_large=guard.too_large if guard else None)
    return app


async def serve(app: FastAPI, *, host: str, port: int) -> None:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    await server.serve()

"""`/openapi.json` as the router really answers: the 4xx/5xx statuses each route returns, with the
OpenAI error body (Anthropic's on `/v1/messages`), and no 422 (validation errors are 400 here)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi"]

_OPENAI_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type", "param", "code"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}
_ANTHROPIC_ERROR = {"type": "object", "required": ["type", "error"], "properties": {
    "type": {"const": "error"}, "error": {"type": "object", "required": ["type", "message"], "properties": {
        "type": {"type": "string"}, "message": {"type": "string"}}}}}

_API_ERRORS = {
    "400": "invalid request: a field named in `param` (also lone UTF-16 surrogates, untranslatable content, "
           "a prompt longer than the model's context)",
    "401": "no API key, or an unknown or revoked one",
    "403": "the tenant's policy or a ban forbids the model, or the prompt's sensitive data",
    "404": "unknown model, or a model not available here",
    "408": "the request body did not arrive in time",
    "413": "the request body is over the router's limit",
    "429": "a rate limit, the tenant's budget, or its cap on concurrent streams (see Retry-After)",
    "500": "a bug in the router (no details in the body; see its log)",
    "502": "the engine or provider failed, or every fallback candidate did",
    "503": "the engine is unavailable, or the cost ledger's database is (see Retry-After)",
    "504": "the engine or provider did not answer in time",
}
_PLAIN_ERRORS = {"500": _API_ERRORS["500"]}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` document the real error responses (see the module docstring)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    _document_errors(path, operation)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_errors(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    errors = _API_ERRORS if path.startswith(("/v1/", "/admin/")) else _PLAIN_ERRORS
    body = _ANTHROPIC_ERROR if path.startswith("/v1/messages") else _OPENAI_ERROR
    for status, description in errors.items():
        responses.setdefault(status, {"description": description,
                                      "content": {"application/json": {"schema": body}}})

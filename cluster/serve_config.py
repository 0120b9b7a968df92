"""The catalogue rendered as a Ray Serve config: the one description of what runs on a cluster.

`render_serve_config` turns the local models Stellwerk deploys into the YAML document that
`serve deploy`, `stellwerk deploy` and a KubeRay RayService's `serveConfigV2` all take unchanged:
one application per model, built in the cluster by `serving.apps:build_model_app` from the rendered
`args`, and a `deployments` section with the pool's Serve options (autoscaling, replica routing) that
an operator may edit in place, as Serve's config layering intends. Rendering is pure: no Ray, no
weights loaded; `validate_serve_config` checks a document against Serve's own schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from models.catalogue import ModelEntry
from serving.apps import IMPORT_PATH
from serving.deploy import app_args, embedding_deployment_options
from serving.llm_config import deployment_name, deployment_options

__all__ = ["RenderOptions", "application_names", "render_serve_config", "serve_schema",
           "validate_serve_config"]

ProxyLocation = Literal["Disabled", "HeadOnly", "EveryNode"]


@dataclass(frozen=True)
class RenderOptions:
    """Cluster-wide settings of the rendered config."""

    # Stellwerk routers call deployments through handles, so Serve's HTTP proxies carry no traffic;
    # KubeRay checks a proxy's health, so its RayService keeps one on the head.
    proxy_location: ProxyLocation = "Disabled"
    http_port: int = 8000
    engine_env: dict[str, str] = field(default_factory=dict)


def render_serve_config(models: Sequence[tuple[ModelEntry, str]],
                        options: RenderOptions | None = None) -> dict[str, Any]:
    """A Serve config (ServeDeploySchema as a dict) for `models`: (catalogue entry, the model folder
    as the cluster's nodes see it)."""
    options = options or RenderOptions()
    return {
        "proxy_location": options.proxy_location,
        "http_options": {"host": "0.0.0.0", "port": options.http_port},
        "applications": [_application(entry, source, options.engine_env) for entry, source in models],
    }


def _application(entry: ModelEntry, source: str, engine_env: dict[str, str]) -> dict[str, Any]:
    if not entry.is_local:
        raise ValueError(f"model {entry.id!r} is remote: only local models are deployed on the cluster")
    return {
        "name": deployment_name(entry.id),
        "route_prefix": None,  # no HTTP route: routers reach the model through its deployment handle
        "import_path": IMPORT_PATH,
        "args": app_args(entry, source, engine_env),
        "deployments": [_deployment(entry)],
    }


def _deployment(entry: ModelEntry) -> dict[str, Any]:
    """The pool's Serve options (the same the builder sets; this copy is the one operators edit)."""
    if entry.task == "embedding":
        options = embedding_deployment_options(entry)
        options.pop("ray_actor_options")  # placement stays with the builder's args
        return options
    return deployment_options(entry)


def serve_schema() -> Any:
    """Ray Serve's `ServeDeploySchema` class. NOTE: importing Ray's schema module emits pydantic
    deprecation warnings from Ray's own code; they are not ours to fix, so they are muted here."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ray.serve.schema import ServeDeploySchema

    return ServeDeploySchema


def application_names(config: dict[str, Any]) -> list[str]:
    return [str(app["name"]) for app in config.get("applications", [])]


def validate_serve_config(config: dict[str, Any]) -> None:
    """Check the document against Ray Serve's `ServeDeploySchema` (what `serve deploy` validates)
    and every application's args against the builder's; raises ValueError naming the problem."""
    from pydantic import ValidationError

    from serving.apps import parse_app_args

    ServeDeploySchema = serve_schema()

    try:
        ServeDeploySchema.model_validate(config)
    except ValidationError as exc:
        raise ValueError(f"not a valid Ray Serve config: {exc}") from exc
    for app in config.get("applications", []):
        if app.get("import_path") != IMPORT_PATH:
            continue
        try:
            parse_app_args(app.get("args") or {})
        except ValidationError as exc:
            raise ValueError(f"application {app.get('name')!r}: invalid args: {exc}") from exc

"""Plan one Ray Serve application per available local model, and render each one's builder args."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from models.availability import Availability
from models.catalogue import GgufPackageWeights, HubWeights, ModelEntry, PythonPackageWeights
from serving.llm_config import autoscaling_config, deployment_name, llm_config_kwargs

__all__ = ["PlannedApp", "app_args", "build_app", "cluster_source", "embedding_deployment_options",
           "model_source", "plan_apps"]

logger = logging.getLogger(__name__)

# A model folder inside an installed Python package: "python-package:<module>/<subdir>".
PACKAGE_SOURCE_PREFIX = "python-package:"


@dataclass(frozen=True)
class PlannedApp:
    """A local model and the Serve application (and deployment) name that serves it."""

    name: str
    entry: ModelEntry
    task: Literal["chat", "embedding"]
    source: Path | None  # None until prepared (GGUF models)


def plan_apps(availabilities: list[Availability]) -> list[PlannedApp]:
    """Serve applications for every available local model, chat models first."""
    local = [a for a in availabilities if a.available and a.entry.is_local]
    local.sort(key=lambda a: a.entry.task != "chat")
    return [PlannedApp(deployment_name(a.entry.id), a.entry, a.entry.task, a.source) for a in local]


def cluster_source(entry: ModelEntry, availability_source: Path | None, cache_root: Path) -> str:
    """Where a model's folder is on the cluster's nodes, without preparing anything: a GGUF model's
    prepared folder under `cache_root`, a packaged or staged folder, else the hub repository id
    (vLLM then loads it from each node's Hugging Face cache)."""
    weights = entry.weights
    if isinstance(weights, GgufPackageWeights):
        from models.prepare import prepared_path

        return str(prepared_path(_gguf_spec(entry, weights), cache_root))
    if isinstance(weights, PythonPackageWeights):
        # Resolved where the app is built (serving.apps): site-packages differs between machines.
        return f"{PACKAGE_SOURCE_PREFIX}{weights.module}/{weights.subdir}".rstrip("/")
    if availability_source is not None:
        return str(availability_source)
    if isinstance(weights, HubWeights):
        return str(weights.local_dir) if weights.local_dir is not None else weights.repo
    raise ValueError(f"model {entry.id!r}: its weights are not installed here, so their path on the "
                     "cluster is unknown")


def _gguf_spec(entry: ModelEntry, weights: GgufPackageWeights) -> Any:
    from models.prepare import GgufSpec

    return GgufSpec(package=weights.package, assemble=weights.assemble,
                    chat_template=weights.chat_template, eos_token_ids=tuple(weights.eos_token_ids),
                    dtype=entry.engine.dtype if entry.engine else "float32")


def model_source(app: PlannedApp, cache_root: Path, show_progress: bool = True) -> Path:
    """The folder vLLM or sentence-transformers loads; prepares a GGUF package model if needed."""
    weights = app.entry.weights
    if isinstance(weights, GgufPackageWeights):
        from models.prepare import prepare_gguf

        return prepare_gguf(_gguf_spec(app.entry, weights), cache_root, show_progress=show_progress)
    if app.source is None:
        raise ValueError(f"model {app.entry.id!r} has no weights on this machine")
    return app.source


def app_args(entry: ModelEntry, source: Path | str, engine_env: dict[str, str] | None = None
             ) -> dict[str, Any]:
    """The args of `serving.apps:build_model_app` for one local model (pure; JSON-serialisable)."""
    if entry.task == "embedding":
        return {"task": "embedding", "model_id": entry.id, "model_source": str(source),
                "max_seq_length": entry.capabilities.context_length,
                "deployment": embedding_deployment_options(entry)}
    return {"task": "chat", "model_id": entry.id,
            "llm_config": llm_config_kwargs(entry, source, engine_env)}


def embedding_deployment_options(entry: ModelEntry) -> dict[str, Any]:
    """Serve deployment options of an embedding model's pool (no logical CPU: see EmbeddingServer)."""
    actor: dict[str, Any] = {"num_cpus": 0}
    if entry.pool.resources:
        actor["resources"] = dict(entry.pool.resources)
    options: dict[str, Any] = {"name": deployment_name(entry.id), "ray_actor_options": actor,
                               "autoscaling_config": autoscaling_config(entry.scaling)}
    if entry.pool.max_replicas_per_node is not None:
        options["max_replicas_per_node"] = entry.pool.max_replicas_per_node
    return options


def build_app(app: PlannedApp, source: Path, engine_env: dict[str, str] | None = None) -> Any:
    """The bound Serve application for one model (imports Ray Serve; runs in the driver)."""
    from serving.apps import build_model_app

    return build_model_app(app_args(app.entry, source, engine_env))


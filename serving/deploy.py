"""Build and deploy one Ray Serve application per available local model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from models.availability import Availability
from models.catalogue import GgufPackageWeights, ModelEntry
from serving.llm_config import deployment_name, llm_config_kwargs

__all__ = ["PlannedApp", "build_app", "model_source", "plan_apps"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedApp:
    """A local model and the Serve application (and deployment) name that serves it."""

    name: str
    entry: ModelEntry
    task: Literal["chat", "embedding"]
    source: Path | None  # None until prepared (GGUF models)


def plan_apps(availabilities: list[Availability]) -> list[PlannedApp]:
    """Serve applications for every available local model, chat models first."""
    local = [a for a in availabilities if a.available and a.entry.kind == "local"]
    local.sort(key=lambda a: a.entry.task != "chat")
    return [PlannedApp(deployment_name(a.entry.id), a.entry, a.entry.task, a.source) for a in local]


def model_source(app: PlannedApp, cache_root: Path, show_progress: bool = True) -> Path:
    """The folder vLLM or sentence-transformers loads; prepares a GGUF package model if needed."""
    weights = app.entry.weights
    if isinstance(weights, GgufPackageWeights):
        from models.prepare import GgufSpec, prepare_gguf

        spec = GgufSpec(package=weights.package, assemble=weights.assemble,
                        chat_template=weights.chat_template,
                        eos_token_ids=tuple(weights.eos_token_ids),
                        dtype=app.entry.engine.dtype if app.entry.engine else "float32")
        return prepare_gguf(spec, cache_root, show_progress=show_progress)
    if app.source is None:
        raise ValueError(f"model {app.entry.id!r} has no weights on this machine")
    return app.source


def build_app(app: PlannedApp, source: Path, engine_env: dict[str, str] | None = None) -> Any:
    """The bound Serve application for one model (imports Ray Serve; runs in the driver)."""
    if app.task == "embedding":
        from serving.embedding_server import EmbeddingServer

        return EmbeddingServer.options(name=app.name).bind(  # type: ignore[attr-defined]
            str(source), app.entry.capabilities.context_length)
    from ray.serve.llm import LLMConfig, build_llm_deployment

    from serving.llm_server import StellwerkLLMServer, StellwerkVLLMEngine

    config = LLMConfig(**llm_config_kwargs(app.entry, source, engine_env))
    # NOTE: an empty name_prefix falls back to Ray's "<class>:" prefix; set the name explicitly.
    return build_llm_deployment(config, deployment_cls=StellwerkLLMServer,
                                bind_kwargs={"engine_cls": StellwerkVLLMEngine},
                                override_serve_options={"name": app.name})


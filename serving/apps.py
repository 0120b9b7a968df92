"""Ray Serve application builders: the `import_path` of every Stellwerk model application.

A Serve config (rendered by `cluster.serve_config`, applied by `serve deploy`, `stellwerk deploy` or
KubeRay) names `serving.apps:build_model_app` with the model's rendered `args`; Serve calls it inside
the cluster, so vLLM and torch are imported there and never in a router process. The embedded
`stellwerk serve` builds its applications with the same function, so both paths deploy the same thing.

The args are validated strictly (`ModelAppArgs`): a config edited by hand fails at deploy time with
the field that is wrong, not in a replica.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = ["IMPORT_PATH", "ChatAppArgs", "EmbeddingAppArgs", "ModelAppArgs", "build_model_app",
           "parse_app_args", "resolve_source"]

IMPORT_PATH = "serving.apps:build_model_app"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatAppArgs(_Strict):
    """A chat model served by vLLM through `StellwerkLLMServer`."""

    task: Literal["chat"]
    model_id: str
    llm_config: dict[str, Any] = Field(description="Keyword arguments of ray.serve.llm.LLMConfig.")


class EmbeddingAppArgs(_Strict):
    """An embedding model served by `EmbeddingServer` (sentence-transformers, in the replica)."""

    task: Literal["embedding"]
    model_id: str
    model_source: str = Field(description="The model folder; it must exist on every node that may "
                                          "host a replica.")
    max_seq_length: int = Field(gt=0)
    deployment: dict[str, Any] = Field(default_factory=dict,
                                       description="Serve deployment options (name, autoscaling, "
                                                   "ray_actor_options, ...).")


ModelAppArgs = Annotated[ChatAppArgs | EmbeddingAppArgs, Field(discriminator="task")]
_ARGS: TypeAdapter[ChatAppArgs | EmbeddingAppArgs] = TypeAdapter(ModelAppArgs)


def parse_app_args(args: dict[str, Any]) -> ChatAppArgs | EmbeddingAppArgs:
    """Validate a model application's rendered args (raises pydantic's ValidationError)."""
    return _ARGS.validate_python(args)


def resolve_source(source: str) -> str:
    """A model folder path; "python-package:<module>/<subdir>" is resolved in this Python's packages."""
    from serving.deploy import PACKAGE_SOURCE_PREFIX

    if not source.startswith(PACKAGE_SOURCE_PREFIX):
        return source
    import importlib.util
    from pathlib import Path

    module, _, subdir = source.removeprefix(PACKAGE_SOURCE_PREFIX).partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"model source {source!r}: package {module!r} is not installed on this node")
    return str(Path(spec.origin).parent / subdir)


def build_model_app(args: dict[str, Any]) -> Any:
    """The Serve application for one model (Serve's application-builder signature)."""
    parsed = parse_app_args(args)
    if isinstance(parsed, EmbeddingAppArgs):
        from serving.embedding_server import EmbeddingServer

        return EmbeddingServer.options(**parsed.deployment).bind(  # type: ignore[attr-defined]
            resolve_source(parsed.model_source), parsed.max_seq_length)
    from ray.serve.llm import LLMConfig, build_llm_deployment

    from serving.llm_server import StellwerkLLMServer, StellwerkVLLMEngine

    config = LLMConfig(**parsed.llm_config)
    name = parsed.llm_config["deployment_config"]["name"]
    # NOTE: an empty name_prefix falls back to Ray's "<class>:" prefix; set the name explicitly.
    return build_llm_deployment(config, deployment_cls=StellwerkLLMServer,
                                bind_kwargs={"engine_cls": StellwerkVLLMEngine},
                                override_serve_options={"name": name})

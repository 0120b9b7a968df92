"""Turn catalogue entries into `ray.serve.llm.LLMConfig`s (pure: no Ray cluster needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.catalogue import EngineArgs, ModelEntry

__all__ = ["deployment_name", "engine_kwargs", "llm_config_kwargs"]

# Logical CPUs reserved for one CPU engine. Ray rejects all-zero bundles; a small share lets several
# models (and the embedder) schedule on a 2-core machine. These are Ray's bookkeeping units only:
# vLLM's worker still uses every core the OS gives it.
_CPU_ENGINE_SHARE = 0.25
_CPU_PLACEMENT = {"bundles": [{"CPU": _CPU_ENGINE_SHARE}], "strategy": "PACK"}

# Ray batches streamed chunks for this long before sending them through the handle. 10 ms keeps the
# per-token Ray overhead low without delaying the first token noticeably.
STREAM_BATCH_INTERVAL_MS = 10


def deployment_name(model_id: str) -> str:
    """The Serve deployment (and application) name for a catalogue id: only [A-Za-z0-9_-]."""
    return "llm-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in model_id)


def engine_kwargs(args: EngineArgs) -> dict[str, Any]:
    """vLLM engine arguments from the catalogue's engine section."""
    kwargs: dict[str, Any] = {
        "dtype": args.dtype,
        "max_model_len": args.max_model_len,
        "enforce_eager": args.enforce_eager,
        "tensor_parallel_size": args.tensor_parallel_size,
    }
    if args.gpu_memory_utilization is not None:
        kwargs["gpu_memory_utilization"] = args.gpu_memory_utilization
    if args.tool_call_parser is not None:  # vLLM frontend arguments: Ray Serve LLM passes them on
        kwargs["enable_auto_tool_choice"] = True
        kwargs["tool_call_parser"] = args.tool_call_parser
    kwargs.update(args.extra)
    return kwargs


def llm_config_kwargs(entry: ModelEntry, model_source: Path | str,
                      engine_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for `LLMConfig(**kwargs)` serving `entry` from `model_source`.

    `engine_env` adds environment variables for the engine's processes (e.g. CPU core binding).
    """
    if entry.engine is None:
        raise ValueError(f"model {entry.id!r} has no engine section")
    env: dict[str, str] = dict(engine_env or {})
    config: dict[str, Any] = {
        "model_loading_config": {"model_id": entry.id, "model_source": str(model_source)},
        "engine_kwargs": engine_kwargs(entry.engine),
        "deployment_config": {
            "name": deployment_name(entry.id),
            "autoscaling_config": {
                "min_replicas": entry.scaling.min_replicas,
                "initial_replicas": max(entry.scaling.min_replicas, 1),
                "max_replicas": entry.scaling.max_replicas,
                "target_ongoing_requests": entry.scaling.target_ongoing_requests,
            },
            "max_ongoing_requests": entry.scaling.target_ongoing_requests * 4,
        },
        "experimental_configs": {"stream_batching_interval_ms": STREAM_BATCH_INTERVAL_MS},
        "log_engine_metrics": False,
    }
    if entry.accelerator == "cpu":
        config["accelerator_config"] = {"kind": "cpu"}
        config["placement_group_config"] = _CPU_PLACEMENT
        config["deployment_config"]["ray_actor_options"] = {"num_cpus": 0}
        if entry.engine.kv_cache_gib is not None:
            env["VLLM_CPU_KVCACHE_SPACE"] = f"{entry.engine.kv_cache_gib:g}"
    if env:
        config["runtime_env"] = {"env_vars": env}
    return config

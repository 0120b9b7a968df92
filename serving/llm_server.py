"""Ray Serve's maintained `LLMServer`, plus the two things Stellwerk needs that it does not offer.

`ray.serve.llm.LLMServer` runs vLLM's `AsyncLLM` in a Serve replica and speaks vLLM's OpenAI protocol
objects. We subclass it rather than write our own engine wrapper, and add only:

* `StellwerkVLLMEngine`: on CPU, Ray forces vLLM's multiprocess executor, which puts the model in a
  separate worker process and leaves the EngineCore busy-polling it — a whole core burnt on a 2-core
  machine (measured: EngineCore 81 % and worker 87 % CPU at 16 streams). vLLM's own server runs a
  single-process engine in that case; so do we, for one-device CPU engines.

* `chat_from_dict`: takes the request as a plain dict and builds vLLM's `ChatCompletionRequest` inside
  the replica, so the router process never imports vLLM (seconds of start-up and ~1 GiB saved), and
  returns chunks as JSON strings (one `json.loads` in the router, no SSE re-parsing).
* `engine_stats`: the engine's own queue — unfinished requests (AsyncLLM's count, which also proves
  that a cancelled stream stops generating), and running / waiting requests and KV-cache usage from
  vLLM's scheduler stats (`serving.scheduler_stats`) — for the router's telemetry.

This module is imported inside Ray workers, where vLLM is installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ray.llm._internal.serve.engines.vllm.vllm_engine import VLLMEngine
from ray.serve.llm import LLMServer

from serving.scheduler_stats import LatestSchedulerStats, attach_scheduler_stats, engine_stats_reply

__all__ = ["StellwerkLLMServer", "StellwerkVLLMEngine"]


class StellwerkVLLMEngine(VLLMEngine):
    """Ray's vLLM engine, with vLLM's single-process executor for one-device CPU engines, and the
    newest scheduler stats of its AsyncLLM in `scheduler_stats` (None if vLLM's stats are off)."""

    scheduler_stats: LatestSchedulerStats | None = None

    # NOTE: overrides a private hook of ray 2.60's VLLMEngine (ray is pinned); the engine test in
    # tests/e2e fails if a Ray upgrade changes it.
    def _prepare_engine_config(self, callback_ctx: Any) -> Any:
        engine_args, frontend_args, vllm_config = super()._prepare_engine_config(callback_ctx)
        parallel = vllm_config.parallel_config
        if vllm_config.device_config.device_type == "cpu" and parallel.world_size == 1:
            parallel.distributed_executor_backend = "uni"
            engine_args.distributed_executor_backend = "uni"
        return engine_args, frontend_args, vllm_config

    def _start_async_llm_engine(self, engine_args: Any, vllm_config: Any, placement_group: Any) -> Any:
        client = self._build_async_llm(engine_args, vllm_config, placement_group)
        self.scheduler_stats = attach_scheduler_stats(client)
        return client

    def _build_async_llm(self, engine_args: Any, vllm_config: Any, placement_group: Any) -> Any:
        if vllm_config.parallel_config.distributed_executor_backend != "uni":
            return super()._start_async_llm_engine(engine_args, vllm_config, placement_group)
        # The multiprocess executor binds its worker's OpenMP threads (VLLM_CPU_OMP_THREADS_BIND);
        # with one process the EngineCore is the worker: give it the same binding at its spawn.
        from vllm.utils.ompmultiprocessing import OMPProcessManager

        with OMPProcessManager(vllm_config).configure_omp_envs(rank=0, local_rank=0):
            return super()._start_async_llm_engine(engine_args, vllm_config, placement_group)


_SSE_PREFIX = "data: "


class StellwerkLLMServer(LLMServer):
    """An `LLMServer` that also accepts dict requests and reports its engine's queue."""

    async def chat_from_dict(self, body: dict[str, Any]) -> AsyncIterator[list[str | dict[str, Any]]]:
        """Yield batches; each item is a chunk's JSON text or an error dict {"error": {...}}."""
        from pydantic import ValidationError
        from ray.llm._internal.serve.core.configs.openai_api_models import (
            ChatCompletionRequest,
        )

        try:
            request = ChatCompletionRequest(**body)
        except ValidationError as exc:
            yield [{"error": {"message": _validation_message(exc), "code": 400}}]
            return
        stream = await self.chat(request)
        async for batch in stream:
            yield [_unwrap(item) for item in (batch if isinstance(batch, list) else [batch])]

    async def record_routing_stats(self) -> dict[str, Any]:
        """Serve's hook, called on every replica every `request_routing_stats_period_s`: Ray's own
        stats (the KV-events endpoint) plus the engine's queue, which Serve pushes to every handle
        (see serving.pool_stats)."""
        return {**await super().record_routing_stats(), **await self.engine_stats()}

    async def engine_stats(self) -> dict[str, float | None]:
        """This replica's queue: `unfinished`, `running`, `waiting`, `kv_cache_usage` (0..1 or None)
        and `ready` (0 while the engine is starting)."""
        client = getattr(self.engine, "_engine_client", None)
        if client is None:
            return {"unfinished": 0.0, "running": 0.0, "waiting": 0.0, "kv_cache_usage": None, "ready": 0.0}
        scheduler = getattr(self.engine, "scheduler_stats", None)
        return engine_stats_reply(client.get_num_unfinished_requests(), scheduler)


def _unwrap(item: Any) -> str | dict[str, Any]:
    if isinstance(item, str):
        text = item.strip()
        return text[len(_SSE_PREFIX):] if text.startswith(_SSE_PREFIX) else text
    dump: dict[str, Any] = item.model_dump()
    return dump


def _validation_message(exc: Any) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts) or str(exc)

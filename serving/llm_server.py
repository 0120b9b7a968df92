"""Ray Serve's maintained `LLMServer`, plus the two things Stellwerk needs that it does not offer.

`ray.serve.llm.LLMServer` runs vLLM's `AsyncLLM` in a Serve replica and speaks vLLM's OpenAI protocol
objects. We subclass it rather than write our own engine wrapper, and add only:

* `StellwerkVLLMEngine`: on CPU, Ray forces vLLM's multiprocess executor, which puts the model in a
  separate worker process and leaves the EngineCore busy-polling it — a whole core burnt on a 2-core
  machine (measured: EngineCore 81 % and worker 87 % CPU at 16 streams). vLLM's own server runs a
  single-process engine in that case; so do we, for one-device CPU engines.

* `chat_deltas`: takes the request as a plain dict and builds vLLM's `ChatCompletionRequest` inside
  the replica, so the router process never imports vLLM (seconds of start-up and ~1 GiB saved), and
  streams typed deltas (`serving.replica_stream`): the router neither strips SSE framing nor parses
  JSON. The first token leaves at once, later ones in paced batches. A W3C trace context from the
  router becomes this replica's span (`serving.replica_tracing`) and is handed on to vLLM's own
  tracing (`trace_headers`).
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

from serving.replica_stream import Delta, ReplicaError, deltas_of, error_of, paced_batches
from serving.replica_tracing import enable_engine_tracing, replica_span
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
        enable_engine_tracing(vllm_config.observability_config)
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


# At most one batch of deltas per stream per this many seconds after the first (sent at once).
STREAM_BATCH_INTERVAL_S = 0.01


class StellwerkLLMServer(LLMServer):
    """An `LLMServer` that also accepts dict requests, streams typed deltas and reports its queue."""

    # Chat requests this replica has been given (reported with its routing stats: which replicas
    # of a pool Ray's request router uses).
    chat_requests: int = 0

    # NOTE: overrides ray 2.60's `_start_engine` (pinned). After starting the engine, Ray's version
    # reports the model to Ray's usage telemetry through a detached `TelemetryAgent` actor, which it
    # creates even when usage stats are off (RAY_USAGE_STATS_ENABLED=0, as `stellwerk serve` sets):
    # a process of ~390 MB that stays for the cluster's lifetime and used 0.8 % of a core while idle.
    # With usage stats off there is nothing to report, so only the engine starts.
    async def _start_engine(self) -> None:
        from ray._common.usage.usage_lib import usage_stats_enabled

        try:
            enabled = usage_stats_enabled()
        except ValueError:  # a malformed RAY_USAGE_STATS_ENABLED or ~/.ray config: Ray's own path decides
            enabled = True
        if enabled:
            await super()._start_engine()  # type: ignore[no-untyped-call]
            return
        if self.engine is None:
            raise ValueError("Engine is not set")
        await self.engine.start()  # type: ignore[no-untyped-call]

    async def chat_deltas(self, body: dict[str, Any], trace_headers: dict[str, str] | None = None
                          ) -> AsyncIterator[list[Delta]]:
        """Batches of `ChatChunk`s for an OpenAI chat request; a `ReplicaError` ends the stream."""
        from pydantic import ValidationError
        from ray.llm._internal.serve.core.configs.openai_api_models import ChatCompletionRequest

        self.chat_requests += 1

        try:
            request = ChatCompletionRequest(**body)
        except ValidationError as exc:
            yield [ReplicaError(_validation_message(exc), 400)]
            return
        with replica_span(str(body.get("model", "")), trace_headers) as headers:
            stream = self._vllm_deltas(request, headers)
            async for batch in paced_batches(stream, STREAM_BATCH_INTERVAL_S):
                yield batch

    async def _vllm_deltas(self, request: Any, headers: dict[str, str]) -> AsyncIterator[Delta]:
        from ray.llm._internal.serve.core.protocol import RawRequestInfo

        # vLLM reads trace headers (and only those, here) from the raw request's headers.
        raw = RawRequestInfo(headers=headers) if headers else None
        # NOTE: `_run_request` is ray 2.60's hook (pinned) under `chat`, without Ray's batcher, which
        # holds even the first token for a whole interval; tests/e2e/test_engine_stack.py covers it.
        stream = await self._run_request(request, engine_method="chat", batch_output_stream=False,
                                         raw_request_info=raw)
        async for item in stream:
            if isinstance(item, str):
                for delta in deltas_of(item):
                    yield delta
            else:  # vLLM's ErrorResponse (a request it refused), never a whole response: we stream
                yield error_of(item.model_dump().get("error"))

    async def record_routing_stats(self) -> dict[str, Any]:
        """Serve's hook, called on every replica every `request_routing_stats_period_s`: Ray's own
        stats (the KV-events endpoint) plus the engine's queue, which Serve pushes to every handle
        (see serving.pool_stats), and the chat requests it has been given."""
        return {**await super().record_routing_stats(), **await self.engine_stats(),
                "chat_requests": self.chat_requests}

    async def engine_stats(self) -> dict[str, float | None]:
        """This replica's queue: `unfinished`, `running`, `waiting`, `kv_cache_usage` (0..1 or None)
        and `ready` (0 while the engine is starting)."""
        client = getattr(self.engine, "_engine_client", None)
        if client is None:
            return {"unfinished": 0.0, "running": 0.0, "waiting": 0.0, "kv_cache_usage": None, "ready": 0.0}
        scheduler = getattr(self.engine, "scheduler_stats", None)
        return engine_stats_reply(client.get_num_unfinished_requests(), scheduler)


def _validation_message(exc: Any) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts) or str(exc)

"""`serving.llm_config`: catalogue entries to `LLMConfig` keyword arguments (pure; no Ray)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.catalogue import EngineArgs, ModelEntry, load_catalogue
from serving.llm_config import deployment_name, engine_kwargs, llm_config_kwargs


def entry(model_id: str) -> ModelEntry:
    found = load_catalogue().get(model_id)
    assert found is not None, model_id
    return found


def test_cpu_entry_runs_on_cpu_with_a_non_zero_cpu_bundle() -> None:
    config = llm_config_kwargs(entry("gemma-3-270m"), Path("/cache/gemma"))

    assert config["accelerator_config"] == {"kind": "cpu"}
    bundles = config["placement_group_config"]["bundles"]
    assert bundles and all(b.get("CPU", 0) > 0 for b in bundles)  # Ray rejects all-zero bundles
    assert config["model_loading_config"] == {"model_id": "gemma-3-270m", "model_source": "/cache/gemma"}


def test_cpu_entry_sets_the_kv_cache_size_for_vllm() -> None:
    config = llm_config_kwargs(entry("gemma-3-270m"), "/cache/gemma")

    assert config["engine_kwargs"]["kv_cache_memory_bytes"] == 2 * 1024 ** 3
    assert "runtime_env" not in config  # not VLLM_CPU_KVCACHE_SPACE: it overrides the engine argument


def test_a_fraction_of_a_gib_reaches_vllm_as_bytes() -> None:
    """VLLM_CPU_KVCACHE_SPACE takes whole GiB (vllm-cpu refuses "0.5"); a pool of small replicas
    needs less."""
    gemma = entry("gemma-3-270m")
    assert gemma.engine is not None
    small = gemma.model_copy(update={"engine": gemma.engine.model_copy(update={"kv_cache_gib": 0.5})})

    kwargs = llm_config_kwargs(small, "/cache/gemma")["engine_kwargs"]
    assert kwargs["kv_cache_memory_bytes"] == 512 * 1024 ** 2


def test_engine_env_is_added_to_the_runtime_env() -> None:
    env = {"VLLM_CPU_OMP_THREADS_BIND": "1"}
    config = llm_config_kwargs(entry("gemma-3-270m"), "/cache/gemma", engine_env=env)

    assert config["runtime_env"]["env_vars"] == {"VLLM_CPU_OMP_THREADS_BIND": "1"}
    assert env == {"VLLM_CPU_OMP_THREADS_BIND": "1"}  # the caller's dict is not changed


def test_autoscaling_comes_from_the_catalogue() -> None:
    gemma = entry("gemma-3-270m")
    deployment = llm_config_kwargs(gemma, "/cache/gemma")["deployment_config"]

    scaling = deployment["autoscaling_config"]
    assert scaling["min_replicas"] == gemma.scaling.min_replicas == 1
    assert scaling["max_replicas"] == gemma.scaling.max_replicas
    assert scaling["target_ongoing_requests"] == gemma.scaling.target_ongoing_requests == 32
    assert scaling["initial_replicas"] >= 1
    assert deployment["max_ongoing_requests"] >= scaling["target_ongoing_requests"]
    assert deployment["name"] == "llm-gemma-3-270m"


def test_scale_to_zero_still_starts_one_replica() -> None:
    gemma = entry("gemma-3-270m")
    idle = gemma.model_copy(update={"scaling": gemma.scaling.model_copy(update={"min_replicas": 0})})

    scaling = llm_config_kwargs(idle, "/m")["deployment_config"]["autoscaling_config"]

    assert (scaling["min_replicas"], scaling["initial_replicas"]) == (0, 1)


def test_gpu_entry_has_no_cpu_settings() -> None:
    llama = entry("llama-3.1-8b-instruct")
    config = llm_config_kwargs(llama, "/models/llama")

    assert "accelerator_config" not in config
    assert "placement_group_config" not in config
    assert "runtime_env" not in config
    assert config["engine_kwargs"]["gpu_memory_utilization"] == 0.9
    assert config["engine_kwargs"]["dtype"] == "bfloat16"
    scaling = config["deployment_config"]["autoscaling_config"]
    assert scaling["max_replicas"] == llama.scaling.max_replicas == 4


def test_engine_kwargs_carry_the_catalogue_engine_section_and_extras() -> None:
    args = EngineArgs(dtype="float32", max_model_len=2048, enforce_eager=True,
                      extra={"max_num_seqs": 8, "enable_prefix_caching": False})

    kwargs = engine_kwargs(args)

    assert kwargs == {"dtype": "float32", "max_model_len": 2048, "enforce_eager": True,
                      "tensor_parallel_size": 1, "max_num_seqs": 8, "enable_prefix_caching": False}


def test_entry_without_engine_section_is_refused() -> None:
    with pytest.raises(ValueError, match="all-minilm-l6-v2"):
        llm_config_kwargs(entry("all-minilm-l6-v2"), "/m")


@pytest.mark.parametrize(("model_id", "name"), [
    ("gemma-3-270m", "llm-gemma-3-270m"),
    ("qwen2.5-7b-instruct", "llm-qwen2_5-7b-instruct"),
    ("openai/gpt-4o-mini", "llm-openai_gpt-4o-mini"),
    ("a_b-C", "llm-a_b-C"),
])
def test_deployment_name_is_sanitised(model_id: str, name: str) -> None:
    assert deployment_name(model_id) == name


def test_every_catalogue_id_gives_a_distinct_valid_name() -> None:
    names = [deployment_name(m.id) for m in load_catalogue().models]

    assert len(set(names)) == len(names)
    assert all(all(c.isalnum() or c in "-_" for c in n) for n in names)

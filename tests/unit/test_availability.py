"""`models.availability`: which entries can serve here, and why not for the others (nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest

from models.availability import check_availability
from models.catalogue import (
    GgufPackageWeights,
    HubWeights,
    ModelEntry,
    PythonPackageWeights,
    load_catalogue,
)

KEY_VALUE = "sk-test-0123456789abcdef-do-not-print"


def entry(model_id: str) -> ModelEntry:
    found = load_catalogue().get(model_id)
    assert found is not None, model_id
    return found


def with_weights(model_id: str, weights: object) -> ModelEntry:
    return entry(model_id).model_copy(update={"weights": weights})


# --- GPU models ------------------------------------------------------------------------------------


def test_gpu_model_without_a_gpu_is_unavailable_with_the_reason() -> None:
    result = check_availability(entry("llama-3.1-8b-instruct"), gpu_count=0, environ={})

    assert not result.available
    assert result.reason is not None and "GPU" in result.reason


def test_gpu_model_with_a_gpu_goes_on_to_check_its_weights(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    llama = with_weights("llama-3.1-8b-instruct", HubWeights(type="hf-hub", repo="x/y", local_dir=tmp_path))

    result = check_availability(llama, gpu_count=1, environ={})

    assert result.available and result.source == tmp_path


# --- remote models ---------------------------------------------------------------------------------


def test_remote_without_its_key_is_unavailable_naming_the_variable() -> None:
    result = check_availability(entry("openai/gpt-4o-mini"), gpu_count=0, environ={},
                                remote_types={"openai"})

    assert not result.available
    assert result.reason is not None and "OPENAI_API_KEY" in result.reason


def test_remote_with_an_empty_key_is_unavailable() -> None:
    result = check_availability(entry("openai/gpt-4o-mini"), gpu_count=0, environ={"OPENAI_API_KEY": ""},
                                remote_types={"openai"})

    assert not result.available


@pytest.mark.parametrize("remote_types", [(), ("anthropic",)])
def test_remote_without_an_adapter_is_unavailable_and_never_shows_the_key(
        remote_types: tuple[str, ...]) -> None:
    result = check_availability(entry("openai/gpt-4o-mini"), gpu_count=0,
                                environ={"OPENAI_API_KEY": KEY_VALUE}, remote_types=remote_types)

    assert not result.available
    assert result.reason is not None and "'openai'" in result.reason
    assert KEY_VALUE not in repr(result)


def test_remote_with_key_and_adapter_is_available() -> None:
    for model_id in [m.id for m in load_catalogue().models if not m.is_local]:
        e = entry(model_id)
        assert e.remote is not None
        result = check_availability(e, gpu_count=0, environ={e.remote.api_key_env: KEY_VALUE},
                                    remote_types={"openai", "anthropic", "gemini"})
        assert result.available, model_id
        assert result.reason is None
        assert KEY_VALUE not in repr(result)


# --- local weights ---------------------------------------------------------------------------------


def test_hub_local_dir_with_config_is_available(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    qwen = with_weights("qwen2.5-7b-instruct", HubWeights(type="hf-hub", repo="x/y", local_dir=tmp_path))

    result = check_availability(qwen, gpu_count=1, environ={})

    assert result.available
    assert result.source == tmp_path


def test_hub_local_dir_without_config_is_unavailable(tmp_path: Path) -> None:
    qwen = with_weights("qwen2.5-7b-instruct", HubWeights(type="hf-hub", repo="x/y", local_dir=tmp_path))

    result = check_availability(qwen, gpu_count=1, environ={})

    assert not result.available
    assert result.reason is not None
    assert str(tmp_path) in result.reason and "config.json" in result.reason


def test_hub_weights_in_the_hf_cache_are_available(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cached = tmp_path / "snapshots" / "abc" / "config.json"
    asked: list[tuple[str, str, str | None]] = []

    def fake_lookup(repo: str, filename: str, revision: str | None = None) -> str:
        asked.append((repo, filename, revision))
        return str(cached)

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", fake_lookup)

    result = check_availability(entry("qwen2.5-7b-instruct"), gpu_count=1, environ={})

    assert result.available and result.source == cached.parent
    assert asked == [("Qwen/Qwen2.5-7B-Instruct", "config.json", None)]


def test_hub_weights_not_in_the_cache_say_nothing_is_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)

    result = check_availability(entry("qwen2.5-7b-instruct"), gpu_count=1, environ={})

    assert not result.available
    assert result.reason is not None
    assert "Qwen/Qwen2.5-7B-Instruct" in result.reason and "never downloads" in result.reason


def test_gguf_package_not_installed_is_unavailable() -> None:
    weights = entry("gemma-3-270m").weights
    assert isinstance(weights, GgufPackageWeights)
    gemma = with_weights("gemma-3-270m", weights.model_copy(update={"package": "stellwerk-no-such-pkg"}))

    result = check_availability(gemma, gpu_count=0, environ={})

    assert not result.available
    assert result.reason == "package stellwerk-no-such-pkg is not installed"


def test_python_package_weights_are_found_by_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = tmp_path / "stellwerk_fake_weights"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    weights = PythonPackageWeights(type="python-package", package="stellwerk-fake-weights",
                                   module="stellwerk_fake_weights", subdir="model")

    found = check_availability(with_weights("all-minilm-l6-v2", weights), gpu_count=0, environ={})
    no_folder = check_availability(
        with_weights("all-minilm-l6-v2", weights.model_copy(update={"subdir": "absent"})),
        gpu_count=0, environ={})

    assert found.available and found.source == package / "model"
    assert not no_folder.available
    assert no_folder.reason is not None and "absent" in no_folder.reason


def test_python_package_not_installed_is_unavailable() -> None:
    weights = PythonPackageWeights(type="python-package", package="stellwerk-missing-weights",
                                   module="stellwerk_missing_weights_module", subdir="model")

    result = check_availability(with_weights("all-minilm-l6-v2", weights), gpu_count=0, environ={})

    assert not result.available
    assert result.reason == "package stellwerk-missing-weights is not installed"

"""`models.catalogue`: the shipped catalogue, and errors that name the file, the model and the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from models.catalogue import (
    DEFAULT_CATALOGUE_PATH,
    CatalogueError,
    GgufPackageWeights,
    PythonPackageWeights,
    load_catalogue,
)

LOCAL = """\
  - id: tiny-local
    kind: local
    provider: stellwerk-local
    aliases: [local/tiny]
    license: Apache-2.0
    weights: {type: hf-hub, repo: example/tiny}
    engine: {max_model_len: 512}
    capabilities: {context_length: 512}
    pricing: {input_per_mtok: 0, output_per_mtok: 0}
    residency: {jurisdiction: on-prem, leaves_premises: false}
"""

REMOTE = """\
  - id: example/remote
    kind: remote
    provider: example
    aliases: [remote]
    license: proprietary
    remote: {type: openai, base_url: "https://api.example.com/v1", model: m, api_key_env: EXAMPLE_KEY}
    capabilities: {context_length: 8192}
    pricing: {input_per_mtok: 1, output_per_mtok: 2, as_of: 2025-09-01}
    residency: {jurisdiction: US, leaves_premises: true}
"""


def write(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text("models:\n" + "".join(entries), encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    message = str(caught.value)
    assert str(path) in message
    return message


# --- the shipped catalogue -------------------------------------------------------------------------


def test_shipped_catalogue_loads_with_the_embedded_models() -> None:
    catalogue = load_catalogue()

    gemma = catalogue.get("gemma-3-270m")
    assert gemma is not None
    assert (gemma.kind, gemma.task, gemma.accelerator) == ("local", "chat", "cpu")
    assert isinstance(gemma.weights, GgufPackageWeights)
    assert gemma.engine is not None and gemma.engine.max_model_len <= gemma.capabilities.context_length
    assert gemma.defaults.stop  # a base model needs stop strings at the turn boundary
    minilm = catalogue.get("all-minilm-l6-v2")
    assert minilm is not None
    assert (minilm.kind, minilm.task) == ("local", "embedding")
    assert minilm.capabilities.embeddings and not minilm.capabilities.chat
    assert isinstance(minilm.weights, PythonPackageWeights)


def test_shipped_catalogue_has_gpu_class_local_models() -> None:
    gpu = [m for m in load_catalogue().models if m.is_local and m.accelerator == "gpu"]

    assert len(gpu) >= 2
    assert all(m.engine is not None and m.task == "chat" for m in gpu)


def test_shipped_remote_models_carry_prices_with_dates() -> None:
    remote = [m for m in load_catalogue().models if not m.is_local]

    assert {m.provider for m in remote} >= {"openai", "anthropic", "gemini"}
    for m in remote:
        assert m.remote is not None and m.remote.api_key_env, m.id
        assert m.pricing.input_per_mtok > 0 and m.pricing.output_per_mtok > 0, m.id
        assert m.pricing.as_of is not None, m.id
        assert m.residency.leaves_premises, m.id


def test_every_name_resolves_to_its_own_entry() -> None:
    catalogue = load_catalogue()

    for entry in catalogue.models:
        for name in [entry.id, *entry.aliases]:
            assert catalogue.get(name) is entry
    assert catalogue.get("no-such-model") is None


def test_default_path_is_the_shipped_file() -> None:
    assert DEFAULT_CATALOGUE_PATH.name == "catalogue.yaml"
    assert DEFAULT_CATALOGUE_PATH.is_file()


# --- strictness and error messages -----------------------------------------------------------------


def test_a_minimal_catalogue_loads(tmp_path: Path) -> None:
    catalogue = load_catalogue(write(tmp_path, LOCAL, REMOTE))

    assert [m.id for m in catalogue.models] == ["tiny-local", "example/remote"]
    assert catalogue.get("remote") is catalogue.models[1]


def test_unknown_field_names_the_file_the_model_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, LOCAL, REMOTE.replace("    license: proprietary\n",
                                                 "    license: proprietary\n    colour: blue\n"))
    line = path.read_text().splitlines().index("    colour: blue") + 1

    message = load_error(path)

    assert "colour" in message
    assert "'example/remote'" in message
    assert f"line {line}:" in message


def test_a_wrong_value_in_a_nested_field_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, LOCAL.replace("engine: {max_model_len: 512}", "engine: {max_model_len: -1}"))
    line = path.read_text().splitlines().index("    engine: {max_model_len: -1}") + 1

    message = load_error(path)

    assert "engine.max_model_len" in message
    assert "'tiny-local'" in message
    assert f"line {line}:" in message


def test_duplicate_alias_is_rejected_naming_both_models(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, LOCAL, REMOTE.replace("aliases: [remote]", "aliases: [local/tiny]")))

    assert "'local/tiny'" in message
    assert "'tiny-local'" in message and "'example/remote'" in message


def test_alias_equal_to_another_models_id_is_rejected(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, LOCAL, REMOTE.replace("aliases: [remote]", "aliases: [tiny-local]")))

    assert "'tiny-local'" in message


def test_local_model_without_weights_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, REMOTE, LOCAL.replace("    weights: {type: hf-hub, repo: example/tiny}\n", ""))
    line = path.read_text().splitlines().index("  - id: tiny-local") + 1

    message = load_error(path)

    assert "weights" in message
    assert "'tiny-local'" in message
    assert f"line {line}:" in message


def test_remote_model_without_remote_section_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "".join(line for line in REMOTE.splitlines(keepends=True)
                                   if not line.startswith("    remote:")))

    assert "remote" in load_error(path)


def test_unknown_weights_type_is_rejected(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, LOCAL.replace("type: hf-hub", "type: ftp")))

    assert "'tiny-local'" in message
    assert "weights" in message


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text("models:\n  - id: [unclosed\n", encoding="utf-8")

    assert "not valid YAML" in load_error(path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    assert "cannot read" in load_error(tmp_path / "absent.yaml")


def test_a_file_without_models_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(textwrap.dedent("""\
        # nothing here
        version: 1
        """), encoding="utf-8")

    message = load_error(path)

    assert "models" in message


def test_a_local_context_longer_than_the_engine_allows_is_rejected() -> None:
    from models.catalogue import ModelEntry

    with pytest.raises(ValueError, match="max_model_len"):
        ModelEntry.model_validate({
            "id": "m", "kind": "local", "provider": "p", "license": "l",
            "weights": {"type": "hf-hub", "repo": "org/m"},
            "engine": {"max_model_len": 4096},
            "capabilities": {"context_length": 8192},
            "pricing": {"input_per_mtok": 0, "output_per_mtok": 0},
            "residency": {"jurisdiction": "on-prem", "leaves_premises": False},
        })

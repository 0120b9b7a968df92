"""An on-disk cache of training embeddings, so re-training does not re-embed ~18k prompts.

Training-time only. Keys are SHA-1 digests of (embedder id, its token window, classified text);
the file is one .npz holding the keys and the float32 vectors, rewritten after each batch of new texts.

`training_cache` picks the embedder the heads are trained on: by default the router's own serving
embedder (the int8 ONNX graph), so the heads learn from exactly the vectors they will be applied to;
`torch` (sentence-transformers) is the reference, about four times slower per prompt; `static` is the
token table distilled from MiniLM (`models.static_distill`), whose heads are a separate set.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from router.features.embedder import (
    DEFAULT_EMBEDDER_ID,
    DEFAULT_MAX_SEQ_LENGTH,
    Embedder,
    MiniLMEmbedder,
    default_embedder,
    static_embedder,
)

__all__ = ["RUNTIMES", "EmbeddingCache", "training_cache"]

RUNTIMES = ("onnx", "torch", "static")

_log = logging.getLogger(__name__)
_BATCH = 512


class EmbeddingCache:
    """Embeds texts through `embedder`, reusing vectors stored in `path` from earlier runs."""

    def __init__(self, path: Path, embedder: Embedder, embedder_id: str, max_seq_length: int) -> None:
        self._path = path
        self._embedder = embedder
        self._id = f"{embedder_id}\0{max_seq_length}"
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}
        if path.is_file():
            with np.load(path) as data:
                self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Vectors for `texts` in order; missing ones are embedded in batches and saved."""
        keys = [self._key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        by_key = dict(zip(keys, texts, strict=True))
        for start in range(0, len(missing), _BATCH):
            batch = missing[start:start + _BATCH]
            vectors = self._embedder.embed([by_key[k] for k in batch])
            self._vectors.update(zip(batch, vectors, strict=True))
            self._save()
            _log.info("embedded %d/%d new texts", start + len(batch), len(missing))
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self._id}\0{text}".encode()).hexdigest()

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp.npz")
        keys = np.array(list(self._vectors), dtype="U40")
        np.savez(tmp, keys=keys, vectors=np.stack(list(self._vectors.values())))
        tmp.replace(self._path)


def training_cache(folder: Path, runtime: str, *, threads: int,
                   token_logits: Path | None = None) -> tuple[EmbeddingCache, dict[str, Any]]:
    """The embedding cache in `folder` over the `runtime` embedder ("onnx": the router's serving
    graph, one thread per text as it serves; "torch": sentence-transformers with `threads`; "static":
    the distilled table, with the supervised `token_logits` table appended when given), and what to
    record about that embedder in the trained artifacts' metadata."""
    if runtime == "torch":
        return (EmbeddingCache(folder / "minilm.npz", MiniLMEmbedder(threads=threads), DEFAULT_EMBEDDER_ID,
                               DEFAULT_MAX_SEQ_LENGTH), {"runtime": "torch"})
    if runtime == "static":
        return _static_cache(folder, token_logits)
    if runtime != "onnx":
        raise ValueError(f"unknown embedder runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
    from router.features.onnx_embedder import OnnxEmbedder

    embedder = default_embedder()
    if not isinstance(embedder, OnnxEmbedder):  # never train on torch vectors labelled as ONNX ones
        raise RuntimeError("the ONNX encoder is unavailable here (see the warning above); "
                           "use --embedder torch")
    export = embedder.model_file.parent.name  # names the package version and the export's cache key
    cache = EmbeddingCache(folder / "minilm-onnx.npz", embedder, f"{DEFAULT_EMBEDDER_ID}@{export}",
                           DEFAULT_MAX_SEQ_LENGTH)
    return cache, {"runtime": "onnx", "export": export}


def _static_cache(folder: Path, token_logits: Path | None) -> tuple[EmbeddingCache, dict[str, Any]]:
    from models.prepare import default_cache_root
    from models.static_distill import DEFAULT_STATIC, static_path
    from router.features.static_embedder import DEFAULT_MAX_TOKENS

    embedder = static_embedder(token_logits=token_logits)
    table = static_path(DEFAULT_STATIC, default_cache_root()).name  # names the version and the key
    if token_logits is not None:
        table += "+" + hashlib.sha256(token_logits.read_bytes()).hexdigest()[:16]
    # One file per table: vectors of another table (another width) cannot share a file.
    cache = EmbeddingCache(folder / f"{table}.npz", embedder, f"{DEFAULT_EMBEDDER_ID}@{table}", 0)
    return cache, {"runtime": "static", "table": table, "max_seq_length": DEFAULT_MAX_TOKENS,
                   "token_logits": token_logits is not None}

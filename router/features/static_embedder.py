"""`StaticEmbedder`: an `Embedder` that needs no neural network at run time: a token table lookup.

The table is distilled from the packaged all-MiniLM-L6-v2 (`models.static_distill`: each vocabulary
token run through the encoder once, PCA, frequency weights); a text's vector is the mean of its
tokens' rows, L2-normalised. Tokenizing is MiniLM's own `tokenizer.json` (Rust `tokenizers`) without
the [CLS]/[SEP] tokens, cut to `max_tokens`. Numpy alone: no torch, no ONNX Runtime, ~0.1 ms a text.
Its vectors live in their own space (not MiniLM's), so heads must be trained on them
(`python -m router.features.train --embedder static`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

__all__ = ["DEFAULT_MAX_TOKENS", "StaticEmbedder"]

# The classified text is already cut to ~500 characters (`text.classifier_text`), ~150 tokens; the cap
# only bounds the work for texts of rare long tokens.
DEFAULT_MAX_TOKENS: Final = 512


class StaticEmbedder:
    """Mean of the rows of `table` (vocabulary x d) for a text's token ids; thread-safe."""

    def __init__(self, table: npt.NDArray[np.floating], tokenizer_file: Path, *,
                 max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        if table.ndim != 2 or table.shape[0] < tokenizer.get_vocab_size():
            raise ValueError(f"table {table.shape} does not cover the tokenizer's "
                             f"{tokenizer.get_vocab_size()} tokens")
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._table = np.ascontiguousarray(table, dtype=np.float32)

    @classmethod
    def load(cls, table_file: Path, tokenizer_file: Path, *,
             max_tokens: int = DEFAULT_MAX_TOKENS) -> StaticEmbedder:
        """The embedder over a table saved by `models.static_distill` (.npy, no pickles)."""
        return cls(np.load(table_file, allow_pickle=False), tokenizer_file, max_tokens=max_tokens)

    @property
    def dimension(self) -> int:
        return int(self._table.shape[1])

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts) x d) L2-normalised rows in the order of `texts`; a text with no tokens gets a
        zero row (the heads then see only their biases)."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = self._tokenizer.encode(text.strip(), add_special_tokens=False).ids
            if not ids:
                continue
            mean = self._table[ids].mean(axis=0)
            norm = float(np.linalg.norm(mean))
            if norm > 0.0:
                vectors[row] = mean / norm
        return vectors

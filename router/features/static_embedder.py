"""`StaticEmbedder`: an `Embedder` that needs no neural network at run time: a token table lookup.

The table is distilled from the packaged all-MiniLM-L6-v2 (`models.static_distill`: each vocabulary
token run through the encoder once, PCA, frequency weights); a text's vector is the mean of its
tokens' rows, L2-normalised. Tokenizing is MiniLM's own `tokenizer.json` (Rust `tokenizers`) without
the [CLS]/[SEP] tokens, cut to `max_tokens`. Numpy alone: no torch, no ONNX Runtime, ~0.1 ms a text.
Its vectors live in their own space (not MiniLM's), so heads must be trained on them
(`python -m router.features.train --embedder static`).

Optionally a second, supervised token table (`token_logits`, vocabulary x k, trained on the category
labels by `router.features.train_static`) is mean-pooled the same way and appended, unnormalised, to
the distilled part: a bag-of-tokens category model evaluated by the same lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

__all__ = ["DEFAULT_MAX_TOKENS", "TOKEN_LOGITS_FILE", "StaticEmbedder"]

TOKEN_LOGITS_FILE: Final = "token_logits.npy"

# The classified text is already cut to ~500 characters (`text.classifier_text`), ~150 tokens; the cap
# only bounds the work for texts of rare long tokens.
DEFAULT_MAX_TOKENS: Final = 512


class StaticEmbedder:
    """Mean of the rows of `table` (vocabulary x d) for a text's token ids, L2-normalised, followed by
    the mean of the rows of `token_logits` (vocabulary x k) when given; thread-safe."""

    def __init__(self, table: npt.NDArray[np.floating], tokenizer_file: Path, *,
                 token_logits: npt.NDArray[np.floating] | None = None,
                 max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        for name, rows in (("table", table), ("token_logits", token_logits)):
            if rows is not None and (rows.ndim != 2 or rows.shape[0] < tokenizer.get_vocab_size()):
                raise ValueError(f"{name} {rows.shape} does not cover the tokenizer's "
                                 f"{tokenizer.get_vocab_size()} tokens")
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._table = np.ascontiguousarray(table, dtype=np.float32)
        self._logits = (np.zeros((len(table), 0), dtype=np.float32) if token_logits is None
                        else np.ascontiguousarray(token_logits, dtype=np.float32))

    @classmethod
    def load(cls, table_file: Path, tokenizer_file: Path, *, token_logits_file: Path | None = None,
             max_tokens: int = DEFAULT_MAX_TOKENS) -> StaticEmbedder:
        """The embedder over a table saved by `models.static_distill` and optionally a token-logits
        table saved by `router.features.train_static` (.npy files, no pickles)."""
        logits = None if token_logits_file is None else np.load(token_logits_file, allow_pickle=False)
        return cls(np.load(table_file, allow_pickle=False), tokenizer_file, token_logits=logits,
                   max_tokens=max_tokens)

    @property
    def dimension(self) -> int:
        return int(self._table.shape[1] + self._logits.shape[1])

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts) x dimension) rows in the order of `texts`; a text with no tokens gets a zero
        row (the heads then see only their biases)."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        width = self._table.shape[1]
        for row, text in enumerate(texts):
            ids = self._tokenizer.encode(text.strip(), add_special_tokens=False).ids
            if not ids:
                continue
            mean = self._table[ids].mean(axis=0)
            norm = float(np.linalg.norm(mean))
            if norm > 0.0:
                vectors[row, :width] = mean / norm
            vectors[row, width:] = self._logits[ids].mean(axis=0)
        return vectors

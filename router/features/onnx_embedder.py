"""`OnnxEmbedder`: the router's fast `Embedder`: MiniLM as an ONNX Runtime graph, tokenized in Rust.

The graph comes from `models.encoder_export` (the packaged MiniLM with its mean pooling and L2
normalisation, int8 weights); the tokenizer is the model's own `tokenizer.json` read by the Hugging
Face `tokenizers` library, cut to the same token window as the torch embedder
(`DEFAULT_MAX_SEQ_LENGTH`), so the vectors match the torch embedder's to a cosine of about 0.99 and the
heads trained on those stay valid. ONNX Runtime releases the GIL while it runs, and uses one intra-op
thread: the router's event loop keeps the other core.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

__all__ = ["DIMENSION", "OnnxEmbedder"]

DIMENSION: Final = 384


class OnnxEmbedder:
    """Embeds texts with the ONNX graph `model_file` and the tokenizer `tokenizer_file`; thread-safe."""

    def __init__(self, model_file: Path, tokenizer_file: Path, *, threads: int,
                 max_seq_length: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle intra-op threads would otherwise spin for a while after each run, burning the CPU that
        # the event loop and the next request need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(max_length=max_seq_length)
        tokenizer.no_padding()  # tokenizer.json pads; each text runs alone (see `embed`)
        self._tokenizer = tokenizer
        self.model_file = model_file

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts) x 384) L2-normalised rows, in the order of `texts`.

        Each text runs alone, unpadded: the int8 graph scales its activations per call, so padding and
        neighbours in a batch would move a text's vector (cosine down to ~0.96), and a request's route
        would depend on which other requests happened to share its batch.
        """
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        # sentence-transformers strips each text before tokenizing; so do we, to match it. `encode`, not
        # `encode_batch`: no Rayon thread pool (and no fork warnings) for what is one text per request.
        for row, text in enumerate(texts):
            encoding = self._tokenizer.encode(text.strip())
            feed = {"input_ids": np.array([encoding.ids], dtype=np.int64),
                    "attention_mask": np.array([encoding.attention_mask], dtype=np.int64)}
            vectors[row] = self._session.run(None, feed)[0][0]
        return vectors

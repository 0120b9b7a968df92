"""The static classifier's category head: distilled vectors plus a supervised bag-of-tokens table.

Training time only (scikit-learn). One multinomial logistic regression is fitted on the distilled
static vector of each training prompt concatenated with its tokens' mean one-hot vector (times
`TOKEN_WEIGHT`). Its weights split in two: the bag-of-tokens part becomes a token table (vocabulary x
classes: the mean of a text's rows is exactly that part's logits), which `StaticEmbedder` appends to
the vector, and the head keeps the dense part next to an identity block over the appended logits.
So serving is still one lookup and one `LinearHead`. Held-out category accuracy on the routing data:
distilled vectors alone 0.866, with the token table 0.910 (MiniLM's head 0.894).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from router.features.heads import LinearHead
from router.features.static_embedder import DEFAULT_MAX_TOKENS

__all__ = ["TOKEN_C", "TOKEN_WEIGHT", "fit_token_logits", "mean_one_hot"]

TOKEN_WEIGHT: Final = 3.0  # scale of the bag-of-tokens features against the unit static vectors
TOKEN_C: Final = 64.0      # inverse L2 strength (held out: C 16 -> 0.897, 64 -> 0.910)


def mean_one_hot(texts: Sequence[str], tokenizer_file: Path) -> Any:
    """(n x vocabulary) sparse rows: each text's token ids as `StaticEmbedder` reads them, averaged."""
    import scipy.sparse as sp  # type: ignore[import-untyped]

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=DEFAULT_MAX_TOKENS)
    tokenizer.no_padding()
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for row, text in enumerate(texts):
        ids = tokenizer.encode(text.strip(), add_special_tokens=False).ids
        unique, counts = np.unique(np.array(ids, dtype=np.int64), return_counts=True)
        rows += [row] * len(unique)
        cols += unique.tolist()
        values += (counts / max(len(ids), 1)).tolist()
    shape = (len(texts), tokenizer.get_vocab_size())
    return sp.csr_matrix((np.array(values), (np.array(rows), np.array(cols))), shape=shape)


def fit_token_logits(vectors: npt.NDArray[np.float32], tokens: Any, labels: npt.NDArray[Any],
                     weights: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float32], LinearHead]:
    """The token table (vocabulary x classes) and the head over [static vector, appended logits],
    fitted on training rows: distilled `vectors` (n x d), `tokens` from `mean_one_hot`, labels and
    sample weights."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    features = sp.hstack([sp.csr_matrix(vectors), tokens * TOKEN_WEIGHT]).tocsr()
    model = LogisticRegression(C=TOKEN_C, max_iter=3000).fit(features, labels, sample_weight=weights)
    width = vectors.shape[1]
    coef = np.asarray(model.coef_, dtype=np.float32)
    token_logits = np.ascontiguousarray(coef[:, width:].T * TOKEN_WEIGHT, dtype=np.float32)
    classes = len(model.classes_)
    head_weights = np.hstack([coef[:, :width], np.eye(classes, dtype=np.float32)])
    head = LinearHead(head_weights, np.asarray(model.intercept_, dtype=np.float32),
                      tuple(str(c) for c in model.classes_))
    return token_logits, head

"""Where p_weak_ok comes from: the `WeakOkScorer` protocol and the router's own estimator behind it.

`RouterScorer` runs the router's `FeatureExtractor.p_weak_ok` (MiniLM embedding + quality head) in
batches with a progress bar, and keeps the results in an on-disk cache outside the project tree
(~/.cache/stellwerk/eval by default), keyed by the quality head's bytes and each prompt's text, so a
second evaluation of the same rows with the same artifacts does not embed them again. Unit tests use
a scripted scorer instead and never load the embedder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from router.features.extract import FeatureExtractor

__all__ = ["DEFAULT_CACHE_DIR", "RouterScorer", "WeakOkScorer"]

DEFAULT_CACHE_DIR: Final = Path.home() / ".cache" / "stellwerk" / "eval"
_BATCH: Final = 64


@runtime_checkable
class WeakOkScorer(Protocol):
    """Gives P(the weak model answers as well as the strong one) for each prompt, in order."""

    def p_weak_ok(self, prompts: Sequence[str]) -> npt.NDArray[np.float64]: ...


class RouterScorer:
    """The router's quality estimator (packaged artifacts unless `artifacts` is given), cached on disk."""

    def __init__(self, artifacts: Path | None = None, *, cache_dir: Path | None = DEFAULT_CACHE_DIR,
                 threads: int = 2, progress: bool = True) -> None:
        from router.features.extract import DEFAULT_ARTIFACTS, QUALITY_HEAD

        self._artifacts = artifacts or DEFAULT_ARTIFACTS
        head = self._artifacts / QUALITY_HEAD
        if not head.is_file():
            raise FileNotFoundError(f"no quality head at {head}: the router has no p_weak_ok to evaluate")
        self._digest = _artifact_digest(head)
        self._cache_path = None if cache_dir is None else cache_dir / f"p_weak_ok-{self._digest[:16]}.npz"
        self._threads = threads
        self._progress = progress
        self._extractor: FeatureExtractor | None = None

    @property
    def cache_path(self) -> Path | None:
        return self._cache_path

    def p_weak_ok(self, prompts: Sequence[str]) -> npt.NDArray[np.float64]:
        """p_weak_ok per prompt: cached values, the rest computed in batches of 64 and then cached."""
        cache = self._load_cache()
        keys = [self._key(p) for p in prompts]
        missing = [i for i, k in enumerate(keys) if k not in cache]
        if missing:
            computed = self._compute([prompts[i] for i in missing])
            cache.update({keys[i]: float(v) for i, v in zip(missing, computed, strict=True)})
            self._save_cache(cache)
        return np.array([cache[k] for k in keys], dtype=np.float64)

    def _compute(self, prompts: Sequence[str]) -> npt.NDArray[np.float64]:
        from tqdm import tqdm  # type: ignore[import-untyped]

        extractor = self._load_extractor()
        out = np.empty(len(prompts), dtype=np.float64)
        with tqdm(total=len(prompts), desc="p_weak_ok", unit="prompt", disable=not self._progress) as bar:
            for start in range(0, len(prompts), _BATCH):
                batch = prompts[start:start + _BATCH]
                out[start:start + len(batch)] = extractor.p_weak_ok(batch)
                bar.update(len(batch))
        return out

    def _load_extractor(self) -> FeatureExtractor:
        if self._extractor is None:
            from router.features.embedder import MiniLMEmbedder
            from router.features.extract import FeatureExtractor

            self._extractor = FeatureExtractor.load(self._artifacts, MiniLMEmbedder(threads=self._threads))
        return self._extractor

    def _key(self, prompt: str) -> str:
        return hashlib.sha1(prompt.encode("utf-8")).hexdigest()

    def _load_cache(self) -> dict[str, float]:
        if self._cache_path is None or not self._cache_path.is_file():
            return {}
        try:
            with np.load(self._cache_path, allow_pickle=False) as data:
                return dict(zip(data["keys"].tolist(), data["values"].tolist(), strict=True))
        except (OSError, ValueError, KeyError):
            return {}  # a damaged cache is recomputed, never trusted

    def _save_cache(self, cache: dict[str, float]) -> None:
        if self._cache_path is None:
            return
        self._cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._cache_path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(cache), dtype="U40"), values=np.array(list(cache.values())))
        tmp.replace(self._cache_path)


def _artifact_digest(head: Path) -> str:
    """Digest of the quality head and the text cut/embedder settings that shape its input."""
    from router.features.embedder import DEFAULT_EMBEDDER_ID, DEFAULT_MAX_SEQ_LENGTH
    from router.features.text import HEAD_CHARS, TAIL_CHARS

    digest = hashlib.sha256(head.read_bytes())
    digest.update(f"{DEFAULT_EMBEDDER_ID}|{DEFAULT_MAX_SEQ_LENGTH}|{HEAD_CHARS}|{TAIL_CHARS}".encode())
    return digest.hexdigest()

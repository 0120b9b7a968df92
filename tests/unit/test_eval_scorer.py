"""The router's own p_weak_ok behind `stellwerk eval`: one slow smoke test with the real embedder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from benchmarks.eval.scorer import RouterScorer, WeakOkScorer


def test_missing_quality_head_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no quality head"):
        RouterScorer(tmp_path, cache_dir=None)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None,
                    reason="sentence-transformers is not installed")
def test_router_scorer_matches_the_extractor_and_caches(tmp_path: Path) -> None:
    from router.features.embedder import MiniLMEmbedder
    from router.features.extract import FeatureExtractor

    prompts = ["What is 2+2?", "Prove that there are infinitely many primes.", "Name the capital of Peru."]
    scorer = RouterScorer(cache_dir=tmp_path, progress=False)
    assert isinstance(scorer, WeakOkScorer)
    first = scorer.p_weak_ok(prompts)
    assert scorer.cache_path is not None and scorer.cache_path.is_file()
    expected = FeatureExtractor.load(embedder=MiniLMEmbedder()).p_weak_ok(prompts)  # the scorer's embedder
    np.testing.assert_allclose(first, expected, atol=1e-5)
    again = RouterScorer(cache_dir=tmp_path, progress=False)  # a fresh scorer reads the cache
    np.testing.assert_array_equal(again.p_weak_ok(prompts[::-1]), first[::-1])

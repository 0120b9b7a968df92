"""The quality table: expected answer quality of each chat model in each task category.

Scores come from published benchmark figures (models/quality.yaml says which benchmark per category and
where each figure was read). The file is operator data, so it is strict like the catalogue: unknown
fields are rejected, every model must score every category of `models.categories.CATEGORIES` in
[0, 1], and every category must name a source or a derivation. Errors name the file, the model, the
field and the line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.categories import CATEGORIES
from models.yaml_config import read_yaml_model

__all__ = ["DEFAULT_QUALITY_PATH", "QualityTable", "QualityTableError"]

DEFAULT_QUALITY_PATH = Path(__file__).with_name("quality.yaml")

Score = Annotated[float, Field(ge=0.0, le=1.0)]


class QualityTableError(ValueError):
    """The quality table is missing, not YAML, or does not match the schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_categories(field: str, keys: set[str], *, complete: bool) -> None:
    unknown = sorted(keys - set(CATEGORIES))
    if unknown:
        raise ValueError(f"{field}: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                         f"{', '.join(map(repr, unknown))}; known: {', '.join(CATEGORIES)}")
    missing = [c for c in CATEGORIES if c not in keys]
    if complete and missing:
        raise ValueError(f"{field}: missing categor{'y' if len(missing) == 1 else 'ies'} "
                         f"{', '.join(map(repr, missing))}")


class ModelQuality(_Strict):
    """One model's row: a score per category, and where each score came from."""

    scores: dict[str, Score] = Field(description="Category -> benchmark score as a fraction in [0, 1].")
    sources: dict[str, str] = Field(
        default_factory=dict, description="Category -> '<benchmark> <figure> — <URL>' it was read from.")
    derived: dict[str, str] = Field(
        default_factory=dict, description="Category -> how the score was derived where not published.")

    @model_validator(mode="after")
    def _complete(self) -> ModelQuality:
        _check_categories("scores", set(self.scores), complete=True)
        _check_categories("sources", set(self.sources), complete=False)
        _check_categories("derived", set(self.derived), complete=False)
        unexplained = [c for c in CATEGORIES if c not in self.sources and c not in self.derived]
        if unexplained:
            raise ValueError(f"no source or derivation for {', '.join(map(repr, unexplained))}: "
                             "every score must say where it came from")
        return self


class _QualityFile(_Strict):
    as_of: dt.date = Field(description="When the figures were last checked.")
    benchmarks: dict[str, str] = Field(description="Category -> the benchmark its column uses.")
    models: dict[str, ModelQuality]

    @model_validator(mode="after")
    def _benchmarks_named(self) -> _QualityFile:
        _check_categories("benchmarks", set(self.benchmarks), complete=True)
        return self


class QualityTable:
    """Read-only per-model, per-category quality scores; `score` is None for a model not in the table."""

    def __init__(self, data: _QualityFile, path: Path) -> None:
        self._data = data
        self.path = path

    @classmethod
    def load(cls, path: Path | None = None) -> QualityTable:
        """Read and validate a table (default: the shipped models/quality.yaml)."""
        path = DEFAULT_QUALITY_PATH if path is None else path
        # NOTE: YAML already gives dates as datetime.date; strict mode would reject a string.
        data = read_yaml_model(path, _QualityFile, what="quality table", error=QualityTableError,
                               label=_model_label)
        return cls(data, path)

    @property
    def as_of(self) -> dt.date:
        return self._data.as_of

    @property
    def benchmarks(self) -> dict[str, str]:
        return dict(self._data.benchmarks)

    def model_ids(self) -> list[str]:
        return list(self._data.models)

    def score(self, model_id: str, category: str) -> float | None:
        """The model's score in `category`; None if the model is not in the table.

        An unknown category is a programming error (the classifier only predicts CATEGORIES)."""
        if category not in CATEGORIES:
            raise KeyError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
        row = self._data.models.get(model_id)
        return None if row is None else row.scores[category]

    def to_json(self) -> dict[str, Any]:
        return self._data.model_dump(mode="json")


def _model_label(_: object, loc: tuple[int | str, ...]) -> str:
    return f" (model {loc[1]!r})" if len(loc) >= 2 and loc[0] == "models" else ""

"""`QualityPredictor`: the quality model bound to the catalogue, for the routing service.

    predictor = QualityPredictor.from_catalogue(load_catalogue().models, QualityTable.load())
    p = predictor.predict(features, entry)   # P(entry answers this request well), or None

A catalogue chat model gets a descriptor from its row in the quality table (published scores mapped
onto the ability scale) and, where the model is exactly one of the training data's models (the
model's `aliases` in the artifacts), the abilities measured there. A model without a quality-table
row has no descriptor, and `predict` returns None for it, as it does for a request without a profile.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.catalogue import ModelEntry
from models.categories import CATEGORIES
from models.quality import QualityTable
from router.features.request_features import RequestFeatures
from router.quality.descriptor import ModelDescriptor
from router.quality.model import QualityModel
from router.quality.profile import PromptProfile

__all__ = ["QualityPredictor", "catalogue_descriptors", "descriptor_for"]


def descriptor_for(model: QualityModel, entry: ModelEntry, table: QualityTable) -> ModelDescriptor | None:
    """The descriptor of a catalogue chat model, or None if the quality table has no row for it."""
    if entry.task != "chat" or table.score(entry.id, CATEGORIES[0]) is None:
        return None
    scores = {c: float(table.score(entry.id, c) or 0.0) for c in CATEGORIES}
    measured = model.aliases.get(entry.id)
    if measured is not None and measured not in model.train_models:
        measured = None
    return model.descriptor_from_scores(entry.id, scores, measured_as=measured)


def catalogue_descriptors(model: QualityModel, entries: Iterable[ModelEntry],
                          table: QualityTable) -> dict[str, ModelDescriptor]:
    """Descriptors of every chat model in `entries` that the quality table scores, by entry id."""
    out = {}
    for entry in entries:
        descriptor = descriptor_for(model, entry, table)
        if descriptor is not None:
            out[entry.id] = descriptor
    return out


class QualityPredictor:
    """Predicts P(good answer) for (request features, catalogue entry); cheap per candidate."""

    def __init__(self, model: QualityModel, descriptors: dict[str, ModelDescriptor]) -> None:
        self.model = model
        self.descriptors = descriptors

    @classmethod
    def from_catalogue(cls, entries: Iterable[ModelEntry], table: QualityTable,
                       model: QualityModel | None = None) -> QualityPredictor:
        model = model or QualityModel.load()
        return cls(model, catalogue_descriptors(model, entries, table))

    def predict(self, features: RequestFeatures, entry: ModelEntry) -> float | None:
        """P(`entry` answers the request well); None without a profile or a descriptor."""
        return self.predict_profile(features.profile, entry.id, needs_tools=features.needs_tools)

    def predict_profile(self, profile: PromptProfile | None, model_id: str, *,
                        needs_tools: bool = False) -> float | None:
        descriptor = self.descriptors.get(model_id)
        if profile is None or descriptor is None:
            return None
        return self.model.predict(profile, descriptor, needs_tools=needs_tools)

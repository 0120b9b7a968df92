"""Which models the router can answer with, and the engine behind each name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from models.availability import Availability
from models.catalogue import ModelEntry
from serving.engine import ChatEngine, EmbeddingEngine
from serving.errors import InvalidRequest, ModelNotFound, ModelUnavailable

__all__ = ["AUTO", "ModelRegistry", "RegisteredModel"]

AUTO = "auto"


@dataclass(frozen=True)
class RegisteredModel:
    entry: ModelEntry
    availability: Availability


class ModelRegistry:
    """Resolves request names (ids and aliases) to catalogue entries and their engines."""

    def __init__(
        self,
        availabilities: Iterable[Availability],
        chat_engines: Mapping[str, ChatEngine],
        embedding_engines: Mapping[str, EmbeddingEngine],
    ) -> None:
        self._models = [RegisteredModel(a.entry, a) for a in availabilities]
        self._chat = dict(chat_engines)
        self._embed = dict(embedding_engines)

    def all(self) -> list[RegisteredModel]:
        return list(self._models)

    def servable(self) -> list[RegisteredModel]:
        """Available models that have an engine."""
        return [m for m in self._models if m.entry.id in self._chat or m.entry.id in self._embed]

    def chat_engines(self) -> dict[str, ChatEngine]:
        """Every chat engine by catalogue id (what the load sampler watches)."""
        return dict(self._chat)

    def engine(self, entry_id: str) -> ChatEngine | EmbeddingEngine:
        """A servable model's engine, chat or embedding, by catalogue id (KeyError for any other id)."""
        return self._chat[entry_id] if entry_id in self._chat else self._embed[entry_id]

    def chat_candidates(self) -> list[ModelEntry]:
        return [m.entry for m in self._models if m.entry.id in self._chat]

    def chat_engine(self, name: str) -> tuple[ModelEntry, ChatEngine]:
        model = self._lookup(name)
        engine = self._chat.get(model.entry.id)
        if engine is None:
            if model.entry.id in self._embed:
                raise InvalidRequest(f"model {name!r} is an embedding model; use /v1/embeddings",
                                     param="model")
            raise self._unavailable(model)
        return model.entry, engine

    def embedding_engine(self, name: str) -> tuple[ModelEntry, EmbeddingEngine]:
        model = self._lookup(name)
        engine = self._embed.get(model.entry.id)
        if engine is None:
            if model.entry.id in self._chat:
                raise InvalidRequest(f"model {name!r} is a chat model and cannot embed", param="model")
            raise self._unavailable(model)
        return model.entry, engine

    def _lookup(self, name: str) -> RegisteredModel:
        for model in self._models:
            if name == model.entry.id or name in model.entry.aliases:
                return model
        names = ", ".join([AUTO, *(m.entry.id for m in self.servable())])
        raise ModelNotFound(f"The model {name!r} does not exist. Available models: {names}",
                            param="model")

    @staticmethod
    def _unavailable(model: RegisteredModel) -> ModelUnavailable:
        reason = model.availability.reason or "it is not deployed on this cluster"
        return ModelUnavailable(f"The model {model.entry.id!r} is not available here: {reason}",
                                param="model")

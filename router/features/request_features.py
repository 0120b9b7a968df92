"""What the router knows about a chat request before choosing a model.

`RequestFeatures` holds the structural facts read from the body (size, output limit, tools, JSON mode,
images) and the learned ones (language, task category, P(weak model is good enough), and the prompt's
quality profile: difficulty, discrimination and category weights for `router.quality`). It never
holds the prompt text, so it can be logged, put in metrics labels or returned in headers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from router.quality.profile import PromptProfile
from router.schemas import ChatCompletionRequest

__all__ = ["RequestFeatures", "StructuralFeatures", "structural_features"]

_MESSAGE_OVERHEAD_TOKENS: Final = 4  # role and separators, as OpenAI's cookbook counts them
_CHARS_PER_TOKEN: Final = 3  # conservative for English, closer for code and non-Latin scripts
_IMAGE_PART_TYPES: Final = frozenset({"image_url", "input_image", "image"})
_JSON_FORMATS: Final = frozenset({"json_object", "json_schema"})


@dataclass(frozen=True)
class RequestFeatures:
    """Features of one request; JSON-safe and free of prompt text."""

    prompt_tokens: int
    max_tokens: int | None
    needs_tools: bool
    needs_json: bool
    has_images: bool
    language: str
    category: str
    category_confidence: float
    p_weak_ok: float | None
    profile: PromptProfile | None = None  # None without user text or without quality artifacts

    def to_json(self) -> dict[str, Any]:
        """A plain dict of the fields (floats rounded to 4 places)."""
        data = asdict(self)
        data["category_confidence"] = round(self.category_confidence, 4)
        if self.p_weak_ok is not None:
            data["p_weak_ok"] = round(self.p_weak_ok, 4)
        data["profile"] = None if self.profile is None else self.profile.to_json()
        return data


@dataclass(frozen=True)
class StructuralFeatures:
    """The features read from the request body alone (no model involved)."""

    prompt_tokens: int
    max_tokens: int | None
    needs_tools: bool
    needs_json: bool
    has_images: bool


def structural_features(request: ChatCompletionRequest) -> StructuralFeatures:
    """Reads size, output limit, tools, JSON mode and images from `request`."""
    extra = request.model_extra or {}
    return StructuralFeatures(
        prompt_tokens=estimate_prompt_tokens(request),
        max_tokens=request.output_limit(),
        needs_tools=_needs_tools(extra),
        needs_json=_needs_json(extra.get("response_format")),
        has_images=any(_has_image(m.content) for m in request.messages),
    )


def estimate_prompt_tokens(request: ChatCompletionRequest) -> int:
    """chars // 3 over all messages' text, plus a small per-message overhead."""
    return request.prompt_chars() // _CHARS_PER_TOKEN + _MESSAGE_OVERHEAD_TOKENS * len(request.messages)


def _needs_tools(extra: dict[str, Any]) -> bool:
    tools = extra.get("tools")
    return isinstance(tools, list) and bool(tools) and extra.get("tool_choice") != "none"


def _needs_json(response_format: object) -> bool:
    return isinstance(response_format, dict) and response_format.get("type") in _JSON_FORMATS


def _has_image(content: object) -> bool:
    if not isinstance(content, list):
        return False
    return any(isinstance(p, dict) and p.get("type") in _IMAGE_PART_TYPES for p in content)

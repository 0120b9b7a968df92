"""OpenAI request bodies as the router accepts them.

Like vLLM's `OpenAIBaseModel`, unknown fields are allowed: local engines understand vLLM-only fields
(`ignore_eos`, `top_k`, `min_tokens`, ...) that load tools send, and dropping them would change the
answer. Fields Stellwerk itself must understand are typed and validated here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ChatCompletionRequest", "ChatMessage", "EmbeddingRequest", "StreamOptions"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


def _check_part(part: dict[str, Any]) -> None:
    """A content part's shape, as every adapter reads it (the kinds an engine cannot take are refused
    by that engine, by name)."""
    kind = part.get("type")
    if not isinstance(kind, str):
        raise ValueError("each content part needs a string 'type'")
    if kind == "text" and not isinstance(part.get("text"), str):
        raise ValueError("a text part needs a string 'text'")
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str):
            raise ValueError("an image_url part needs 'image_url': {'url': '...'}")


def _check_tool_call(call: object) -> None:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(call, dict) or not isinstance(function, dict) \
            or not isinstance(function.get("name"), str) \
            or not isinstance(function.get("arguments", ""), str) or not isinstance(call.get("id", ""), str):
        raise ValueError("each tool call needs an 'id' and 'function': {'name': str, 'arguments': str}")


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

    @field_validator("content")
    @classmethod
    def _parts(cls, value: str | list[dict[str, Any]] | None) -> str | list[dict[str, Any]] | None:
        if isinstance(value, list):
            for part in value:
                _check_part(part)
        return value

    @model_validator(mode="after")
    def _tool_fields(self) -> ChatMessage:
        extra = self.model_extra or {}
        calls = extra.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list):
                raise ValueError("tool_calls must be a list")
            for call in calls:
                _check_tool_call(call)
        if not isinstance(extra.get("tool_call_id", ""), str | None):
            raise ValueError("tool_call_id must be a string")
        return self

    def text(self) -> str:
        """The message's text content (text parts joined); non-text parts count as nothing."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


def _check_tool(tool: object) -> None:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(tool, dict) or tool.get("type", "function") != "function" \
            or not isinstance(function, dict) or not isinstance(function.get("name"), str) \
            or not function["name"] \
            or not isinstance(function.get("description", ""), str | None) \
            or not isinstance(function.get("parameters", {}), dict | None):
        raise ValueError("each tool needs {'type': 'function', 'function': "
                         "{'name': str, 'description': str, 'parameters': object}}")


class StreamOptions(_Open):
    include_usage: bool = False


class ChatCompletionRequest(_Open):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int = Field(default=1, ge=1, le=1, description="Only one choice per request is supported.")
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    user: str | None = None

    @model_validator(mode="after")
    def _tool_shapes(self) -> ChatCompletionRequest:
        """`tools`, `tool_choice` and `response_format` in the shapes every engine reads."""
        extra = self.model_extra or {}
        tools = extra.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise ValueError("tools must be a list")
            for tool in tools:
                _check_tool(tool)
        choice = extra.get("tool_choice")
        if choice is not None and choice not in ("none", "auto", "required"):
            function = choice.get("function") if isinstance(choice, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise ValueError("tool_choice must be 'none', 'auto', 'required' or "
                                 "{'type': 'function', 'function': {'name': ...}}")
        fmt = extra.get("response_format")
        if fmt is not None and not (isinstance(fmt, dict) and isinstance(fmt.get("type"), str)):
            raise ValueError("response_format must be an object with a 'type'")
        return self

    @field_validator("stop")
    @classmethod
    def _stop_strings(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and any(not s for s in value):
            raise ValueError("stop strings must not be empty")
        return value

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def prompt_chars(self) -> int:
        return sum(len(m.text()) for m in self.messages)


class EmbeddingRequest(_Open):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(description="Text or list of texts (token arrays are not supported).")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _non_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("input must not be an empty list")
        if isinstance(value, list) and len(value) > 2048:
            raise ValueError("at most 2048 inputs per request")
        return value

    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)

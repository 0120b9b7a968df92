"""Anthropic Messages API request bodies, as `POST /v1/messages` accepts them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnthropicMessage", "AnthropicTool", "MessagesRequest", "ToolChoice"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class AnthropicTool(_Open):
    name: str = Field(min_length=1)
    description: str | None = None
    input_schema: dict[str, Any]


class ToolChoice(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None


class MessagesRequest(_Open):
    model: str = Field(min_length=1)
    messages: list[AnthropicMessage] = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    system: str | list[dict[str, Any]] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    stream: bool = False
    tools: list[AnthropicTool] | None = None
    tool_choice: ToolChoice | None = None
    metadata: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = Field(
        default=None, description="Automatic prompt caching: a breakpoint on the last cacheable block.")
    thinking: dict[str, Any] | None = Field(
        default=None, description="Anthropic's thinking config ({'type': 'enabled', 'budget_tokens': N}, "
                                  "'adaptive' or 'disabled'); carried to the engine, refused (400) by "
                                  "engines that cannot think on a budget.")

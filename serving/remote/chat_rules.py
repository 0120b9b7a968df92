"""The rules every remote chat adapter applies the same way to an OpenAI Chat Completions body.

Each adapter (`openai_chat`, `anthropic_messages`, `gemini`) is its wire protocol only; what they share
lives here, so a request is judged alike whichever provider answers it:

- Capabilities: tools, JSON output and images are refused (400) for a model whose catalogue entry lacks
  them, before anything is sent.
- Fields: a field the adapter neither translates nor ignores is refused with a 400 naming it, unless it
  holds its no-op value (`NEUTRAL`: vLLM's extras and OpenAI switches at their defaults), so an answer
  never silently differs from what the client asked for.
- Turns: consecutive turns of one role merge into one (Anthropic and Gemini want user/assistant
  alternation; parallel tool results must share one turn).
- Content: a message's content is a string or a list of parts; system, developer and tool messages are
  text only; images are `data:<mime>;base64,...` or http(s) URLs.
- Tools: only `function` tools; tool-call arguments are a JSON object (a string of one, or the object);
  `tool_choice` is auto, none, required or one named function, and needs tools unless auto/none.
- Output: `max_completion_tokens` wins over `max_tokens`; `stop` is one string or a list; vLLM's
  `top_k` of 0 or -1 means "off"; `response_format` is text, json_object or json_schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from models.catalogue import Capabilities
from serving.errors import InvalidRequest

__all__ = [
    "NEUTRAL",
    "DataUrl",
    "ToolChoice",
    "check_capabilities",
    "content_parts",
    "data_url",
    "image_url",
    "merge_turn",
    "output_limit",
    "refuse_unknown_fields",
    "response_schema",
    "stop_sequences",
    "text_only",
    "tool_arguments",
    "tool_choice",
    "tool_functions",
    "top_k",
]

# Fields no remote adapter can honour, accepted only at their no-op value.
NEUTRAL: Mapping[str, object] = {
    "n": 1, "presence_penalty": 0, "frequency_penalty": 0, "logprobs": False, "top_logprobs": 0,
    "logit_bias": {}, "parallel_tool_calls": True, "repetition_penalty": 1, "min_tokens": 0,
    "ignore_eos": False, "min_p": 0, "skip_special_tokens": True, "echo": False,
    "include_stop_str_in_output": False, "best_of": 1, "use_beam_search": False, "length_penalty": 1,
    "modalities": ["text"],
}


def check_capabilities(caps: Capabilities, body: Mapping[str, Any]) -> None:
    """Refuse what the model cannot take: tools, JSON output, images."""
    if body.get("tools") and not caps.tools:
        raise InvalidRequest("this model does not support tools", param="tools")
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in {"json_object", "json_schema"} and not caps.json_mode:
        raise InvalidRequest("this model does not support JSON output", param="response_format")
    if not caps.vision and _has_images(body.get("messages") or []):
        raise InvalidRequest("this model does not accept images", param="messages")


def _has_images(messages: Iterable[Any]) -> bool:
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and any(
                isinstance(part, Mapping) and part.get("type") == "image_url" for part in content):
            return True
    return False


def refuse_unknown_fields(body: Mapping[str, Any], provider: str, handled: Iterable[str]) -> None:
    """400 for the first field that is neither `handled` by the adapter nor at its `NEUTRAL` value."""
    known = frozenset(handled)
    for name, value in body.items():
        if value is None or name in known or (name in NEUTRAL and value == NEUTRAL[name]):
            continue
        raise InvalidRequest(f"{provider} does not support {name!r}={value!r}; remove it or choose another "
                             "model", param=name)


def merge_turn(turns: list[dict[str, Any]], role: str, key: str, items: list[dict[str, Any]]) -> None:
    """Add a turn (`{"role": role, key: items}`), merged into the previous one of the same role."""
    if not items:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(items)
    else:
        turns.append({"role": role, key: items})


def content_parts(content: Any, where: str = "messages") -> list[Mapping[str, Any]]:
    """A message's content as a list of parts (a string is one text part; None is none)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and all(isinstance(p, Mapping) for p in content):
        return content
    raise InvalidRequest(f"{where}: content must be a string or a list of parts", param=where)


def text_only(content: Any, where: str = "messages") -> list[str]:
    """The texts of a message that may hold only text (and refusal) parts."""
    texts: list[str] = []
    for part in content_parts(content, where):
        if part.get("type") not in ("text", "refusal"):
            raise InvalidRequest(f"{where}: only text parts are allowed here", param=where)
        texts.append(str(part.get("text") or part.get("refusal") or ""))
    return texts


@dataclass(frozen=True)
class DataUrl:
    media_type: str
    data: str  # base64


def image_url(image: Any, *, vision: bool, where: str = "messages") -> str | DataUrl:
    """An `image_url` part's target: an http(s) URL, or the decoded parts of a base64 data URL."""
    if not vision:
        raise InvalidRequest("this model does not accept images", param=where)
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str):
        raise InvalidRequest(f"{where}: image_url needs a url", param=where)
    if url.startswith(("http://", "https://")):
        return url
    parsed = data_url(url)
    if parsed is None:
        raise InvalidRequest(f"{where}: images must be http(s) URLs or data:<mime>;base64,<data> URLs",
                             param=where)
    return parsed


def data_url(url: str) -> DataUrl | None:
    if not url.startswith("data:"):
        return None
    header, sep, data = url[5:].partition(",")
    mime, _, encoding = header.partition(";")
    if not sep or encoding != "base64" or not mime or not data:
        return None
    return DataUrl(mime.lower(), data)


def tool_arguments(arguments: Any, where: str = "messages") -> dict[str, Any]:
    """A tool call's arguments as a JSON object (sent as a string of one, or as the object)."""
    if arguments is None or arguments == "":
        return {}
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        raise InvalidRequest(f"{where}: tool call arguments are not valid JSON", param=where) from None
    if not isinstance(parsed, Mapping):
        raise InvalidRequest(f"{where}: tool call arguments must be a JSON object", param=where)
    return dict(parsed)


def tool_functions(body: Mapping[str, Any], provider: str) -> list[Mapping[str, Any]]:
    """The `function` of each tool (`{name, description?, parameters?, strict?}` plus the tool's own
    `cache_control`); other tool types are refused."""
    functions: list[Mapping[str, Any]] = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, Mapping) or tool.get("type") != "function" \
                or not isinstance(tool.get("function"), Mapping):
            kind = tool.get("type") if isinstance(tool, Mapping) else None
            raise InvalidRequest(f"{provider} supports only function tools, not {kind!r}", param="tools")
        cache = {"cache_control": tool["cache_control"]} if tool.get("cache_control") else {}
        functions.append({**tool["function"], **cache})
    return functions


@dataclass(frozen=True)
class ToolChoice:
    mode: str  # "auto", "none", "required" or "function"
    name: str | None = None  # the function, for mode "function"


def tool_choice(choice: Any, *, has_tools: bool) -> ToolChoice | None:
    """`tool_choice` checked; None when the request does not set it."""
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        parsed = ToolChoice(str(choice))
    elif isinstance(choice, Mapping) and choice.get("type") == "function" \
            and (choice.get("function") or {}).get("name"):
        parsed = ToolChoice("function", str(choice["function"]["name"]))
    else:
        raise InvalidRequest(f"unsupported tool_choice {choice!r}", param="tool_choice")
    if not has_tools and parsed.mode not in ("auto", "none"):
        raise InvalidRequest("tool_choice needs tools", param="tool_choice")
    return parsed


def response_schema(response_format: Any, provider: str) -> dict[str, Any] | None:
    """The JSON schema the answer must follow (`{"type": "object"}` for json_object); None for text."""
    kind = response_format.get("type") if isinstance(response_format, Mapping) else response_format
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind != "json_schema":
        raise InvalidRequest(f"{provider} does not support response_format of type {kind!r}",
                             param="response_format")
    schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
    if not isinstance(schema, Mapping):
        raise InvalidRequest("response_format: its schema must be a JSON object", param="response_format")
    return dict(schema)


def output_limit(body: Mapping[str, Any]) -> int | None:
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    return None if value is None else int(value)


def stop_sequences(body: Mapping[str, Any]) -> list[str]:
    stop = body.get("stop")
    if not stop:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def top_k(body: Mapping[str, Any]) -> int | None:
    """`top_k` when it limits sampling (vLLM's 0 and -1 mean "off")."""
    value = body.get("top_k")
    return int(value) if value is not None and int(value) > 0 else None

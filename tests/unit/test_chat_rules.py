"""The rules the Anthropic and Gemini adapters share (serving/remote/chat_rules.py) hold alike for both."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from models.catalogue import load_catalogue
from serving.errors import InvalidRequest
from serving.remote.anthropic_messages import to_anthropic
from serving.remote.gemini import to_gemini_request

Translate = Callable[[Mapping[str, Any]], dict[str, Any]]


def _gemini(body: Mapping[str, Any]) -> dict[str, Any]:
    entry = load_catalogue().get("gemini/gemini-2.5-flash")
    assert entry is not None
    return to_gemini_request(body, entry.capabilities)


def _anthropic(body: Mapping[str, Any]) -> dict[str, Any]:
    return to_anthropic(body, "claude-x", vision=True)


ADAPTERS = pytest.mark.parametrize("translate", [_anthropic, _gemini], ids=["anthropic", "gemini"])


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}


@ADAPTERS
@pytest.mark.parametrize("field", [{"best_of": 2}, {"n": 2}, {"logit_bias": {"1": 5}}, {"min_tokens": 3},
                                   {"no_such_field": True}])
def test_a_field_that_would_change_the_answer_is_refused_by_name(translate: Translate,
                                                                 field: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        translate(_body(**field))
    assert refused.value.param == next(iter(field))


@ADAPTERS
def test_fields_at_their_no_op_values_are_accepted(translate: Translate) -> None:
    translate(_body(n=1, best_of=1, logit_bias={}, min_tokens=0, ignore_eos=False, logprobs=False))


@ADAPTERS
def test_consecutive_turns_of_one_role_merge(translate: Translate) -> None:
    sent = translate({"model": "m", "messages": [
        {"role": "user", "content": "a"}, {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"}, {"role": "user", "content": "d"}]})
    turns = sent.get("messages") or sent["contents"]
    assert len(turns) == 3


@ADAPTERS
@pytest.mark.parametrize("arguments", ["[1, 2]", "{not json", "3"])
def test_tool_call_arguments_must_be_a_json_object(translate: Translate, arguments: str) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    with pytest.raises(InvalidRequest, match="JSON"):
        translate({"model": "m", "messages": [{"role": "user", "content": "hi"},
                                              {"role": "assistant", "tool_calls": [call]}]})


@ADAPTERS
def test_a_named_tool_choice_needs_tools(translate: Translate) -> None:
    with pytest.raises(InvalidRequest) as refused:
        translate(_body(tool_choice="required"))
    assert refused.value.param == "tool_choice"

"""A local (vLLM) model has no thinking budget: `thinking` is refused with a 400, never dropped."""

from __future__ import annotations

from typing import Any

import pytest

from serving.errors import InvalidRequest
from serving.ray_engine import RayChatEngine


def _no_handles(app_name: str) -> Any:
    raise AssertionError("the request must be refused before it reaches Ray")


async def test_thinking_is_refused_by_a_local_engine() -> None:
    engine = RayChatEngine("local/x", "x", _no_handles, context_length=1000)
    with pytest.raises(InvalidRequest) as err:
        await anext(engine.chat({"messages": [{"role": "user", "content": "hi"}],
                                 "thinking": {"type": "enabled", "budget_tokens": 2048}}))
    assert err.value.param == "thinking" and err.value.status_code == 400

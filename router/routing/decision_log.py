"""The decision log: one JSON line per routing decision, written off the request path.

Each line has the time, the request id, the objective, the features (never the prompt text), every
candidate with its quality, cost, predicted TTFT and why it was or was not eligible, the choice and the
reason. Lines are queued and written by one thread, so a slow disk never delays a request; the file is
opened in append mode and flushed line by line, so `tail -f` sees decisions as they happen.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["DecisionLog"]

logger = logging.getLogger(__name__)

_STOP = object()


class DecisionLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="decision-log", daemon=True)
        self._thread.start()

    def record(self, request_id: str, decision: dict[str, Any], **extra: Any) -> None:
        self._queue.put({"ts": round(time.time(), 3), "request_id": request_id, **decision, **extra})

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

    def _write(self) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                try:
                    out.write(json.dumps(item, separators=(",", ":"), ensure_ascii=False) + "\n")
                    out.flush()
                except (OSError, TypeError, ValueError):
                    logger.exception("cannot write to the decision log %s", self.path)

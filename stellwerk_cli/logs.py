"""Logging for the `stellwerk` commands: plain text or one JSON object per line (`--log-format json`).

`serve` and `prepare` log at INFO (what the cluster or the conversion is doing); the other commands at
WARNING, so `stellwerk status` or `stellwerk models` print their answer and nothing else. HTTP client
libraries (httpx, httpcore) log every upstream call at INFO; they are held at WARNING unless `-v` asks
for DEBUG.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

__all__ = ["LOG_FORMATS", "JsonFormatter", "configure_logging"]

LOG_FORMATS = ("text", "json")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_QUIET_LIBRARIES = ("httpx", "httpcore", "urllib3")
_INFO_COMMANDS = frozenset({"serve", "prepare"})  # long-running: their INFO lines are progress


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, message, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(*, command: str, verbose: bool, log_format: str) -> None:
    level = logging.DEBUG if verbose else logging.INFO if command in _INFO_COMMANDS else logging.WARNING
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)

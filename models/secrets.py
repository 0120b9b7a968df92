"""Where a remote model's API key comes from: its environment variable, else its key file."""

from __future__ import annotations

import os
from collections.abc import Mapping

from models.catalogue import RemoteEndpoint

__all__ = ["resolve_api_key"]


def resolve_api_key(endpoint: RemoteEndpoint, environ: Mapping[str, str] = os.environ) -> str | None:
    """The key from `api_key_env`, else from `api_key_file`; None if neither has one.

    The key is returned to the caller only: never logged, never put in an error message.
    """
    key = environ.get(endpoint.api_key_env, "").strip()
    if key:
        return key
    if endpoint.api_key_file is not None:
        try:
            return endpoint.api_key_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
    return None

"""The LiteLLM proxy as the peer gateway: where its venv is, its config, and the command that serves it.

LiteLLM lives in its own venv (benchmarks/peers/litellm.sh), never in Stellwerk's; it is started as a
subprocess with one worker, no database, logging at ERROR and telemetry off — its leanest documented
settings — routing the model `fake-model` to the same fake upstream as Stellwerk.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_VENV", "SETUP_HINT", "config_yaml", "litellm_command", "litellm_env", "venv_path"]

DEFAULT_VENV = Path.home() / ".cache" / "stellwerk" / "venvs" / "peers-litellm"
SETUP_HINT = "install it with benchmarks/peers/litellm.sh (~2 minutes), or run with --no-litellm"


def venv_path(explicit: Path | None = None) -> Path | None:
    """The LiteLLM venv if it is installed (explicit path, $STELLWERK_PEERS_DIR, or the default)."""
    root = os.environ.get("STELLWERK_PEERS_DIR")
    candidates = [explicit] if explicit else [Path(root) / "peers-litellm"] if root else [DEFAULT_VENV]
    for venv in candidates:
        if venv is not None and (venv / "bin" / "litellm").exists():
            return venv
    return None


def config_yaml(upstream_url: str, model: str) -> str:
    """A proxy config routing `model` to the OpenAI-compatible fake at `upstream_url` (ends in /v1)."""
    return f"""model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {upstream_url}
      api_key: fake-key
litellm_settings:
  set_verbose: false
  telemetry: false
  drop_params: true
general_settings:
  disable_spend_logs: true
"""


def litellm_command(venv: Path, config: Path, port: int) -> list[str]:
    return [str(venv / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1",
            "--port", str(port), "--num_workers", "1"]


def litellm_env() -> dict[str, str | None]:
    """Environment for the proxy: quiet, no telemetry, no database (None: unset), no HTTP proxy."""
    # LITELLM_LOCAL_MODEL_COST_MAP: use the packaged price map instead of fetching it from GitHub.
    # No master key, like Stellwerk (which has no authentication yet): the same work on both sides.
    return {"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "LITELLM_MODE": "PRODUCTION",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
            "DATABASE_URL": None, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

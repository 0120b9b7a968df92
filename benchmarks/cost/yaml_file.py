"""Read a YAML data file (prices, profile, traffic) into a pydantic model, with errors that name the
file, the field and the line (the shared reader of `models.yaml_config`)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from models.yaml_config import describe_errors, read_yaml_model

__all__ = ["DataFileError", "describe", "load_yaml_model"]

M = TypeVar("M", bound=BaseModel)


class DataFileError(ValueError):
    """A data file (prices, profile, traffic) is missing, not YAML, or does not match its schema."""


def load_yaml_model(path: Path, model: type[M], what: str) -> M:
    """Parse `path` as YAML and validate it as `model`; `what` names the kind of file in errors."""
    return read_yaml_model(path, model, what=what, error=DataFileError)


def describe(path: Path | str, text: str, exc: ValidationError, what: str) -> str:
    """The located error message for a validation error of `text` (read from `path`)."""
    return describe_errors(exc, text, Path(path), what=what)

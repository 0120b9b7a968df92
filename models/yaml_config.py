"""Reading validated YAML configuration files (routing, tenants, quality table, catalogue): one way to
parse, one shape of error — the file, then each problem with its line and dotted field path."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["describe_errors", "line_of", "parse_yaml_model", "read_yaml_model"]

M = TypeVar("M", bound=BaseModel)

Label = Callable[[object, tuple[int | str, ...]], str]
"""Extra words after an error's field path, from the parsed YAML and the error's location (e.g. the
name of the catalogue entry the field belongs to)."""


def read_yaml_model(path: Path, model: type[M], *, what: str, error: type[ValueError],
                    hidden: Collection[str] = (), label: Label | None = None) -> M:
    """Read `path` and validate it as `model`; any problem raises `error` naming the file (and the
    line and field, for validation errors). `what` names the file's role, e.g. "tenants file"."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror}") from None
    return parse_yaml_model(text, path, model, what=what, error=error, hidden=hidden, label=label)


def parse_yaml_model(text: str, path: Path, model: type[M], *, what: str, error: type[ValueError],
                     hidden: Collection[str] = (), label: Label | None = None) -> M:
    """Validate YAML `text` (read from `path`) as `model`. `hidden` are pydantic location parts that
    are not YAML keys (e.g. the tags of a discriminated union), left out of field paths."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: the {what} must be a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(describe_errors(exc, text, path, what=what, hidden=hidden,
                                    label=None if label is None else lambda loc: label(data, loc))) from None


def describe_errors(exc: ValidationError, text: str, path: Path, *, what: str,
                    hidden: Collection[str] = (),
                    label: Callable[[tuple[int | str, ...]], str] | None = None) -> str:
    """One line per error: `line N: field.path[label]: message`."""
    lines = [f"{path}: {exc.error_count()} error(s) in the {what}"]
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in hidden))
        where = ".".join(str(p) for p in loc) or "(top level)"
        line = line_of(text, loc)
        prefix = f"  line {line}: " if line else "  "
        extra = "" if label is None else label(loc)
        lines.append(f"{prefix}{where}{extra}: {err['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort 1-based line of the YAML node at `loc` (a pydantic error location), using the
    composed node tree; the deepest node found when the path ends early (e.g. a missing field)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = [v for k, v in node.value if k.value == part]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return None if node is None else node.start_mark.line + 1

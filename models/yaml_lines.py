"""Line numbers for validation errors in YAML files (catalogue, routing configuration, quality table)."""

from __future__ import annotations

import yaml

__all__ = ["line_of"]


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

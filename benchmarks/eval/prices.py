"""Per-model token prices for `stellwerk eval --decision`: the catalogue, or a file for other models.

A prices file is either YAML (`model: {input_per_mtok: X, output_per_mtok: Y}`) or a Markdown table
with the columns `model`, `$/1M in` and `$/1M out` (the layout of the routing data's MODELS.md, whose
model ids may be in backticks). Prices are USD per million tokens; `n/a` rows are left out, so a model
without a price is reported by name rather than evaluated at cost 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, RootModel

from benchmarks.eval.dataset import EvalDataError
from models.yaml_config import parse_yaml_model

__all__ = ["Price", "load_prices"]


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float


def load_prices(path: Path) -> dict[str, Price]:
    """Prices by model id from a YAML file or a Markdown table (see the module docstring)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    prices = _markdown(text, path) if path.suffix.lower() in {".md", ".markdown"} else _yaml(text, path)
    if not prices:
        raise EvalDataError(f"{path}: no prices found")
    return prices


class _PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


_PriceFile = RootModel[dict[str, _PriceEntry]]


def _yaml(text: str, path: Path) -> dict[str, Price]:
    """Through the project's located YAML reader (errors name the file, the field and the line)."""
    data = parse_yaml_model(text, path, _PriceFile, what="prices file", error=EvalDataError)
    return {str(m): Price(e.input_per_mtok, e.output_per_mtok) for m, e in data.root.items()}


def _markdown(text: str, path: Path) -> dict[str, Price]:
    header: list[str] | None = None
    prices = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.strip().startswith("|"):
            header = None
            continue
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if not {"model", "$/1m in", "$/1m out"} <= set(header) or set(cells[0]) <= set("-: "):
            continue
        row = dict(zip(header, cells, strict=False))
        model = row["model"].strip("`")
        if "n/a" in (row["$/1m in"], row["$/1m out"]):
            continue
        prices[model] = Price(_number(row["$/1m in"], path, model), _number(row["$/1m out"], path, model))
    return prices


def _number(raw: object, path: Path, model: object) -> float:
    try:
        value = float(str(raw))
    except ValueError:
        raise EvalDataError(f"{path}: {model}: price {raw!r} is not a number") from None
    if not value >= 0:
        raise EvalDataError(f"{path}: {model}: price {raw!r} must be >= 0")
    return value

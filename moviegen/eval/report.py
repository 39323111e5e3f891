"""Evaluation outputs: ``eval.json`` and markdown tables in an output directory, and metrics merged into a
checkpoint's ``model_card.json`` (PRODUCT.md: every shipped checkpoint carries its measured metrics).

Every file is written atomically (a temporary file renamed into place), so an interrupted run never leaves a
half-written card or report.
"""

import json
import os
from pathlib import Path
from typing import Any

from moviegen.io.media import atomic_path

CARD_FILE = "model_card.json"  # as moviegen.video.checkpoint.CARD_FILE
METRICS_KEY = "metrics"


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically (``inf`` PSNR of a lossless clip is written as ``Infinity``)."""
    return write_text(path, json.dumps(data, indent=2) + "\n")


def update_model_card(checkpoint_dir: str | os.PathLike, metrics: dict[str, Any]) -> Path:
    """Merge ``metrics`` into ``model_card.json["metrics"]`` (one key per evaluation; other keys are kept).

    Raises:
        ValueError: no card in the directory, or a card that is not a JSON object.
    """
    card_path = Path(checkpoint_dir) / CARD_FILE
    if not card_path.is_file():
        raise ValueError(f"no {CARD_FILE} in {str(checkpoint_dir)!r}: --update-card needs a checkpoint directory")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(card_path)!r} is not valid JSON: {err}") from err
    if not isinstance(card, dict):
        raise ValueError(f"{str(card_path)!r} must hold a JSON object, got {type(card).__name__}")
    existing = card.get(METRICS_KEY)
    card[METRICS_KEY] = (existing if isinstance(existing, dict) else {}) | metrics
    return write_json(card_path, card)

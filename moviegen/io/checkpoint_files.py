"""The file-level pieces every inference checkpoint directory shares (video, audio): float16 storage of weights,
atomic JSON, and loading errors that name the file and say what the directory should hold. Safetensors and JSON only,
never pickle."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from moviegen.io.media import atomic_path

STORAGE_DTYPE = torch.float16  # on disk; parameters are float32 in memory


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be loaded or written; the message names the directory and the file."""


def to_storage(state: Mapping[str, torch.Tensor], *, what: str) -> dict[str, torch.Tensor]:
    """CPU, contiguous, floating tensors in :data:`STORAGE_DTYPE`; ValueError for a value float16 cannot hold."""
    out = {}
    for key, value in state.items():
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.to(STORAGE_DTYPE)
            if not bool(torch.isfinite(value).all()):
                raise ValueError(
                    f"{what}: tensor {key!r} is not finite in {STORAGE_DTYPE} (|max| "
                    f"{state[key].abs().max().item():.4g}); cannot store it"
                )
        out[key] = value.contiguous()
    return out


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def read_json(file: Path, *, contents: str) -> Any:
    """Parse a JSON file; :class:`CheckpointError` (ending with ``contents``, what the directory should hold) if not."""
    try:
        return json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{str(file)!r} is not valid JSON ({err}); {contents}") from err


def read_card(file: Path, *, contents: str) -> dict[str, Any]:
    """A model card: a JSON object (:class:`CheckpointError` for anything else)."""
    card = read_json(file, contents=contents)
    if not isinstance(card, dict):
        raise CheckpointError(f"{str(file)!r} must hold a JSON object, got {type(card).__name__}")
    return card


def load_weights(file: Path, *, contents: str) -> dict[str, torch.Tensor]:
    """A safetensors file as float32 tensors; :class:`CheckpointError` for a truncated or corrupt file."""
    try:
        state = load_file(str(file))
    except SafetensorError as err:
        raise CheckpointError(
            f"{str(file)!r} is not a readable safetensors file ({err}): truncated or corrupt? {contents}"
        ) from err
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def one_line(err: Exception) -> str:
    """torch's load_state_dict errors span lines; the CLI prints one."""
    return " ".join(str(err).split())


def write_checkpoint(
    path: Path,
    *,
    weights: Mapping[str, Mapping[str, torch.Tensor]],
    card: Mapping[str, Any],
    config: Mapping[str, Any],
    fmt: str,
    config_file: str = "config.json",
    card_file: str = "model_card.json",
) -> Path:
    """Write an inference checkpoint directory: each weights file (already in storage form, :func:`to_storage`),
    the card, then ``config_file`` last, every file atomically: a directory that has its config has all its weights.

    Raises:
        ValueError: a card that is not JSON-serialisable.
    """
    try:
        card_json = json.loads(json.dumps(dict(card)))
    except TypeError as err:
        raise ValueError(f"model card must be JSON-serialisable: {err}") from err
    path.mkdir(parents=True, exist_ok=True)
    metadata = {"format": fmt, "version": str(config["version"])}
    for name, state in weights.items():
        with atomic_path(path / name) as tmp:
            save_file(dict(state), str(tmp), metadata=metadata)
    write_json(path / card_file, card_json)
    write_json(path / config_file, dict(config))
    return path


def read_checkpoint_json(
    path: Path, *, files: tuple[str, ...], fmt: str, version: int, contents: str, config_file: str = "config.json"
) -> dict[str, Any]:
    """Check that ``path`` holds every one of ``files`` and read its ``config_file``, checking format and version.

    Raises:
        CheckpointError: a missing directory or file, invalid JSON, or another format or version.
    """
    if not path.is_dir():
        raise CheckpointError(f"{fmt} checkpoint directory not found: {str(path)!r}; {contents}")
    missing = [name for name in files if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"{fmt} checkpoint {str(path)!r} is missing {', '.join(missing)}; {contents}")
    file = path / config_file
    data = read_json(file, contents=contents)
    if not isinstance(data, dict) or data.get("format") != fmt:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{str(file)!r} has format {found!r}, expected {fmt!r}; {contents}")
    if data.get("version") != version:
        raise CheckpointError(
            f"{str(file)!r} has version {data.get('version')!r}; this moviegen reads version {version}"
        )
    return data

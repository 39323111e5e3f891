"""Model averaging in weight space (SPEC 5.4, as in Llama 3): the mean of several runs' weights.

Each source is a ``.safetensors`` weights file, a checkpoint directory (its ``model.safetensors``, or
``ema.safetensors`` with ``ema=True``; a distributed run's DCP checkpoint is read as full tensors) or a run directory
(its latest checkpoint). All sources must have the same keys and shapes; floating tensors are averaged in float64
and stored in the widest of the sources' dtypes (an exported float16 checkpoint with a float32 run gives float32),
other tensors (integer buffers) must be equal, dtype included, across sources.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open

from moviegen.train.checkpoint import CHECKPOINTS, latest_checkpoint


def resolve_weights_file(source: str | os.PathLike, *, ema: bool = False) -> Path:
    """The weights file a source names (see the module docstring).

    Raises:
        ValueError: if the source is none of the accepted forms.
    """
    path = Path(source)
    if path.is_file():
        if path.suffix != ".safetensors":
            raise ValueError(f"{str(path)!r} is not a .safetensors file, a checkpoint directory or a run directory")
        return path
    if (path / CHECKPOINTS).is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise ValueError(f"run directory {str(path)!r} has no checkpoint yet")
        path = found
    name = "ema.safetensors" if ema else "model.safetensors"
    if not (path / name).is_file():
        raise ValueError(f"{str(source)!r} holds no {name} (expected a .safetensors file, checkpoint or run directory)")
    return path / name


def _load(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        return {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is not a mapping)


def load_weights(source: str | os.PathLike, *, ema: bool = False) -> tuple[Path, dict[str, torch.Tensor]]:
    """``(where, weights)`` of a source: a weights file, or a single-process or distributed (DCP) checkpoint.

    Raises:
        ValueError: if the source is none of the accepted forms, or lacks EMA weights when ``ema`` is asked for.
    """
    from moviegen.train.checkpoint import load_checkpoint
    from moviegen.train.distributed import is_dcp_checkpoint

    path = Path(source)
    found = latest_checkpoint(path) if (path / CHECKPOINTS).is_dir() else path
    if found is not None and is_dcp_checkpoint(found):
        ckpt = load_checkpoint(found)
        state = ckpt.ema_state if ema else ckpt.model_state
        if state is None:
            raise ValueError(f"{str(source)!r} holds no EMA weights")
        return found, state
    file = resolve_weights_file(source, ema=ema)
    return file, _load(file)


def average_checkpoints(
    paths: Sequence[str | os.PathLike], weights: Sequence[float] | None = None, *, ema: bool = False
) -> dict[str, torch.Tensor]:
    """Weighted mean of the weights of ``paths`` (uniform when ``weights`` is None; weights are normalised).

    Raises:
        ValueError: for fewer than one source, bad weights, or the first key/shape mismatch found (or a
            non-floating tensor that differs).
    """
    if len(paths) < 1:
        raise ValueError("average needs at least one checkpoint")
    if weights is None:
        weights = [1.0] * len(paths)
    if len(weights) != len(paths) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be {len(paths)} non-negative numbers with a positive sum, got {list(weights)}")
    total = float(sum(weights))
    first, reference = load_weights(paths[0], ema=ema)
    acc = {k: v.double() * (weights[0] / total) if v.is_floating_point() else v for k, v in reference.items()}
    dtypes = {k: v.dtype for k, v in reference.items()}
    for source, weight in zip(paths[1:], weights[1:], strict=True):
        file, state = load_weights(source, ema=ema)
        missing, unexpected = sorted(set(reference) - set(state)), sorted(set(state) - set(reference))
        if missing or unexpected:
            key, where = (missing[0], file) if missing else (unexpected[0], first)
            raise ValueError(f"{file} and {first} have different keys: {key!r} is missing from {where}")
        for key, ref in reference.items():
            value = state[key]
            if value.shape != ref.shape or (
                value.dtype != ref.dtype and not (value.is_floating_point() and ref.is_floating_point())
            ):
                raise ValueError(
                    f"{key!r} differs: {tuple(ref.shape)} {ref.dtype} in {first} vs {tuple(value.shape)} "
                    f"{value.dtype} in {file}"
                )
            if ref.is_floating_point():
                acc[key] += value.double() * (weight / total)
                dtypes[key] = torch.promote_types(dtypes[key], value.dtype)
            elif not torch.equal(value, ref):
                raise ValueError(f"non-floating tensor {key!r} differs between {first} and {file}")
    return {k: v.to(dtypes[k]) for k, v in acc.items()}

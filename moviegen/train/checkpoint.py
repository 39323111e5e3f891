"""Atomic, pickle-free training checkpoints (safetensors + JSON only; ``torch.save`` is never used).

Layout of ``RUN_DIR/checkpoints/step_{step:08d}/``:

* ``model.safetensors``: the trained weights (``trainable_state_dict()`` where the model has one);
* ``ema.safetensors``: the same keys with the EMA weights substituted (a drop-in weights file), if the EMA is on;
* ``optimizer.safetensors`` + ``optimizer.json``: AdamW's per-parameter state flattened to tensors
  ``state/{index}/{exp_avg|exp_avg_sq|step}``, and its ``param_groups`` (hyper-parameters, parameter indices);
* ``rng.safetensors``: every global RNG (:mod:`moviegen.train.state`);
* ``extra_{name}.safetensors``: extra trained modules (e.g. the TAE discriminator);
* ``trainer_state.json``: step, data-iterator state, configs, last metrics.

Atomicity: everything is written into a temporary directory next to the final one, fsynced, and renamed with
``os.replace``; then ``checkpoints/latest`` (a text file naming the directory) is replaced atomically. A crash at any
point leaves either the previous checkpoint as ``latest`` or the new one, never a partial directory under a final name.
Only the newest ``keep`` checkpoints are kept.
"""

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

CHECKPOINTS = "checkpoints"
LATEST = "latest"
_PREFIX, _TMP_PREFIX = "step_", ".tmp_"
_STATE_PREFIX = "state/"


def checkpoint_name(step: int) -> str:
    return f"{_PREFIX}{step:08d}"


@dataclass
class Checkpoint:
    """Everything :func:`save_checkpoint` wrote, loaded back (optimizer state in ``torch.optim`` format)."""

    path: Path
    step: int
    model_state: dict[str, torch.Tensor]
    ema_state: dict[str, torch.Tensor] | None
    optimizer_state: dict[str, Any] | None
    rng_state: dict[str, torch.Tensor] | None
    trainer_state: dict[str, Any]
    extra_states: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def flatten_optimizer_state(state_dict: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``optimizer.state_dict()`` -> (tensors ``state/{index}/{key}``, JSON with ``param_groups`` and scalar state)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, param_state in state_dict["state"].items():
        for key, value in param_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{_STATE_PREFIX}{index}/{key}"] = value.detach().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in state_dict["param_groups"]]
    return tensors, {"param_groups": groups, "scalar_state": scalars}


def unflatten_optimizer_state(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if not name.startswith(_STATE_PREFIX):
            raise ValueError(f"unexpected optimizer tensor {name!r}; expected 'state/INDEX/KEY'")
        index, key = name[len(_STATE_PREFIX) :].split("/", 1)
        state.setdefault(int(index), {})[key] = value
    for index, scalars in meta.get("scalar_state", {}).items():
        state.setdefault(int(index), {}).update(scalars)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save_tensors(tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    # clone: safetensors refuses tensors sharing storage (tied weights, views of one buffer)
    save_file({k: v.detach().cpu().clone().contiguous() for k, v in tensors.items()}, str(path))
    _fsync_file(path)


def _save_json(data: Any, path: Path) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def _write_latest(root: Path, name: str) -> None:
    tmp = root / f"{_TMP_PREFIX}{LATEST}.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / LATEST)
    _fsync_dir(root)


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoint directories of a run, oldest first."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and p.name.startswith(_PREFIX) and p.name[len(_PREFIX) :].isdigit()
    ]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX) :]))


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint ``RUN_DIR/checkpoints/latest`` names, or None if the run has none."""
    root = Path(run_dir) / CHECKPOINTS
    latest = root / LATEST
    if not latest.is_file():
        return None
    path = root / latest.read_text().strip()
    return path if path.is_dir() else None


def save_checkpoint(
    run_dir: str | os.PathLike,
    step: int,
    *,
    model_state: Mapping[str, torch.Tensor],
    ema_state: Mapping[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer | None,
    trainer_state: Mapping[str, Any],
    rng_state: Mapping[str, torch.Tensor] | None = None,
    extra_states: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    keep: int = 3,
) -> Path:
    """Write checkpoint ``step`` atomically, point ``latest`` at it and keep the newest ``keep`` checkpoints.

    Returns:
        The final checkpoint directory.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f"{_TMP_PREFIX}*"):  # leftovers of a crashed writer
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    name = checkpoint_name(step)
    tmp = root / f"{_TMP_PREFIX}{name}.{os.getpid()}"
    tmp.mkdir()
    try:
        _save_tensors(model_state, tmp / "model.safetensors")
        if ema_state is not None:
            _save_tensors(ema_state, tmp / "ema.safetensors")
        if optimizer is not None:
            tensors, meta = flatten_optimizer_state(optimizer.state_dict())
            _save_tensors(tensors, tmp / "optimizer.safetensors")
            _save_json(meta, tmp / "optimizer.json")
        if rng_state is not None:
            _save_tensors(rng_state, tmp / "rng.safetensors")
        for extra_name, extra_state in (extra_states or {}).items():
            _save_tensors(extra_state, tmp / f"extra_{extra_name}.safetensors")
        _save_json({**trainer_state, "step": step}, tmp / "trainer_state.json")
        _fsync_dir(tmp)
        final = root / name
        if final.exists():  # re-saving a step (e.g. the final checkpoint of a resumed, finished run)
            old = root / f"{_TMP_PREFIX}old_{name}.{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_latest(root, name)
    for old in list_checkpoints(run_dir)[:-keep]:
        if old.name != name:
            shutil.rmtree(old)
    return final


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint directory (or a run directory: its ``latest``).

    A distributed run's DCP checkpoint loads too, as full tensors (its weights and EMA weights; the sharded optimizer
    state is left out: resume such a run with torchrun, on any number of ranks).

    Raises:
        ValueError: if the path holds no checkpoint.
    """
    path = Path(path)
    if (path / CHECKPOINTS).is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise ValueError(f"run directory {str(path)!r} has no checkpoint (no {CHECKPOINTS}/{LATEST})")
        path = found
    from moviegen.train.distributed import is_dcp_checkpoint, read_dcp_weights

    if is_dcp_checkpoint(path) and (path / "trainer_state.json").is_file():  # written by a distributed run
        model_state = read_dcp_weights(path, part="model")
        if model_state is None:
            raise ValueError(f"distributed checkpoint {str(path)!r} holds no model weights")
        trainer_state = json.loads((path / "trainer_state.json").read_text())
        return Checkpoint(
            path=path, step=int(trainer_state["step"]), model_state=model_state,
            ema_state=read_dcp_weights(path, part="ema"), optimizer_state=None, rng_state=None,
            trainer_state=trainer_state,
        )
    if not (path / "trainer_state.json").is_file() or not (path / "model.safetensors").is_file():
        raise ValueError(
            f"{str(path)!r} is not a checkpoint directory (expected model.safetensors, trainer_state.json)"
        )
    trainer_state = json.loads((path / "trainer_state.json").read_text())
    optimizer_state = None
    if (path / "optimizer.json").is_file():
        optimizer_state = unflatten_optimizer_state(
            load_file(str(path / "optimizer.safetensors")), json.loads((path / "optimizer.json").read_text())
        )

    def optional(name: str) -> dict[str, torch.Tensor] | None:
        return load_file(str(path / name)) if (path / name).is_file() else None

    extras = {p.name[len("extra_") : -len(".safetensors")]: load_file(str(p)) for p in path.glob("extra_*.safetensors")}
    return Checkpoint(
        path=path,
        step=int(trainer_state["step"]),
        model_state=load_file(str(path / "model.safetensors")),
        ema_state=optional("ema.safetensors"),
        optimizer_state=optimizer_state,
        rng_state=optional("rng.safetensors"),
        trainer_state=trainer_state,
        extra_states=extras,
    )

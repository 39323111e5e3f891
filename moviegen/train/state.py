"""Capture and restore every global RNG as tensors (no pickle), so a resumed run continues the same random streams.

The training recipes draw their per-step randomness (crops, noise, times, text dropout) from generators seeded by
``(seed, step)``, which resume exactly by construction; the global RNGs below cover everything else (dropout inside
modules, third-party code). Keys of the captured dict:

* ``torch_cpu``: ``torch.get_rng_state()`` (uint8);
* ``torch_cuda_{i}``: the state of CUDA device ``i``, when CUDA is initialised;
* ``numpy_keys`` (int64 [624]) and ``numpy_meta`` (float64 [pos, has_gauss, cached_gaussian]): the MT19937 legacy
  global state of NumPy;
* ``python_state`` (int64 [625]) and ``python_meta`` (float64 [version, has_gauss_next, gauss_next]): ``random``.
"""

import hashlib
import random

import numpy as np
import torch


def capture_rng() -> dict[str, torch.Tensor]:
    """All global RNG states as a flat dict of tensors (saveable with safetensors)."""
    state = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            state[f"torch_cuda_{i}"] = cuda_state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    assert kind == "MT19937", kind  # the only bit generator of NumPy's legacy global state
    state["numpy_keys"] = torch.from_numpy(keys.astype(np.int64))
    state["numpy_meta"] = torch.tensor([pos, has_gauss, cached], dtype=torch.float64)
    version, internal, gauss_next = random.getstate()
    state["python_state"] = torch.tensor(internal, dtype=torch.int64)
    state["python_meta"] = torch.tensor(
        [version, gauss_next is not None, 0.0 if gauss_next is None else gauss_next], dtype=torch.float64
    )
    return state


def restore_rng(state: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`capture_rng`. CUDA states are restored when present in both the state and the process."""
    missing = sorted({"torch_cpu", "numpy_keys", "numpy_meta", "python_state", "python_meta"} - set(state))
    if missing:
        raise ValueError(f"RNG state lacks {missing}")
    torch.set_rng_state(state["torch_cpu"].to(torch.uint8))
    cuda = sorted(k for k in state if k.startswith("torch_cuda_"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state[k].to(torch.uint8) for k in cuda][: torch.cuda.device_count()])
    pos, has_gauss, cached = state["numpy_meta"].tolist()
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), int(pos), int(has_gauss), cached))
    version, has_next, gauss_next = state["python_meta"].tolist()
    internal = tuple(int(v) for v in state["python_state"].tolist())
    random.setstate((int(version), internal, gauss_next if has_next else None))


def step_generator(seed: int, step: int, *, stream: int = 0) -> torch.Generator:
    """A CPU generator for the random draws of one step, a pure function of ``(seed, step, stream)``.

    Different ``stream`` values give independent streams for the same step (e.g. data augmentation vs noise).
    """
    digest = hashlib.sha256(f"{seed}/{step}/{stream}".encode()).digest()
    generator = torch.Generator()
    generator.manual_seed(int.from_bytes(digest[:8], "little") >> 1)  # 63 bits: a valid manual_seed value
    return generator

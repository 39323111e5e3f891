"""Saving and loading the trainable part of a model that embeds frozen pretrained modules (text encoders, a CLIP
tower): those load from their own files and are never copied into our checkpoints."""

import torch
from torch import nn


def frozen_prefixes(module: nn.Module) -> list[str]:
    """State-dict prefixes (``"a.b."``) of the outermost submodules whose parameters all have
    ``requires_grad=False``."""
    prefixes: list[str] = []
    for name, sub in module.named_modules():
        if not name or any(name.startswith(p) for p in prefixes):
            continue
        params = list(sub.parameters())
        if params and not any(p.requires_grad for p in params):
            prefixes.append(name + ".")
    return prefixes


def trainable_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` without the frozen submodules (:func:`frozen_prefixes`)."""
    frozen = frozen_prefixes(module)
    return {k: v for k, v in module.state_dict().items() if not any(k.startswith(p) for p in frozen)}


def load_trainable_state_dict(module: nn.Module, state: dict[str, torch.Tensor], *, what: str = "the model") -> None:
    """Load :func:`trainable_state_dict` output into ``module``.

    Raises:
        ValueError: missing or unexpected keys, named (the first five of each).
    """
    expected = set(trainable_state_dict(module))
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint does not match {what}: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    module.load_state_dict(state, strict=False)

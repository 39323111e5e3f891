"""Inflate a pretrained image autoencoder into the TAE (SPEC 1.1: "inflated from a pretrained image autoencoder").

The spatial weights come from a diffusers ``AutoencoderKL`` state dict; the temporal layers keep the identity init of
``TemporalAutoencoder.init_weights`` (centric temporal convs, zero temporal-attention output), so at inflation the TAE
reproduces the image autoencoder frame by frame. The key mapping is explicit:

* every convolution ``<path>.{weight,bias}`` -> ``<path>.spatial.{weight,bias}``
  (``conv_in``, ``conv1``, ``conv2``, ``conv_shortcut``, ``downsamplers.0.conv``, ``upsamplers.0.conv``,
  ``conv_out``, ``quant_conv``, ``post_quant_conv``);
* everything else (GroupNorms, attention ``group_norm``/``to_q``/``to_k``/``to_v``/``to_out.0``) keeps its name.

How-to::

    vae = diffusers.AutoencoderKL.from_pretrained(path)          # or read config.json + safetensors yourself
    tae = inflate_autoencoder_kl(config=vae.config, state_dict=vae.state_dict())

Diffusers is not needed at runtime: :func:`inflate_from_diffusers_dir` reads a ``config.json`` and
``diffusion_pytorch_model.safetensors`` directly.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from moviegen.tae.config import TAEConfig
from moviegen.tae.model import TemporalAutoencoder

# Leaf module names of the image VAE's convolutions (each becomes a Conv25d whose 2D part is ``.spatial``).
_CONV_NAMES = frozenset(
    {"conv_in", "conv1", "conv2", "conv_shortcut", "conv", "conv_out", "quant_conv", "post_quant_conv"}
)
# Names of the parameters the TAE adds on top of the image VAE (left at their identity init by inflation).
_TEMPORAL_MARKERS = (".temporal.", ".temporal_attentions.")
_DIFFUSERS_WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"
_DIFFUSERS_CONFIG_FILE = "config.json"


@dataclass
class InflationReport:
    """What :func:`load_image_autoencoder` did: spatial keys copied, temporal keys left at their identity init."""

    loaded_keys: list[str]
    temporal_keys: list[str]


def inflate_key(image_key: str) -> str:
    """Map one diffusers ``AutoencoderKL`` state-dict key to the TAE key (see the module docstring)."""
    *path, param = image_key.split(".")
    if path and path[-1] in _CONV_NAMES:
        return ".".join([*path, "spatial", param])
    return image_key


def inflate_state_dict(image_state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename every key of an image VAE state dict to its TAE name; values are shared, not copied."""
    return {inflate_key(key): value for key, value in image_state_dict.items()}


@torch.no_grad()
def load_image_autoencoder(
    tae: TemporalAutoencoder, image_state_dict: Mapping[str, torch.Tensor], *, reset_temporal: bool = True
) -> InflationReport:
    """Copy an image VAE's weights into the spatial layers of ``tae``.

    Args:
        tae: a TAE whose config matches the image VAE (``TAEConfig.from_diffusers_config``).
        image_state_dict: the diffusers ``AutoencoderKL`` state dict.
        reset_temporal: first run ``tae.init_weights()`` so the temporal layers are exactly the identity (set to
            ``False`` to keep temporal weights already in ``tae``).

    Returns:
        The copied and the untouched (temporal) keys.

    Raises:
        ValueError: if a key has no TAE counterpart, a shape differs, or a non-temporal TAE key is not covered.
    """
    if reset_temporal:
        tae.init_weights()
    inflated = inflate_state_dict(image_state_dict)
    own = tae.state_dict()
    unknown = sorted(set(inflated) - set(own))
    if unknown:
        raise ValueError(f"image autoencoder keys with no TAE counterpart (wrong config?): {unknown[:8]}")
    for key, value in inflated.items():
        if own[key].shape != value.shape:
            raise ValueError(f"shape mismatch for {key}: TAE has {tuple(own[key].shape)}, got {tuple(value.shape)}")
    missing = sorted(set(own) - set(inflated))
    not_temporal = [key for key in missing if not any(marker in f".{key}" for marker in _TEMPORAL_MARKERS)]
    if not_temporal:
        raise ValueError(f"image autoencoder state dict lacks spatial TAE keys: {not_temporal[:8]}")
    tae.load_state_dict(inflated, strict=False)
    return InflationReport(loaded_keys=sorted(inflated), temporal_keys=missing)


def inflate_autoencoder_kl(
    *,
    config: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    temporal_downsample: tuple[bool, ...] | None = None,
    use_temporal_attention: bool = True,
) -> TemporalAutoencoder:
    """Build a TAE from a diffusers ``AutoencoderKL`` config and state dict, temporal layers at identity.

    Args:
        config: ``vae.config`` (or its ``config.json`` as a dict).
        state_dict: ``vae.state_dict()``.
        temporal_downsample: see ``TAEConfig.from_diffusers_config`` (default: the first 3 levels).
        use_temporal_attention: see :class:`~moviegen.tae.config.TAEConfig`.

    Returns:
        The inflated TAE (float32, on the CPU).
    """
    cfg = TAEConfig.from_diffusers_config(
        config, temporal_downsample=temporal_downsample, use_temporal_attention=use_temporal_attention
    )
    tae = TemporalAutoencoder(cfg)
    load_image_autoencoder(tae, state_dict, reset_temporal=False)  # the constructor already ran init_weights
    return tae


def inflate_from_diffusers_dir(
    path: str | Path, *, temporal_downsample: tuple[bool, ...] | None = None
) -> TemporalAutoencoder:
    """Inflate a diffusers ``AutoencoderKL`` saved with ``save_pretrained`` (``config.json`` + safetensors).

    Raises:
        ValueError: if the folder lacks either file.
    """
    path = Path(path)
    config_file, weights_file = path / _DIFFUSERS_CONFIG_FILE, path / _DIFFUSERS_WEIGHTS_FILE
    if not config_file.is_file() or not weights_file.is_file():
        raise ValueError(f"{path} must contain {_DIFFUSERS_CONFIG_FILE} and {_DIFFUSERS_WEIGHTS_FILE}")
    config = json.loads(config_file.read_text())
    state_dict = {key: value.float() for key, value in load_file(weights_file).items()}
    return inflate_autoencoder_kl(config=config, state_dict=state_dict, temporal_downsample=temporal_downsample)

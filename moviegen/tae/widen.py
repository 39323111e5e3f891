"""Widening a trained TAE decoder without changing what it computes (``TAEConfig.decoder_width_multiplier``).

A decoder-only phase can then start a wider decoder from a trained narrower one instead of from scratch
[inferred, beyond the paper; the zero-initialised extension of Net2WiderNet (Chen et al. 2016)]. Every decoder
width grows by the same factor and so does the number of GroupNorm groups, so the trained channels keep their
groups, in front, with the new channels in new groups after them. Each decoder tensor is then the trained one in its
leading block, and

* the new output channels (rows) of every layer get the wider model's own initialisation: fresh features;
* the trained output channels read nothing from the new input channels (those columns are zero), so every trained
  channel computes exactly what it did, and so does ``conv_out``, whose outputs are all trained;
* attentions (one head over all channels) are the exception: new query channels start at zero, so the new channels
  add nothing to the attention logits, and the trained query rows are scaled by ``sqrt(C_new / C_old)`` to undo the
  change of the ``1 / sqrt(C)`` logit scale.

Zero columns still get gradients (the new channels' activations are not zero), so training grows them from there.
The encoder, ``quant_conv`` and ``post_quant_conv`` are copied unchanged: the latent space is the same.
"""

import math
from dataclasses import replace

import torch

from moviegen.tae.config import TAEConfig
from moviegen.tae.model import TemporalAutoencoder


def decoder_width_multiplier_of(state: dict[str, torch.Tensor], cfg: TAEConfig) -> int:
    """The ``decoder_width_multiplier`` TAE weights were trained with (their decoder's first width over the
    architecture's deepest level width).

    Raises:
        ValueError: the weights hold no decoder, or its width is no multiple of ``cfg``'s.
    """
    key = "decoder.conv_in.spatial.weight"
    if key not in state:
        raise ValueError(f"TAE weights hold no {key!r}: not a TAE state dict")
    width, base = state[key].shape[0], cfg.block_out_channels[-1]
    if width % base:
        raise ValueError(f"TAE weights' decoder is {width} channels wide, not a multiple of {base} (the config's)")
    return width // base


def widen_decoder(tae: TemporalAutoencoder, multiplier: int, *, seed: int = 0) -> TemporalAutoencoder:
    """A new TAE with ``decoder_width_multiplier = multiplier`` that decodes exactly as ``tae`` does.

    Args:
        tae: the trained TAE (left unchanged).
        multiplier: the new multiplier, at least ``tae.cfg.decoder_width_multiplier``.
        seed: seeds the new channels' initialisation.

    Raises:
        ValueError: ``multiplier`` is below the TAE's.
    """
    old_cfg = tae.cfg
    if multiplier < old_cfg.decoder_width_multiplier:
        raise ValueError(
            f"multiplier must be >= the TAE's decoder_width_multiplier ({old_cfg.decoder_width_multiplier}), "
            f"got {multiplier}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        wide = TemporalAutoencoder(replace(old_cfg, decoder_width_multiplier=multiplier))
    wide.to(next(tae.parameters()).device)
    old_state = tae.state_dict()
    with torch.no_grad():
        for name, new in wide.state_dict().items():  # views of wide's tensors: written in place
            old = old_state[name]
            if not name.startswith("decoder.") or old.shape == new.shape:
                new.copy_(old)
                continue
            out_old = old.shape[0]
            if name.endswith((".to_q.weight", ".to_q.bias")):
                new[out_old:] = 0  # new query channels add nothing to the logits ...
                old = old * math.sqrt(new.shape[0] / out_old)  # C_new / C_old: the logit scale is 1 / sqrt(C)
            if old.ndim == 1:
                new[:out_old] = old
            else:
                in_old = old.shape[1]
                new[:out_old, :in_old] = old
                new[:out_old, in_old:] = 0  # ... and trained channels read nothing from new ones
    return wide


def load_tae_widening(cfg: TAEConfig, state: dict[str, torch.Tensor], *, seed: int = 0) -> TemporalAutoencoder:
    """A TAE of ``cfg`` from weights whose decoder may be narrower (:func:`widen_decoder` fills the difference).

    Raises:
        ValueError: the weights' decoder is wider than ``cfg``'s.
    """
    trained = decoder_width_multiplier_of(state, cfg)
    if trained > cfg.decoder_width_multiplier:
        raise ValueError(
            f"TAE weights have a decoder {trained}x wide, the config {cfg.decoder_width_multiplier}x: a decoder can "
            f"be widened, not narrowed"
        )
    tae = TemporalAutoencoder(replace(cfg, decoder_width_multiplier=trained))
    tae.load_state_dict(state)
    if trained == cfg.decoder_width_multiplier:
        return tae
    return widen_decoder(tae, cfg.decoder_width_multiplier, seed=seed)

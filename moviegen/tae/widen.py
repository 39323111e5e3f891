"""Growing a trained TAE without changing what it computes: its decoder (``TAEConfig.decoder_width_multiplier``),
its latent (``TAEConfig.latent_channels``, :func:`widen_latent`) or its depth (``TAEConfig.layers_per_block``,
:func:`deepen`).

A decoder-only phase can start a wider decoder from a trained narrower one (:func:`widen_decoder`) instead of from
scratch [inferred, beyond the paper; the zero-initialised extension of Net2WiderNet (Chen et al. 2016)]. Every decoder
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
:func:`widen_latent` applies the same zero-column rule to the latent's channels (its docstring has the details);
there the latent space changes once the encoder trains.
"""

import math
from dataclasses import replace

import torch

from moviegen.tae.config import TAEConfig
from moviegen.tae.model import TemporalAutoencoder


def _weight(state: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in state:
        raise ValueError(f"TAE weights hold no {key!r}: not a TAE state dict")
    return state[key]


def decoder_width_multiplier_of(state: dict[str, torch.Tensor], cfg: TAEConfig) -> int:
    """The ``decoder_width_multiplier`` TAE weights were trained with (their decoder's first width over the
    architecture's deepest level width).

    Raises:
        ValueError: the weights hold no decoder, or its width is no multiple of ``cfg``'s.
    """
    width, base = _weight(state, "decoder.conv_in.spatial.weight").shape[0], cfg.block_out_channels[-1]
    if width % base:
        raise ValueError(f"TAE weights' decoder is {width} channels wide, not a multiple of {base} (the config's)")
    return width // base


def _fresh_like(tae: TemporalAutoencoder, *, seed: int, **changes: int) -> TemporalAutoencoder:
    """A freshly initialised TAE of ``tae``'s config with ``changes``, on its device and in its dtype (the new
    channels' init)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = TemporalAutoencoder(replace(tae.cfg, **changes))
    param = next(tae.parameters())
    return fresh.to(device=param.device, dtype=param.dtype)


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
    wide = _fresh_like(tae, seed=seed, decoder_width_multiplier=multiplier)
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


def latent_channels_of(state: dict[str, torch.Tensor]) -> int:
    """The latent channel count C of TAE weights (their ``post_quant_conv`` maps C to C).

    Raises:
        ValueError: the weights hold no ``post_quant_conv``.
    """
    return _weight(state, "post_quant_conv.spatial.weight").shape[0]


# Every tensor whose shape follows the latent channel count: widen_latent maps each of them.
_LATENT_SHAPED = frozenset({
    "encoder.conv_out.spatial.weight", "encoder.conv_out.spatial.bias", "encoder.conv_out.temporal.weight",
    "encoder.conv_out.temporal.bias", "quant_conv.spatial.weight", "quant_conv.spatial.bias",
    "post_quant_conv.spatial.weight", "post_quant_conv.spatial.bias", "decoder.conv_in.spatial.weight",
})


def widen_latent(tae: TemporalAutoencoder, latent_channels: int, *, seed: int = 0) -> TemporalAutoencoder:
    """A new TAE with ``latent_channels`` latent channels whose trained channels encode and decode exactly as
    ``tae``'s do (the new ones are appended after them).

    [inferred, beyond the paper; SPEC 1.1 reports that more channels help both reconstruction and generation] A
    latent-channel run can then start from the trained autoencoder instead of from scratch:

    * ``encoder.conv_out``'s new mean rows get the wider model's own initialisation (fresh features of the encoder's
      last layer); its new log-variance rows start at zero;
    * ``quant_conv`` keeps the trained moments' mixing; a new mean channel passes its own encoder row through, and a
      new log-variance channel starts as a copy of trained channel ``j mod C``'s log-variance (plus its own, zero,
      encoder row), so the new channels start with a posterior as narrow as the trained ones' instead of N(0, 1)
      noise that would drown their signal;
    * ``post_quant_conv`` passes the new channels through, and the trained channels, like ``decoder.conv_in``, read
      nothing from them (zero columns). Those zero columns still get gradients, so training grows the new channels.

    Every other tensor is copied. The latent space changes once the encoder trains: a text-to-video model on the
    old latents does not fit the new ones.

    Args:
        tae: the trained TAE (left unchanged).
        latent_channels: the new count, at least ``tae.cfg.latent_channels``.
        seed: seeds the new channels' initialisation.

    Raises:
        ValueError: ``latent_channels`` is below the TAE's.
    """
    old_cfg, new_c = tae.cfg, latent_channels
    old_c = old_cfg.latent_channels
    if new_c < old_c:
        raise ValueError(f"latent_channels must be >= the TAE's latent_channels ({old_c}), got {new_c}")
    wide = _fresh_like(tae, seed=seed, latent_channels=new_c)
    old_state, new_state = tae.state_dict(), wide.state_dict()  # views of wide's tensors: written in place
    # Where each trained channel goes: moments are [mean | log-variance], C channels each.
    latent_ix = torch.arange(old_c)
    moment_ix = torch.cat([latent_ix, new_c + latent_ix])
    new_mean = torch.arange(old_c, new_c)
    new_logvar = new_c + new_mean
    resized = {name for name, new in new_state.items() if old_state[name].shape != new.shape}
    if resized - _LATENT_SHAPED:  # a new latent-shaped layer must be mapped here, not left at its fresh init
        raise NotImplementedError(f"widen_latent does not map {sorted(resized - _LATENT_SHAPED)}")
    with torch.no_grad():
        for name, new in new_state.items():
            if name not in resized:
                new.copy_(old_state[name])
        # Encoder output rows (a new row's temporal conv is the fresh identity, which reads only its own row).
        conv_out = "encoder.conv_out.spatial"
        new_state[f"{conv_out}.weight"][moment_ix] = old_state[f"{conv_out}.weight"]
        new_state[f"{conv_out}.bias"][moment_ix] = old_state[f"{conv_out}.bias"]
        new_state[f"{conv_out}.weight"][new_logvar] = 0
        new_state[f"{conv_out}.bias"][new_logvar] = 0
        temporal = new_state["encoder.conv_out.temporal.weight"]
        temporal[moment_ix[:, None], moment_ix] = old_state["encoder.conv_out.temporal.weight"]
        new_state["encoder.conv_out.temporal.bias"][moment_ix] = old_state["encoder.conv_out.temporal.bias"]
        # The pointwise projections: trained block copied, new channels passed through, nothing across ...
        for name, ix in (("quant_conv.spatial", moment_ix), ("post_quant_conv.spatial", latent_ix)):
            weight, bias = new_state[f"{name}.weight"], new_state[f"{name}.bias"]
            weight.zero_()
            bias.zero_()
            weight[:, :, 0, 0].fill_diagonal_(1.0)
            weight[ix[:, None], ix] = old_state[f"{name}.weight"]
            bias[ix] = old_state[f"{name}.bias"]
        # ... but a new log-variance starts as trained channel j mod C's.
        copied = old_c + new_mean % old_c
        quant_w, quant_b = new_state["quant_conv.spatial.weight"], new_state["quant_conv.spatial.bias"]
        quant_w[new_logvar[:, None], moment_ix] = old_state["quant_conv.spatial.weight"][copied]
        quant_b[new_logvar] = old_state["quant_conv.spatial.bias"][copied]
        conv_in = new_state["decoder.conv_in.spatial.weight"]
        conv_in[:, latent_ix] = old_state["decoder.conv_in.spatial.weight"]
        conv_in[:, old_c:] = 0
    return wide


def layers_per_block_of(state: dict[str, torch.Tensor]) -> int:
    """The ``layers_per_block`` TAE weights were trained with (the ResNets of their encoder's first level).

    Raises:
        ValueError: the weights hold no encoder ResNet.
    """
    prefix = "encoder.down_blocks.0.resnets."
    count = len({key[len(prefix):].split(".")[0] for key in state if key.startswith(prefix)})
    if not count:
        raise ValueError(f"TAE weights hold no {prefix!r}: not a TAE state dict")
    return count


def deepen(tae: TemporalAutoencoder, layers_per_block: int, *, seed: int = 0) -> TemporalAutoencoder:
    """A new TAE with ``layers_per_block`` ResNets per encoder level (one more per decoder level) that encodes and
    decodes exactly as ``tae`` does.

    [inferred, beyond the paper; the paper-scale preset has 2 ResNets per level (SD-VAE style), the tiny one 1] The
    new ResNets are appended to each level, after the trained ones and before its resampler. They keep the same
    width, so their shortcut is the identity, and their last convolution's spatial part (``conv2.spatial``; its
    temporal part is the fresh identity) starts at zero: each is the identity function (the zero-initialised
    residual branch of Goyal et al. 2017 and DiT's adaLN-zero). ``conv2`` gets gradients at once (its input is not
    zero), and the rest of the branch once ``conv2`` has grown. Every other tensor is copied.

    Args:
        tae: the trained TAE (left unchanged).
        layers_per_block: the new count, at least ``tae.cfg.layers_per_block``.
        seed: seeds the new ResNets' initialisation.

    Raises:
        ValueError: ``layers_per_block`` is below the TAE's.
    """
    trained = tae.cfg.layers_per_block
    if layers_per_block < trained:
        raise ValueError(f"layers_per_block must be >= the TAE's layers_per_block ({trained}), got {layers_per_block}")
    deep = _fresh_like(tae, seed=seed, layers_per_block=layers_per_block)
    old_state = tae.state_dict()
    with torch.no_grad():
        for name, new in deep.state_dict().items():  # views of deep's tensors: written in place
            if name in old_state:
                new.copy_(old_state[name])
            elif ".conv2.spatial." in name:  # the temporal conv stays the fresh identity (zero bias), which
                new.zero_()  # passes the spatial conv's gradients through: zeroing both would freeze the branch
            elif ".resnets." not in name:
                raise NotImplementedError(f"deepen does not map {name!r}")  # a new non-ResNet tensor: map it here
    return deep


def load_tae_widening(cfg: TAEConfig, state: dict[str, torch.Tensor], *, seed: int = 0) -> TemporalAutoencoder:
    """A TAE of ``cfg`` from weights whose decoder may be narrower (:func:`widen_decoder` fills the difference) and
    whose latent may have fewer channels (:func:`widen_latent`) or whose levels fewer ResNets (:func:`deepen`).

    Raises:
        ValueError: the weights' decoder is wider than ``cfg``'s, their latent has more channels, or their levels
            more ResNets.
    """
    trained = decoder_width_multiplier_of(state, cfg)
    if trained > cfg.decoder_width_multiplier:
        raise ValueError(
            f"TAE weights have a decoder {trained}x wide, the config {cfg.decoder_width_multiplier}x: a decoder can "
            f"be widened, not narrowed"
        )
    trained_c = latent_channels_of(state)
    if trained_c > cfg.latent_channels:
        raise ValueError(
            f"TAE weights have {trained_c} latent channels, the config {cfg.latent_channels}: a latent can be "
            f"widened, not narrowed"
        )
    trained_depth = layers_per_block_of(state)
    if trained_depth > cfg.layers_per_block:
        raise ValueError(
            f"TAE weights have {trained_depth} ResNets per level, the config {cfg.layers_per_block}: a TAE can be "
            f"deepened, not made shallower"
        )
    tae = TemporalAutoencoder(
        replace(cfg, decoder_width_multiplier=trained, latent_channels=trained_c, layers_per_block=trained_depth)
    )
    tae.load_state_dict(state)
    if trained_depth < cfg.layers_per_block:
        tae = deepen(tae, cfg.layers_per_block, seed=seed)
    if trained_c < cfg.latent_channels:
        tae = widen_latent(tae, cfg.latent_channels, seed=seed)
    if trained < cfg.decoder_width_multiplier:
        tae = widen_decoder(tae, cfg.decoder_width_multiplier, seed=seed)
    return tae

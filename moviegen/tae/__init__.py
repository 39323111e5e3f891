"""Temporal AutoEncoder (SPEC 1): config and presets, the 2.5D VAE, losses, temporal tiling and inflation."""

from moviegen.tae.config import TAEConfig, TemporalUpsample, tae_16ch, tae_32ch, tae_debug, tae_tiny
from moviegen.tae.inflate import inflate_autoencoder_kl, inflate_from_diffusers_dir, load_image_autoencoder
from moviegen.tae.loss import ReconstructionLoss, TAELoss, TAELossConfig, TAELossTerms
from moviegen.tae.model import TAEEncoderOutput, TAEOutput, TemporalAutoencoder
from moviegen.tae.tiling import decode_tiled, encode_tiled

__all__ = [
    "ReconstructionLoss",
    "TAEConfig",
    "TAEEncoderOutput",
    "TAELoss",
    "TAELossConfig",
    "TAELossTerms",
    "TAEOutput",
    "TemporalAutoencoder",
    "TemporalUpsample",
    "decode_tiled",
    "encode_tiled",
    "inflate_autoencoder_kl",
    "inflate_from_diffusers_dir",
    "load_image_autoencoder",
    "tae_16ch",
    "tae_32ch",
    "tae_debug",
    "tae_tiny",
]

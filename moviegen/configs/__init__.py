"""Typed presets for every model of the cast and the latent/token geometry they imply."""

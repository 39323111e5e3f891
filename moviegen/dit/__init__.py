"""Movie Gen Video's transformer backbone (SPEC section 2): a plain nn.Module; parallelism is applied from outside."""

from moviegen.dit.config import DiTConfig, dit_1b, dit_5b, dit_30b, dit_debug, dit_tiny
from moviegen.dit.model import DiT, TransformerBlock

__all__ = ["DiT", "DiTConfig", "TransformerBlock", "dit_1b", "dit_5b", "dit_30b", "dit_debug", "dit_tiny"]

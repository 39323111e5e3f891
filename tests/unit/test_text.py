"""Unit tests of the text stack that need no transformers import: configs, prompts, byte encoder, projections, stack.

The loaders of real encoders (T5 / CLIP / MiniLM) and the meta-device presets are in tests/parity/test_text_loaders.py.
"""

import dataclasses

import pytest
import torch

from moviegen.text import (
    ByteEncoderConfig,
    ByteTextEncoder,
    CameraMotion,
    EncodedText,
    EncoderKind,
    RoleEncodings,
    TextConditioner,
    TextEncoderSpec,
    TextPadding,
    TextRole,
    TextStack,
    TextStackConfig,
    extract_quoted_text,
    format_prompt,
    load_byte_encoder,
    parse_camera_motion,
    save_byte_encoder,
    text_debug,
    text_paper,
    text_tiny,
    visual_text,
)

SMALL = ByteEncoderConfig(dim=16, num_layers=2, num_heads=2, ffn_dim=32, max_length=12)


def _byte_spec(role: TextRole, *, dim: int = 16, max_length: int = 12, name: str | None = None) -> TextEncoderSpec:
    byte = ByteEncoderConfig(dim=dim, num_layers=1, num_heads=2, ffn_dim=2 * dim, max_length=max_length)
    return TextEncoderSpec(
        role=role, kind=EncoderKind.BYTE, name=name or role.value, output_dim=dim, max_length=max_length, byte=byte
    )


def _byte_encoder(cfg: ByteEncoderConfig = SMALL, seed: int = 0, **kwargs) -> ByteTextEncoder:
    torch.manual_seed(seed)
    encoder = ByteTextEncoder(cfg, **kwargs)
    encoder.init_weights()
    return encoder


# ----------------------------------------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------------------------------------


def test_presets_widths_and_roles():
    paper = text_paper()
    assert paper.roles == (TextRole.PROMPT, TextRole.VISUAL, TextRole.CHARACTER)
    assert [(s.kind, s.output_dim, s.max_length) for s in paper.encoders] == [
        (EncoderKind.T5_ENCODER, 4096, 512),
        (EncoderKind.CLIP_TEXT, 1280, 256),
        (EncoderKind.T5_ENCODER, 1472, 256),
    ]
    tiny = text_tiny()
    assert tiny.roles == (TextRole.PROMPT, TextRole.CHARACTER)
    assert (tiny.spec(TextRole.PROMPT).kind, tiny.spec(TextRole.PROMPT).output_dim) == (EncoderKind.MINILM, 384)
    assert tiny.spec(TextRole.CHARACTER).kind is EncoderKind.BYTE
    assert all(s.kind is EncoderKind.BYTE for s in text_debug().encoders)
    assert paper.max_total_length == 512 + 256 + 256
    with pytest.raises(KeyError, match="visual"):
        tiny.spec(TextRole.VISUAL)


def test_config_canonical_role_order():
    specs = (_byte_spec(TextRole.CHARACTER), _byte_spec(TextRole.PROMPT), _byte_spec(TextRole.VISUAL))
    cfg = TextStackConfig(encoders=specs)
    assert cfg.roles == (TextRole.PROMPT, TextRole.VISUAL, TextRole.CHARACTER)
    assert cfg == TextStackConfig(encoders=tuple(reversed(specs)))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: TextStackConfig(encoders=(_byte_spec(TextRole.VISUAL),)), "prompt"),
        (
            lambda: TextStackConfig(encoders=(_byte_spec(TextRole.PROMPT), _byte_spec(TextRole.PROMPT, name="x"))),
            "once",
        ),
        (lambda: TextStackConfig(encoders=[_byte_spec(TextRole.PROMPT)]), "tuple"),
        (lambda: TextStackConfig(encoders=(_byte_spec(TextRole.PROMPT),), padding="longest"), "padding"),
        (
            lambda: TextEncoderSpec(role=TextRole.PROMPT, kind=EncoderKind.BYTE, name="b", output_dim=8, max_length=8),
            "ByteEncoderConfig",
        ),
        (lambda: dataclasses.replace(_byte_spec(TextRole.PROMPT), output_dim=99), "99"),
        (lambda: dataclasses.replace(_byte_spec(TextRole.PROMPT), name="../ul2"), "../ul2"),
        (
            lambda: TextEncoderSpec(
                role=TextRole.PROMPT, kind=EncoderKind.MINILM, name="m", output_dim=384, max_length=600
            ),
            "600",
        ),
        (
            lambda: TextEncoderSpec(role="prompt", kind=EncoderKind.MINILM, name="m", output_dim=384, max_length=64),
            "'prompt'",
        ),
        (lambda: ByteEncoderConfig(dim=10, num_layers=1, num_heads=3, ffn_dim=8, max_length=8), "dim=10, num_heads=3"),
        (lambda: ByteEncoderConfig(dim=8, num_layers=1, num_heads=2, ffn_dim=8, max_length=1), "got 1"),
    ],
)
def test_config_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ----------------------------------------------------------------------------------------------------------------------
# Prompt prefixes and quoted text
# ----------------------------------------------------------------------------------------------------------------------


def test_format_prompt_prefixes():
    caption = "a red circle bounces on a gray floor"
    assert format_prompt(caption) == caption
    assert format_prompt(caption, fps=16) == f"FPS-16 {caption}"
    assert format_prompt(caption, camera_motion=CameraMotion.PAN_LEFT) == f"pan left. {caption}"
    assert format_prompt(caption, fps=24, camera_motion="zoom out") == f"FPS-24 zoom out. {caption}"
    assert format_prompt("", fps=16) == "FPS-16"


def test_camera_motion_parsing():
    assert [m.value for m in CameraMotion] == ["static", "pan left", "pan right", "zoom in", "zoom out"]
    assert parse_camera_motion(None) is None
    for spelling in ("pan left", "PAN_LEFT", "pan-left", " Pan  Left "):
        assert parse_camera_motion(spelling) is CameraMotion.PAN_LEFT
    with pytest.raises(ValueError, match=r"'dolly zoom'.*static.*zoom out"):
        parse_camera_motion("dolly zoom")
    with pytest.raises(ValueError, match="3"):
        parse_camera_motion(3)


@pytest.mark.parametrize("fps", [0, 121, -16, 16.0, True, "16"])
def test_format_prompt_rejects_bad_fps(fps):
    with pytest.raises(ValueError, match=rf"\[1, 120\], got {fps!r}"):
        format_prompt("x", fps=fps)


def test_format_prompt_rejects_non_string():
    with pytest.raises(ValueError, match="int 5"):
        format_prompt(5)


@pytest.mark.parametrize(
    ("prompt", "spans"),
    [
        ('a blue star and the word "GO" on a navy background', ("GO",)),
        ("the word \u201cSTOP\u201d appears", ("STOP",)),
        ("the word \u2018HI\u2019 appears", ("HI",)),
        ("the word 'YES' on a sign", ("YES",)),
        ("the cat's toy and the dogs' bowl", ()),
        ("the cat's sign reads 'OK'", ("OK",)),
        ('"GO" then "STOP" then "WIN"', ("GO", "STOP", "WIN")),
        ("a red circle bounces", ()),
        ('an empty sign ""', ("",)),
        ('an unmatched "quote', ()),
        ('"GO 2" and \u201cB\u201d', ("GO 2", "B")),
    ],
)
def test_extract_quoted_text(prompt, spans):
    assert extract_quoted_text(prompt) == spans


def test_visual_text_joins_non_empty_spans():
    assert visual_text('"GO" and "" and "STOP"') == "GO STOP"
    assert visual_text('a sign ""') == ""
    assert visual_text("no quotes") == ""


# ----------------------------------------------------------------------------------------------------------------------
# Byte encoder
# ----------------------------------------------------------------------------------------------------------------------


def test_byte_tokenize_matches_byt5_layout():
    encoder = _byte_encoder()
    ids = encoder.tokenize(["GO", "", "\u00e9"])
    # ByT5: byte + 3, eos = 1, pad = 0 ("\u00e9" is the two UTF-8 bytes 0xC3 0xA9).
    assert ids.input_ids_BS.tolist() == [[ord("G") + 3, ord("O") + 3, 1], [1, 0, 0], [0xC3 + 3, 0xA9 + 3, 1]]
    assert ids.mask_BS.tolist() == [[True, True, True], [True, False, False], [True, True, True]]
    long = encoder.tokenize(["x" * 50]).input_ids_BS
    assert long.shape == (1, SMALL.max_length) and long[0, -1].item() == 1  # truncated, eos kept
    padded = _byte_encoder(padding=TextPadding.MAX_LENGTH).tokenize(["GO"])
    assert padded.input_ids_BS.shape == (1, SMALL.max_length) and padded.mask_BS.sum().item() == 3


def test_byte_encoder_shapes_and_padding_is_ignored():
    encoder = _byte_encoder().eval()
    out = encoder.encode(["GO", "a longer text"])
    assert out.hidden_BSE.shape == (2, 12, SMALL.dim) and out.hidden_BSE.dtype == torch.float32
    ids = encoder.tokenize(["GO", "a longer text"])
    changed = ids.input_ids_BS.clone()
    changed[~ids.mask_BS] = 77  # overwrite every padded byte
    ref = encoder(ids.input_ids_BS, mask_BS=ids.mask_BS)
    alt = encoder(changed, mask_BS=ids.mask_BS)
    torch.testing.assert_close(ref[ids.mask_BS], alt[ids.mask_BS])
    # Padding a row further (batching with a longer text) must not change it either.
    alone = encoder.encode(["GO"]).hidden_BSE
    torch.testing.assert_close(alone[0], out.hidden_BSE[0, :3])
    # ...while changing a real byte does change the outputs.
    assert not torch.allclose(encoder.encode(["GP"]).hidden_BSE, alone)


def test_byte_encoder_gradients_flow_to_every_parameter():
    encoder = _byte_encoder()
    out = encoder.encode(["GO", "STOP"])
    (out.hidden_BSE * out.mask_BS[..., None]).square().sum().backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_byte_encoder_meta_init_and_length_check():
    with torch.device("meta"):
        encoder = ByteTextEncoder(SMALL)
    assert all(p.is_meta for p in encoder.parameters())
    encoder = encoder.to_empty(device="cpu")
    reference = ByteTextEncoder(SMALL)
    for module in (encoder, reference):
        torch.manual_seed(0)
        module.init_weights()
    torch.testing.assert_close(encoder.state_dict(), reference.state_dict())
    with pytest.raises(ValueError, match="13 exceeds"):
        encoder(torch.zeros(1, 13, dtype=torch.long), mask_BS=torch.ones(1, 13, dtype=torch.bool))


def test_byte_encoder_save_load_roundtrip(tmp_path):
    encoder = _byte_encoder().eval()
    save_byte_encoder(encoder, path=tmp_path / "byte")
    loaded = load_byte_encoder(tmp_path / "byte").eval()
    assert loaded.cfg == SMALL
    torch.testing.assert_close(loaded.encode(["GO"]).hidden_BSE, encoder.encode(["GO"]).hidden_BSE)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        load_byte_encoder(tmp_path / "nowhere")
    (tmp_path / "byte" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing: weights"):
        load_byte_encoder(tmp_path / "byte")


# ----------------------------------------------------------------------------------------------------------------------
# Projection and concatenation
# ----------------------------------------------------------------------------------------------------------------------


def _three_role_cfg() -> TextStackConfig:
    return TextStackConfig(
        encoders=(
            _byte_spec(TextRole.PROMPT, dim=8),
            _byte_spec(TextRole.VISUAL, dim=6),
            _byte_spec(TextRole.CHARACTER, dim=4),
        )
    )


def _encoded(batch: int, length: int, dim: int, lengths: list[int]) -> EncodedText:
    mask = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    return EncodedText(hidden_BSE=torch.randn(batch, length, dim), mask_BS=mask)


def test_conditioner_concatenates_roles_in_order_with_masks():
    torch.manual_seed(0)
    cfg = _three_role_cfg()
    conditioner = TextConditioner(cfg, dim=10)
    conditioner.init_weights()
    enc = RoleEncodings(
        character=_encoded(2, 2, 4, [0, 2]),  # keyword order does not matter; concatenation order is by role
        prompt=_encoded(2, 5, 8, [5, 3]),
        visual=_encoded(2, 3, 6, [1, 3]),
    )
    out = conditioner(enc)
    assert out.tokens_BSD.shape == (2, 10, 10) and out.mask_BS.shape == (2, 10)
    assert [(s.role, s.start, s.length) for s in out.segments] == [
        (TextRole.PROMPT, 0, 5),
        (TextRole.VISUAL, 5, 3),
        (TextRole.CHARACTER, 8, 2),
    ]
    expected_mask = torch.cat([enc.prompt.mask_BS, enc.visual.mask_BS, enc.character.mask_BS], dim=1)
    assert torch.equal(out.mask_BS, expected_mask)
    for role, encoded in enc.items():
        seg = out.segment(role)
        projection = conditioner.projections[role.value]
        ref = torch.nn.functional.layer_norm(encoded.hidden_BSE @ projection.proj.weight.T, (10,))
        got = out.tokens_BSD[:, seg.start : seg.start + seg.length]
        torch.testing.assert_close(got[encoded.mask_BS], ref[encoded.mask_BS])
    assert out.tokens_BSD[~out.mask_BS].abs().sum() == 0  # padding zeroed
    assert out.mask_BS.any(dim=1).all()


def test_conditioner_state_dict_keys_and_dtype():
    conditioner = TextConditioner(_three_role_cfg(), dim=10)
    assert sorted(conditioner.state_dict()) == sorted(
        f"projections.{role}.{param}"
        for role in ("prompt", "visual", "character")
        for param in ("proj.weight", "norm.weight", "norm.bias")
    )
    enc = RoleEncodings(
        prompt=EncodedText(
            hidden_BSE=torch.randn(1, 2, 8, dtype=torch.bfloat16), mask_BS=torch.ones(1, 2, dtype=torch.bool)
        ),
        visual=_encoded(1, 1, 6, [1]),
        character=_encoded(1, 1, 4, [1]),
    )
    assert conditioner(enc).tokens_BSD.dtype == torch.float32


def test_conditioner_rejects_wrong_roles_and_widths():
    conditioner = TextConditioner(_three_role_cfg(), dim=10)
    with pytest.raises(ValueError, match=r"expects roles \['prompt', 'visual', 'character'\], got \['prompt'\]"):
        conditioner(RoleEncodings(prompt=_encoded(1, 2, 8, [2])))
    wrong = RoleEncodings(
        prompt=_encoded(1, 2, 7, [2]), visual=_encoded(1, 1, 6, [1]), character=_encoded(1, 1, 4, [1])
    )
    with pytest.raises(ValueError, match="E=8, got 7"):
        conditioner(wrong)
    with pytest.raises(ValueError, match="batch size"):
        RoleEncodings(prompt=_encoded(1, 2, 8, [2]), visual=_encoded(2, 1, 6, [1, 1]))


# ----------------------------------------------------------------------------------------------------------------------
# The stack
# ----------------------------------------------------------------------------------------------------------------------


class _SpyEncoder(torch.nn.Module):
    """Records the texts it is given; hidden = first byte of each text as a feature (deterministic)."""

    def __init__(self, *, output_dim: int, max_length: int) -> None:
        super().__init__()
        self.output_dim, self.max_length, self.calls = output_dim, max_length, []

    def encode(self, texts: list[str]) -> EncodedText:
        self.calls.append(list(texts))
        mask = torch.zeros(len(texts), 2, dtype=torch.bool)
        mask[:, 0] = True  # like an eos token, present even for ""
        return EncodedText(hidden_BSE=torch.randn(len(texts), 2, self.output_dim), mask_BS=mask)


def _spy_stack() -> TextStack:
    cfg = _three_role_cfg()
    encoders = {spec.role: _SpyEncoder(output_dim=spec.output_dim, max_length=spec.max_length) for spec in cfg.encoders}
    return TextStack(cfg, encoders=encoders, conditioner=TextConditioner(cfg, dim=10))


def test_stack_routes_prefixed_prompts_and_quoted_text():
    stack = _spy_stack()
    prompts = ['a yellow square and the word "GO"', "a red circle bounces"]
    out = stack.encode(prompts, fps=[16, 24], camera_motion=CameraMotion.ZOOM_IN)
    expected = ['FPS-16 zoom in. a yellow square and the word "GO"', "FPS-24 zoom in. a red circle bounces"]
    assert stack.encoder(TextRole.PROMPT).calls == [expected]
    assert stack.encoder(TextRole.VISUAL).calls == [expected]
    assert stack.encoder(TextRole.CHARACTER).calls == [["GO", ""]]
    char = out.segment(TextRole.CHARACTER)
    # Row 1 has no quoted text: its whole character segment is masked, its other segments are not.
    assert out.mask_BS[0, char.start].item() and not out.mask_BS[1, char.start :].any()
    assert out.mask_BS[1, : char.start].any()


def test_stack_debug_end_to_end_gradients_and_masks():
    torch.manual_seed(0)
    stack = TextStack.from_config(text_debug(), dim=24)
    prompts = ["a red circle", 'the word "GO" on a navy background', ""]
    out = stack.encode(prompts, fps=16, camera_motion="static")
    lengths = {s.role: s.length for s in out.segments}
    assert lengths[TextRole.PROMPT] == len("FPS-16 static. the word \"GO\" on a navy background") + 1
    assert lengths[TextRole.CHARACTER] == 3  # "GO" + eos
    assert out.tokens_BSD.shape == (3, sum(lengths.values()), 24)
    assert out.mask_BS.any(dim=1).all()
    assert not out.mask_BS[0, out.segment(TextRole.CHARACTER).start :].any()
    out.tokens_BSD[out.mask_BS].square().sum().backward()
    trained = [n for n, p in stack.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert any(n.startswith("conditioner.projections.character") for n in trained)
    assert any(n.startswith("encoders.character.layers") for n in trained)  # the byte encoder is trainable


def test_stack_padding_max_length_gives_static_shapes():
    cfg = dataclasses.replace(text_debug(), padding=TextPadding.MAX_LENGTH)
    stack = TextStack.from_config(cfg, dim=8)
    out = stack.encode(["a", "bb"])
    assert out.tokens_BSD.shape[1] == cfg.max_total_length


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(prompts=[]), r"non-empty list of str, got \[\]"),
        (dict(prompts="a red circle"), "got 'a red circle'"),
        (dict(prompts=["ok", 7]), r"prompts\[1\] must be a str, got int 7"),
        (dict(prompts=["ok"], fps=0), r"\[1, 120\], got 0"),
        (dict(prompts=["ok"], fps=[16, 24]), "2 values for 1 prompts"),
        (dict(prompts=["ok"], camera_motion="tilt up"), r"'tilt up'.*pan left"),
    ],
)
def test_stack_validates_inputs(kwargs, match):
    stack = _spy_stack()
    with pytest.raises(ValueError, match=match):
        stack.encode(**kwargs)


def test_stack_rejects_inconsistent_encoders():
    cfg = _three_role_cfg()
    conditioner = TextConditioner(cfg, dim=10)
    encoders = {spec.role: _SpyEncoder(output_dim=spec.output_dim, max_length=spec.max_length) for spec in cfg.encoders}
    with pytest.raises(ValueError, match="one encoder per role"):
        TextStack(cfg, encoders={TextRole.PROMPT: encoders[TextRole.PROMPT]}, conditioner=conditioner)
    encoders[TextRole.VISUAL] = _SpyEncoder(output_dim=5, max_length=12)
    with pytest.raises(ValueError, match="'visual' has output_dim/max_length 5/12, config says 6/12"):
        TextStack(cfg, encoders=encoders, conditioner=conditioner)
    with pytest.raises(ValueError, match="needs pretrained weights: pass text_dir"):
        TextStack.from_config(text_paper(), dim=8)

"""Loaders of real text encoders against transformers, the shipped MiniLM, and the meta-device presets (SPEC 4.1).

Tiny random T5 / CLIP checkpoints (with offline-built tokenizers) are saved to a temporary directory with
``save_pretrained`` (safetensors) and read back through our loaders. Nothing is downloaded.
"""

import json
import os
import shutil
import time

# Before transformers / huggingface_hub are imported (they read these at import time).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch

from moviegen.text import (
    EncoderKind,
    TextRole,
    TextStack,
    load_clip_text_encoder,
    load_minilm_encoder,
    load_t5_encoder,
    text_encoder_presets,
    text_tiny,
)
from moviegen.text.byte_encoder import ByteTextEncoder
from moviegen.text.config import byte_encoder_tiny
from moviegen.text.encoders import HFTextEncoder

WORDS = "a red green blue circle square star bounces on the gray floor word go fps-16 pan left . zoom in".split()
TEXTS = ["a red circle bounces on the gray floor", "FPS-16 pan left . the word go"]


def _word_tokenizer():
    """A tiny word-level T5-style tokenizer (pad 0, eos 1, unk 2; eos appended), built offline."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _write_clip_tokenizer(path):
    """A tiny CLIP BPE vocabulary (single characters plus a few merges) in the files CLIPTokenizer reads."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    chars = "abcdefghijklmnopqrstuvwxyz0123456789-."
    for suffix in ("", "</w>"):
        for c in chars:
            vocab[c + suffix] = len(vocab)
    merges = [("r", "e"), ("re", "d</w>"), ("g", "o</w>")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    (path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer"}))
    return len(vocab)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Tiny random checkpoints: t5/ (encoder-decoder, word tokenizer), byt5/, clip/ (256 positions), clip77/."""
    from transformers import (
        ByT5Tokenizer,
        CLIPTextConfig,
        CLIPTextModel,
        T5Config,
        T5EncoderModel,
        T5ForConditionalGeneration,
    )

    root = tmp_path_factory.mktemp("text_ckpts")
    torch.manual_seed(0)
    t5_cfg = dict(d_model=16, d_ff=32, d_kv=8, num_heads=2, num_layers=2, decoder_start_token_id=0)
    tok = _word_tokenizer()
    # Published UL2/ByT5 checkpoints are encoder-decoder models; the loader must read the encoder part.
    T5ForConditionalGeneration(T5Config(vocab_size=len(tok), feed_forward_proj="gated-silu", **t5_cfg)).save_pretrained(
        root / "t5"
    )
    tok.save_pretrained(root / "t5")
    T5EncoderModel(T5Config(vocab_size=384, feed_forward_proj="gated-gelu", **t5_cfg)).save_pretrained(root / "byt5")
    ByT5Tokenizer().save_pretrained(root / "byt5")
    vocab_size = _write_clip_tokenizer(root / "clip")
    for name, positions in (("clip", 256), ("clip77", 77)):
        cfg = CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=positions,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
        CLIPTextModel(cfg).save_pretrained(root / name)
    for f in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copy(root / "clip" / f, root / "clip77" / f)
    return root


def _reference_hidden(model_cls, path, encoder: HFTextEncoder, texts):
    """Hidden states of the checkpoint run directly through transformers with the wrapper's tokenization."""
    model = model_cls.from_pretrained(path, local_files_only=True).eval()
    batch = encoder.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state, batch


def test_t5_loader_reproduces_hidden_states(ckpts):
    from transformers import T5EncoderModel

    encoder = load_t5_encoder(ckpts / "t5", max_length=32)
    out = encoder.encode(TEXTS)
    ref, batch = _reference_hidden(T5EncoderModel, ckpts / "t5", encoder, TEXTS)
    assert encoder.output_dim == 16 and encoder.kind is EncoderKind.T5_ENCODER
    assert out.hidden_BSE.shape == (2, 9, 16) and out.mask_BS.dtype == torch.bool
    assert batch["input_ids"][0, -1].item() == 1 and (batch["input_ids"] != 2).all()  # eos appended, no unknown words
    assert torch.equal(out.mask_BS, batch["attention_mask"].bool())
    torch.testing.assert_close(out.hidden_BSE, ref)
    assert encoder.encode(["a red circle"]).hidden_BSE.shape == (1, 4, 16)  # pads to the longest row only


def test_byt5_loader_and_byte_ids_match(ckpts):
    from transformers import T5EncoderModel

    encoder = load_t5_encoder(ckpts / "byt5", max_length=8)
    texts = ["GO", "STOP NOW PLEASE"]
    out = encoder.encode(texts)
    assert out.hidden_BSE.shape == (2, 8, 16)  # truncated to max_length
    assert out.mask_BS.sum(dim=1).tolist() == [3, 8]
    ref, _ = _reference_hidden(T5EncoderModel, ckpts / "byt5", encoder, ["GO"])
    torch.testing.assert_close(out.hidden_BSE[0, :3], ref[0])
    # Our byte encoder tokenizes exactly as ByT5Tokenizer.
    ours = ByteTextEncoder(byte_encoder_tiny()).tokenize(texts)
    theirs = encoder.tokenizer(texts, padding=True, return_tensors="pt")
    assert torch.equal(ours.input_ids_BS, theirs["input_ids"])


def test_clip_loader_reproduces_hidden_states_and_checks_positions(ckpts):
    from transformers import CLIPTextModel

    encoder = load_clip_text_encoder(ckpts / "clip")
    assert encoder.max_length == 256 and encoder.output_dim == 16 and encoder.kind is EncoderKind.CLIP_TEXT
    out = encoder.encode(["a red go", "fps-16 pan left."])
    ref, batch = _reference_hidden(CLIPTextModel, ckpts / "clip", encoder, ["a red go", "fps-16 pan left."])
    merged = encoder.tokenizer.convert_tokens_to_ids(["<|startoftext|>", "a</w>", "red</w>", "go</w>", "<|endoftext|>"])
    assert batch["input_ids"][0, :5].tolist() == merged  # the BPE merges were applied; then padding
    torch.testing.assert_close(out.hidden_BSE, ref)
    assert torch.equal(out.mask_BS, batch["attention_mask"].bool())
    long = encoder.encode(["a " * 300])
    assert long.hidden_BSE.shape == (1, 256, 16)  # the long-prompt context, truncated at 256
    with pytest.raises(ValueError, match=r"77 positions but max_length=256"):
        load_clip_text_encoder(ckpts / "clip77")


def test_frozen_encoder_has_no_grad_and_stays_in_eval(ckpts):
    encoder = load_t5_encoder(ckpts / "t5", max_length=16)
    encoder.train()
    assert not encoder.training and not encoder.model.training
    assert not any(p.requires_grad for p in encoder.parameters())
    assert not encoder.encode(TEXTS).hidden_BSE.requires_grad


def test_loader_errors_name_path_and_expectation(ckpts, tmp_path):
    missing = tmp_path / "ul2"
    with pytest.raises(FileNotFoundError) as err:
        load_t5_encoder(missing, max_length=8)
    assert str(missing) in str(err.value) and "T5EncoderModel" in str(err.value) and "config.json" in str(err.value)

    no_config = tmp_path / "no_config"
    shutil.copytree(ckpts / "t5", no_config)
    (no_config / "config.json").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_t5_encoder(no_config, max_length=8)
    assert str(no_config) in str(err.value) and "missing: config.json" in str(err.value)

    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(FileNotFoundError) as err:
        load_t5_encoder(bare, max_length=8)
    assert "weights (one of model.safetensors" in str(err.value) and "tokenizer files" in str(err.value)

    with pytest.raises(ValueError) as err:
        load_t5_encoder(ckpts / "clip", max_length=8)  # a CLIP directory where a T5 encoder is expected
    msg = str(err.value)
    assert str(ckpts / "clip") in msg and "T5EncoderModel" in msg and "'t5'" in msg and "clip_text_model" in msg

    with pytest.raises(ValueError) as err:
        load_clip_text_encoder(ckpts / "t5")
    assert "CLIPTextModel" in str(err.value) and "model_type 't5'" in str(err.value)

    broken = tmp_path / "broken"
    shutil.copytree(ckpts / "byt5", broken)
    cfg = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**cfg, "num_layers": 3}))  # weights for 2 layers only
    with pytest.raises(ValueError, match="does not hold complete T5EncoderModel weights"):
        load_t5_encoder(broken, max_length=8)


def test_minilm_loads_offline_quietly_and_paraphrases_are_closer(capsys):
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()
    encoder = load_minilm_encoder(max_length=32)
    assert "Loading weights" not in capsys.readouterr().err  # no bar in generate or training logs
    assert hf_logging.is_progress_bar_enabled()  # the caller's setting is restored
    assert encoder.output_dim == 384 and not any(p.requires_grad for p in encoder.parameters())
    texts = [
        "a red circle bounces on a gray floor",
        "a crimson ball is bouncing on a grey ground",
        "quarterly tax filings are due next month",
    ]
    out = encoder.encode(texts)
    assert out.hidden_BSE.shape[0] == 3 and out.hidden_BSE.shape[2] == 384
    assert out.mask_BS[:, 0].all() and not out.mask_BS.all()  # [CLS] always present; shorter rows padded
    mask = out.mask_BS[..., None].float()
    pooled = torch.nn.functional.normalize((out.hidden_BSE * mask).sum(1) / mask.sum(1), dim=-1)
    paraphrase, unrelated = (pooled[0] @ pooled[1]).item(), (pooled[0] @ pooled[2]).item()
    assert paraphrase > 0.5 and paraphrase > unrelated + 0.3, (paraphrase, unrelated)


def test_tiny_stack_end_to_end():
    torch.manual_seed(0)
    stack = TextStack.from_config(text_tiny(), dim=32)
    stack.train()
    out = stack.encode(['a green star and the word "GO"', "a red circle bounces"], fps=16, camera_motion="pan right")
    char = out.segment(TextRole.CHARACTER)
    assert out.tokens_BSD.shape[2] == 32 and char.length == 3
    assert out.mask_BS[0, char.start : char.start + 3].all() and not out.mask_BS[1, char.start :].any()
    out.tokens_BSD[out.mask_BS].sum().backward()
    with_grad = {n.split(".")[0] + "." + n.split(".")[1] for n, p in stack.named_parameters() if p.grad is not None}
    assert with_grad == {"conditioner.projections", "encoders.character"}  # MiniLM frozen, byte encoder trained
    assert not stack.encoder(TextRole.PROMPT).training and stack.encoder(TextRole.CHARACTER).training


# Parameter counts computed from the architectures (see moviegen/text/listing.py):
#   UL2-20B encoder: 32 x (4 * 4096 * 4096 + 3 * 4096 * 16384) + 65 RMSNorm(4096) + 32128 * 4096 + rel-pos 32 * 16
#   ByT5-small encoder: 12 x (4 * 1472 * 384 + 3 * 1472 * 3584) + 25 * 1472 + 384 * 1472 + 32 * 6
EXPECTED_PARAMS = {
    "ul2-20b-encoder": 32 * (4 * 4096 * 4096 + 3 * 4096 * 16384) + 65 * 4096 + 32128 * 4096 + 32 * 16,
    "byt5-small-encoder": 12 * (4 * 1472 * 384 + 3 * 1472 * 3584) + 25 * 1472 + 384 * 1472 + 32 * 6,
    "metaclip-long-text-bigg": 693_250_560,
    "minilm-l6": 22_713_216,
    "byte-encoder-tiny": 467_968,
}


def test_meta_presets_allocate_nothing_and_count_plausibly():
    from moviegen.configs.presets import PRESETS, ModelKind, count_parameters

    start = time.perf_counter()
    listed = {name: preset for name, preset in PRESETS.items() if preset.kind is ModelKind.TEXT}
    params = {name: count_parameters(preset.build) for name, preset in listed.items()}
    assert time.perf_counter() - start < 10.0  # an 8.7e9-parameter model in fp32 would take minutes and 35 GB
    assert set(listed) == set(text_encoder_presets()) == set(EXPECTED_PARAMS)
    for name, listing in text_encoder_presets().items():
        module = listing.build()
        assert all(t.is_meta for t in [*module.parameters(), *module.buffers()]), name
        assert params[name] == EXPECTED_PARAMS[name], name
    assert 8.5e9 < params["ul2-20b-encoder"] < 9.0e9  # the encoder half of the 20B model
    assert 0.2e9 < params["byt5-small-encoder"] < 0.23e9

"""Forward+backward throughput: our audio transformer vs diffusers' StableAudioDiTModel on CPU.

Both models are DiT-style transformers over one token per audio latent frame, with self-attention, cross-attention
to text and an FFN in every block. For each size they get:

* matched: the width D (= heads x head dim), the depth, the head count (StableAudio's
  ``num_key_value_attention_heads = num_attention_heads``, i.e. full multi-head cross-attention instead of its
  default GQA), the number of tokens (audio latent frames), the latent channels C (the output width of both), the
  batch, the text length S (a text padding mask, the same for both, enters both cross-attentions), the
  cross-attention KV width (StableAudio's ``cross_attention_dim = D``, ours reads text at width D), the time-feature
  width (256) and, as far as the FFN kinds allow, the FFN FLOPs: ours is DiT's GELU MLP of width F (two D x F
  matrices), StableAudio's is a SwiGLU (three D x F' matrices), so StableAudio gets ``F' = round(2 F / 3)``
  (``StableAudioDiTModel`` does not pass ``ff_inner_dim`` to its blocks and would use ``4 D``; the script rebuilds
  its blocks with ``ff_inner_dim = F'``; at ``tiny``, F = 1024 gives F' = 683: 0.05 % more FFN FLOPs for StableAudio).
* inputs, each model its own, at the same token count: ours takes the ``2 C + 1`` channels of the masked audio
  context (noisy latent, masked clean latent, mask; a random half of the frames known) plus per-frame video features
  (``video_dim`` wide, projected and added to the tokens), exactly as ``AudioTransformer.forward``; StableAudio takes
  the C-channel noisy latent, one global-conditioning vector (width D; Stable Audio Open's is 1536 = the two timing
  embeddings), the text at ``cross_attention_input_dim = D`` and its partial rotary embedding (over half of each
  head, on L + 1 positions, built once outside the timed step, as its pipeline does once per generation).
* not matched (each model's own design): our time conditioning is shared adaLN (one MLP, per-layer bias, scale/shift/
  gate on self-attention and FFN) over affine-free RMSNorm, StableAudio's is a prepended global token (time MLP +
  global-conditioning MLP, so it attends over L + 1 tokens) with affine LayerNorm; our positions are a learned table
  added before every block, StableAudio's are rotary on half of each head in self-attention; ours applies QK-RMSNorm
  in both attentions when the preset does (``audio_tiny`` does; ``--ours-qk-norm off`` removes it), StableAudio has
  none; ours turns the video features into per-token adaLN offsets in every block when the preset does
  (``audio_tiny``'s ``token_adaln``, a D x 6D head on every token; ``--ours-token-adaln off`` removes it);
  StableAudio runs its text through a 2-layer ``cross_attention_proj`` MLP (2 D^2) in every call (ours gets text
  already projected by our text stack) and has 1x1 pre/post-process convs around its in/out projections. Alike:
  no biases in the attention projections, biases in the FFN. The parameter counts differ accordingly (ours: the
  shared adaLN 6 D^2 + 2 D^2, the video projection and the token adaLN head 6 D^2; StableAudio: the text and global
  MLPs, 4 D^2).

Each step is forward, a mean-square loss and backward; fp32, or bf16 autocast with ``--dtype bf16`` (both alike).
The script times the two models alternately (``--rounds`` rounds of ``--repeats`` steps after warm-up), keeps each
model's best round median, and prints step times, tokens/s (batch x tokens / step time) and the ratio
StableAudio / ours: above 1 means ours is faster.

    python benchmarks/bench_audio_dit.py                     # sizes tiny and small in fp32
    python benchmarks/bench_audio_dit.py --sizes tiny --dtype bf16
    python benchmarks/bench_audio_dit.py --quick             # seconds, to check it runs
"""

import argparse
import contextlib
import shlex
import sys
from dataclasses import dataclass

import torch
from timing import median_time

from moviegen.audio.model import AudioContext, AudioTransformer
from moviegen.dit.config import DiTConfig, FFNKind


@dataclass(frozen=True)
class Size:
    dim: int
    layers: int
    heads: int
    ffn: int  # our GELU MLP width F; StableAudio's SwiGLU gets round(2 F / 3)
    channels: int  # latent channels C
    video_dim: int  # width of our per-frame video features
    tokens: int  # audio latent frames (25 Hz for tiny and small)
    text_len: int
    batch: int


SIZES = {
    # audio_debug()'s transformer widths (its 8-channel codec latent, 32-wide video features)
    "quick": Size(dim=64, layers=2, heads=4, ffn=256, channels=8, video_dim=32, tokens=32, text_len=16, batch=2),
    # audio_tiny(): the embedded default, one 2 s window at 25 Hz
    "tiny": Size(dim=256, layers=6, heads=4, ffn=1024, channels=32, video_dim=256, tokens=50, text_len=64, batch=16),
    # twice the width, 10 s at 25 Hz, on audio_tiny's codec and video features
    "small": Size(dim=512, layers=8, heads=8, ffn=2048, channels=32, video_dim=256, tokens=250, text_len=64, batch=4),
}


def our_config(size: Size, *, qk_norm: bool, token_adaln: bool) -> DiTConfig:
    """The audio DiT as ``moviegen.audio.config`` builds it (at ``tiny``: ``audio_tiny().dit`` with max_t = tokens)."""
    c = size.channels
    return DiTConfig(
        dim=size.dim, num_layers=size.layers, num_heads=size.heads, ffn_dim=size.ffn, latent_channels=c,
        in_channels=2 * c + 1, ffn=FFNKind.GELU, patch_size=(1, 1, 1), max_t=size.tokens, max_h=1, max_w=1,
        qk_norm=qk_norm, token_adaln=token_adaln,
    )


def stable_audio_model(size: Size) -> torch.nn.Module:
    """``StableAudioDiTModel`` at the size, with full-MHA cross-attention and the FFN width rebuilt (see docstring)."""
    from diffusers import StableAudioDiTModel
    from diffusers.models.transformers import stable_audio_transformer

    head_dim = size.dim // size.heads
    model = StableAudioDiTModel(
        sample_size=size.tokens, in_channels=size.channels, num_layers=size.layers, attention_head_dim=head_dim,
        num_attention_heads=size.heads, num_key_value_attention_heads=size.heads, out_channels=size.channels,
        cross_attention_dim=size.dim, time_proj_dim=256, global_states_input_dim=size.dim,
        cross_attention_input_dim=size.dim,
    )
    # StableAudioDiTModel builds its blocks with the FeedForward default width 4 D; rebuild them at the FLOP-matched
    # SwiGLU width (same constructor call as diffusers', plus ff_inner_dim).
    model.transformer_blocks = torch.nn.ModuleList(
        stable_audio_transformer.StableAudioDiTBlock(
            dim=size.dim, num_attention_heads=size.heads, num_key_value_attention_heads=size.heads,
            attention_head_dim=head_dim, cross_attention_dim=size.dim, ff_inner_dim=round(2 * size.ffn / 3),
        )
        for _ in range(size.layers)
    )
    return model


def bench(
    size: Size, *, batch: int, dtype: str, qk_norm: bool, token_adaln: bool, warmup: int, repeats: int, rounds: int
) -> dict[str, float]:
    from diffusers.models.embeddings import get_1d_rotary_pos_embed

    b, c, length, s = batch, size.channels, size.tokens, size.text_len
    torch.manual_seed(0)
    ours = AudioTransformer(our_config(size, qk_norm=qk_norm, token_adaln=token_adaln), video_dim=size.video_dim)
    ours.init_weights()
    theirs = stable_audio_model(size)

    latent = torch.randn(b, c, length)
    t_flow = torch.rand(b)
    text = torch.randn(b, s, size.dim)
    lengths = torch.randint(s // 2, s + 1, (b,))
    text_mask = torch.arange(s)[None] < lengths[:, None]  # the same padding for both models
    # ours: the masked audio context (a random half of the frames known) and per-frame video features
    context = AudioContext(latent_BCL=torch.randn(b, c, length), known_BL=torch.rand(b, length) < 0.5)
    video = torch.randn(b, length, size.video_dim)
    # StableAudio: one global-conditioning vector and its partial rotary embedding over the L + 1 tokens
    global_states = torch.randn(b, 1, size.dim)
    rotary = get_1d_rotary_pos_embed(
        size.dim // size.heads // 2, length + 1, use_real=True, repeat_interleave_real=False
    )

    def autocast():
        if dtype == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step_ours() -> None:
        ours.zero_grad(set_to_none=True)
        with autocast():
            out = ours(latent, t_B=t_flow, text_BSD=text, text_mask_BS=text_mask, context=context, video_BLF=video)
        out.float().square().mean().backward()

    def step_theirs() -> None:
        theirs.zero_grad(set_to_none=True)
        with autocast():
            out = theirs(
                latent, timestep=t_flow, encoder_hidden_states=text, global_hidden_states=global_states,
                rotary_embedding=rotary, encoder_attention_mask=text_mask, return_dict=False,
            )[0]
        out.float().square().mean().backward()

    for _ in range(warmup):
        step_ours()
        step_theirs()
    best = {"ours": float("inf"), "theirs": float("inf")}
    for _ in range(rounds):  # alternate so that machine noise hits both alike
        best["ours"] = min(best["ours"], median_time(step_ours, repeats=repeats))
        best["theirs"] = min(best["theirs"], median_time(step_theirs, repeats=repeats))
    best["params_ours"] = sum(p.numel() for p in ours.parameters())
    best["params_theirs"] = sum(p.numel() for p in theirs.parameters())
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"], choices=sorted(SIZES))
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--batch", type=int, default=None, help="override every size's batch")
    parser.add_argument("--ours-qk-norm", choices=["on", "off"], default="on", help="on: as the audio presets")
    parser.add_argument("--ours-token-adaln", choices=["on", "off"], default="on", help="on: as audio_tiny")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one tiny size, one repeat: checks that it runs")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.warmup, args.repeats, args.rounds = ["quick"], 1, 1, 1
    if args.batch is not None and args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    torch.set_num_threads(args.threads)

    rows = []
    for name in args.sizes:
        size = SIZES[name]
        batch = size.batch if args.batch is None else args.batch
        r = bench(
            size, batch=batch, dtype=args.dtype, qk_norm=args.ours_qk_norm == "on",
            token_adaln=args.ours_token_adaln == "on", warmup=args.warmup, repeats=args.repeats, rounds=args.rounds,
        )
        tokens = batch * size.tokens
        rows.append(
            f"| {name} | {size.dim} | {size.layers} | {size.heads} | {size.ffn} / {round(2 * size.ffn / 3)} "
            f"| {size.tokens} | {size.text_len} | {batch} | {r['params_ours']:,} | {r['params_theirs']:,} "
            f"| {r['ours']:.4f} | {r['theirs']:.4f} | {tokens / r['ours']:,.0f} | {tokens / r['theirs']:,.0f} "
            f"| {r['theirs'] / r['ours']:.2f}x |"
        )

    print(f"\nforward+backward, {args.dtype}, {args.threads} threads, our QK-norm {args.ours_qk_norm}, "
          f"token adaLN {args.ours_token_adaln}; "
          f"step times are best-of-{args.rounds}-rounds medians of {args.repeats} steps, in seconds; "
          f"ratio = StableAudio / ours (> 1: ours is faster)\n")  # fmt: skip
    print("| size | D | layers | heads | FFN ours (GELU) / SA (SwiGLU) | tokens | text | batch | params ours "
          "| params SA | ours (s) | SA (s) | ours tok/s | SA tok/s | SA/ours |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    print("\n".join(rows))
    print(f"\ncommand: {shlex.join(['python', *sys.argv])}")


if __name__ == "__main__":
    main()

"""Does the audio codec keep the world's impact clicks? (issue 4: the sync target; an experiment, not core code)

Measures the *codec's own* onset sync: the held-out impact videos' soundtrack is encoded and decoded (posterior
mean), onsets are detected in the original and in the reconstruction, and both are matched (40 ms) against the
impact times the world recorded in its manifest. The gap between the two F1s is what the codec loses before the
transformer is involved. With ``--finetune-steps N`` the codec is first fine-tuned from its weights with the chosen
loss weights (e.g. the log-mel term that collapsed when training from scratch) and measured again.

    python experiments/codec_click_probe.py --codec /work/runs/audio/codec --data /work/runs/audio/world
    python experiments/codec_click_probe.py --codec RUN --data WORLD --finetune-steps 300 --mel-weight 1 \
        --out /tmp/codec-ft
    # short windows (4 and 8 ms) added to the mel term, for the clicks:
    python experiments/codec_click_probe.py --codec RUN --data WORLD --finetune-steps 1000 --lr 5e-4 \
        --mel-weight 1 --mel-windows 64 128 256 512 1024 2048 --mel-bands 8 16 32 64 128 128 --out /tmp/codec-short
"""

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch


def codec_sync(codec, entries, *, sample_rate: int) -> dict:
    from moviegen.audio.codec import pad_to_hop
    from moviegen.eval.audio_metrics import aggregate_sync, match_events
    from moviegen.eval.onsets import detect_onsets
    from moviegen.io.media import read_video

    ours, ceiling, snrs = [], [], []
    for entry in entries:
        clip = read_video(entry.path, audio=True, sample_rate=sample_rate)
        audio_N = clip.audio_CN.mean(axis=0).astype(np.float32)
        truth_s = [float(t) for t in entry.meta["audio"]["impacts"]]
        with torch.no_grad():
            x = pad_to_hop(torch.from_numpy(audio_N)[None, None], hop=codec.cfg.hop)
            recon = codec(x, sample=False).reconstruction_B1N[0, 0, : len(audio_N)].numpy()
        ours.append(match_events(detect_onsets(recon, sample_rate=sample_rate), reference_s=truth_s, tolerance_s=0.04))
        ceiling.append(match_events(detect_onsets(audio_N, sample_rate=sample_rate), reference_s=truth_s,
                                    tolerance_s=0.04))
        err = float(((recon - audio_N) ** 2).sum())
        snrs.append(10 * np.log10(max(float((audio_N**2).sum()), 1e-12) / max(err, 1e-12)))
    a, c = aggregate_sync(ours), aggregate_sync(ceiling)
    return {"codec_f1": a.f1, "codec_precision": a.precision, "codec_recall": a.recall, "original_f1": c.f1,
            "snr_db_median": float(np.median(snrs)), "clips": len(entries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", required=True, help="a codec run directory or weights file")
    parser.add_argument("--data", required=True, help="the world it was trained on")
    parser.add_argument("--num", type=int, default=16)
    parser.add_argument("--finetune-steps", type=int, default=0)
    parser.add_argument("--mel-weight", type=float, default=1.0)
    parser.add_argument("--mel-floor", type=float, default=1e-5)
    parser.add_argument("--stft-weight", type=float, default=0.0)
    parser.add_argument("--waveform-weight", type=float, default=1.0)
    parser.add_argument("--mel-windows", type=int, nargs="+", help="mel window sizes at 16 kHz (default: the recipe's)")
    parser.add_argument("--mel-bands", type=int, nargs="+", help="mel bands per window (as many as --mel-windows)")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--out", type=Path, help="write the fine-tuned weights and the results here")
    args = parser.parse_args()

    from safetensors.torch import load_file, save_file

    from moviegen.audio.codec_loss import AudioCodecLoss
    from moviegen.audio.data import AudioCropIterator, AVDataset
    from moviegen.data.sampler import BucketBatchSampler
    from moviegen.eval.audio import heldout_impact_videos
    from moviegen.train.audio import CodecStep, load_codec, prepare_av_cache
    from moviegen.train.audio_recipes import audio_codec_tiny_recipe
    from moviegen.train.average import resolve_weights_file

    torch.set_num_threads(2)
    recipe = audio_codec_tiny_recipe()
    weights = load_file(str(resolve_weights_file(args.codec)))  # the codec recipe keeps no EMA
    codec = load_codec(weights, cfg=recipe.codec).eval()
    entries = heldout_impact_videos(args.data, num=args.num)
    results = {"before": codec_sync(codec, entries, sample_rate=recipe.codec.sample_rate)}
    print("before", json.dumps(results["before"]))
    if args.finetune_steps:
        loss_cfg = replace(recipe.loss, mel_weight=args.mel_weight, mel_floor=args.mel_floor,
                           stft_weight=args.stft_weight, waveform_weight=args.waveform_weight)
        if args.mel_windows:
            loss_cfg = replace(loss_cfg, mel_n_ffts_16k=tuple(args.mel_windows), mel_n_mels=tuple(args.mel_bands))
        cache = prepare_av_cache(args.data, sample_rate=recipe.codec.sample_rate, frame_size=recipe.frame_size,
                                 progress=False)
        dataset = AVDataset(cache, split="train", min_rms=recipe.min_rms)
        sampler = BucketBatchSampler(dataset.bucket_of, batch_size=recipe.train.batch_size, seed=1)
        batches = iter(AudioCropIterator(dataset, sampler, crop_samples=recipe.crop_samples, seed=1,
                                         candidates=recipe.crop_candidates))
        step_fn = CodecStep(AudioCodecLoss(loss_cfg), seed=1)
        codec.train().requires_grad_(True)  # load_codec returns it frozen, for caching latents
        opt = torch.optim.AdamW(codec.parameters(), lr=args.lr, betas=(0.8, 0.99))
        for step in range(args.finetune_steps):
            loss, terms = step_fn(codec, next(batches), step)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(codec.parameters(), 1.0)
            opt.step()
            if step % 50 == 0 or step == args.finetune_steps - 1:
                logged = {k: round(float(v.detach()), 4) for k, v in terms.items()}
                print(step, round(loss.item(), 4), logged, flush=True)
        codec.eval()
        results["after"] = codec_sync(codec, entries, sample_rate=recipe.codec.sample_rate)
        results["finetune"] = vars(args) | {"out": str(args.out)}
        print("after", json.dumps(results["after"]))
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in codec.state_dict().items()}, str(args.out / "codec.safetensors"))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

"""Do the audio model's video features carry the impact timing? (issue 4: the sync target; an experiment)

The sync signals of ``SyncConfig`` train an onset head on the video features (``MovieGenAudio.onset_logits``);
sampling never calls it. This probe does: for the held-out impact videos of ``moviegen eval audio`` it reads the
head's onset probabilities at the audio latent rate, takes each local peak above ``--threshold`` as an onset at its
latent frame's centre, and matches them (40 ms, the eval's tolerance) against the impacts seen in the frames, beside
the generated sound's own onsets (the eval's measure, same seeds). If the head scores well and the sound does not,
the features carry the timing and the transformer does not use it; if the head scores badly, the frame encoder is
the limit.

    python experiments/audio_sync_probe.py --checkpoint /work/runs/v4/audio-tiny-codec2 --data /work/runs/audio/world
    python experiments/audio_sync_probe.py --checkpoint CKPT --data WORLD --no-generate   # the head alone (fast)
    # the paper reranks 8 candidates (criterion not given): best of K by agreement with the head's onsets
    python experiments/audio_sync_probe.py --checkpoint CKPT --data WORLD --candidates 4 --guidance-scale 3
    # choose a setting on the 21 held-out impact clips the eval does not use
    python experiments/audio_sync_probe.py --checkpoint CKPT --data WORLD --skip 16 --num 21 --guidance-scale 5
"""

import argparse
import json

import numpy as np
import torch


def head_onsets(probs_L: np.ndarray, *, frame_rate: float, threshold: float) -> list[float]:
    """Local maxima of ``probs_L`` at or above ``threshold``, as times of the frames' centres."""
    padded = np.concatenate([[-1.0], probs_L, [-1.0]])
    peaks = (padded[1:-1] >= threshold) & (padded[1:-1] > padded[:-2]) & (padded[1:-1] >= padded[2:])
    return [(i + 0.5) / frame_rate for i in np.flatnonzero(peaks)]


def main() -> None:
    from moviegen.audio.pipeline import AudioPipeline, AudioRequest
    from moviegen.eval.audio import heldout_impact_videos
    from moviegen.eval.audio_metrics import aggregate_sync, detect_visual_impacts, match_events
    from moviegen.eval.onsets import detect_onsets
    from moviegen.io.media import read_video

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an exported audio checkpoint directory")
    parser.add_argument("--data", required=True, help="the audio world")
    parser.add_argument("--num", type=int, default=16)
    parser.add_argument("--skip", type=int, default=0,
                        help="skip the first SKIP clips (the eval's are the first 16): clips to choose settings on")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--no-generate", action="store_true", help="skip the generated sound (the head only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", type=int, default=1, help="sounds per clip (seeds seed+n, seed+n+1000, ...)")
    parser.add_argument("--guidance-scale", type=float, default=None)
    parser.add_argument("--prompt", default="", help="the text (default: the empty prompt, as the eval)")
    args = parser.parse_args()

    pipe = AudioPipeline.from_checkpoint(args.checkpoint)
    rate = pipe.cfg.frame_rate
    heads = {th: [] for th in args.thresholds}
    generated, best = [], []
    for n, entry in enumerate(heldout_impact_videos(args.data, num=args.skip + args.num)[args.skip:]):
        clip = read_video(entry.path, audio=True)
        visual = detect_visual_impacts(clip.frames_THWC, fps=clip.fps)
        length = int(round(clip.seconds * rate))
        with torch.no_grad():
            feats_1LF = pipe.video_features(clip.frames_THWC, fps=clip.fps, num_latent=length)
            probs_L = torch.sigmoid(pipe.model.onset_logits(feats_1LF))[0].numpy()
        row = {"id": entry.id, "visual": [round(float(t), 3) for t in visual]}
        for th in args.thresholds:
            onsets = head_onsets(probs_L, frame_rate=rate, threshold=th)
            heads[th].append(match_events(onsets, reference_s=visual, tolerance_s=0.04))
            row[f"head_{th}"] = [round(t, 3) for t in onsets]
        if not args.no_generate:
            predicted = head_onsets(probs_L, frame_rate=rate, threshold=0.5)
            scored = []
            for k in range(args.candidates):
                request = AudioRequest(
                    seconds=clip.seconds, frames_THWC=clip.frames_THWC, fps=clip.fps, prompt=args.prompt,
                    seed=args.seed + n + 1000 * k, guidance_scale=args.guidance_scale,
                )
                onsets = detect_onsets(pipe.generate(request), sample_rate=pipe.sample_rate)
                agreement = match_events(onsets, reference_s=predicted, tolerance_s=0.04).f1
                scored.append((agreement, -k, onsets))
            onsets = scored[0][2]  # the first candidate: what one generation gives
            generated.append(match_events(onsets, reference_s=visual, tolerance_s=0.04))
            row["generated"] = [round(float(t), 3) for t in onsets]
            chosen = max(scored, key=lambda c: c[:2])[2]  # ties: the earlier candidate
            best.append(match_events(chosen, reference_s=visual, tolerance_s=0.04))
            row["reranked"] = [round(float(t), 3) for t in chosen]
        print(json.dumps(row))

    def summary(results) -> str:
        s = aggregate_sync(results)
        offset = "-" if s.median_abs_offset_ms is None else f"{s.median_abs_offset_ms:.0f}"
        return f"F1 {s.f1:.2f} (P {s.precision:.2f} R {s.recall:.2f}), median offset {offset} ms"

    for th, results in heads.items():
        print(f"onset head, threshold {th}: {summary(results)}")
    if generated:
        print(f"generated sound (first candidate): {summary(generated)}")
        print(f"best of {args.candidates} by agreement with the head: {summary(best)}")


if __name__ == "__main__":
    main()

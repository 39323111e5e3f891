"""Where inside its 8-frame latent group does the TAE lose a frame? (issue 3: the TAE PSNR target; an experiment)

A decoder with nearest-neighbour temporal upsampling decodes a lone latent frame to 8 identical frames (docs/tae.md),
so a decoder that learned only group means errs least in the middle of each group and most at its ends. This prints
the PSNR of every frame of the first 32 frames of held-out world videos by its position inside its group, for the
whole clip encoded at once and for each 8-frame chunk encoded alone (no neighbours).

    python experiments/tae_group_phase.py --checkpoint moviegen/assets/video-tiny --data /work/runs/v2/world
"""

import argparse

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an exported video checkpoint directory")
    parser.add_argument("--data", required=True, help="a world directory with held-out videos")
    parser.add_argument("--num", type=int, default=8, help="held-out videos (default 8)")
    args = parser.parse_args()

    from moviegen.eval.reconstruction import heldout_videos, reconstruct
    from moviegen.io.media import read_video
    from moviegen.video.checkpoint import load_video_checkpoint

    torch.set_num_threads(2)
    tae = load_video_checkpoint(args.checkpoint).tae.float().eval()
    group = tae.cfg.temporal_compression
    frames = 4 * group
    whole, alone, count = np.zeros(frames), np.zeros(frames), 0
    with torch.no_grad():
        for row in heldout_videos(args.data, num=args.num):
            clip = read_video(f"{args.data}/{row['path']}", audio=False).frames_THWC[:frames]
            if clip.shape[0] < frames:
                continue
            count += 1
            whole += ((reconstruct(tae, clip).astype(float) - clip) ** 2).mean(axis=(1, 2, 3))
            for k in range(0, frames, group):
                chunk = clip[k : k + group]
                alone[k : k + group] += ((reconstruct(tae, chunk).astype(float) - chunk) ** 2).mean(axis=(1, 2, 3))

    def psnr(mse: np.ndarray) -> float:
        return round(float(10 * np.log10(255**2 / (mse / count))), 2)

    print(f"{count} clips; PSNR (dB) by position inside the {group}-frame latent group")
    print("position        ", list(range(group)))
    print("whole clip      ", [psnr(whole[p::group].mean()) for p in range(group)])
    print("chunks alone    ", [psnr(alone[p::group].mean()) for p in range(group)])


if __name__ == "__main__":
    main()

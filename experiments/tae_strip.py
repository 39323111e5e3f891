"""What does the TAE get wrong in a video? (issue 3: the TAE PSNR target; an experiment)

Writes one PNG with, for each named world video, three rows of every ``--every``-th frame of its first 32: the
original, its TAE reconstruction (whole clip encoded at once, posterior mean) and the absolute error (x3), and
prints each frame's PSNR. docs/tae.md reads the shipped TAE's two worst held-out videos this way.

    python experiments/tae_strip.py --checkpoint moviegen/assets/video-tiny --data /work/runs/v2/world \\
        --ids 000039 000137 -o strip.png
"""

import argparse

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an exported video checkpoint directory")
    parser.add_argument("--data", required=True, help="a world directory")
    parser.add_argument("--ids", nargs="+", required=True, help="video ids of the world's manifest")
    parser.add_argument("--every", type=int, default=5, help="show every N-th frame (default 5)")
    parser.add_argument("-o", "--output", required=True, help="the PNG to write")
    args = parser.parse_args()

    from PIL import Image

    from moviegen.data.manifest import read_manifest
    from moviegen.eval.reconstruction import reconstruct
    from moviegen.io.media import read_video
    from moviegen.video.checkpoint import load_video_checkpoint

    torch.set_num_threads(2)
    tae = load_video_checkpoint(args.checkpoint).tae.float().eval()
    paths = {entry.id: entry.path for entry in read_manifest(args.data)}  # resolved against the world directory
    missing = [i for i in args.ids if i not in paths]
    if missing:
        raise SystemExit(f"--ids {missing} are not in {args.data}'s manifest")
    rows = []
    with torch.no_grad():
        for video_id in args.ids:
            frames_THWC = read_video(paths[video_id], audio=False).frames_THWC
            clip = frames_THWC[: 4 * tae.cfg.temporal_compression]
            recon = reconstruct(tae, clip)
            error = (np.abs(recon.astype(int) - clip.astype(int)) * 3).clip(0, 255).astype(np.uint8)
            mse = ((recon.astype(float) - clip) ** 2).mean(axis=(1, 2, 3))
            psnr = 10 * np.log10(255**2 / np.maximum(mse, 1e-10))
            print(video_id, "PSNR by frame:", " ".join(f"{p:.1f}" for p in psnr))
            rows += [np.concatenate(list(frames[:: args.every]), axis=1) for frames in (clip, recon, error)]
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

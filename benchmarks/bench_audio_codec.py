"""Real-time factor of the DAC-VAE (SPEC 8.1) on CPU: encode, decode, and chunked decode of a long clip.

What it measures: a ``dac_vae_tiny`` codec (16 kHz, 25 Hz latents; random init, so only speed is meaningful) under
``torch.no_grad()`` with a fixed number of threads. After one warm-up call on a short clip, it times

* ``encode`` (posterior mean) of ``--seconds`` of audio,
* ``decode`` of the matching latent, and
* ``decode_chunked`` of ``--chunked-seconds`` of latent (chunks of ``--chunk-frames``, overlap ``--overlap-frames``),

each as the median of ``--repeats`` runs, and prints the real-time factor ``audio seconds / wall seconds`` (> 1 is
faster than real time) together with the command line.

    python benchmarks/bench_audio_codec.py                          # 10 s encode/decode, 60 s chunked decode
    python benchmarks/bench_audio_codec.py --seconds 2 --chunked-seconds 2 --repeats 1   # smoke run
"""

import argparse
import shlex
import sys

import torch
from timing import median_time

from moviegen.audio.codec import DACVAE, dac_vae_tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length for encode and decode")
    parser.add_argument("--chunked-seconds", type=float, default=60.0, help="audio length for decode_chunked")
    parser.add_argument("--chunk-frames", type=int, default=250, help="latent frames per chunk (250 = 10 s)")
    parser.add_argument("--overlap-frames", type=int, default=25, help="latent frames shared by adjacent chunks")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.seconds <= 0 or args.chunked_seconds <= 0 or args.repeats < 1:
        parser.error(f"--seconds, --chunked-seconds and --repeats must be positive, got {vars(args)}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    codec = DACVAE(dac_vae_tiny()).eval()
    cfg = codec.cfg
    num_frames = max(1, round(args.seconds * cfg.frame_rate))
    num_chunked_frames = max(1, round(args.chunked_seconds * cfg.frame_rate))
    audio_B1N = 0.1 * torch.randn(1, 1, num_frames * cfg.hop)
    chunked_latent_BCL = torch.randn(1, cfg.latent_channels, num_chunked_frames)

    with torch.no_grad():
        codec.decode(codec.encode(audio_B1N[:, :, : cfg.hop * 4], sample=False).latent_BCL)  # warm-up
        latent_BCL = codec.encode(audio_B1N, sample=False).latent_BCL
        rows = [
            ("encode", num_frames, median_time(lambda: codec.encode(audio_B1N, sample=False), repeats=args.repeats)),
            ("decode", num_frames, median_time(lambda: codec.decode(latent_BCL), repeats=args.repeats)),
            (
                f"decode_chunked ({args.chunk_frames}/{args.overlap_frames})",
                num_chunked_frames,
                median_time(
                    lambda: codec.decode_chunked(
                        chunked_latent_BCL, chunk_frames=args.chunk_frames, overlap_frames=args.overlap_frames
                    ),
                    repeats=args.repeats,
                ),
            ),
        ]

    num_params = sum(p.numel() for p in codec.parameters())
    print(f"\n$ python {shlex.join(sys.argv)}")
    print(
        f"dac_vae_tiny ({num_params / 1e6:.2f}M params, {cfg.sample_rate} Hz, hop {cfg.hop}, "
        f"{cfg.frame_rate:g} Hz latents, decoder context {cfg.decoder_context_frames} frames), "
        f"{args.threads} threads, median of {args.repeats}"
    )
    print(f"{'operation':<26} {'audio (s)':>10} {'wall (s)':>10} {'real-time factor':>17}")
    for name, frames, seconds in rows:
        audio_seconds = frames / cfg.frame_rate
        print(f"{name:<26} {audio_seconds:>10.2f} {seconds:>10.3f} {audio_seconds / seconds:>17.1f}")


if __name__ == "__main__":
    main()

"""``moviegen audio``: sound for any video, sound from text, and extension or infilling of an audio file, with Movie
Gen Audio (a thin layer over :class:`moviegen.audio.pipeline.AudioPipeline`)."""

import argparse
import math
import secrets
from pathlib import Path

from moviegen.cli.generate import RANDOM_SEED_BOUND, check_output_path

DESCRIPTION = """\
Make sound with Movie Gen Audio (SPEC 8). Three uses:

  video to audio   moviegen audio VIDEO -o OUT.mp4
                   scores any video (any fps, size and length): per-frame features of the video condition the
                   sound, so impacts land on the frames where they happen. The picture is copied as is; the
                   video's own audio is replaced (or kept and mixed with --mix). --prompt adds a text condition
                   ("cheerful music"). Videos longer than the model's window are scored window by window.
  text to audio    moviegen audio --prompt "sad music" --seconds 10 -o OUT.wav
  extension        moviegen audio --extend IN.wav --seconds 20 -o OUT.wav
                   continues IN.wav to 20 s; with --infill START END, regenerates that span of IN.wav instead.

Sampling follows the paper: the midpoint solver, 64 steps, guidance on text and video jointly (the checkpoint's
defaults: the paper's 3; the shipped model 4, which follows the frames more closely). Audio longer than one
window (2 s for the shipped model) is made by multi-diffusion (overlapping windows averaged with triangular
weights, the default) or --mode autoregressive (window after window, each continuing the last); memory does not
grow with the length.
"""

EPILOG = """\
examples:
  moviegen audio clip.mp4 -o clip-with-sound.mp4
  moviegen audio clip.mp4 -o clip-scored.mp4 --prompt "cheerful music" --mix
  moviegen audio --prompt "a metallic clang each time something hits the floor" --seconds 4 -o clang.wav
  moviegen audio --prompt "sad music" --seconds 60 -o minute.wav --mode autoregressive
  moviegen audio --extend clang.wav --seconds 8 -o longer.wav
  moviegen audio --extend clang.wav --infill 1.0 2.0 -o patched.wav
"""

MODES = ("multidiffusion", "autoregressive")


def _check_args(args: argparse.Namespace) -> None:
    uses = [name for name, given in (("VIDEO", args.video), ("--extend", args.extend)) if given is not None]
    if len(uses) > 1:
        raise ValueError("give either a VIDEO to score or --extend AUDIO, not both")
    if args.infill is not None and args.extend is None:
        raise ValueError("--infill START END regenerates part of an audio file: give it with --extend AUDIO")
    if args.video is None and args.extend is None and args.prompt is None:
        raise ValueError("nothing to condition on: give a VIDEO, --prompt TEXT (with --seconds) or --extend AUDIO")
    if args.video is None and args.extend is None and args.seconds is None:
        raise ValueError(
            'text to audio needs --seconds N, e.g. moviegen audio --prompt "sad music" --seconds 5 -o a.wav'
        )
    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        raise ValueError(f"--seconds must be > 0, got {args.seconds:g}")
    if args.video is not None and args.seconds is not None:
        raise ValueError("--seconds does not apply to a VIDEO: the sound lasts as long as the video")
    if args.infill is not None and args.seconds is not None:
        raise ValueError("--seconds does not apply to --infill: the result is as long as the --extend file")


def _cmd_audio(args: argparse.Namespace) -> int:
    _check_args(args)
    suffixes = (".mp4",) if args.video is not None else (".wav",)
    out = check_output_path(args.output, suffixes=suffixes, command="audio")

    import numpy as np

    from moviegen.audio.checkpoint import default_audio_checkpoint_dir, read_audio_checkpoint_config
    from moviegen.audio.pipeline import AudioPipeline, AudioRequest, LongMode, check_audio_inputs
    from moviegen.io.audio import read_audio, replace_audio, write_wav
    from moviegen.io.media import read_video

    checkpoint = Path(args.checkpoint) if args.checkpoint is not None else default_audio_checkpoint_dir()
    cfg, _ = read_audio_checkpoint_config(checkpoint)
    rate = cfg.codec.sample_rate
    seed = secrets.randbelow(RANDOM_SEED_BOUND) if args.seed is None else args.seed
    common = dict(
        prompt=args.prompt, steps=args.steps, guidance_scale=args.guidance, mode=LongMode(args.mode), seed=seed
    )
    if args.video is not None:
        size = cfg.video.frame_size
        clip = read_video(args.video, audio=False, size=(size, size))  # frames shrink as they are decoded
        request = AudioRequest(seconds=clip.seconds, frames_THWC=clip.frames_THWC, fps=clip.fps, **common)
    elif args.extend is not None:
        given, _ = read_audio(args.extend, sample_rate=rate)
        if args.infill is not None:
            start, end = args.infill
            total = given.shape[0] / rate
            if not 0 <= start < end <= total:
                raise ValueError(
                    f"--infill {start:g} {end:g} must satisfy 0 <= START < END <= {total:.3f} s (the file)"
                )
            request = AudioRequest(
                seconds=total, context_audio_N=given, known_seconds=((0.0, start), (end, total)), **common
            )
        else:
            seconds = args.seconds if args.seconds is not None else 2 * given.shape[0] / rate
            request = AudioRequest(seconds=seconds, context_audio_N=given, **common)
    else:
        request = AudioRequest(seconds=args.seconds, **common)
    check_audio_inputs(request, sample_rate=rate)

    pipeline = AudioPipeline.from_checkpoint(checkpoint)
    audio_N = pipeline.generate(request, progress=not args.no_progress)
    settings = f"seed {seed}, mode {args.mode}"
    if args.video is not None:
        replace_audio(args.video, out, audio_N, sample_rate=rate, mix_original=args.mix)
        kept = "mixed with its own audio" if args.mix else "replacing its audio"
        print(f"wrote {out}: {args.video} with {request.seconds:.2f} s of generated sound, {kept} ({settings})")
    else:
        write_wav(out, np.asarray(audio_N), sample_rate=rate)
        print(f"wrote {out}: {request.seconds:.2f} s of audio at {rate} Hz ({settings})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "audio",
        help="sound for a video, sound from text, or extend/infill audio (Movie Gen Audio)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("video", nargs="?", metavar="VIDEO", help="a video to add sound to (any format FFmpeg reads)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output: .mp4 for a VIDEO, else .wav; its directory must exist; written atomically",
    )
    parser.add_argument("--prompt", metavar="TEXT", help='text condition, e.g. "cheerful music" (default: none)')
    parser.add_argument(
        "--seconds",
        type=float,
        metavar="N",
        help="length of text-to-audio output, or of an extension (default: twice --extend's length)",
    )
    parser.add_argument("--extend", metavar="AUDIO", help="an audio file (WAV, MP3, MP4, ...) to continue or infill")
    parser.add_argument(
        "--infill",
        nargs=2,
        type=float,
        metavar=("START", "END"),
        help="with --extend: regenerate the span START..END seconds of the file, keeping the rest",
    )
    parser.add_argument("--mix", action="store_true", help="keep the video's own audio, mixed with the new sound")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="multidiffusion",
        help="how audio longer than one window is made (default: multidiffusion)",
    )
    parser.add_argument("--steps", type=int, help="ODE steps (default: the checkpoint's, 64)")
    parser.add_argument(
        "--guidance", type=float, metavar="SCALE",
        help="guidance scale (default: the checkpoint's; 4 for the shipped model)",
    )
    parser.add_argument("--seed", type=int, help="noise seed: the same seed gives the same sound (default: random)")
    parser.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="an audio checkpoint directory (default: the embedded model shipped in the package)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_cmd_audio)

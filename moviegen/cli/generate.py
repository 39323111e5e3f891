"""``moviegen generate`` (text to MP4) and ``moviegen image`` (text to PNG/JPEG): thin layers over
:class:`moviegen.video.pipeline.VideoPipeline`.

Every setting left out comes from the checkpoint's ``config.json`` "defaults" (the size, duration, steps and guidance
the model was trained for), and the checkpoint defaults to the embedded one shipped in the package. A request is checked
against the checkpoint's config before any weight is loaded, and files are written atomically, so an error never
leaves an output file behind.
"""

import argparse
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# `--schedule` names (CLI spelling) -> moviegen.flow.Schedule values.
SCHEDULE_NAMES = {"linear-quadratic": "linear_quadratic", "uniform": "uniform"}
VIDEO_SUFFIXES = (".mp4",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# moviegen.text.prompt.CameraMotion's labels, spelled out so `--help` needs no torch import (a test keeps them equal).
CAMERA_LABELS = ("static", "pan left", "pan right", "zoom in", "zoom out")
DEFAULT_CAMERA = "static"  # every caption of the synthetic world carries a camera label; "static" is the plain one
RANDOM_SEED_BOUND = 2**31  # random seeds are drawn below this, so they are short enough to retype


def save_generated_video(
    path: str | Path,
    frames_THWC: "np.ndarray",
    *,
    fps: int,
    audio_N: "np.ndarray | None" = None,
    sample_rate: int | None = None,
) -> Path:
    """Write generated frames as an MP4 (H.264), with the generated sound as its AAC track when given, atomically."""
    from moviegen.io import write_video

    audio_CN = None if audio_N is None else audio_N[None]
    return write_video(path, frames_THWC, fps=fps, audio_CN=audio_CN, sample_rate=sample_rate)


def check_output_path(path: str, *, suffixes: tuple[str, ...], command: str) -> Path:
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise ValueError(
            f"-o {path!r}: `moviegen {command}` writes {'/'.join(s[1:] for s in suffixes)} files, so the name must "
            f"end in {' or '.join(suffixes)}"
        )
    if not out.parent.is_dir():
        raise ValueError(f"-o {path!r}: directory {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise ValueError(f"-o {path!r} is a directory; give a file name")
    return out


def _resolve_size(text: str | None, *, sizes: dict[str, tuple[int, int]], default: tuple[int, int]) -> tuple[int, int]:
    from moviegen.configs.geometry import parse_size

    if text is None:
        return default
    if text.strip().lower() in sizes:
        return sizes[text.strip().lower()]
    try:
        return parse_size(text)
    except ValueError as err:
        names = f" or one of this checkpoint's sizes {sorted(sizes)}" if sizes else ""
        raise ValueError(f"--size must be WIDTHxHEIGHT (e.g. 160x96), N (square){names}; got {text!r}") from err


def _run(args: argparse.Namespace, *, video: bool) -> int:
    from moviegen.configs.geometry import num_frames_for
    from moviegen.flow.timesteps import Schedule
    from moviegen.io import write_image
    from moviegen.video.checkpoint import default_checkpoint_dir, read_checkpoint_config
    from moviegen.video.pipeline import VideoPipeline, check_generation_inputs

    command = "generate" if video else "image"
    out = check_output_path(args.output, suffixes=VIDEO_SUFFIXES if video else IMAGE_SUFFIXES, command=command)
    checkpoint = Path(args.checkpoint) if args.checkpoint is not None else default_checkpoint_dir()
    config = read_checkpoint_config(checkpoint)  # config only: check the request before loading any weight
    defaults = config.defaults

    width, height = _resolve_size(args.size, sizes=defaults.sizes, default=(defaults.width, defaults.height))
    if video:
        fps = defaults.fps if args.fps is None else args.fps
        seconds = defaults.seconds if args.seconds is None else args.seconds
        if not seconds > 0:
            raise ValueError(f"--seconds must be > 0, got {seconds:g}; for a still image use `moviegen image`")
        if not fps > 0:
            raise ValueError(f"--fps must be > 0, got {fps}")
        num_frames = num_frames_for(seconds=seconds, fps=fps)
    else:
        fps, num_frames = defaults.image_fps, 1
    seed = secrets.randbelow(RANDOM_SEED_BOUND) if args.seed is None else args.seed
    request = dict(
        width=width,
        height=height,
        num_frames=num_frames,
        fps=fps,
        steps=defaults.steps if args.steps is None else args.steps,
        schedule=defaults.schedule if args.schedule is None else Schedule(SCHEDULE_NAMES[args.schedule]),
        guidance_scale=defaults.guidance_scale if args.guidance is None else args.guidance,
        seed=seed,
        camera_motion=args.camera,
    )
    check_generation_inputs(config.cfg, args.prompt, **request)
    distributed = _context_parallel(args, seed=seed)
    if isinstance(distributed, int):  # started torchrun, which ran the command on every rank
        return distributed
    is_main = distributed is None or distributed.is_main
    with_audio = video and not args.no_audio
    if with_audio:  # check the sound's checkpoint too before any weight is loaded
        from moviegen.audio.checkpoint import default_audio_checkpoint_dir, read_audio_checkpoint_config

        audio_checkpoint = (
            Path(args.audio_checkpoint) if args.audio_checkpoint is not None else default_audio_checkpoint_dir()
        )
        read_audio_checkpoint_config(audio_checkpoint)

    pipeline = VideoPipeline.from_checkpoint(checkpoint)
    if distributed is not None:
        from moviegen.train.parallel_dims import ParallelConfig
        from moviegen.train.parallelize import parallelize

        parallel = ParallelConfig(dp=1, cp=args.cp)
        parallelize(pipeline.model, dims=distributed.dims, cfg=parallel, mesh=distributed.mesh, fsdp=False)
    frames_THWC = pipeline.generate(args.prompt, **request, progress=not args.no_progress and is_main)
    if not is_main:  # every rank sampled the same latents; rank 0 adds the sound and writes the file
        return 0
    schedule_name = request["schedule"].value.replace("_", "-")
    settings = f"seed {seed}, {request['steps']} {schedule_name} steps, guidance {request['guidance_scale']:g}"
    if video:
        audio_N, sample_rate, sound = None, None, "no sound"
        if with_audio:
            from moviegen.audio.pipeline import AudioPipeline, AudioRequest

            del pipeline  # the video model's memory is free before the audio model loads
            audio = AudioPipeline.from_checkpoint(audio_checkpoint)
            audio_N = audio.generate(
                AudioRequest(seconds=num_frames / fps, frames_THWC=frames_THWC, fps=fps, prompt=args.audio_prompt,
                             seed=seed),
                progress=not args.no_progress,
            )
            sample_rate, sound = audio.sample_rate, f"AAC sound at {audio.sample_rate} Hz"
        save_generated_video(out, frames_THWC, fps=fps, audio_N=audio_N, sample_rate=sample_rate)
        print(
            f"wrote {out}: {width}x{height}, {num_frames} frames, {num_frames / fps:g} s at {fps} fps, {sound} "
            f"({settings})"
        )
    else:
        write_image(out, frames_THWC[0])
        print(f"wrote {out}: {width}x{height} image ({settings})")
    return 0


def _context_parallel(args: argparse.Namespace, *, seed: int):  # -> DistributedContext | int | None
    """``--cp N``: None for one process; outside torchrun, torchrun's exit status after running this command on N
    ranks (with the seed fixed, so that every rank draws the same noise); under torchrun, this rank's context."""
    from moviegen.train.parallel_dims import ParallelConfig, launched_by_torchrun

    if args.cp == 1 and not launched_by_torchrun():
        return None
    if not launched_by_torchrun():
        from moviegen.cli.torchrun import relaunch_under_torchrun

        argv = args.argv if args.seed is not None else [*args.argv, "--seed", str(seed)]
        return relaunch_under_torchrun(argv, nproc=args.cp, module="moviegen")
    from moviegen.train.distributed import init_distributed

    return init_distributed(ParallelConfig(dp=1, cp=args.cp))


def _cmd_generate(args: argparse.Namespace) -> int:
    return _run(args, video=True)


def _cmd_image(args: argparse.Namespace) -> int:
    return _run(args, video=False)


def _add_common_arguments(parser: argparse.ArgumentParser, *, suffix: str) -> None:
    parser.add_argument("prompt", help='what to show, e.g. "a red circle bounces on a gray floor"')
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar=f"OUT{suffix}",
        help=f"output file ({suffix}); its directory must exist; written atomically",
    )
    parser.add_argument(
        "--size",
        metavar="WxH|NAME",
        help="WIDTHxHEIGHT in pixels (multiples of 16 for the shipped model), N for NxN, or a named size of the "
        "checkpoint: square, landscape, portrait (default: the checkpoint's)",
    )
    parser.add_argument("--steps", type=int, help="sampler steps (default: the checkpoint's, 50 for the shipped model)")
    parser.add_argument(
        "--schedule",
        choices=list(SCHEDULE_NAMES),
        help="inference time grid (default: the checkpoint's, linear-quadratic for the shipped model)",
    )
    parser.add_argument(
        "--guidance",
        type=float,
        metavar="SCALE",
        help="classifier-free guidance scale, >= 1; 1 turns guidance off (default: the checkpoint's)",
    )
    parser.add_argument(
        "--seed", type=int, help="noise seed: the same seed gives the same output (default: random, printed)"
    )
    parser.add_argument(
        "--camera",
        default=DEFAULT_CAMERA,
        metavar="MOTION",
        help=f"camera motion, one of: {', '.join(CAMERA_LABELS)} (default: {DEFAULT_CAMERA})",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="a video checkpoint directory (default: the embedded model shipped in the package)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar over sampler steps")
    parser.add_argument(
        "--cp", type=int, default=1, metavar="N",
        help="context parallelism: split the tokens over N processes (started with torchrun on this machine; the "
        "token count must divide by N); same output as one process, within float tolerance",
    )


def register(sub: argparse._SubParsersAction) -> None:
    generate = sub.add_parser(
        "generate",
        help="generate a video (MP4) from a text prompt",
        description=(
            "Generate a video from a text prompt with Movie Gen Video: encode the prompt (with the FPS token and "
            "camera label), sample TAE latents by integrating the flow from noise to data with classifier-free "
            "guidance, decode them with the TAE, score the frames with Movie Gen Audio (synchronized sound, "
            "`moviegen audio --help`) and write an H.264 MP4 with an AAC track. With no flag it uses the embedded "
            "model "
            "shipped in the package and the size, duration, steps and guidance it was trained for (128x128, 2 s at "
            "16 fps, 50 linear-quadratic steps, guidance 7.5). Prints what it wrote, including the seed to "
            "reproduce it."
        ),
        epilog=(
            "examples:\n"
            '  moviegen generate "a red circle bounces on a gray floor" -o out.mp4\n'
            '  moviegen generate "a blue star moves left on a navy background" -o star.mp4 --seed 7\n'
            '  moviegen generate "a yellow square grows" -o wide.mp4 --size landscape --seconds 3 --camera "zoom in"\n'
            '  moviegen generate "a green triangle spins" -o fast.mp4 --steps 20 --schedule uniform --guidance 5\n'
            '  moviegen generate "a white circle moves up" -o mine.mp4 --checkpoint runs/t2v/export'
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common_arguments(generate, suffix=".mp4")
    generate.add_argument("--seconds", type=float, help="duration in seconds (default: the checkpoint's, 2 s)")
    generate.add_argument(
        "--fps", type=int, help="frames per second, also the prompt's FPS token (default: the checkpoint's, 16)"
    )
    generate.add_argument("--no-audio", action="store_true", help="write a silent video (no Movie Gen Audio pass)")
    generate.add_argument(
        "--audio-prompt", metavar="TEXT",
        help='text condition of the sound, e.g. "cheerful music" (default: none; the sound follows the frames)',
    )
    generate.add_argument(
        "--audio-checkpoint", metavar="DIR",
        help="an audio checkpoint directory (default: the embedded audio model shipped in the package)",
    )
    generate.set_defaults(func=_cmd_generate)

    image = sub.add_parser(
        "image",
        help="generate an image (PNG or JPEG) from a text prompt",
        description=(
            "Generate an image from a text prompt with Movie Gen Video: an image is a one-frame video (one latent "
            "frame), sampled and decoded exactly like `moviegen generate`. The format follows the file name "
            "(.png or .jpg). With no flag it uses the embedded model and its trained size and sampler settings."
        ),
        epilog=(
            "examples:\n"
            '  moviegen image "a blue star on a black background" -o star.png\n'
            '  moviegen image "an orange square on a brown background" -o tall.jpg --size portrait --seed 3\n'
            '  moviegen image "a cyan circle and the word \\"GO\\"" -o go.png --steps 25 --guidance 6'
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common_arguments(image, suffix=".png")
    image.set_defaults(func=_cmd_image)

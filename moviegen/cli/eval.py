"""``moviegen eval``: automatic metrics of a video checkpoint on the synthetic world (a thin layer over
:mod:`moviegen.eval`). Writes ``eval.json``, markdown tables and plots into an output directory and, with
``--update-card``, merges the metrics into the checkpoint's ``model_card.json``.
"""

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moviegen.tae import TemporalAutoencoder
    from moviegen.video.checkpoint import LoadedVideo

WHATS = ("tae", "adherence", "ceiling", "sampler", "audio", "all")
DEFAULT_OUT = "eval-results"
DEFAULT_NUM = {"tae": 16, "adherence": 16, "ceiling": 16, "sampler": 2, "audio": 16}
DEFAULT_STUDY_STEPS = "10,25,50,100,250"
DEFAULT_REFERENCE_STEPS = 1000


def _parse_steps(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--study-steps must be comma-separated integers like {DEFAULT_STUDY_STEPS}, got {text!r}")
    if any(n < 2 for n in steps):
        raise ValueError(f"--study-steps must all be >= 2 (the linear-quadratic grid needs 2), got {text!r}")
    return steps


def _check_args(args: argparse.Namespace) -> None:
    for name in ("steps", "reference_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.num is not None and (args.num < 0 or (args.num == 0 and args.what not in ("adherence", "ceiling"))):
        raise ValueError(f"--num must be >= 1 (>= 0 for adherence and ceiling: held-out prompts only), got {args.num}")
    if args.seam_seconds <= 0 or args.music_seeds < 1:
        raise ValueError(
            f"--seam-seconds must be > 0 and --music-seeds >= 1, got {args.seam_seconds}, {args.music_seeds}"
        )
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.guidance_scale is not None and not args.guidance_scale >= 1:
        raise ValueError(f"--guidance-scale must be >= 1 (1 = no guidance), got {args.guidance_scale}")
    if args.what in ("tae", "audio") and args.data is None:
        raise ValueError(
            f"`moviegen eval {args.what}` needs --data WORLD_DIR (held-out videos; make one with `moviegen world`)"
        )
    if args.tae is not None and args.what == "audio":
        raise ValueError("--tae applies to the video evaluations (tae, adherence, ceiling, sampler, all), not to audio")
    if args.reference_solver != "euler" and args.update_card and args.what in ("sampler", "all"):
        raise ValueError("--update-card records the issue's yardstick, an Euler reference: drop --reference-solver "
                         f"{args.reference_solver} or --update-card")
    if args.tae is not None and args.update_card:
        raise ValueError("--update-card cannot be combined with --tae: the card describes the checkpoint's own TAE; "
                         "export a checkpoint with that TAE (`moviegen export --tae`) and measure it")
    if args.data is not None and not (Path(args.data) / "manifest.jsonl").is_file():
        raise ValueError(
            f"--data {args.data!r} has no manifest.jsonl: pass a directory written by `moviegen world -o DIR`"
        )
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {args.output!r} exists and is not a directory")


def _tae_of(loaded: "LoadedVideo", source: str, *, decodes_generated: bool) -> "TemporalAutoencoder":
    """The TAE of ``source`` (``--tae``) on the checkpoint's latent shift/scale. Measured alone, any TAE will do
    (more latent channels or another temporal compression too); to decode the transformer's latents it must encode
    as the checkpoint's does (a decoder-only phase)."""
    import torch

    from moviegen.train.export import load_tae_from

    tae = load_tae_from(source, cfg=loaded.cfg.tae, own_latent=True)
    if decodes_generated:  # the encoder and quant_conv make the latents (post_quant_conv is the decoder's)
        theirs, ours = tae.cfg, loaded.cfg.tae
        mismatch = None
        if theirs.latent_channels != ours.latent_channels:
            mismatch = f"{theirs.latent_channels} latent channels, the checkpoint's transformer was trained on " \
                       f"{ours.latent_channels}"
        elif theirs.temporal_compression != ours.temporal_compression:
            mismatch = f"{theirs.temporal_compression}x temporal compression, the checkpoint's transformer was " \
                       f"trained on {ours.temporal_compression}x"
        if mismatch:
            raise ValueError(
                f"--tae {source!r} has {mismatch}: its decoder does not fit the transformer's latents; "
                "`moviegen eval tae --tae` measures it alone"
            )
        theirs_side, ours_side = ({name: value for name, value in state.items()
                                   if name.startswith(("encoder.", "quant_conv."))}
                                  for state in (tae.state_dict(), loaded.tae.state_dict()))
        differing = sorted(theirs_side.keys() ^ ours_side.keys()) + [  # another depth: tensors only one side has
            name for name in sorted(theirs_side.keys() & ours_side.keys())
            if not torch.equal(theirs_side[name].half(), ours_side[name].half())
        ]
        if differing:
            raise ValueError(
                f"--tae {source!r} encodes differently from the checkpoint's TAE ({len(differing)} encoder-side "
                f"tensors differ, e.g. {differing[0]!r}), so its decoder does not fit the latents the transformer "
                f"learned; `moviegen eval tae --tae` measures it alone"
            )
    return tae


def _eval_audio(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from moviegen.audio.checkpoint import default_audio_checkpoint_dir
    from moviegen.audio.pipeline import AudioPipeline
    from moviegen.eval import report
    from moviegen.eval.audio import audio_table, evaluate_audio

    checkpoint = Path(args.checkpoint) if args.checkpoint is not None else default_audio_checkpoint_dir()
    pipeline = AudioPipeline.from_checkpoint(checkpoint)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    num = DEFAULT_NUM["audio"] if args.num is None else args.num
    result = evaluate_audio(
        pipeline, data_dir=args.data, num=num, seed=args.seed, steps=args.steps, guidance_scale=args.guidance_scale,
        seam_seconds=args.seam_seconds, music_seeds=args.music_seeds, progress=not args.no_progress,
    )
    table = audio_table(result)
    report.write_text(out / "audio.md", table)
    report.write_json(out / "eval.json", asdict(result))
    print(f"audio:\n{table}")
    if args.update_card:
        metrics = {"audio": {k: v for k, v in asdict(result).items() if k != "rows"} | {"num_videos": len(result.rows)}}
        card = report.update_model_card(checkpoint, metrics)
        print(f"merged the audio metrics into {card}")
    print(f"wrote {out / 'eval.json'}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.what == "audio":
        return _eval_audio(args)
    study_steps = _parse_steps(args.study_steps)
    reference_steps = DEFAULT_REFERENCE_STEPS if args.reference_steps is None else args.reference_steps
    if args.what in ("sampler", "all") and reference_steps <= max(study_steps):
        raise ValueError(f"--reference-steps must exceed every --study-steps (max {max(study_steps)}), "
                         f"got {reference_steps}")

    from moviegen.eval import report
    from moviegen.video.checkpoint import default_checkpoint_dir, load_video_checkpoint
    from moviegen.video.pipeline import VideoPipeline

    checkpoint = Path(args.checkpoint) if args.checkpoint is not None else default_checkpoint_dir()
    loaded = load_video_checkpoint(checkpoint)  # CheckpointError (a ValueError) names what is wrong
    whats = ("tae", "adherence", "sampler") if args.what == "all" else (args.what,)
    tae = loaded.tae
    if args.tae is not None:
        decodes_generated = bool({"adherence", "sampler"} & set(whats))
        tae = _tae_of(loaded, args.tae, decodes_generated=decodes_generated)
        if decodes_generated:
            loaded = replace(loaded, tae=tae, cfg=replace(loaded.cfg, tae=tae.cfg))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    results: dict[str, object] = {"checkpoint": str(checkpoint)}
    if args.tae is not None:
        results["tae_from"] = str(args.tae)
    metrics: dict[str, object] = {}

    if "tae" in whats and args.data is None:
        print("moviegen eval: skipping tae (no --data WORLD_DIR)", file=sys.stderr)
        whats = tuple(w for w in whats if w != "tae")
    if "tae" in whats:
        from moviegen.eval.reconstruction import evaluate_reconstruction, reconstruction_table

        num = DEFAULT_NUM["tae"] if args.num is None else args.num
        recon = evaluate_reconstruction(tae, args.data, num=num, progress=progress)
        report.write_text(out / "tae.md", reconstruction_table(recon))
        metrics["tae"] = {"psnr": round(recon.psnr, 3), "ssim": round(recon.ssim, 4), "num_videos": len(recon.rows),
                          "data": str(args.data)}
        if recon.fidelity:
            metrics["tae"]["object_fidelity"] = {
                version: {axis: round(value, 4) for axis, value in acc.items()}
                for version, acc in recon.fidelity.items()
            }
        results["tae"] = metrics["tae"] | {"rows": recon.rows}
        print(f"tae: PSNR {recon.psnr:.2f} dB, SSIM {recon.ssim:.4f} over {len(recon.rows)} held-out videos")
        if recon.fidelity:
            acc = recon.fidelity["reconstruction"]
            print(f"tae: objects kept through the round trip ({int(acc['count'])} on static clips): shape "
                  f"{acc['shape']:.0%}, motion {acc['motion']:.0%}, both {acc['joint']:.0%} (original: "
                  f"{recon.fidelity['original']['joint']:.0%})")

    if {"adherence", "ceiling", "sampler"} & set(whats):
        from moviegen.eval.settings import SamplingSettings

        settings = SamplingSettings.from_defaults(loaded.defaults, steps=args.steps, guidance_scale=args.guidance_scale)
    if {"adherence", "sampler"} & set(whats):  # ceiling draws its clips: it needs the TAE, not the transformer
        pipeline = VideoPipeline(loaded.tae, loaded.model, loaded.cfg, defaults=loaded.defaults, card=loaded.card)
    if "adherence" in whats:
        from moviegen.eval.adherence import adherence_cases, adherence_table, evaluate_adherence

        num = DEFAULT_NUM["adherence"] if args.num is None else args.num
        cases = adherence_cases(num_paraphrases=num, seed=args.seed)
        adherence = evaluate_adherence(pipeline, cases, settings=settings, seed=args.seed, progress=progress)
        table = adherence_table(adherence)
        report.write_text(out / "adherence.md", table)
        metrics["adherence"] = {"scores": adherence.scores, "steps": settings.steps, "seed": args.seed,
                                "guidance_scale": settings.guidance_scale}
        results["adherence"] = metrics["adherence"] | {"rows": adherence.rows}
        print(f"adherence ({settings.steps} steps, seed {args.seed}):\n{table}")

    if "ceiling" in whats:
        from functools import partial

        from moviegen.eval.adherence import WorldRenders, adherence_cases, ceiling_table, evaluate_adherence
        from moviegen.eval.reconstruction import reconstruct

        num = DEFAULT_NUM["ceiling"] if args.num is None else args.num
        cases = adherence_cases(num_paraphrases=num, seed=args.seed)
        trips = {"rendered": None, "through_tae": partial(reconstruct, tae.eval())}
        ceilings = {
            version: evaluate_adherence(WorldRenders(cases, round_trip=trip), cases, settings=settings,
                                        seed=args.seed, progress=progress)
            for version, trip in trips.items()
        }
        table = ceiling_table(ceilings)
        report.write_text(out / "ceiling.md", table)
        metrics["ceiling"] = {"scores": {version: result.scores for version, result in ceilings.items()},
                              "seed": args.seed}
        results["ceiling"] = metrics["ceiling"] | {"rows": {v: result.rows for v, result in ceilings.items()}}
        print(f"adherence ceiling (the world's renders of the cases, seed {args.seed}):\n{table}")

    if "sampler" in whats:
        from moviegen.eval.adherence import adherence_cases
        from moviegen.eval.sampler_study import plot_sampler_study, run_sampler_study, sampler_table
        from moviegen.flow.solver import ODESolver

        num = DEFAULT_NUM["sampler"] if args.num is None else args.num
        prompts = [case.prompt for case in adherence_cases(num_paraphrases=0, seed=args.seed)][:num]
        study = run_sampler_study(pipeline, prompts=prompts, settings=settings, seeds=(args.seed,), steps=study_steps,
                                  reference_steps=reference_steps, reference_solver=ODESolver(args.reference_solver),
                                  progress=progress)
        table = sampler_table(study)
        report.write_text(out / "sampler.md", table)
        plot = plot_sampler_study(study, out / "sampler.png")
        metrics["sampler"] = {"reference_steps": reference_steps, "reference_solver": study.reference_solver,
                              "num_prompts": len(prompts),
                              "guidance_scale": settings.guidance_scale,
                              "rmse": {s: {str(n): v for n, v in by.items()} for s, by in study.rmse.items()},
                              "pixel_rmse": {s: {str(n): v for n, v in by.items()}
                                             for s, by in study.pixel_rmse.items()},
                              "velocity_change": {t: round(v, 4) for t, v in study.velocity_change.items()}}
        results["sampler"] = metrics["sampler"] | {"rows": study.rows, "plot": plot.name}
        print(f"sampler study:\n{table}")

    report.write_json(out / "eval.json", results)
    if args.update_card:
        card = report.update_model_card(checkpoint, metrics)
        print(f"merged {sorted(metrics)} metrics into {card}")
    print(f"wrote {out / 'eval.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="measure a checkpoint on the synthetic world: TAE PSNR/SSIM, prompt adherence, sampler error, audio sync",
        description=(
            "Automatic metrics of a video checkpoint on the synthetic world (docs/eval.md).\n\n"
            "  tae        TAE reconstruction PSNR/SSIM on the held-out videos of --data (encode, decode, compare),\n"
            "             and object fidelity: do shape and motion survive the round trip (static-camera clips)\n"
            "  adherence  generate the held-out (colour, shape, motion) prompts and --num paraphrased ones with a\n"
            "             static camera, detect objects by the world's palette, score colour/shape/motion\n"
            "  ceiling    the same cases drawn by the world instead of generated, judged the same way: raw (the\n"
            "             analyser's ceiling) and through the TAE (the most any video model decoding through it\n"
            "             can score); needs no --data and no transformer (seconds a case)\n"
            "  sampler    RMSE of linear-quadratic and uniform grids at --study-steps against a --reference-steps\n"
            "             uniform Euler (or --reference-solver midpoint) solve from the same noise, of the final\n"
            "             latent and of its decoded frames (table and log-log plots), and how fast the\n"
            "             velocity changes along that solve, by t (where a grid needs its steps)\n"
            "  audio      an AUDIO checkpoint (default: the embedded one): impact-onset sync of sound generated for\n"
            "             --num held-out videos of --data against impacts seen in their frames (F1 within one 40 ms\n"
            "             latent frame, median offset), seam discontinuity of long audio, cheerful/sad music mode\n"
            "  all        tae, adherence and sampler (tae only when --data is given)\n\n"
            "Outputs in -o DIR: eval.json (every number and per-sample row), tae.md, adherence.md, ceiling.md,\n"
            "sampler.md, sampler.png. --update-card merges the metrics into the checkpoint's model_card.json."
        ),
        epilog=(
            "examples:\n"
            "  moviegen world -o world/ --num 200 --seed 0\n"
            "  moviegen eval tae --data world/ -o eval/             the shipped model's TAE\n"
            "  moviegen eval tae --data world/ --tae runs/tae-wide  a TAE run in its place (decoder-only: also\n"
            "                                                       adherence)\n"
            "  moviegen eval adherence --checkpoint runs/t2v/export --num 8 --seed 1\n"
            "  moviegen eval ceiling --tae runs/tae-t4             how much adherence a TAE leaves room for\n"
            "  moviegen eval sampler --num 1 --study-steps 4,8,16 --reference-steps 128\n"
            "  moviegen eval sampler --num 1 --reference-solver midpoint   a yardstick no Euler grid shares\n"
            "  moviegen eval all --data world/ --checkpoint runs/t2v/export --update-card\n"
            "  moviegen eval audio --data world/ --num 8 -o eval-audio/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=WHATS, metavar="WHAT", help=f"what to measure: {', '.join(WHATS)}")
    parser.add_argument(
        "--checkpoint", help="a video (audio: an audio) checkpoint directory (default: the embedded model)"
    )
    parser.add_argument("--data", metavar="WORLD_DIR", help="a world written by `moviegen world` (needed by tae)")
    parser.add_argument(
        "--tae", metavar="SOURCE",
        help="measure with another TAE: a TAE run directory, a checkpoint directory, an exported video checkpoint "
        "or a .safetensors file (its architecture, such as a widened decoder or a deepened TAE, comes with it); for "
        "adherence and sampler it must encode as the checkpoint's TAE does (a decoder-only phase), for tae and "
        "ceiling it may be any",
    )
    parser.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="OUT_DIR",
                        help=f"where to write eval.json, tables and plots (default: {DEFAULT_OUT}/)")
    parser.add_argument("--update-card", action="store_true",
                        help="merge the metrics into the checkpoint's model_card.json (atomically)")
    parser.add_argument(
        "--num",
        type=int,
        help="tae: held-out videos (default 16); adherence and ceiling: paraphrased prompts besides the 9 held-out "
        "ones (default 16, 0 for none); sampler: prompts (default 2); audio: held-out videos with impacts (default 16)",
    )
    parser.add_argument(
        "--steps", type=int, help="adherence and audio: sampler steps (default: the checkpoint's: 50 video, 64 audio)"
    )
    parser.add_argument(
        "--guidance-scale", type=float, metavar="W",
        help="adherence, sampler and audio: classifier-free guidance scale (default: the checkpoint's: 7.5 for "
        "the embedded video model, 4 for its sound)",
    )
    parser.add_argument("--study-steps", default=DEFAULT_STUDY_STEPS, metavar="N,N,...",
                        help=f"sampler study: step counts to compare (default {DEFAULT_STUDY_STEPS})")
    parser.add_argument("--reference-steps", type=int,
                        help=f"sampler study: steps of the uniform reference solve (default {DEFAULT_REFERENCE_STEPS})")
    # ODESolver's values, spelled out: the parser does not import torch.
    parser.add_argument("--reference-solver", choices=("euler", "midpoint"), default="euler",
                        help="sampler study: the reference's integration rule (default euler, the issue's yardstick; "
                        "midpoint: second order, so each grid is read by its own error, not its distance from "
                        "another first-order solve)")
    parser.add_argument("--seam-seconds", type=float, default=10.0, metavar="S",
                        help="audio: length of the long clips whose window joins are measured (default 10)")
    parser.add_argument("--music-seeds", type=int, default=4, metavar="N",
                        help="audio: generations per music prompt for the text-control measure (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="first noise seed; also picks the paraphrases (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=_cmd_eval)


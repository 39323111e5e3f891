"""``moviegen train`` (run a training recipe) and ``moviegen average`` (model averaging, SPEC 5.4)."""

import argparse
import sys
from pathlib import Path

from moviegen.cli.args import positive_int

TRAIN_DESCRIPTION = """\
Run a training recipe (SPEC 5). Recipes are presets (`moviegen train --list`):

  tae-tiny-image           TAE of the embedded default, phase 1/5: an image autoencoder on single frames
  tae-tiny                 phase 2/5: 16x48x48 clip crops                  (--init a tae-tiny-image run)
  tae-tiny-full            phase 3/5: 8x96x96 crops, close to full frames  (--init a tae-tiny run)
  tae-tiny-clip            phase 4/5: whole 2 s clips, 32x64x64 crops      (--init a tae-tiny-full run)
  tae-tiny-clip-encoder    phase 5/5: phase 4 with the encoder trained too (--init a tae-tiny-clip run; new latents)
  tae-tiny-clip-linear     experiment: phase 4 with linear temporal upsampling in the decoder (--init a TAE)
  tae-tiny-clip-wide       experiment: phase 4 with a 2x wide decoder, widened from the --init TAE's
  tae-tiny-clip-32ch       experiment: 32 latent channels widened from the --init TAE's 16, encoder trained too
  tae-tiny-clip-deep       experiment: 2 ResNets per level deepened from the --init TAE's 1, encoder trained too
  tae-tiny-clip-motion     experiment: phase 5 with half of its crops where the frames change most (--init a TAE)
  t2v-tiny-t2i-lowres      text-to-video stage 1/3: text-to-image warm-up at 64 px
  t2v-tiny-t2iv-lowres     stage 2/3: joint images + videos at 64 px      (--init a stage-1 run)
  t2v-tiny-t2iv            stage 3/3: joint images + videos at 128 px     (--init a stage-2 run)
  t2v-tiny-t2iv-shifted    stage 3 continued at the noise end (--init a stage-3 run): the embedded default's
                           last stage, fine-tuned 4000 steps on phase 5's latents
  t2v-tiny-t2iv-motion     experiment (biased): stage 3 fine-tuned, loss weighted by latent change (--init a stage 3)
  t2v-tiny-t2iv-objects    experiment (biased): stage 3 fine-tuned, loss weighted toward objects (--init a stage 3)
  t2v-small-t2i-lowres, t2v-small-t2iv-lowres, t2v-small-t2iv     experiment: the same 3 stages for video-small
                           (8 layers, width 384; stage 3 with the shifted times); each --init the previous
  audio-codec-tiny         Movie Gen Audio's DAC-VAE: 16 kHz -> 25 Hz latents, on 0.48 s crops of the data's sound
  audio-codec-tiny-mel     codec phase 2: adds the multi-scale log-mel loss (--init an audio-codec-tiny run)
  audio-tiny               the audio transformer on 2 s windows of codec latents (--codec an audio-codec-tiny run)
  tae-debug, t2v-debug, audio-codec-debug(-mel), audio-debug     seconds-long runs for tests

Text-to-video recipes train on TAE latents: --tae names the TAE (a tae-tiny run directory, a checkpoint directory,
an exported video checkpoint such as moviegen/assets/video-tiny, or a .safetensors file); the dataset is encoded
once into a latent cache (DATA/latents/<key>/, or --latents DIR) that every later stage and run reuses. Audio
recipes decode every video's sound and small frames once into DATA/audio-cache/; the transformer recipe also caches
the --codec's latents there.

A run directory (-o) receives run.json (the resolved recipe), checkpoints/step_NNNNNNNN/ (safetensors + JSON;
checkpoints/latest names the newest), metrics.jsonl (one line per step) and tb/ (TensorBoard). Ctrl-C or SIGTERM
finishes the current step and writes a checkpoint; --resume continues exactly where it stopped, with the flags
the run was started with (run.json); only --steps may change, to extend a run. To change another flag, start a
new run with --init naming this one (a fine-tune: a run of the recipe itself, or of another recipe that continues
the same phase, is a valid --init).
A text-to-video stage may also --init an exported video checkpoint (the embedded default, or `moviegen export`'s
output): its stored weights and latent scale; it qualifies when its card's last stage is the phase the recipe
continues, the recipe itself, or a sibling fine-tune of that phase (as for runs). Exporting the fine-tune then
lists the checkpoint's stages (recorded when the run started) before the run's own.

The transformer recipes (t2v-*, audio-tiny, audio-debug) also train on several processes: --dp (FSDP2), --tp
(tensor + sequence parallel), --cp (context parallel), --ac (activation checkpointing). Outside torchrun, moviegen
train starts torchrun on this machine with dp x tp x cp processes; on a cluster run `torchrun ... -m moviegen.train`
(docs/distributed.md has multi-node and SLURM examples). Losses equal the single-process run's; checkpoints are
sharded DCP checkpoints that resume on any layout and export like any other.
"""

TRAIN_EPILOG = """\
examples:
  moviegen world -o world/ --num 200 --seed 0
  moviegen train tae-tiny-image --data world/ -o runs/tae-image
  moviegen train tae-tiny       --data world/ -o runs/tae --init runs/tae-image
  moviegen train tae-tiny-full  --data world/ -o runs/tae-full --init runs/tae
  moviegen train t2v-tiny-t2i-lowres  --data world/ --tae runs/tae-full -o runs/t2i
  moviegen train t2v-tiny-t2iv-lowres --data world/ --tae runs/tae-full -o runs/t2iv-low --init runs/t2i
  moviegen train t2v-tiny-t2iv        --data world/ --tae runs/tae-full -o runs/t2iv --init runs/t2iv-low
  moviegen train audio-codec-tiny --data world/ -o runs/audio-codec
  moviegen train audio-codec-tiny-mel --data world/ -o runs/audio-codec-mel --init runs/audio-codec
  moviegen train audio-tiny       --data world/ --codec runs/audio-codec -o runs/audio
  moviegen train tae-tiny --data world/ -o runs/tae --resume        continue an interrupted run
  moviegen train t2v-tiny-t2iv-shifted --data world/ --tae moviegen/assets/video-tiny -o runs/more \
      --init moviegen/assets/video-tiny --steps 3000          fine-tune the embedded default further
  moviegen train t2v-tiny-t2iv --cache-only --data world/ --tae runs/tae-full     only encode the latents
  moviegen train tae-debug --data world/ -o /tmp/run --steps 2        a smoke test
  tensorboard --logdir runs/                                         watch the curves
  moviegen train t2v-tiny-t2iv --data world/ --tae runs/tae-full -o runs/t2iv-dp --dp 2     FSDP on 2 processes
  torchrun --nproc_per_node=8 -m moviegen.train t2v-tiny-t2iv --data world/ --tae runs/tae-full -o runs/t8 --tp 4 --cp 2
                                                                     TP 4 x CP 2 on 8 GPUs
"""

AVERAGE_DESCRIPTION = """\
Average the weights of several runs or checkpoints (SPEC 5.4 "model averaging", as in Llama 3): every floating
tensor becomes the (weighted) mean of the sources. Sources are run directories (their latest checkpoint),
checkpoint directories or .safetensors files, all with the same keys and shapes; the first mismatch is named.
Dtypes may differ: each tensor is stored in the widest of its sources' (float16 export + float32 run: float32).
"""

AVERAGE_EPILOG = """\
examples:
  moviegen average runs/sft-a runs/sft-b runs/sft-c -o averaged.safetensors
  moviegen average runs/sft-a runs/sft-b --ema -o averaged_ema.safetensors      average the EMA weights
  moviegen average a.safetensors b.safetensors --weights 2 1 -o mix.safetensors
"""


def _parallel_config(args: argparse.Namespace):  # -> ParallelConfig
    from moviegen.train.parallel_dims import ACMode, ParallelConfig

    return ParallelConfig(
        dp=args.dp, tp=args.tp, cp=args.cp, ac=ACMode(args.ac), ac_every=args.ac_every, compile=args.compile,
        param_dtype=args.param_dtype,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from moviegen.train.launch import TrainRequest, describe_recipes, run_training
    from moviegen.train.parallel_dims import launched_by_torchrun

    if args.list:
        for name, description in describe_recipes():
            print(f"{name:<24} {description}")
        return 0
    required = (("RECIPE", args.recipe), ("--data", args.data)) + (() if args.cache_only else (("-o", args.output),))
    missing = [flag for flag, value in required if value is None]
    if missing:
        prefix, example = (
            ("--cache-only: ", "moviegen train t2v-tiny-t2iv --cache-only --data world/ --tae runs/tae-full")
            if args.cache_only else ("", "moviegen train tae-tiny --data world/ -o runs/tae")
        )
        raise ValueError(f"{prefix}missing {', '.join(missing)}; e.g. {example}")
    if args.cache_only:
        return _cache_only(args)
    parallel = _parallel_config(args)
    if not launched_by_torchrun() and not parallel.is_single_process:
        from moviegen.cli.torchrun import relaunch_under_torchrun

        argv = args.argv[args.argv.index("train") + 1 :]
        nproc = (parallel.dp or 1) * parallel.tp * parallel.cp
        return relaunch_under_torchrun(argv, nproc=nproc, module="moviegen.train")
    request = TrainRequest(
        recipe=args.recipe,
        data_dir=Path(args.data),
        run_dir=Path(args.output),
        init=None if args.init is None else Path(args.init),
        tae=None if args.tae is None else Path(args.tae),
        codec=None if args.codec is None else Path(args.codec),
        latents=None if args.latents is None else Path(args.latents),
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        bf16=args.bf16,
        resume=args.resume,
        seed=args.seed,
        uniform_t=args.uniform_t,
        logit_mean=args.logit_mean,
        progress=not args.no_progress,
        parallel=parallel,
    )
    try:
        result = run_training(request)
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    state = "interrupted" if result.interrupted else "finished"
    print(f"{state} at step {result.step}; checkpoint: {result.checkpoint}", file=sys.stderr)
    return 130 if result.interrupted else 0


# the flags (argparse dests) --cache-only uses; every other flag belongs to a run and is refused when set
_CACHE_ONLY_FLAGS = frozenset({"recipe", "list", "data", "tae", "latents", "cache_only", "no_progress", "help"})


def _cache_only(args: argparse.Namespace) -> int:
    from moviegen.train.launch import prepare_latent_cache

    given = [flag for flag, name, unset in args.run_flags if getattr(args, name) != unset]
    if given:
        raise ValueError(f"--cache-only builds the latent cache and starts no run: drop {', '.join(given)}")
    cache_dir = prepare_latent_cache(
        args.recipe, data_dir=Path(args.data), tae=None if args.tae is None else Path(args.tae),
        latents=None if args.latents is None else Path(args.latents), progress=not args.no_progress,
    )
    print(f"latent cache: {cache_dir} (a run of this recipe with the same --tae reuses it; pass --latents "
          f"{cache_dir} when it is not the default place)")
    return 0


def _cmd_average(args: argparse.Namespace) -> int:
    from safetensors.torch import save_file

    from moviegen.io.media import atomic_path
    from moviegen.train.average import average_checkpoints

    output = Path(args.output)
    if output.suffix != ".safetensors":
        raise ValueError(f"-o must name a .safetensors file, got {args.output!r}")
    state = average_checkpoints(args.sources, args.weights, ema=args.ema)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp:
        save_file(state, str(tmp), metadata={"averaged_from": ",".join(str(s) for s in args.sources)})
    print(f"averaged {len(args.sources)} checkpoints ({len(state)} tensors) into {output}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from moviegen.train.export import export_audio_checkpoint, export_video_checkpoint

    video, audio = (args.t2v, args.tae), (args.audio, args.codec)
    if any(video) == any(audio) or not (all(video) or all(audio)):
        raise ValueError(
            "export takes either --t2v RUN --tae RUN (a video checkpoint) or --audio RUN --codec RUN (an audio "
            f"checkpoint), got --t2v {args.t2v!r} --tae {args.tae!r} --audio {args.audio!r} --codec {args.codec!r}"
        )
    if all(video):
        out = export_video_checkpoint(
            t2v_run=args.t2v, tae_run=args.tae, out_dir=args.output, guidance_scale=args.guidance_scale
        )
        print(f"wrote the inference checkpoint {out} (use it with `moviegen generate --checkpoint {out}`)")
    else:
        out = export_audio_checkpoint(
            audio_run=args.audio, codec_run=args.codec, out_dir=args.output, guidance_scale=args.guidance_scale
        )
        print(f"wrote the audio checkpoint {out} (use it with `moviegen audio --checkpoint {out}` or "
              f"`moviegen generate --audio-checkpoint {out}`)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="run a training recipe (TAE, text-to-video stages, audio); --list shows them",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("recipe", nargs="?", metavar="RECIPE", help="recipe name (see --list)")
    train.add_argument("--list", action="store_true", help="list the recipes with a one-line description and exit")
    train.add_argument("--data", metavar="DIR", help="dataset directory with manifest.jsonl (`moviegen world`)")
    train.add_argument("-o", "--output", metavar="RUN_DIR", help="run directory (checkpoints, metrics, TensorBoard)")
    train.add_argument(
        "--init", metavar="PREV_RUN",
        help="initialise from a previous run (the previous stage); text-to-video and TAE recipes also take an "
        "exported video checkpoint directory (its transformer or its TAE)",
    )
    train.add_argument(
        "--tae", metavar="TAE_RUN_OR_CKPT",
        help="the TAE whose latents text-to-video recipes train on (a run, checkpoint, exported video checkpoint "
        "or .safetensors)",
    )
    train.add_argument(
        "--codec", metavar="CODEC_RUN_OR_FILE", help="the audio codec whose latents audio recipes train on"
    )
    train.add_argument("--latents", metavar="CACHE_DIR", help="latent cache directory (default DATA/latents/<key>)")
    train.add_argument(
        "--cache-only", action="store_true",
        help="text-to-video recipes: encode --data with --tae into the latent cache the recipe trains on, then stop "
        "(no run directory; an interrupted cache resumes by shard)",
    )
    train.add_argument("--steps", type=positive_int, metavar="N", help="override the recipe's step count")
    train.add_argument("--batch-size", type=positive_int, metavar="B", help="override the recipe's batch size")
    train.add_argument("--lr", type=float, metavar="LR", help="override the recipe's peak learning rate")
    train.add_argument("--bf16", action="store_true", help="bfloat16 autocast for forward and loss")
    train.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its latest checkpoint")
    train.add_argument("--seed", type=int, metavar="S", help="override the recipe's seed (init, data order, noise)")
    train.add_argument(
        "--uniform-t", type=float, metavar="P",
        help="flow-matching recipes: draw this fraction of the training times uniformly instead of logit-normal, so "
        "the ends of the path near noise and near data train too (default 0, as the paper)",
    )
    train.add_argument(
        "--logit-mean", type=float, metavar="M",
        help="flow-matching recipes: the mean of the logit-normal training times (default 0, as the paper); "
        "negative moves training toward the noise end (t = 0), where a sample's layout is decided",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    par = train.add_argument_group(
        "parallelism (SPEC 6; t2v-* and audio transformer recipes; under torchrun, or started for you here)"
    )
    par.add_argument("--dp", type=positive_int, metavar="N", help="data-parallel (FSDP) degree; default: the rest")
    par.add_argument("--tp", type=positive_int, default=1, metavar="N", help="tensor (+sequence) parallel degree")
    par.add_argument("--cp", type=positive_int, default=1, metavar="N", help="context-parallel degree")
    par.add_argument(
        "--ac", choices=("none", "selective", "full"), default="none",
        help="activation checkpointing: none, selective (one block in --ac-every) or full (every block)",
    )
    par.add_argument("--ac-every", type=positive_int, default=2, metavar="K", help="selective AC: one block in K")
    par.add_argument("--compile", action="store_true", help="torch.compile every transformer block")
    par.add_argument(
        "--param-dtype", choices=("float32", "bfloat16"), default="float32",
        help="FSDP compute dtype of the parameters (gradients are reduced in float32)",
    )
    train.set_defaults(
        func=_cmd_train,
        run_flags=tuple(  # (flag, dest, default) of each run flag, for --cache-only's refusals
            (action.option_strings[0], action.dest, action.default)
            for action in train._actions
            if action.option_strings and action.dest not in _CACHE_ONLY_FLAGS
        ),
    )

    average = sub.add_parser(
        "average",
        help="average the weights of several runs or checkpoints (model averaging)",
        description=AVERAGE_DESCRIPTION,
        epilog=AVERAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    average.add_argument("sources", nargs="+", metavar="RUN_OR_CKPT", help="run dirs, checkpoint dirs or .safetensors")
    average.add_argument("-o", "--output", required=True, metavar="OUT.safetensors", help="where to write the mean")
    average.add_argument("--weights", type=float, nargs="+", metavar="W", help="one weight per source (normalised)")
    average.add_argument("--ema", action="store_true", help="average the EMA weights (ema.safetensors) of checkpoints")
    average.set_defaults(func=_cmd_average)

    export = sub.add_parser(
        "export",
        help="turn training runs into an inference checkpoint (video: --t2v/--tae; audio: --audio/--codec)",
        description=(
            "Write an inference checkpoint directory (config.json, tae.safetensors, t2v.safetensors in float16, and\n"
            "model_card.json) from the last text-to-video stage (its EMA weights and the config recorded in its\n"
            "run.json, latent shift/scale included) and the TAE run whose latents it was trained on. The model card\n"
            "lists every stage of the recipe, found by following each run's --init back to the first stage (or to\n"
            "an exported checkpoint, whose card's stages come first).\n\n"
            "An audio checkpoint (config.json, codec.safetensors, audio.safetensors, model_card.json) comes from an\n"
            "audio transformer run (EMA weights, the latent shift/scale it measured) and the codec run it used."
        ),
        epilog=(
            "examples:\n"
            "  moviegen export --t2v runs/t2iv --tae runs/tae -o my-model/\n"
            "  moviegen generate \"a red circle bounces on a gray floor\" --checkpoint my-model/ -o out.mp4\n"
            "  moviegen export --audio runs/audio --codec runs/audio-codec -o my-audio/\n"
            "  moviegen audio clip.mp4 --checkpoint my-audio/ -o clip-with-sound.mp4"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("--t2v", metavar="RUN_DIR", help="the last text-to-video stage's run directory")
    export.add_argument(
        "--tae", metavar="TAE_RUN", help="the TAE run (or checkpoint, exported video checkpoint, .safetensors)"
    )
    export.add_argument("--audio", metavar="RUN_DIR", help="an audio transformer run (recipe audio-tiny)")
    export.add_argument("--codec", metavar="CODEC_RUN", help="the audio codec run (or .safetensors) it trained on")
    export.add_argument("-o", "--output", required=True, metavar="DIR", help="checkpoint directory to write")
    export.add_argument(
        "--guidance-scale", type=float, metavar="W",
        help="the checkpoint's default classifier-free guidance, >= 1 (default: the run's recipe's; the card "
        "records an override), e.g. a scale chosen by `moviegen eval` on clips the final eval does not use",
    )
    export.set_defaults(func=_cmd_export)

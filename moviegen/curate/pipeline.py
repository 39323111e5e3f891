"""``moviegen curate``: a raw video folder to balanced, captioned training clips, on Ray Data (SPEC 11).

:func:`curate` runs in four steps:

1. **Discover** every file below the input folder (metadata files aside). Each input gets a key from its path, size,
   modification time and the config, and its work file ``OUT/work/<key>.json``.
2. **Per input, on Ray Data** (``ray.init()`` locally, or the cluster at ``ray_address``): the funnel of
   :func:`moviegen.curate.stages.curate_input`, one input per block and task. The worker writes the candidate clips
   and then, atomically, the work file: a re-run skips every input whose work file exists, so a killed run resumes
   where it stopped. A task whose worker dies is retried by Ray; if it dies every time, the driver runs the inputs
   left, one isolated task each, and an input that still kills its worker is recorded as rejected with that reason.
   No input is ever missing from the manifest.
3. **Over the corpus** (on the driver, from the work files): near-duplicates, concept balancing, captions (a
   :class:`Captioner`; the camera-motion classifier's confident labels become the ``camera`` prefix).
4. **Write** ``OUT/manifest.parquet`` (every input and every clip, kept or with its reason, and every score),
   ``OUT/manifest.jsonl`` + ``OUT/videos/`` (the kept clips in the training loader's format: ``moviegen train --data
   OUT``), ``OUT/report.md`` (the funnel table as in SPEC 11.2) and ``OUT/funnel.png``. Step 3 and 4 are recomputed
   from all work files on every run, so the outputs depend only on the inputs and the config.
"""

import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from moviegen.configs.serialize import config_from_dict, config_to_dict
from moviegen.curate.config import CurateConfig
from moviegen.curate.stages import (
    CLIP_STAGES,
    CORPUS_STAGES,
    INPUT_STAGES,
    InputResult,
    Scorers,
    concept_balance,
    curate_input,
    error_result,
    input_key,
    near_duplicates,
)
from moviegen.io.media import atomic_path

METADATA_SUFFIXES = (".txt", ".json", ".jsonl", ".md", ".parquet", ".csv", ".yaml", ".yml")
WORK, CANDIDATES, VIDEOS = "work", "candidates", "videos"


# -- captions -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caption:
    text: str
    prompts: tuple[str, ...] = ()


class Captioner(Protocol):
    """Gives the caption of a clip cut from ``source`` (None: no caption, the clip is dropped)."""

    def caption(self, source: Path, *, start: float, end: float) -> Caption | None: ...


class WorldCaptioner:
    """The synthetic world's ground truth: the caption and prompts of the source video in the folder's
    ``manifest.jsonl`` (world clips are single shots, so every clip of a video shares its caption)."""

    def __init__(self, input_dir: Path) -> None:
        from moviegen.data.manifest import read_manifest

        self.by_path = {entry.path.resolve(): entry for entry in read_manifest(input_dir)}

    def caption(self, source: Path, *, start: float, end: float) -> Caption | None:
        entry = self.by_path.get(source.resolve())
        return None if entry is None else Caption(text=entry.caption, prompts=tuple(entry.prompts))


class SidecarCaptioner:
    """A caption in a ``.txt`` file beside the source video (``clip.mp4`` + ``clip.txt``)."""

    def caption(self, source: Path, *, start: float, end: float) -> Caption | None:
        sidecar = source.with_suffix(".txt")
        if not sidecar.is_file():
            return None
        text = sidecar.read_text().strip()
        return Caption(text=text) if text else None


def default_captioner(input_dir: Path) -> Captioner:
    """The world's ground truth when the folder has a ``manifest.jsonl``, else ``.txt`` sidecars."""
    return WorldCaptioner(input_dir) if (input_dir / "manifest.jsonl").is_file() else SidecarCaptioner()


# -- discovery and the per-input stage on Ray --------------------------------------------------------------------------


def discover(input_dir: Path, *, exclude: Path | None = None) -> list[Path]:
    """Every file below ``input_dir`` except metadata (:data:`METADATA_SUFFIXES`), hidden files and ``exclude``."""
    found = []
    for path in sorted(input_dir.rglob("*")):
        if not path.is_file() or path.suffix.lower() in METADATA_SUFFIXES:
            continue
        rel = path.relative_to(input_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if exclude is not None and path.resolve().is_relative_to(exclude.resolve()):
            continue
        found.append(path)
    return found


def config_digest(cfg: CurateConfig) -> str:
    return hashlib.sha1(json.dumps(config_to_dict(cfg), sort_keys=True).encode()).hexdigest()[:12]


def _write_work(out_dir: Path, key: str, result: InputResult) -> None:
    with atomic_path(out_dir / WORK / f"{key}.json") as tmp:
        tmp.write_text(json.dumps({"input": result.input_row, "clips": result.clip_rows}))


def process_item(item: dict[str, Any], *, config: dict[str, Any], out_dir: str, scorers: Scorers) -> dict[str, Any]:
    """What a Ray worker runs for one input: the funnel, then the work file. Returns ``{"key": ...}``."""
    import torch

    torch.set_num_threads(1)  # one core per task: Ray schedules by cores
    cfg = config_from_dict(CurateConfig, config)
    out = Path(out_dir)
    start = time.perf_counter()
    try:
        result = curate_input(Path(item["source"]), relpath=item["relpath"], key=item["key"], cfg=cfg,
                              candidates_dir=out / CANDIDATES, scorers=scorers)
    except Exception as err:  # never lose an input to a bug: it is rejected with the error
        result = error_result(item["relpath"], item["key"], err)
    result.input_row["process_seconds"] = time.perf_counter() - start
    _write_work(out, item["key"], result)
    return {"key": item["key"]}


def _retry_twice() -> dict[str, Any]:
    return {"max_retries": 2}


def _run_on_ray(items: list[dict[str, Any]], *, cfg: CurateConfig, out_dir: Path, scorers: Scorers, workers: int,
                progress: bool) -> None:
    """Step 2 on Ray Data, then the isolated fallback for inputs whose worker kept dying."""
    import ray
    from tqdm import tqdm

    kwargs = {"config": config_to_dict(cfg), "out_dir": str(out_dir), "scorers": scorers}
    bar = tqdm(total=len(items), desc="curate", disable=not progress, unit="input")
    try:
        dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
        with warnings.catch_warnings():
            # Ray Data retries a task whose worker dies forever by default; two retries, then the isolated fallback
            # below. Ray 2.60 marks task-level remote args as deprecated with no replacement yet (removal: 2.64).
            warnings.filterwarnings("ignore", message=".*ray_remote_args_fn.*deprecated")
            dataset = dataset.map(
                process_item, fn_kwargs=kwargs, num_cpus=1, concurrency=workers, ray_remote_args_fn=_retry_twice
            )
        for _ in dataset.iter_rows():
            bar.update(1)
    except Exception as err:  # a task failed after its retries (a worker that keeps dying): isolate the rest
        left = [item for item in items if not (out_dir / WORK / f"{item['key']}.json").is_file()]
        bar.write(f"Ray Data stopped ({type(err).__name__}); running {len(left)} inputs one task each")
        task = ray.remote(max_retries=1, num_cpus=1)(process_item)
        for item in left:
            try:
                ray.get(task.remote(item, **kwargs))
            except Exception as task_err:
                reason = f"worker died twice while processing it ({type(task_err).__name__})"
                _write_work(out_dir, item["key"], error_result(item["relpath"], item["key"], reason))
            bar.update(1)
    finally:
        bar.close()


# -- the whole run --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurateResult:
    inputs: int
    clips_cut: int
    clips_kept: int
    processed: int  # inputs processed in this run (the others were done by an earlier run)
    processing_seconds: float  # wall time of the per-input stage in this run (Ray's start-up excluded)
    manifest: Path
    report: Path


def curate(
    input_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    cfg: CurateConfig = CurateConfig(),
    workers: int | None = None,
    ray_address: str | None = None,
    captioner: Captioner | None = None,
    camera_classifier: Any = None,
    scorers: Scorers = Scorers(),
    progress: bool = True,
) -> CurateResult:
    """Curate every file below ``input_dir`` into ``out_dir`` (see the module docstring).

    Args:
        input_dir: the raw corpus.
        out_dir: where the outputs and the work files go (re-runs resume here).
        cfg: thresholds and settings.
        workers: parallel tasks (default: the cores Ray sees).
        ray_address: a Ray cluster to use (``ray://host:10001`` or ``auto``); None starts Ray on this machine.
        captioner: captions for kept clips (default :func:`default_captioner`).
        camera_classifier: a :class:`moviegen.curate.tags.CameraClassifier` (None: no camera labels).
        scorers: pluggable models (the aesthetic scorer).
        progress: show a progress bar.

    Raises:
        ValueError: a missing input folder, an output folder inside it that holds other files, or no input.
    """
    import ray

    src, out = Path(input_dir), Path(out_dir)
    if not src.is_dir():
        raise ValueError(f"input {str(src)!r} is not a directory")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    sources = discover(src, exclude=out)
    if not sources:
        raise ValueError(f"input {str(src)!r} holds no file to curate")
    for sub in (WORK, CANDIDATES, VIDEOS):
        (out / sub).mkdir(parents=True, exist_ok=True)
    digest = config_digest(cfg)
    items = []
    for path in sources:
        stat = path.stat()
        rel = str(path.relative_to(src))
        items.append({"source": str(path.resolve()), "relpath": rel,
                      "key": input_key(rel, size=stat.st_size, mtime_ns=stat.st_mtime_ns, config_digest=digest)})
    todo = [item for item in items if not (out / WORK / f"{item['key']}.json").is_file()]
    processing = 0.0
    if todo:
        started = not ray.is_initialized()
        if started:
            ray.init(address=ray_address, num_cpus=workers if ray_address is None else None, include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR")
            ray.data.DataContext.get_current().enable_progress_bars = False  # ours is the tqdm bar
            logging.getLogger("ray.data").setLevel(logging.ERROR)
        try:
            parallel = workers or max(1, int(ray.available_resources().get("CPU", 1)))
            started_at = time.perf_counter()
            _run_on_ray(todo, cfg=cfg, out_dir=out, scorers=scorers, workers=parallel, progress=progress)
            processing = time.perf_counter() - started_at
        finally:
            if started:
                ray.shutdown()
    results = [json.loads((out / WORK / f"{item['key']}.json").read_text()) for item in items]
    sources_by_rel = {item["relpath"]: Path(item["source"]) for item in items}
    input_rows, clip_rows = _corpus_stages(results, sources_by_rel, cfg=cfg,
                                           captioner=captioner or default_captioner(src),
                                           camera_classifier=camera_classifier)
    kept = _write_outputs(out, input_rows, clip_rows, cfg=cfg)
    return CurateResult(
        inputs=len(items), clips_cut=len(clip_rows), clips_kept=kept, processed=len(todo),
        processing_seconds=processing, manifest=out / "manifest.parquet", report=out / "report.md",
    )


def _corpus_stages(
    results: list[dict[str, Any]], sources: dict[str, Path], *, cfg: CurateConfig, captioner: Captioner,
    camera_classifier: Any,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import numpy as np

    input_rows = [r["input"] for r in results]
    clip_rows = [c for r in results for c in r["clips"]]
    candidates = [c for c in clip_rows if c["kept"]]
    near_duplicates(candidates, max_cosine=cfg.filters.max_duplicate_cosine)
    if cfg.balance:
        concept_balance([c for c in candidates if c["kept"]], clusters=cfg.clusters, seed=cfg.seed)
    for clip in (c for c in candidates if c["kept"]):
        caption = captioner.caption(sources[clip["path"]], start=clip["start"], end=clip["end"])
        if caption is None:
            clip.update(kept=False, stage="caption", reason="no caption for its source")
            continue
        clip.update(caption=caption.text, prompts=list(caption.prompts))
        clip["camera"] = None
        if camera_classifier is not None:
            label, confidence = camera_classifier.predict(np.asarray(clip["camera_features"], np.float32))
            clip.update(camera_predicted=label, camera_confidence=confidence)
            if confidence >= cfg.camera_confidence:
                clip["camera"] = label
    by_input: dict[str, list[dict[str, Any]]] = {}
    for clip in clip_rows:
        by_input.setdefault(clip["path"], []).append(clip)
    for row in input_rows:
        clips = by_input.get(row["path"], [])
        if any(c["kept"] for c in clips):
            row.update(kept=True, stage="", reason="")
        elif row["kept"]:  # its clips passed the per-input funnel but not the corpus stages
            row.update(kept=False, stage=clips[0]["stage"], reason=f"no clip kept: {clips[0]['reason']}")
    return input_rows, clip_rows


def _write_outputs(out: Path, input_rows: list[dict[str, Any]], clip_rows: list[dict[str, Any]],
                   *, cfg: CurateConfig) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from moviegen.curate.report import write_report

    kept = sorted((c for c in clip_rows if c["kept"]), key=lambda c: c["id"])
    fps_of = {row["path"]: row.get("fps") for row in input_rows}
    lines, keep_files = [], set()
    for clip in kept:
        name = f"{clip['id']}.mp4"
        keep_files.add(name)
        target = out / VIDEOS / name
        if not target.exists():  # the candidate's bytes, linked (no copy) on one file system
            try:
                os.link(out / CANDIDATES / name, target)
            except OSError:
                shutil.copy2(out / CANDIDATES / name, target)
        lines.append({
            "id": clip["id"], "path": f"{VIDEOS}/{name}", "kind": "video", "split": "train",
            "width": clip["width"], "height": clip["height"], "fps": fps_of[clip["path"]],
            "num_frames": clip["num_frames"], "seconds": clip["seconds"], "caption": clip["caption"],
            "prompts": clip.get("prompts", []), "camera": clip.get("camera"),
            "source": clip["path"], "source_start": clip["start"], "audio": {"tag": clip.get("audio_tag")},
        })
    for stale in (out / VIDEOS).iterdir():
        if stale.name not in keep_files:
            stale.unlink()
    with atomic_path(out / "manifest.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rows = [{k: v for k, v in r.items() if k != "embedding"} for r in [*input_rows, *clip_rows]]
    first = ["path", "level", "id", "kept", "stage", "reason"]
    columns = first + sorted(set().union(*rows) - set(first))  # input and clip rows carry different scores
    table = pa.Table.from_pydict({c: [r.get(c) for r in rows] for c in columns})
    with atomic_path(out / "manifest.parquet") as tmp:
        pq.write_table(table, str(tmp))
    write_report(out, input_rows, clip_rows, cfg=cfg, stages=(INPUT_STAGES, CLIP_STAGES, CORPUS_STAGES))
    return len(kept)

"""Training-data manifests: what samples exist, where they are, and their captions (SPEC 5, data pipeline).

Three kinds of source are read into one list of :class:`ManifestEntry`:

* a directory holding ``manifest.jsonl`` (what ``moviegen world`` and ``moviegen curate`` write);
* a ``.jsonl`` file with the same format (paths are relative to the file's directory);
* a plain folder of real videos and images with sidecar captions: ``clip.mp4`` + ``clip.txt``. Files without a
  caption (or that PyAV cannot open) are reported with :mod:`logging` and skipped. Width, height, fps and frame count
  are probed from the stream metadata (no decoding), so scanning a large folder is cheap.

Manifest line format (one JSON object per line; the contract shared with the synthetic world writer)::

    {"id": "000001", "path": "videos/000001.mp4", "kind": "video", "split": "train", "width": 128, "height": 128,
     "fps": 16, "num_frames": 48, "seconds": 3.0, "caption": "A dense paragraph ...", "prompts": ["a red ball ..."],
     "camera": "pan left", "text": null, "scene": {...}, "audio": {...}}

Required keys are :data:`REQUIRED_KEYS`; ``camera`` is optional (``null`` if absent); every other key lands in
``ManifestEntry.meta`` untouched. A bad line raises ``ValueError`` naming the file and the line number.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
REQUIRED_KEYS = ("id", "path", "kind", "split", "width", "height", "fps", "num_frames", "caption", "prompts")
KINDS = ("video", "image")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
CAPTION_SUFFIX = ".txt"


@dataclass(frozen=True, kw_only=True)
class ManifestEntry:
    """One training sample as described by its manifest line.

    Attributes:
        id: unique sample id (seeds every per-sample random choice, keys the latent cache).
        path: absolute path of the media file.
        kind: ``"video"`` or ``"image"``.
        split: e.g. ``"train"`` or ``"heldout"``.
        width, height: frame size in pixels.
        fps: frame rate (None for images).
        num_frames: frame count (1 for images).
        caption: the dense, paragraph-style caption.
        prompts: short user-style prompts describing the same sample (may be empty).
        camera: camera-motion label (``"pan left"``), or None.
        meta: every other key of the manifest line (``seconds``, ``scene``, ``audio``, ...).
    """

    id: str
    path: Path
    kind: Literal["video", "image"]
    split: str
    width: int
    height: int
    fps: float | None
    num_frames: int
    caption: str
    prompts: tuple[str, ...] = ()
    camera: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def seconds(self) -> float | None:
        """Duration in seconds (None for images)."""
        return None if self.fps is None else self.num_frames / self.fps


def read_manifest(source: str | os.PathLike, *, split: str | None = None) -> list[ManifestEntry]:
    """Read the samples of a dataset directory, a ``.jsonl`` manifest or a folder of captioned media files.

    Args:
        source: a directory with ``manifest.jsonl``; a ``.jsonl`` file; or a folder of videos/images each with a
            ``.txt`` caption beside it (searched recursively).
        split: keep only entries of this split (None: all).

    Returns:
        The entries in file order (sorted by path for a plain folder).

    Raises:
        ValueError: missing source, bad JSON line, missing or ill-typed key, duplicate id, or a ``split`` that no
            entry has.
    """
    source = Path(source).absolute()
    if source.is_dir() and (source / MANIFEST_NAME).is_file():
        entries = _read_jsonl(source / MANIFEST_NAME)
    elif source.is_file() and source.suffix == ".jsonl":
        entries = _read_jsonl(source)
    elif source.is_dir():
        entries = _scan_folder(source)
    elif source.is_file():
        raise ValueError(f"manifest source must be a directory or a .jsonl file, got the file {str(source)!r}")
    else:
        raise ValueError(f"manifest source {str(source)!r} does not exist")
    _check_unique_ids(entries, source)
    if split is None:
        return entries
    kept = [e for e in entries if e.split == split]
    if not kept:
        present = sorted({e.split for e in entries})
        raise ValueError(f"no entry of split {split!r} in {str(source)!r}; splits present: {present}")
    return kept


def _check_unique_ids(entries: list[ManifestEntry], source: Path) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise ValueError(f"duplicate sample id {entry.id!r} in {str(source)!r}; ids must be unique")
        seen.add(entry.id)


def _read_jsonl(path: Path) -> list[ManifestEntry]:
    entries = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{str(path)!r} line {line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from err
            entries.append(entry_from_record(record, root=path.parent, where=where))
    return entries


def _check_type(record: dict, key: str, types: type | tuple[type, ...], where: str) -> Any:
    value = record[key]
    # bool is an int subclass; a true/false width is a bug in the writer, not a size.
    if isinstance(value, bool) or not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ValueError(f"{where}: key {key!r} must be {names}, got {value!r}")
    return value


def entry_from_record(record: Any, *, root: Path, where: str) -> ManifestEntry:
    """Validate one parsed manifest line and build its entry; relative paths are resolved against ``root``.

    Raises:
        ValueError: (prefixed with ``where``) for a non-object line, a missing key or a value of the wrong type.
    """
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}; required keys are {list(REQUIRED_KEYS)}")
    sample_id = _check_type(record, "id", str, where)
    kind = _check_type(record, "kind", str, where)
    if kind not in KINDS:
        raise ValueError(f"{where}: key 'kind' must be one of {KINDS}, got {kind!r}")
    width, height = _check_type(record, "width", int, where), _check_type(record, "height", int, where)
    num_frames = _check_type(record, "num_frames", int, where)
    if width < 1 or height < 1 or num_frames < 1:
        raise ValueError(f"{where}: width, height and num_frames must be >= 1, got {width}x{height}, {num_frames}")
    fps = record["fps"]
    if kind == "video" or fps is not None:
        fps = float(_check_type(record, "fps", (int, float), where))
        if not fps > 0:
            raise ValueError(f"{where}: key 'fps' must be > 0 for a video, got {fps}")
    caption = _check_type(record, "caption", str, where)
    prompts = _check_type(record, "prompts", list, where)
    if not all(isinstance(p, str) for p in prompts):
        raise ValueError(f"{where}: key 'prompts' must be a list of strings, got {prompts!r}")
    if not caption.strip() and not prompts:
        raise ValueError(f"{where}: sample {sample_id!r} has an empty caption and no prompts")
    camera = record.get("camera")
    if camera is not None and not isinstance(camera, str):
        raise ValueError(f"{where}: key 'camera' must be a string or null, got {camera!r}")
    rel = Path(_check_type(record, "path", str, where))
    meta = {k: v for k, v in record.items() if k not in REQUIRED_KEYS and k != "camera"}
    return ManifestEntry(
        id=sample_id,
        path=rel if rel.is_absolute() else root / rel,
        kind=kind,
        split=_check_type(record, "split", str, where),
        width=width,
        height=height,
        fps=fps,
        num_frames=1 if kind == "image" else num_frames,
        caption=caption,
        prompts=tuple(prompts),
        camera=camera,
        meta=meta,
    )


def _scan_folder(folder: Path) -> list[ManifestEntry]:
    entries, uncaptioned, unreadable = [], [], []
    media = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES)
    for path in media:
        caption_path = path.with_suffix(CAPTION_SUFFIX)
        caption = caption_path.read_text(encoding="utf-8").strip() if caption_path.is_file() else ""
        if not caption:
            uncaptioned.append(path)
            continue
        try:
            entries.append(_probe_entry(path, folder=folder, caption=caption))
        except ValueError as err:
            unreadable.append(path)
            logger.warning("skipping %s: %s", path, err)
    if uncaptioned:
        shown = ", ".join(str(p.relative_to(folder)) for p in uncaptioned[:5])
        logger.warning(
            "skipping %d media file(s) in %s without a %s caption beside them: %s%s",
            len(uncaptioned), folder, CAPTION_SUFFIX, shown, " ..." if len(uncaptioned) > 5 else "",
        )
    if not entries:
        raise ValueError(
            f"no captioned video or image in {str(folder)!r} (found {len(media)} media file(s), "
            f"{len(uncaptioned)} without a {CAPTION_SUFFIX} caption, {len(unreadable)} unreadable); a dataset folder "
            f"needs {MANIFEST_NAME} or media files with sidecar captions (clip.mp4 + clip.txt)"
        )
    return entries


def _probe_entry(path: Path, *, folder: Path, caption: str) -> ManifestEntry:
    sample_id = path.relative_to(folder).with_suffix("").as_posix()
    common = dict(id=sample_id, path=path, split="train", caption=caption)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        width, height = probe_image(path)
        return ManifestEntry(kind="image", width=width, height=height, fps=None, num_frames=1, **common)
    width, height, fps, num_frames = probe_video(path)
    return ManifestEntry(kind="video", width=width, height=height, fps=fps, num_frames=num_frames, **common)


def probe_image(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image from its header; raises ``ValueError`` if it cannot be opened."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot open image {str(path)!r}: {err}") from err


def probe_video(path: Path) -> tuple[int, int, float, int]:
    """``(width, height, fps, num_frames)`` from the container's stream metadata, without decoding.

    When the container does not store a frame count, it is estimated from the duration.

    Raises:
        ValueError: if PyAV cannot open the file, it has no video stream, or the rate/length are unknown.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"cannot probe {str(path)!r}: no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            num_frames = int(stream.frames or 0)
            if num_frames == 0 and fps > 0:
                if stream.duration is not None and stream.time_base is not None:
                    seconds = float(stream.duration * stream.time_base)
                else:
                    seconds = (container.duration or 0) / av.time_base
                num_frames = int(round(seconds * fps))
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, OSError) as err:
        raise ValueError(f"cannot probe {str(path)!r}: {type(err).__name__}: {err}") from err
    if not fps > 0 or num_frames < 1 or width < 1 or height < 1:
        raise ValueError(
            f"cannot probe {str(path)!r}: unknown size, rate or length (got {width}x{height}, {fps} fps, "
            f"{num_frames} frames)"
        )
    return width, height, fps, num_frames

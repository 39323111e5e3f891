"""The curation report: the funnel table of SPEC 11.2 (what survives each filter), the rejection reasons, a plot."""

from collections import Counter
from pathlib import Path
from typing import Any

from moviegen.curate.config import CurateConfig

CRITERIA = {
    "readable": "probe and decode (empty, truncated, not a video, a still image)",
    "duration": "{f.min_seconds:g} s <= duration <= {f.max_seconds:g} s",
    "resolution": "width >= {f.min_width} and height >= {f.min_height}",
    "aspect": "landscape only: {f.landscape_only}",
    "jitter": "PySceneDetect shot boundaries per second < {f.max_cuts_per_second:g}",
    "scenes": "a scene of >= {c.min_seconds:g} s (a video's first {c.skip_opening_seconds:g} s dropped); clips "
    "of <= {c.max_seconds:g} s",
    "decode": "the clip decodes and encodes",
    "text": "no OCR word with confidence >= {f.max_text_score:g} (RapidOCR)",
    "border": "no uniform bar covering >= {f.max_border_fraction:.0%} of a side",
    "aesthetics": "middle-frame aesthetic score >= {f.min_aesthetic:g}",
    "static": "VMAF motion > {f.min_vmaf_motion:g}",
    "motion": "{f.min_motion_vector:g} < mean motion vector < {f.max_motion_vector:g} px/frame (FFmpeg)",
    "duplicate": "embedding cosine < {f.max_duplicate_cosine:g} with every earlier clip",
    "balance": "kept with probability 1/sqrt(cluster size)",
    "caption": "a caption exists",
}


def funnel(
    input_rows: list[dict[str, Any]], clip_rows: list[dict[str, Any]], *, stages: tuple[tuple[str, ...], ...]
) -> list[tuple[str, str, int, float]]:
    """``(stage, unit, remaining, % of the first row of that unit)`` after each stage, in funnel order."""
    input_stages, clip_stages, corpus_stages = stages
    rows = []
    dropped = Counter(r["stage"] for r in input_rows if not r["kept"] and r["stage"] in input_stages)
    remaining = len(input_rows)
    rows.append(("inputs", "inputs", remaining, 100.0))
    for stage in input_stages:
        remaining -= dropped[stage]
        rows.append((stage, "inputs", remaining, 100.0 * remaining / max(1, len(input_rows))))
    dropped = Counter(r["stage"] for r in clip_rows if not r["kept"])
    remaining = len(clip_rows)
    rows.append(("clips cut", "clips", remaining, 100.0))
    for stage in (*clip_stages, *corpus_stages):
        remaining -= dropped[stage]
        rows.append((stage, "clips", remaining, 100.0 * remaining / max(1, len(clip_rows))))
    return rows


def write_report(
    out: Path, input_rows: list[dict[str, Any]], clip_rows: list[dict[str, Any]], *, cfg: CurateConfig,
    stages: tuple[tuple[str, ...], ...],
) -> None:
    """``out/report.md`` (funnel table, the most common reasons per stage) and ``out/funnel.png`` (if matplotlib)."""
    from moviegen.io.media import atomic_path

    table = funnel(input_rows, clip_rows, stages=stages)
    lines = [
        "# Curation report",
        "",
        f"{len(input_rows)} inputs, {len(clip_rows)} clips cut, "
        f"{sum(1 for c in clip_rows if c['kept'])} clips kept from {sum(1 for r in input_rows if r['kept'])} inputs.",
        "",
        "| step | criterion | remaining | % |",
        "|---|---|---|---|",
    ]
    for stage, unit, remaining, percent in table:
        criterion = CRITERIA.get(stage, "").format(f=cfg.filters, c=cfg.clips)
        lines.append(f"| {stage} | {criterion} | {remaining} {unit} | {percent:.1f}% |")
    lines += ["", "## Rejections by stage (count, one example)", ""]
    for level, rows in (("input", input_rows), ("clip", clip_rows)):
        rejected = [r for r in rows if not r["kept"]]
        counts = Counter(r["stage"] for r in rejected)
        for stage, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            example = next(r for r in rejected if r["stage"] == stage)
            lines.append(f"- {level} / {stage}: {count}, e.g. `{example['path']}`: {example['reason'].splitlines()[0]}")
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    _plot(out / "funnel.png", table)


def _plot(path: Path, table: list[tuple[str, str, int, float]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the `eval` extra; the table carries the same numbers
        return
    from moviegen.io.media import atomic_path

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1))
    names = [f"{stage} ({unit})" for stage, unit, _, _ in table]
    ax.barh(names[::-1], [percent for *_, percent in table][::-1], color="#4a7ab8")
    ax.set_xlabel("% remaining (inputs, then clips)")
    ax.set_xlim(0, 100)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)

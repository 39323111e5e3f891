"""Counted, logged skips of unusable samples (STYLE rule 28: a corrupt file is a skip with a reason, not a crash).

Reason codes (:class:`SkipReason`) group the skips; every skipped file is logged once (the first time it is seen) and
listed, and :meth:`SkipLog.summary` reports the counts. The log is part of a loader's resumable state.
"""

import logging
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)


class SkipReason(StrEnum):
    """Why a sample was skipped."""

    MISSING = "missing"  # the file does not exist
    EMPTY = "empty"  # the file has 0 bytes
    UNDECODABLE = "undecodable"  # PyAV / Pillow cannot decode it (truncated, not a video, ...)
    TOO_SHORT = "too_short"  # shorter than the shortest duration bucket (after resampling to the bucket fps)
    NO_BUCKET = "no_bucket"  # the bucket config takes no sample of this kind (e.g. an image in a video-only stage)
    NO_AUDIO = "no_audio"  # a video without an audio track, in audio training


class SkipLog:
    """Skipped samples: ``path -> (reason, message)``, counted by reason, each logged once."""

    def __init__(self) -> None:
        self._skipped: dict[str, tuple[SkipReason, str]] = {}

    def add(self, path: str, *, reason: SkipReason, message: str, log: bool = True) -> bool:
        """Record a skip; logs a warning the first time ``path`` is seen (unless ``log`` is false).

        Returns:
            Whether ``path`` was new.
        """
        if path in self._skipped:
            return False
        self._skipped[path] = (SkipReason(reason), message)
        if log:
            logger.warning("skipping %s (%s): %s", path, reason, message)
        return True

    def __contains__(self, path: str) -> bool:
        return path in self._skipped

    def __len__(self) -> int:
        return len(self._skipped)

    @property
    def counts(self) -> dict[str, int]:
        """Number of skipped files per reason code."""
        counts: dict[str, int] = {}
        for reason, _ in self._skipped.values():
            counts[reason.value] = counts.get(reason.value, 0) + 1
        return counts

    @property
    def paths(self) -> list[str]:
        """The skipped files, in the order they were found."""
        return list(self._skipped)

    def reason(self, path: str) -> SkipReason:
        return self._skipped[path][0]

    def summary(self) -> str:
        """One line: ``skipped 3 sample(s): empty=1, undecodable=2`` (or ``skipped 0 samples``)."""
        if not self._skipped:
            return "skipped 0 samples"
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return f"skipped {len(self._skipped)} sample(s): {counts}"

    def merge(self, other: "SkipLog") -> None:
        """Add the skips of ``other`` (without logging them again)."""
        for path, (reason, message) in other._skipped.items():
            self._skipped.setdefault(path, (reason, message))

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": [[path, reason.value, message] for path, (reason, message) in self._skipped.items()]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            self._skipped = {path: (SkipReason(reason), message) for path, reason, message in state["skipped"]}
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a SkipLog state (expected {{'skipped': [[path, reason, message], ...]}}): {err}")

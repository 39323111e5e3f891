"""Labels the captioning stage adds (SPEC 11.4, 11.5): the camera motion and the kind of sound.

* :class:`CameraClassifier`: softmax regression over :func:`~moviegen.curate.analysis.camera_features` (the global
  translation and zoom of FFmpeg's motion-vector field), trained by :func:`train_camera_classifier` on clips with
  known camera motion (the synthetic world's five: static, pan left/right, zoom in/out). The paper's classifier has
  16 classes; the world has 5, so ours has 5. Confident predictions become caption prefixes.
* :func:`audio_tag`: "silence", "speech", "music" or "sound" from the signal: loudness, Silero VAD (offline, in its
  wheel) for speech, and tonality for music [inferred: the paper's AudioSet tagger needs weights we do not have].
"""

import functools
import os
from dataclasses import dataclass

import numpy as np
import torch

from moviegen.text.prompt import CameraMotion

CAMERA_LABELS = tuple(m.value for m in CameraMotion)


@dataclass(frozen=True)
class CameraClassifier:
    """``p(label | features) = softmax(W (f - mean) / std + b)`` over :data:`CAMERA_LABELS`."""

    weight: torch.Tensor  # [K, F]
    bias: torch.Tensor  # [K]
    mean: torch.Tensor  # [F]
    std: torch.Tensor  # [F]

    def probabilities(self, features_NF: np.ndarray) -> np.ndarray:
        x = (torch.as_tensor(features_NF, dtype=torch.float32) - self.mean) / self.std
        return torch.softmax(x @ self.weight.T + self.bias, dim=-1).numpy()

    def predict(self, features_F: np.ndarray) -> tuple[str, float]:
        """The most likely camera motion and its probability."""
        p = self.probabilities(features_F[None])[0]
        k = int(p.argmax())
        return CAMERA_LABELS[k], float(p[k])

    def save(self, path: str | os.PathLike) -> None:
        from safetensors.torch import save_file

        save_file({"weight": self.weight, "bias": self.bias, "mean": self.mean, "std": self.std}, str(path),
                  metadata={"labels": ",".join(CAMERA_LABELS)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CameraClassifier":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            labels = (f.metadata() or {}).get("labels", "")
            if labels != ",".join(CAMERA_LABELS):
                raise ValueError(f"camera classifier {str(path)!r} predicts {labels!r}, expected {CAMERA_LABELS}")
            return cls(**{k: f.get_tensor(k) for k in ("weight", "bias", "mean", "std")})


def train_camera_classifier(
    features_NF: np.ndarray, labels: list[str], *, steps: int = 500, lr: float = 0.1, seed: int = 0
) -> CameraClassifier:
    """Fit the softmax regression with full-batch AdamW and a little weight decay.

    Raises:
        ValueError: an unknown label, or fewer than two classes present.
    """
    unknown = sorted(set(labels) - set(CAMERA_LABELS))
    if unknown:
        raise ValueError(f"unknown camera labels {unknown}; expected {CAMERA_LABELS}")
    if len(set(labels)) < 2:
        raise ValueError(f"need at least two camera motions to train on, got {sorted(set(labels))}")
    torch.manual_seed(seed)
    x = torch.as_tensor(features_NF, dtype=torch.float32)
    y = torch.tensor([CAMERA_LABELS.index(label) for label in labels])
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    xn = (x - mean) / std
    weight = torch.zeros(len(CAMERA_LABELS), x.shape[1], requires_grad=True)
    bias = torch.zeros(len(CAMERA_LABELS), requires_grad=True)
    opt = torch.optim.AdamW([weight, bias], lr=lr, weight_decay=1e-3)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(xn @ weight.T + bias, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return CameraClassifier(weight=weight.detach(), bias=bias.detach(), mean=mean, std=std)


def train_camera_from_world(
    world_dir: "os.PathLike | str", *, progress: bool = True, confidence: float = 0.8
) -> tuple[CameraClassifier, dict[str, float]]:
    """Train the classifier on a world's training videos (their manifest's ``camera``) and measure it on the
    held-out ones: ``accuracy``, ``confident_fraction`` (share with probability >= ``confidence``, the ones that
    become caption prefixes) and ``confident_accuracy`` (NaN when the world has no held-out video).

    Raises:
        ValueError: a folder without a world manifest, or without two camera motions among its videos.
    """
    from pathlib import Path

    from tqdm import tqdm

    from moviegen.curate.analysis import Rejected, camera_features, decode_clip
    from moviegen.data.manifest import read_manifest

    entries = [e for e in read_manifest(Path(world_dir)) if e.kind == "video" and e.camera is not None]
    features, labels, heldout = [], [], []
    for entry in tqdm(entries, desc="camera features", disable=not progress):
        try:
            clip = decode_clip(entry.path, start=0.0, end=entry.seconds or 1e9, analysis_frames=1)
        except Rejected:
            continue
        features.append(camera_features(clip.motion_vectors, width=clip.width, height=clip.height))
        labels.append(entry.camera)
        heldout.append(entry.split != "train")
    if not features:
        raise ValueError(f"{str(world_dir)!r} has no decodable video with a camera label")
    x, held = np.stack(features), np.array(heldout)
    classifier = train_camera_classifier(x[~held], [label for label, h in zip(labels, heldout, strict=True) if not h])
    metrics = {"train_videos": float((~held).sum()), "heldout_videos": float(held.sum())}
    if held.any():
        p = classifier.probabilities(x[held])
        truth = np.array([CAMERA_LABELS.index(label) for label, h in zip(labels, heldout, strict=True) if h])
        right, sure = p.argmax(axis=1) == truth, p.max(axis=1) >= confidence
        metrics.update(accuracy=float(right.mean()), confident_fraction=float(sure.mean()),
                       confident_accuracy=float(right[sure].mean()) if sure.any() else float("nan"))
    return classifier, metrics


SHIPPED_CAMERA_CLASSIFIER = "camera-motion/classifier.safetensors"  # under moviegen/assets, with its model card


def load_camera_classifier(path: "os.PathLike | str | None") -> CameraClassifier | None:
    """``None``: the classifier shipped in ``moviegen/assets`` (None if absent); ``"none"``: no classifier; else
    the file at ``path``."""
    from pathlib import Path

    if path is not None and str(path).lower() == "none":
        return None
    if path is None:
        shipped = Path(__file__).resolve().parents[1] / "assets" / SHIPPED_CAMERA_CLASSIFIER
        return CameraClassifier.load(shipped) if shipped.is_file() else None
    if not Path(path).is_file():
        raise ValueError(f"--camera-classifier {str(path)!r} is not a file")
    return CameraClassifier.load(path)


# -- sound -------------------------------------------------------------------------------------------------------------

SILENCE_DBFS = -50.0  # [inferred] clips quieter than this are silent
SPEECH_FRACTION = 0.3  # [inferred] share of 32 ms windows that Silero VAD calls speech
MUSIC_TONALITY = 0.55  # [inferred] share of frames whose spectrum is peaky (tonal): music


@functools.lru_cache(maxsize=1)
def _vad():
    from silero_vad import load_silero_vad

    return load_silero_vad()


def speech_fraction(audio_N: np.ndarray, sample_rate: int) -> float:
    """Share of 512-sample windows (32 ms at 16 kHz) whose Silero VAD speech probability exceeds 0.5."""
    if sample_rate != 16000:
        raise ValueError(f"Silero VAD here takes 16 kHz audio, got {sample_rate}")
    model = _vad()
    model.reset_states()
    chunks = len(audio_N) // 512
    if chunks == 0:
        return 0.0
    with torch.no_grad():
        x = torch.as_tensor(audio_N[: chunks * 512], dtype=torch.float32).reshape(chunks, 512)
        probs = [float(model(chunk[None], sample_rate)) for chunk in x]
    return float(np.mean(np.array(probs) > 0.5))


def tonality(audio_N: np.ndarray) -> float:
    """Share of loud 64 ms frames whose spectrum is peaky (low spectral flatness): sustained notes and chords."""
    n = 1024
    frames = [audio_N[i : i + n] for i in range(0, len(audio_N) - n + 1, n // 2)]
    if not frames:
        return 0.0
    spectra = np.abs(np.fft.rfft(np.stack(frames) * np.hanning(n), axis=1)) + 1e-10
    loud = np.sqrt((np.stack(frames) ** 2).mean(axis=1)) > 10 ** (SILENCE_DBFS / 20)
    if not loud.any():
        return 0.0
    flatness = np.exp(np.log(spectra).mean(axis=1)) / spectra.mean(axis=1)
    return float((flatness[loud] < 0.05).mean())


def audio_tag(audio_N: np.ndarray | None, sample_rate: int | None) -> tuple[str, dict[str, float]]:
    """``("silence" | "speech" | "music" | "sound", scores)``; a clip without an audio track is "silence"."""
    if audio_N is None or len(audio_N) == 0:
        return "silence", {"audio_dbfs": -120.0}
    rms = float(np.sqrt(np.mean(audio_N.astype(np.float64) ** 2)))
    dbfs = 20 * np.log10(max(rms, 1e-6))
    scores = {"audio_dbfs": dbfs}
    if dbfs < SILENCE_DBFS:
        return "silence", scores
    scores["speech_fraction"] = speech_fraction(audio_N, sample_rate)
    scores["tonality"] = tonality(audio_N)
    if scores["speech_fraction"] >= SPEECH_FRACTION:
        return "speech", scores
    return ("music" if scores["tonality"] >= MUSIC_TONALITY else "sound"), scores

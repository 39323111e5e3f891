"""Audio of any length from a fixed-window model (SPEC 8.5): multi-diffusion and segment-by-segment extension.

Both work on the latent sequence ``[B, C, L]`` in windows of ``W`` frames that overlap by ``O`` frames
(:func:`window_starts`); memory is that of one window whatever the length.

* **Multi-diffusion**: one ODE over the whole sequence; at every velocity evaluation each window predicts the
  velocity of its frames and the predictions are averaged with triangular window weights (a linear ramp up to the
  window's centre and down again, which the paper found better than uniform weights). Frames near a window's edge,
  where it sees the least context, count least.
* **Autoregressive**: windows are generated one after another; each new window gets the previous windows' last
  ``O`` frames as its masked audio context (SPEC 8.3), so the model continues the sound. [inferred: the paper adds
  beam search over candidates; we generate one candidate per segment.]

The velocity of one window is a callable bound by the pipeline (text, the window's video features, its context and
guidance), so these functions know nothing of models.
"""

from collections.abc import Callable

import torch

# (x_BCW, t_B, start) -> v_BCW: the velocity of the window of frames [start, start + W)
WindowVelocityFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def window_starts(length: int, *, window: int, overlap: int) -> list[int]:
    """First frames of the windows that cover ``length`` frames; the last window ends exactly at ``length``.

    A sequence no longer than one window is one window (of ``length`` frames).

    Raises:
        ValueError: a non-positive length or window, or an overlap outside ``[0, window)``.
    """
    if length < 1 or window < 1:
        raise ValueError(f"length and window must be >= 1, got length={length}, window={window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window={window}), got {overlap}")
    if length <= window:
        return [0]
    stride = window - overlap
    starts = list(range(0, length - window, stride))
    return starts + [length - window]


def triangular_weights(window: int) -> torch.Tensor:
    """``[W]`` weights rising linearly to the centre and falling again, strictly positive (end frames count too)."""
    i = torch.arange(window, dtype=torch.float32)
    return torch.minimum(i + 1, window - i) / ((window + 1) // 2)


def multidiffusion_velocity(
    window_velocity_fn: WindowVelocityFn, *, length: int, window: int, overlap: int
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A whole-sequence velocity function: the triangular-weighted average of the windows' velocities."""
    starts = window_starts(length, window=window, overlap=overlap)
    size = min(window, length)
    weights_W = triangular_weights(size)

    def velocity_fn(x_BCL: torch.Tensor, t_B: torch.Tensor) -> torch.Tensor:
        if x_BCL.shape[-1] != length:
            raise ValueError(f"expected {length} latent frames, got {x_BCL.shape[-1]}")
        total_BCL = torch.zeros_like(x_BCL)
        weight_L = torch.zeros(length, dtype=x_BCL.dtype, device=x_BCL.device)
        w_W = weights_W.to(x_BCL)
        for start in starts:
            v_BCW = window_velocity_fn(x_BCL[..., start : start + size], t_B, start)
            total_BCL[..., start : start + size] += v_BCW * w_W
            weight_L[start : start + size] += w_W
        return total_BCL / weight_L

    return velocity_fn


def generate_autoregressive(
    solve_window: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
    *,
    context_BCL: torch.Tensor,
    known_BL: torch.Tensor,
    window: int,
    overlap: int,
) -> torch.Tensor:
    """Fill the unknown frames window by window, each conditioned on everything known so far in its window.

    Args:
        solve_window: ``(context_BCW, known_BW, start) -> latent_BCW``: samples one window given its masked context.
        context_BCL: known latents (anything where ``known_BL`` is False).
        known_BL: True where the latent is given (e.g. the audio being extended).
        window: W.
        overlap: frames each window shares with the previous one (its context).

    Returns:
        ``[B, C, L]``: the known frames unchanged, the rest generated.
    """
    length = context_BCL.shape[-1]
    out_BCL, known_BL = context_BCL.clone(), known_BL.clone()
    size = min(window, length)
    for start in window_starts(length, window=window, overlap=overlap):
        span = slice(start, start + size)
        if bool(known_BL[:, span].all()):
            continue
        latent_BCW = solve_window(out_BCL[..., span], known_BL[:, span], start)
        keep_B1W = known_BL[:, None, span]
        out_BCL[..., span] = torch.where(keep_B1W, out_BCL[..., span], latent_BCW)
        known_BL[:, span] = True
    return out_BCL

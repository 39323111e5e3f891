"""Full-reference image metrics: PSNR and SSIM (Wang et al. 2004), in torch, float64.

SSIM follows the paper's reference settings, the same as ``skimage.metrics.structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=R)``: an 11x11 Gaussian window with
sigma 1.5, K1 = 0.01, K2 = 0.03, statistics filtered over the valid region only (no padding), and the SSIM map
averaged per plane. Every 2-D plane of the input (each frame and each channel) gets its own SSIM; the result is their
mean. PSNR uses one MSE over all elements: ``10 log10(R^2 / MSE)``, ``inf`` for identical inputs.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

SSIM_WINDOW = 11  # Wang et al. 2004, section III-C
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _as_float64(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if isinstance(x, np.ndarray) else x).to(torch.float64)


def _check_pair(a: torch.Tensor, b: torch.Tensor, data_range: float) -> None:
    if a.shape != b.shape:
        raise ValueError(f"inputs must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.numel() == 0:
        raise ValueError(f"inputs must not be empty, got shape {tuple(a.shape)}")
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0 (255 for uint8, 2 for [-1, 1]), got {data_range}")


def psnr(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, *, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB between two arrays of the same shape.

    Args:
        a: any shape, any real dtype (uint8 frames included).
        b: same shape as ``a``.
        data_range: the span of valid values (255 for uint8, 2 for [-1, 1], 1 for [0, 1]).

    Returns:
        ``10 log10(data_range^2 / mean((a - b)^2))``; ``inf`` when the inputs are identical.

    Raises:
        ValueError: for mismatched or empty inputs or a non-positive data_range.
    """
    a64, b64 = _as_float64(a), _as_float64(b)
    _check_pair(a64, b64, data_range)
    mse = float(((a64 - b64) ** 2).mean())
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """The normalised ``[size, size]`` Gaussian window (float64)."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim_planes(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, *, data_range: float) -> torch.Tensor:
    """Mean SSIM of each 2-D plane: inputs ``[..., H, W]`` -> ``[...]`` (float64).

    Raises:
        ValueError: for mismatched inputs, planes smaller than the 11x11 window, or a non-positive data_range.
    """
    a64, b64 = _as_float64(a), _as_float64(b)
    _check_pair(a64, b64, data_range)
    if a64.ndim < 2 or min(a64.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs planes of at least {SSIM_WINDOW}x{SSIM_WINDOW} in [..., H, W], got {tuple(a64.shape)}"
        )
    lead, (h, w) = a64.shape[:-2], a64.shape[-2:]
    x = a64.reshape(-1, 1, h, w)
    y = b64.reshape(-1, 1, h, w)
    window = gaussian_window()[None, None]  # [1, 1, 11, 11]

    def filt(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, window)  # valid region only: [P, 1, H - 10, W - 10]

    mu_x, mu_y = filt(x), filt(y)
    var_x = filt(x * x) - mu_x**2
    var_y = filt(y * y) - mu_y**2
    cov_xy = filt(x * y) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3)).reshape(lead)


def ssim(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, *, data_range: float) -> float:
    """Structural similarity of two arrays ``[..., H, W]``: SSIM per plane (frame, channel), averaged.

    For video frames ``[T, H, W, C]`` move the channels first (``frames.permute(0, 3, 1, 2)``), so that every frame
    and channel is one plane.

    Args:
        a: ``[..., H, W]`` with ``H, W >= 11``, any real dtype.
        b: same shape as ``a``.
        data_range: the span of valid values (255 for uint8).

    Returns:
        The mean SSIM in [-1, 1]; 1 for identical inputs.

    Raises:
        ValueError: see :func:`ssim_planes`.
    """
    return float(ssim_planes(a, b, data_range=data_range).mean())

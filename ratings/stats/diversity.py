"""Diversity across seeds: how different one model's images of one prompt are from each other.

A pairwise study shows one image per model at a time, so a model that draws the same picture for
every seed loses nothing in it; these measures are what the votes miss (ADD reports SDXL-Turbo
less diverse than its teacher; ADM is built against mode collapse). Two kinds:

- pixel_diversity(images) -> 1 - mean pairwise MS-SSIM over the k seeds' images; needs no weights.
- vendi_score(embeddings), mean_cosine_distance(embeddings): from image embeddings (CLIP,
  DINOv2), computed where the GPU is; here only the k x d matrix.
- model_diversity(model, prompt, diversity) -> PromptMeans: per model, the mean over prompts
  with a bootstrap interval over prompts.

Every measure needs at least two images (two seeds) and says so otherwise. Pure NumPy/SciPy.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .over_prompts import PromptMeans, model_means

#: Wang, Simoncelli & Bovik (2003), the exponents of the five scales (from coarse fits to human
#: judgements); with fewer scales, the first ones renormalised to sum to 1.
MS_SSIM_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _need_two(k: int, what: str) -> None:
    if k < 2:
        raise ValueError(
            f"Diversity across seeds needs at least two {what} per model and prompt (one per seed); got {k}. "
            "Give the study two or more seeds."
        )


def _as_stack(images) -> np.ndarray:
    """float64[k, C, H, W] in [0, 1] from uint8 (0-255) or float (0-1) images [k, H, W(, C)]."""
    stack = np.asarray(images)
    if stack.ndim == 3:
        stack = stack[..., None]
    if stack.ndim != 4:
        raise ValueError(f"images must be [k, height, width] or [k, height, width, channels], got shape {stack.shape}")
    scale = 255.0 if np.issubdtype(stack.dtype, np.integer) else 1.0
    return np.moveaxis(stack.astype(np.float64) / scale, -1, 1)


def _gaussian(size: int, sigma: float) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter(a: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable gaussian filter over the last two axes, 'valid' (no padding), as Wang et al."""
    n = window.size
    a = sliding_window_view(a, n, axis=-1) @ window
    return np.swapaxes(sliding_window_view(np.swapaxes(a, -1, -2), n, axis=-1) @ window, -1, -2)


def _downsample(a: np.ndarray) -> np.ndarray:
    """2 x 2 average pooling (an odd last row or column is dropped)."""
    h, w = a.shape[-2] // 2 * 2, a.shape[-1] // 2 * 2
    a = a[..., :h, :w]
    return 0.25 * (a[..., 0::2, 0::2] + a[..., 1::2, 0::2] + a[..., 0::2, 1::2] + a[..., 1::2, 1::2])


def ms_ssim_scales(height: int, width: int, window_size: int = WINDOW_SIZE, max_scales: int = 5) -> tuple[int, int]:
    """(scales, window size) for an image: as many of the five scales as keep the coarsest at
    least one window wide; an image narrower than the window gets a smaller (odd) window."""
    side = min(height, width)
    if side < window_size:
        return 1, max(1, side if side % 2 else side - 1)
    scales = max_scales
    while scales > 1 and side // 2 ** (scales - 1) < window_size:
        scales -= 1
    return scales, window_size


def pairwise_ms_ssim(images) -> np.ndarray:
    """MS-SSIM of every pair i < j of k images, float[k(k-1)/2] in the order of np.triu_indices.

    Multi-scale SSIM (Wang, Simoncelli & Bovik 2003, "Multiscale structural similarity for image
    quality assessment", Asilomar): an 11-tap gaussian window (sigma 1.5, 'valid'), C1 = (0.01 L)^2,
    C2 = (0.03 L)^2 with L = 1 (uint8 images are divided by 255, floats taken as 0-1), contrast-
    structure terms at the finer scales and SSIM at the coarsest, weighted by MS_SSIM_WEIGHTS,
    2 x 2 average pooling between scales; per colour channel, then the mean over channels
    (as pytorch-msssim and torchmetrics). Negative terms are clipped to 0 before the powers.
    Small images use fewer scales (see ms_ssim_scales). Each image's local means and variances
    are filtered once; only the cross term is filtered per pair.
    """
    stack = _as_stack(images)
    k = stack.shape[0]
    _need_two(k, "images")
    scales, size = ms_ssim_scales(stack.shape[-2], stack.shape[-1])
    window = _gaussian(size, WINDOW_SIGMA)
    weights = MS_SSIM_WEIGHTS[:scales] / MS_SSIM_WEIGHTS[:scales].sum()
    c1, c2 = K1**2, K2**2
    first, second = np.triu_indices(k, 1)
    log_ms = np.zeros((first.size, stack.shape[1]))
    for scale in range(scales):
        mu = _filter(stack, window)
        var = _filter(stack * stack, window) - mu * mu
        cov = np.stack([_filter(stack[i] * stack[j], window) for i, j in zip(first, second)]) - mu[first] * mu[second]
        cs_map = (2.0 * cov + c2) / (var[first] + var[second] + c2)
        if scale < scales - 1:
            term = cs_map.mean(axis=(-2, -1))
            stack = _downsample(stack)
        else:
            luminance = (2.0 * mu[first] * mu[second] + c1) / (mu[first] ** 2 + mu[second] ** 2 + c1)
            term = (luminance * cs_map).mean(axis=(-2, -1))
        with np.errstate(divide="ignore"):
            log_ms += weights[scale] * np.log(np.clip(term, 0.0, None))
    return np.exp(log_ms).mean(axis=1)


def ms_ssim(x, y) -> float:
    """MS-SSIM of two images (see pairwise_ms_ssim): 1 for identical images, near 0 for
    unrelated noise."""
    return float(pairwise_ms_ssim(np.stack([np.asarray(x), np.asarray(y)]))[0])


def pixel_diversity(images) -> float:
    """1 - the mean pairwise MS-SSIM of one model's images of one prompt across seeds
    (images: [k, H, W] or [k, H, W, C], k >= 2, uint8 or float 0-1): 0 when every seed gives the
    same picture, near 1 for unrelated noise."""
    return float(1.0 - pairwise_ms_ssim(images).mean())


def _unit_rows(embeddings) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a [k, dimensions] matrix, one row per image, got shape {x.shape}")
    _need_two(x.shape[0], "image embeddings")
    if not np.isfinite(x).all():
        raise ValueError("embeddings hold NaN or infinite values")
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    if (norm == 0).any():
        raise ValueError("an embedding is all zeros; its direction (and so its similarity) is undefined")
    return x / norm


def vendi_score(embeddings) -> float:
    """The Vendi score (Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation Metric for
    Machine Learning", TMLR) with the cosine-similarity kernel: exp of the Shannon entropy of the
    eigenvalues of K / k, K_ij = cos(e_i, e_j). The effective number of distinct images: 1 when
    all k are the same, k when their embeddings are orthogonal."""
    x = _unit_rows(embeddings)
    from scipy.linalg import eigvalsh

    eigenvalues = eigvalsh(x @ x.T / x.shape[0])
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    return float(np.exp(-(eigenvalues * np.log(eigenvalues)).sum()))


def mean_cosine_distance(embeddings) -> float:
    """1 - the mean cosine similarity over the k(k-1)/2 pairs of image embeddings: 0 when all
    images embed the same, near 1 for unrelated ones (can exceed 1 for opposed embeddings)."""
    x = _unit_rows(embeddings)
    first, second = np.triu_indices(x.shape[0], 1)
    return float(1.0 - (x[first] * x[second]).sum(axis=1).mean())


def model_diversity(model, prompt, diversity, *, n_models: int | None = None, rounds: int = 1000, seed: int = 0, level: float = 0.95) -> PromptMeans:
    """Per model, the mean over prompts of a per-(model, prompt) diversity (one row each: model
    index, prompt label, value), with a bootstrap percentile interval over prompts (the same
    prompts drawn for every model in a round; `rounds` rounds, central `level`)."""
    return model_means(model, prompt, diversity, n_models=n_models, rounds=rounds, seed=seed, level=level)

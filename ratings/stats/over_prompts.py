"""Per-model means of a per-image (or per-prompt) quantity, with a bootstrap over prompts.

Used for automated metrics (CLIP score, PickScore) and for diversity across seeds: each model's
value is the mean over prompts of its per-prompt value (seeds averaged first), and its interval
comes from resampling prompts, the same draw for every model in a round, so two models'
intervals speak about the same population of prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ratings import BOOTSTRAP, nan_percentiles


@dataclass(frozen=True)
class PromptMeans:
    """mean, low, high: float[M], each model's mean over prompts and its bootstrap percentile
    interval (NaN for a model with no value); prompts: int[M], the prompts each model has a
    value for; draws: float[R, M], one row per bootstrap round."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    prompts: np.ndarray
    draws: np.ndarray
    level: float
    interval_kind: str = BOOTSTRAP


def prompt_matrix(model, prompt, value, *, n_models: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(table float[M, P], prompt codes 0..P-1): the mean of `value` per model and prompt (over
    seeds, or over whatever rows share a model and prompt), NaN where a model has no value for a
    prompt. `prompt` may hold any labels; NaN values are left out."""
    model, value = np.asarray(model), np.asarray(value, dtype=np.float64)
    prompt = np.asarray(prompt)
    if not (model.shape == prompt.shape == value.shape) or model.ndim != 1:
        raise ValueError(f"model, prompt and value need the same 1-d shape, got {model.shape}, {prompt.shape}, {value.shape}")
    if model.size and not np.issubdtype(model.dtype, np.integer):
        raise ValueError(f"model must hold integer indices, got dtype {model.dtype}")
    keep = ~np.isnan(value)
    model, prompt, value = model[keep].astype(np.int64), prompt[keep], value[keep]
    m = n_models if n_models is not None else int(model.max(initial=-1)) + 1
    if model.size and (model.min() < 0 or model.max() >= m):
        raise ValueError(f"model holds indices outside 0..{m - 1}")
    _, code = np.unique(prompt, return_inverse=True)
    code = code.reshape(-1)
    p = int(code.max(initial=-1)) + 1
    cell = model * p + code
    totals = np.bincount(cell, weights=value, minlength=m * p)
    counts = np.bincount(cell, minlength=m * p)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = (totals / counts).reshape(m, p)
    return table, code


def means_over_prompts(table: np.ndarray, *, rounds: int = 1000, seed: int = 0, level: float = 0.95) -> PromptMeans:
    """Each model's mean over prompts of `table` (float[M, P], NaN = no value), with a bootstrap
    percentile interval over prompts: a round draws P prompts with replacement (a multinomial
    weight per prompt, all rounds in one call) and takes each model's weighted mean over the
    prompts it has a value for."""
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"table must be float[models, prompts], got shape {table.shape}")
    present = ~np.isnan(table)
    filled = np.where(present, table, 0.0)
    n_prompts = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=1) / n_prompts
    p = table.shape[1]
    if rounds > 0 and p > 0:
        weight = np.random.default_rng(seed).multinomial(p, np.full(p, 1.0 / p), size=rounds).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            draws = (weight @ filled.T) / (weight @ present.T.astype(np.float64))
        low, high = nan_percentiles(draws, level)
    else:
        draws = np.empty((0, table.shape[0]))
        low = high = np.full(table.shape[0], np.nan)
    return PromptMeans(mean=mean, low=low, high=high, prompts=n_prompts, draws=draws, level=level)


def model_means(model, prompt, value, *, n_models: int | None = None, rounds: int = 1000, seed: int = 0, level: float = 0.95) -> PromptMeans:
    """`means_over_prompts` from one row per image (or per model and prompt): model index,
    prompt label, value."""
    table, _ = prompt_matrix(model, prompt, value, n_models=n_models)
    return means_over_prompts(table, rounds=rounds, seed=seed, level=level)

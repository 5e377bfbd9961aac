"""The simulated crowd of a forecast: the tables a simulated study starts from and one batch of
its votes, each on a prompt (the pair's next in a round over the prompts, as the scheduler
spreads a pair's slots) and by a rater of the pool, decided by Bradley-Terry on that prompt's and
rater's strengths. Pure NumPy; ``forecast.simulate`` runs the study around them.
"""

from __future__ import annotations

import numpy as np


def start_tables(design, runs, n_criteria, n_pairs, start_counts, start_prompt_counts) -> tuple:
    """(votes per prompt float[R, C, G, P, 3], per rater float[R, C, N, P, 3] or None) every run
    starts from: the votes already in (their raters unknown: all the first rater's)."""
    prompt_counts = np.zeros((runs, n_criteria, design.n_prompts, n_pairs, 3))
    if start_prompt_counts is not None:
        start = np.asarray(start_prompt_counts, dtype=np.float64)
        prompt_counts[:, :, : start.shape[1]] += start[:, : design.n_prompts]
    elif start_counts is not None:
        prompt_counts[:, :, 0] += np.asarray(start_counts, dtype=np.float64)
    rater_counts = np.zeros((runs, n_criteria, max(design.raters, 1), n_pairs, 3)) if design.unit == "prompt_rater" else None
    if rater_counts is not None:
        rater_counts[:, :, 0] += prompt_counts.sum(axis=2)  # earlier votes: their raters unknown here
    return prompt_counts, rater_counts


def simulate_votes(rng, design, truth, prompt_effect, rater_effect, prompt_counts, rater_counts, served, offset, shown, active, lo, hi):
    """Add one batch of simulated votes, vote by vote, to the per-prompt (and per-rater) counts."""
    runs, n_pairs = prompt_counts.shape[0], lo.size
    n_criteria, n_prompts, n_raters = truth.shape[1], design.n_prompts, max(design.raters, 1)
    # One row per vote: its run, pair, prompt (the pair's next in its round), rater.
    flat = shown.reshape(-1)
    vote_run = np.repeat(np.repeat(active, n_pairs), flat)
    vote_pair = np.repeat(np.tile(np.arange(n_pairs), active.size), flat)
    first = np.repeat(np.cumsum(flat) - flat, flat)
    within = np.arange(flat.sum()) - first
    vote_prompt = (served[vote_run, vote_pair] + offset[vote_run, vote_pair] + within).astype(np.int64) % n_prompts
    served[active] += shown
    vote_rater = rng.integers(0, n_raters, vote_run.size)
    n_votes = vote_run.size
    for c in range(n_criteria):
        diff = truth[vote_run, c, lo[vote_pair]] - truth[vote_run, c, hi[vote_pair]]
        if prompt_effect is not None:
            diff = diff + prompt_effect[vote_run, c, vote_prompt, lo[vote_pair]] - prompt_effect[vote_run, c, vote_prompt, hi[vote_pair]]
        if rater_effect is not None:
            diff = diff + rater_effect[vote_run, c, vote_rater, lo[vote_pair]] - rater_effect[vote_run, c, vote_rater, hi[vote_pair]]
        tie = rng.random(n_votes) < design.tie_share
        lo_wins = rng.random(n_votes) < 1.0 / (1.0 + np.exp(-diff))
        category = np.where(tie, 2, np.where(lo_wins, 0, 1))
        cell = ((vote_run * n_prompts + vote_prompt) * n_pairs + vote_pair) * 3 + category
        prompt_counts[:, c] += np.bincount(cell, minlength=runs * n_prompts * n_pairs * 3).reshape(runs, n_prompts, n_pairs, 3)
        if rater_counts is not None:
            cell = ((vote_run * n_raters + vote_rater) * n_pairs + vote_pair) * 3 + category
            rater_counts[:, c] += np.bincount(cell, minlength=runs * n_raters * n_pairs * 3).reshape(runs, n_raters, n_pairs, 3)

"""Shared builders for the statistics tests: simulated studies and vote files."""

import numpy as np
import pytest

from ratings.stats.arrays import VoteArrays


def simulate_votes(strength, n_votes, rng, *, tie_rate=0.0, n_criteria=1):
    """Votes from a Bradley-Terry model with natural-unit `strength`; each comparison gets one
    vote per criterion, drawn independently; a tie with probability `tie_rate`."""
    strength = np.asarray(strength, dtype=float)
    m = strength.size
    a = rng.integers(0, m, n_votes)
    b = (a + rng.integers(1, m, n_votes)) % m
    p_a = 1.0 / (1.0 + np.exp(strength[b] - strength[a]))
    a, b = np.repeat(a, n_criteria), np.repeat(b, n_criteria)
    p_a = np.repeat(p_a, n_criteria)
    u = rng.random(a.size)
    outcome = np.where(u < tie_rate, 0.5, np.where(rng.random(a.size) < p_a, 1.0, 0.0))
    return VoteArrays(
        model_a=a,
        model_b=b,
        outcome=outcome,
        model_names=tuple(f"model-{i}" for i in range(m)),
        criterion=np.tile(np.arange(n_criteria), n_votes),
        criterion_names=tuple(f"criterion-{c}" for c in range(n_criteria)),
        comparison=np.repeat(np.arange(n_votes), n_criteria),
    )


@pytest.fixture
def write_csv(tmp_path):
    """write_csv(text) -> path of a file holding exactly that text."""

    def write(text, name="votes.csv"):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return str(path)

    return write

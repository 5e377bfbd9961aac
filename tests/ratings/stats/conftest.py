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


def votes_from_counts(pairs, names=None):
    """pairs: [(i, j, i_wins, j_wins, ties)] with i shown as model_a -> VoteArrays."""
    a, b, outcome = [], [], []
    for i, j, wins, losses, ties in pairs:
        for value, count in ((1.0, wins), (0.0, losses), (0.5, ties)):
            a += [i] * count
            b += [j] * count
            outcome += [value] * count
    m = max(max(a), max(b)) + 1
    return VoteArrays(np.array(a), np.array(b), np.array(outcome), names or tuple(f"m{i}" for i in range(m)))


def with_second_criterion(one, second_outcome, names=("a", "b")):
    """One-criterion votes plus a second criterion answered with `second_outcome` on the same
    comparisons (vote k of each criterion is comparison k)."""
    return VoteArrays(
        np.repeat(one.model_a, 2), np.repeat(one.model_b, 2),
        np.stack([one.outcome, second_outcome], axis=1).ravel(), one.model_names,
        criterion=np.tile([0, 1], one.n_votes), criterion_names=names,
        comparison=np.repeat(np.arange(one.n_votes), 2),
    )

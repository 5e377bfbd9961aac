import numpy as np
import pytest
from scipy.stats import binomtest

from conftest import votes_from_counts
from ratings.stats.arrays import VoteArrays
from ratings.stats.significance import holm, pairwise_binomial_tests


def holm_by_hand(p):
    """Holm (1979) step by step: the k-th smallest p times (m - k), running maximum, cap 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, running = [0.0] * m, 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running
    return adjusted


def test_against_scipy_binomtest_and_holm():
    # (i, j, i wins, j wins, ties); the C-B pair is shown as (2, 1), so C is model_a
    pairs = [(0, 1, 18, 6, 3), (0, 2, 9, 11, 0), (2, 1, 4, 20, 5), (0, 3, 7, 7, 2), (1, 3, 13, 2, 0), (2, 3, 0, 0, 4)]
    tests = pairwise_binomial_tests(votes_from_counts(pairs, ("A", "B", "C", "D")))
    rows = {(r["model_i"], r["model_j"]): r for r in tests.rows()}
    expected = {
        ("A", "B"): (18, 6), ("A", "C"): (9, 11), ("B", "C"): (20, 4), ("A", "D"): (7, 7), ("B", "D"): (13, 2),
        ("C", "D"): (0, 0),
    }
    assert set(rows) == set(expected)
    p = []
    for key, (wins_i, wins_j) in expected.items():
        row = rows[key]
        assert (row["wins_i"], row["wins_j"]) == (wins_i, wins_j)
        reference = binomtest(wins_i, wins_i + wins_j, 0.5).pvalue if wins_i + wins_j else 1.0
        assert row["p_value"] == pytest.approx(reference, rel=1e-12)
        p.append(row["p_value"])
    for key, adjusted in zip(expected, holm_by_hand(p)):
        assert rows[key]["p_holm"] == pytest.approx(adjusted, rel=1e-12)
    assert rows[("B", "D")]["ties"] == 0 and rows[("C", "D")]["ties"] == 4
    assert rows[("B", "C")]["significant"] and not rows[("A", "D")]["significant"]


def test_holm_keeps_order_and_caps_at_one():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(holm(p), [0.04, 0.09, 0.09, 0.5])
    np.testing.assert_allclose(holm(np.array([0.6, 0.7])), [1.0, 1.0])


def test_criterion_by_name():
    votes = VoteArrays(
        np.array([0, 0, 0]), np.array([1, 1, 1]), np.array([1.0, 0.0, 1.0]), ("A", "B"),
        criterion=np.array([0, 1, 1]), criterion_names=("adherence", "quality"),
    )
    tests = pairwise_binomial_tests(votes, criterion="quality")
    assert tests.criterion == "quality"
    assert (tests.wins_i[0], tests.wins_j[0]) == (1, 1)


def test_pairwise_table_on_a_fixed_file_equals_scipy_and_holm_by_hand(write_csv):
    from scipy.stats import binomtest

    from ratings.stats import pairwise_table, read_vote_file

    lines = ["model_a,model_b,winner,criterion,prompt_id"]
    counts = {("a", "b"): (18, 3, 2), ("a", "c"): (9, 8, 0), ("b", "c"): (3, 12, 1)}
    for (x, y), (wins, losses, ties) in counts.items():
        for k, winner in enumerate(["model_a"] * wins + ["model_b"] * losses + ["tie"] * ties):
            lines.append(f"{x},{y},{winner},overall,p{k % 5}")
    votes = read_vote_file(write_csv("\n".join(lines) + "\n"))
    rows = pairwise_table(votes, 200, 0)
    assert [(r["model_a"], r["model_b"]) for r in rows] == list(counts)
    p = [binomtest(w, w + l, 0.5).pvalue for w, l, _ in counts.values()]
    by_hand = holm_by_hand(p)
    for row, (wins, losses, ties), p_value, p_holm in zip(rows, counts.values(), p, by_hand):
        assert (row["wins_a"], row["wins_b"], row["ties"]) == (wins, losses, ties)
        assert row["p_value"] == pytest.approx(p_value, rel=1e-12)
        assert row["p_holm"] == pytest.approx(p_holm, rel=1e-12)
        assert row["win_rate"] == pytest.approx((wins + ties / 2) / (wins + losses + ties))
        assert row["ci_low"] <= row["win_rate"] <= row["ci_high"]
        assert row["significant"] == (p_holm < 0.05)
    assert rows[0]["significant"] and not rows[1]["significant"]


def test_the_mean_counts_each_comparison_once():
    from ratings.stats import from_labels, pairwise_table

    # Three comparisons of a vs b: a wins both criteria, b wins both, and a split (a tie on the mean).
    votes = from_labels(["a"] * 6, ["b"] * 6, [1, 1, 0, 0, 1, 0], ["q", "r"] * 3, comparison=[0, 0, 1, 1, 2, 2])
    mean = [row for row in pairwise_table(votes, 50, 0) if row["criterion"] == "mean"]
    assert [(r["wins_a"], r["wins_b"], r["ties"]) for r in mean] == [(1, 1, 1)]
    assert mean[0]["win_rate"] == pytest.approx(0.5)


def test_pair_matrix_shows_each_pair_from_both_rows_and_leaves_uncompared_cells_empty():
    from ratings.stats import pair_matrix

    pairs = [
        {"model_a": "a", "model_b": "b", "criterion": "q", "win_rate": 0.75, "ci_low": 0.6, "ci_high": 0.9, "p_holm": 0.01},
        {"model_a": "a", "model_b": "b", "criterion": "other", "win_rate": 0.1, "ci_low": 0.0, "ci_high": 0.2, "p_holm": 0.5},
        {"model_a": "b", "model_b": "c", "criterion": "q", "win_rate": None, "ci_low": None, "ci_high": None, "p_holm": 1.0},
    ]
    matrix = pair_matrix(pairs, ["a", "b", "c"], "q")
    assert (matrix[0][1]["rate"], matrix[0][1]["low"], matrix[0][1]["high"]) == (0.75, 0.6, 0.9)
    assert (matrix[1][0]["rate"], matrix[1][0]["low"], matrix[1][0]["high"]) == pytest.approx((0.25, 0.1, 0.4))
    assert matrix[1][0]["p_holm"] == 0.01
    assert matrix[1][2]["rate"] is None and matrix[2][1]["rate"] is None
    assert matrix[0][0] is None and matrix[0][2] is None and matrix[2][0] is None

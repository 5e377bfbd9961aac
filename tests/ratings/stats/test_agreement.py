import numpy as np
import pytest

from ratings.stats.agreement import attention_accuracy, krippendorff_alpha, rater_agreement
from ratings.stats.arrays import VoteArrays

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers,
# 12 units, nominal values 1-5, "." missing. The worked answer there: alpha = 0.743.
RELIABILITY_DATA = """
1 2 3 3 2 1 4 1 2 . . .
1 2 3 3 2 2 4 1 2 5 . 3
. 3 3 3 2 3 4 2 2 5 1 .
1 2 3 3 2 4 4 1 2 5 1 .
"""


def test_textbook_nominal_example():
    unit, value = [], []
    for line in RELIABILITY_DATA.strip().splitlines():
        for u, v in enumerate(line.split()):
            if v != ".":
                unit.append(u)
                value.append(v)
    assert krippendorff_alpha(unit, value) == pytest.approx(0.743, abs=5e-4)


def test_perfect_agreement_and_undefined_cases():
    assert krippendorff_alpha([0, 0, 1, 1, 2, 2], ["A", "A", "B", "B", "tie", "tie"]) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha([0, 1, 2], ["A", "B", "A"]))  # nothing pairable
    assert np.isnan(krippendorff_alpha([0, 0, 1, 1], ["A", "A", "A", "A"]))  # one category


def test_rater_agreement_normalises_sides():
    # prompt 0, pair (A, B): rater 1 sees A left and picks A; rater 2 sees B left and picks
    # the right side (A): they agree. Prompt 1: they disagree. Prompt 2 has one vote only.
    votes = VoteArrays(
        model_a=np.array([0, 1, 0, 1, 0]),
        model_b=np.array([1, 0, 1, 0, 1]),
        outcome=np.array([1.0, 0.0, 1.0, 1.0, 0.5]),
        model_names=("A", "B"),
        cluster=np.array([0, 0, 1, 1, 2]),
    )
    units, values = [0, 0, 1, 1], ["A", "A", "A", "B"]
    assert rater_agreement(votes)["overall"] == pytest.approx(krippendorff_alpha(units, values))


def test_attention_accuracy_per_rater():
    votes = VoteArrays(
        model_a=np.array([0, 0, 0, 0, 0]),
        model_b=np.array([1, 1, 1, 1, 1]),
        outcome=np.array([1.0, 0.0, 1.0, 1.0, 0.5]),
        model_names=("A", "B"),
        rater=np.array([0, 0, 1, 1, 2]),
    )
    expected = np.array([1.0, 1.0, 1.0, np.nan, np.nan])
    result = attention_accuracy(votes, expected)
    np.testing.assert_array_equal(result.checks, [2, 1, 0])
    np.testing.assert_array_equal(result.correct, [1, 1, 0])
    np.testing.assert_allclose(result.accuracy, [0.5, 1.0, np.nan])

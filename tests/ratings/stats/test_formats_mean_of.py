"""The combined rating "mean" averages the criteria named in `mean_of` (a study's pair questions)
and leaves a set criterion (variety across seeds) out, in every method and in the pairwise table."""

import numpy as np
import pytest

from ratings.stats import VoteArrays, pairwise_table, results_document
from ratings.stats.formats import describe
from ratings.stats.ratings import nan_percentiles

PAIR = ("prompt_adherence", "image_quality")
NAMES = ("model-0", "model-1", "model-2")


def _study_votes(seed: int = 3) -> VoteArrays:
    """Pair comparisons with one vote per pair criterion, where the higher-numbered model is
    better, and set comparisons of their own with one variety vote, where it is the other way."""
    rng = np.random.default_rng(seed)
    a, b, outcome, criterion, comparison = [], [], [], [], []
    strength = np.array([0.0, 0.8, 1.6])
    for k in range(600):
        i, j = rng.choice(3, size=2, replace=False)
        p_i = 1.0 / (1.0 + np.exp(strength[j] - strength[i]))
        for c in (0, 1):
            a.append(i), b.append(j), criterion.append(c), comparison.append(k)
            outcome.append(float(rng.random() < p_i))
    for k in range(600, 900):  # set comparisons: variety, the strengths reversed
        i, j = rng.choice(3, size=2, replace=False)
        p_i = 1.0 / (1.0 + np.exp(strength[i] - strength[j]))
        a.append(i), b.append(j), criterion.append(2), comparison.append(k)
        outcome.append(float(rng.random() < p_i))
    return VoteArrays(
        model_a=np.array(a), model_b=np.array(b), outcome=np.array(outcome), model_names=NAMES,
        criterion=np.array(criterion), criterion_names=(*PAIR, "variety"), comparison=np.array(comparison),
    )


def _rows(document, criterion):
    return {row["model"]: row for row in document["models"] if row["criterion"] == criterion}


def _pair_votes(votes: VoteArrays) -> VoteArrays:
    """The same votes without the set criterion: what the stats see for a study without one."""
    from dataclasses import replace

    kept = votes.subset(votes.criterion < 2)
    return replace(kept, criterion_names=PAIR, _validated=True)


@pytest.mark.parametrize("method", ["bt", "elo", "winrate"])
def test_mean_is_over_the_pair_criteria_only_in_every_method(method):
    votes = _study_votes()
    document = results_document(votes, method, 60, 0, pairs=True, mean_of=list(PAIR))
    assert document["mean_of"] == list(PAIR)
    mean, pa, iq, variety = (_rows(document, c) for c in ("mean", *PAIR, "variety"))
    assert set(mean) == set(pa) == set(variety) == set(NAMES)
    for model in NAMES:
        assert mean[model]["rating"] == pytest.approx((pa[model]["rating"] + iq[model]["rating"]) / 2, rel=1e-12)
        assert mean[model]["votes"] == pa[model]["votes"] + iq[model]["votes"]
    # Variety runs the other way, and has its own rows; the mean follows the pair questions.
    ranked = lambda rows: sorted(rows, key=lambda m: -rows[m]["rating"])  # noqa: E731
    assert ranked(variety) == list(reversed(ranked(pa))) and ranked(mean) == ranked(pa) == ["model-2", "model-1", "model-0"]
    # The old behaviour (every criterion, as for a plain vote file) is different: the test can fail.
    everything = _rows(results_document(votes, method, 60, 0, pairs=False), "mean")
    assert all(
        everything[m]["rating"] == pytest.approx((pa[m]["rating"] + iq[m]["rating"] + variety[m]["rating"]) / 3, rel=1e-12) for m in NAMES
    )
    assert any(abs(everything[m]["rating"] - mean[m]["rating"]) > 1e-6 for m in NAMES)
    if method != "elo":  # Elo's orderings interleave the set comparisons, so only its rows' mean is exact
        alone = _rows(results_document(_pair_votes(votes), method, 60, 0, pairs=False), "mean")
        for model in NAMES:
            assert mean[model]["rating"] == pytest.approx(alone[model]["rating"], rel=1e-9)
    else:
        spread = {row["model"]: row for row in document["ordering_spread"]["rows"] if row["criterion"] == "mean"}
        from ratings.stats import online_elo

        draws = online_elo(votes, 60, 0).ordering_draws
        low, high = nan_percentiles(draws[:, :2].mean(axis=1), 0.95)
        assert [spread[m]["low"] for m in NAMES] == pytest.approx(list(low)) and [spread[m]["high"] for m in NAMES] == pytest.approx(list(high))


def test_the_significance_tables_mean_is_over_the_pair_criteria_only():
    votes = _study_votes()
    rows = pairwise_table(votes, 100, 0, mean_of=list(PAIR))
    by = lambda criterion: {(r["model_a"], r["model_b"]): r for r in rows if r["criterion"] == criterion}  # noqa: E731
    mean, pa, iq, variety = by("mean"), by(PAIR[0]), by(PAIR[1]), by("variety")
    assert set(mean) == set(variety) == set(pa)
    # The same decisions and p-values as the table of a study that has no set criterion.
    alone = {(r["model_a"], r["model_b"]): r for r in pairwise_table(_pair_votes(votes), 100, 0) if r["criterion"] == "mean"}
    for key, row in mean.items():
        assert row["win_rate"] == pytest.approx((pa[key]["win_rate"] + iq[key]["win_rate"]) / 2, rel=1e-12)
        assert (row["wins_a"], row["wins_b"], row["ties"]) == (alone[key]["wins_a"], alone[key]["wins_b"], alone[key]["ties"])
        assert row["p_value"] == pytest.approx(alone[key]["p_value"], rel=1e-12)
        assert row["ci_low"] <= row["win_rate"] <= row["ci_high"]
        # Each pair comparison is one decision; the set comparisons are not decisions of the mean.
        n_pair_comparisons = (pa[key]["wins_a"] + pa[key]["wins_b"] + pa[key]["ties"])
        assert row["wins_a"] + row["wins_b"] + row["ties"] == n_pair_comparisons
    old = {(r["model_a"], r["model_b"]): r for r in pairwise_table(votes, 100, 0) if r["criterion"] == "mean"}
    assert any(old[key]["wins_a"] + old[key]["wins_b"] + old[key]["ties"] > n for key, n in
               ((k, mean[k]["wins_a"] + mean[k]["wins_b"] + mean[k]["ties"]) for k in mean))


def test_no_mean_with_fewer_than_two_criteria_to_average():
    votes = _study_votes()
    document = results_document(votes, "winrate", 20, 0, pairs=True, mean_of=["prompt_adherence"])
    assert document["mean_of"] == [] and not _rows(document, "mean")
    assert not [row for row in document["pairs"] if row["criterion"] == "mean"]
    assert '"mean"' not in describe(document)


def test_cli_mean_of_leaves_a_criterion_out(tmp_path):
    import io
    import json

    from ratings.stats.cli import main

    votes = _study_votes()
    path = tmp_path / "votes.csv"
    winner = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
    lines = ["model_a,model_b,winner,criterion,prompt_id"]
    for k in range(votes.n_votes):
        lines.append(
            f"{NAMES[votes.model_a[k]]},{NAMES[votes.model_b[k]]},{winner[votes.outcome[k]]},"
            f"{votes.criterion_names[votes.criterion[k]]},{votes.comparison[k]}"
        )
    path.write_text("\n".join(lines) + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["--votes", str(path), "--rounds", "20", "--mean-of", "prompt_adherence,image_quality"], out, err) == 0, err.getvalue()
    document = json.loads(out.getvalue())
    assert document["mean_of"] == list(PAIR)
    mean, pa, iq = (_rows(document, c) for c in ("mean", *PAIR))
    assert all(mean[m]["rating"] == pytest.approx((pa[m]["rating"] + iq[m]["rating"]) / 2) for m in NAMES)
    out = io.StringIO()
    assert main(["--votes", str(path), "--rounds", "20", "--format", "csv", "--mean-of", "prompt_adherence,image_quality"], out, io.StringIO()) == 0
    assert '"mean" is the mean of prompt_adherence and image_quality' in out.getvalue().splitlines()[0]
    err = io.StringIO()
    assert main(["--votes", str(path), "--mean-of", "prompt_adherence,sharpness"], io.StringIO(), err) == 2
    assert "'sharpness'" in err.getvalue()

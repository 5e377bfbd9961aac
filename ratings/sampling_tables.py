"""A study's counted votes as adaptive sampling, the stopping rule and the forecast read them
(``VoteTables``: per criterion and model pair, in all and by prompt, rater and (prompt, rater)
cell; the pilot's the same way), and their Bradley-Terry fit on the study's unit. Below
``sampling`` (the refresh), ``stopping`` and ``forecasting``, which all read them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import study_spec_ids
from .models import Study
from .stats import sampling as stats_sampling

CHOICE_COLUMN = {"a": 0, "b": 1, "tie": 2}


@dataclass(frozen=True)
class VoteTables:
    """A study's counted votes as the stopping rule needs them, per criterion (the pair criteria)
    and model pair (``pair_index`` order over the specs by id): float[C, P, 3] in all, and per
    prompt [C, G, P, 3], per rater [C, R, P, 3] and per (prompt, rater) cell [C, G x R, P, 3]."""

    counts: np.ndarray
    prompts: np.ndarray
    raters: np.ndarray
    cells: np.ndarray

    def terms(self, unit: str) -> tuple:
        """The cluster-robust terms of the study's unit (``stats.sampling.unit_terms``)."""
        return stats_sampling.unit_terms(unit, self.prompts, self.raters, self.cells)


def study_vote_tables(*, study: Study) -> VoteTables:
    """The study's counted votes (``results.votes.study_votes``, flagged raters left out) as
    ``VoteTables``: the one votes-to-arrays path, with each vote's prompt and rater."""
    from .results.votes import study_votes

    votes = study_votes(study=study, include_flagged=False)
    arrays = votes.arrays
    n_models, n_criteria = len(votes.spec_ids), len(study.criteria)
    pair_votes = arrays.criterion < n_criteria  # set criteria (after the pair criteria) are not ranked here
    prompt, rater = votes.prompt_ids[pair_votes], votes.rater_ids[pair_votes]
    columns = (arrays.model_a[pair_votes], arrays.model_b[pair_votes], arrays.outcome[pair_votes], arrays.criterion[pair_votes])

    def table(cluster):
        return stats_sampling.cluster_tables(*columns, cluster, n_models=n_models, n_criteria=n_criteria)

    prompts = table(prompt)
    _, cell = np.unique(np.stack([prompt, rater], axis=1), axis=0, return_inverse=True) if prompt.size else (None, prompt)
    counts = prompts.sum(axis=1) if prompts.shape[1] else np.zeros((n_criteria, n_models * (n_models - 1) // 2, 3))
    return VoteTables(counts=counts, prompts=prompts, raters=table(rater), cells=table(np.asarray(cell).reshape(-1)))


def pilot_vote_tables(*, study: Study, shape: tuple) -> VoteTables | None:
    """The pilot's ``VoteTables`` (same models and criteria), or None."""
    pilot = Study.objects.filter(pilot_of=study).select_related("job").first()
    if pilot is None or study_spec_ids(study=pilot) != study_spec_ids(study=study) or list(pilot.criteria) != list(study.criteria):
        return None
    tables = study_vote_tables(study=pilot)
    return tables if tables.counts.shape == tuple(shape) and tables.counts.sum() > 0 else None


def counts_fit(counts: np.ndarray, terms: tuple = ()) -> stats_sampling.Fit:
    n_models = models_of(counts.shape[1])
    lo, hi = stats_sampling.pair_index(n_models)
    return stats_sampling.fit(counts, lo, hi, n_models, clustered=terms)


def models_of(n_pairs: int) -> int:
    return int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))

"""The one place where a study's votes become arrays for ``ratings.stats``: one query, in vote
order, with what the exports and the leaderboards' provenance say about them (flags, prompts,
raters, categories). Every leaderboard, pairwise table, plot and vote export starts here (the
rater table in ``raters`` reads its own rows: it also counts excluded votes)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings

from ratings.stats import VoteArrays, canonical

from .. import selectors
from ..models import Participation, Study

CHOICE_OUTCOME = {"a": 1.0, "b": 0.0, "tie": 0.5}
FLAG_REASONS = {
    "attention_checks": "flagged in this study: failed attention checks",
    "self_consistency": "flagged in this study: answered repeated pairs inconsistently",
    "staff": "flagged in this study by staff",
}



@dataclass(frozen=True)
class StudyVotes:
    """A study's votes (counted ones and those of raters flagged in it) as ``VoteArrays``, plus
    what an export must say about them."""

    arrays: object  # ratings.stats.VoteArrays, every vote of the study not excluded or withdrawn
    flagged: np.ndarray  # bool[n], the vote's rater is flagged in this study
    spec_ids: tuple[int, ...]  # index -> ModelSpec id, aligned with arrays.model_names
    prompt_ids: np.ndarray  # int[n], the prompt of each vote
    rater_ids: np.ndarray  # int[n], the Rater id of each vote
    tstamps: list  # datetime of each vote
    items: np.ndarray  # int[n], what was judged: (prompt, seed, unordered model pair), for agreement
    categories: dict  # "category" | "challenge" -> (codes int[n], names)
    flag_reasons: dict  # rater id -> why they are flagged in this study
    image_a_ids: np.ndarray = None  # int[n], the Image shown as A (arrays.model_a's image), for metric agreement
    image_b_ids: np.ndarray = None  # int[n], the Image shown as B

    def counted(self, *, include_flagged: bool = False, by: str | None = None):
        """The votes a leaderboard counts, in the canonical order (``ratings.stats.canonical``),
        with ``by``'s labels as the votes' categories."""
        arrays = self.arrays
        if by is not None:
            codes, names = self.categories[by]
            arrays = replace(arrays, category=codes, category_names=names, _validated=True)
        if not include_flagged:
            arrays = arrays.subset(~self.flagged)
        return canonical(arrays)

    @property
    def n_raters(self) -> int:
        return len(set(self.rater_ids.tolist()))


def model_label(spec) -> str:
    """A model's name in results and exports: its slug, with the version after @ from v2 on."""
    return spec.slug if spec.version == 1 else f"{spec.slug}@{spec.version}"


def rater_pseudonym(rater_id: int) -> str:
    """A stable pseudonym for exports: an HMAC of the id, so exports can be joined with each
    other but not traced back to a person without the server's secret."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"rater:{rater_id}".encode(), hashlib.sha256).hexdigest()
    return f"r_{digest[:12]}"


def flagged_raters(*, study: Study) -> dict[int, str]:
    """Rater id -> why they are flagged in this study (flags are per study)."""
    return {
        rater_id: FLAG_REASONS.get(reason, FLAG_REASONS["staff"])
        for rater_id, reason in Participation.objects.filter(study=study, flagged=True).values_list("rater_id", "flag_reason")
    }


def excluded_raters(*, study: Study, include_flagged: bool = False) -> dict[int, str]:
    """Rater id -> why their votes are left out of this study's leaderboards."""
    return {} if include_flagged else flagged_raters(study=study)


def _label_codes(labels: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    names = tuple(sorted({label or "uncategorized" for label in labels}))
    position = {name: i for i, name in enumerate(names)}
    return np.fromiter((position[label or "uncategorized"] for label in labels), dtype=np.int64, count=len(labels)), names


def study_votes(*, study: Study, include_flagged: bool = True) -> StudyVotes:
    """Every vote of the study that is not excluded, withdrawn, an attention check or a repeat,
    in vote order, in one query; ``flagged`` marks those of raters flagged in this study (left
    out unless ``include_flagged``)."""
    specs = list(study.job.specs.order_by("pk"))
    index = {spec.pk: i for i, spec in enumerate(specs)}
    flag_reasons = flagged_raters(study=study)
    votes = selectors.counted_votes(study=study, include_flagged=True)
    if not include_flagged:
        votes = votes.exclude(comparison__rater_id__in=list(flag_reasons))
    rows = list(
        votes.order_by("pk").values_list(
            "comparison_id",
            "comparison__image_a__spec_id",
            "comparison__image_b__spec_id",
            "criterion",
            "choice",
            "comparison__rater_id",
            "comparison__prompt_id",
            "created_at",
            "comparison__seed",
            "comparison__prompt__category",
            "comparison__prompt__challenge",
            "comparison__image_a_id",
            "comparison__image_b_id",
        )
    )
    criteria = study.all_criteria  # set criteria are criteria like any other here
    criterion_index = {name: i for i, name in enumerate(criteria)}
    rows = [row for row in rows if row[3] in criterion_index]
    n = len(rows)
    column = lambda k, dtype=np.int64: np.fromiter((row[k] for row in rows), dtype=dtype, count=n)  # noqa: E731
    arrays = VoteArrays(
        model_a=np.fromiter((index[row[1]] for row in rows), dtype=np.int64, count=n),
        model_b=np.fromiter((index[row[2]] for row in rows), dtype=np.int64, count=n),
        outcome=np.fromiter((CHOICE_OUTCOME[row[4]] for row in rows), dtype=np.float64, count=n),
        model_names=tuple(model_label(spec) for spec in specs),
        criterion=np.fromiter((criterion_index[row[3]] for row in rows), dtype=np.int64, count=n),
        criterion_names=tuple(criteria),
        comparison=column(0),
        cluster=column(6),
        rater=column(5),
    )
    return StudyVotes(
        arrays=arrays,
        flagged=np.fromiter((row[5] in flag_reasons for row in rows), dtype=bool, count=n),
        spec_ids=tuple(spec.pk for spec in specs),
        prompt_ids=column(6),
        rater_ids=column(5),
        tstamps=[row[7] for row in rows],
        items=_judged_items(column(6), column(8), arrays.model_a, arrays.model_b),
        categories={
            "category": _label_codes([row[9] for row in rows]),
            "challenge": _label_codes([row[10] for row in rows]),
        },
        flag_reasons=flag_reasons,
        image_a_ids=column(11),
        image_b_ids=column(12),
    )


def _judged_items(prompts: np.ndarray, seeds: np.ndarray, model_a: np.ndarray, model_b: np.ndarray) -> np.ndarray:
    """One code per distinct (prompt, seed, unordered model pair): the unit raters agree on."""
    if prompts.size == 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.stack([prompts, seeds, np.minimum(model_a, model_b), np.maximum(model_a, model_b)], axis=1)
    return np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)

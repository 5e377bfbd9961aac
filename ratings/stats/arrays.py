"""Votes as arrays: the one shape every estimator in `ratings.stats` takes.

The web app (or `vote_file.read_vote_file`) turns rows into a `VoteArrays` once, at the edge;
everything downstream is a pure function of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

#: `outcome` values: 1 = model_a won, 0 = model_b won, 0.5 = tie.
A_WINS, B_WINS, TIE = 1.0, 0.0, 0.5


def _int_array(values, name: str, n: int) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {array.shape}")
    if n and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _check_codes(array: np.ndarray, name: str, n_names: int, names_field: str) -> None:
    if array.size and (array.min() < 0 or array.max() >= n_names):
        raise ValueError(f"{name} holds codes outside 0..{n_names - 1} ({names_field} has {n_names} names)")


@dataclass(frozen=True)
class VoteArrays:
    """One row per vote (one answer to one criterion about one shown pair).

    model_a, model_b: int[n], indices into `model_names` (the left/right shown models).
    outcome: float[n], 1 = model_a won, 0 = model_b won, 0.5 = tie.
    criterion: int[n], indices into `criterion_names` (default: all 0, one criterion "overall").
    comparison: int[n], the id of the shown pair the vote answers; the votes of one comparison
        on different criteria are resampled together by the bootstrap, so the combined rating's
        interval accounts for their correlation (default: each vote is its own comparison).
    cluster: int[n] or None, a grouping to resample instead of comparisons (the prompt id, for a
        cluster bootstrap over prompts).
    rater: int[n] or None, the rater id (agreement, attention checks, a bootstrap over raters).
    category: int[n] or None, indices into `category_names`: the prompt's category (PartiPrompts'
        Category or Challenge, or any imported label), for a breakdown by category.
    """

    model_a: np.ndarray
    model_b: np.ndarray
    outcome: np.ndarray
    model_names: tuple[str, ...]
    criterion: np.ndarray | None = None
    criterion_names: tuple[str, ...] = ("overall",)
    comparison: np.ndarray | None = None
    cluster: np.ndarray | None = None
    rater: np.ndarray | None = None
    category: np.ndarray | None = None
    category_names: tuple[str, ...] = ()
    _validated: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        outcome = np.asarray(self.outcome, dtype=np.float64)
        if outcome.ndim != 1:
            raise ValueError(f"outcome must be one-dimensional, got shape {outcome.shape}")
        n = outcome.shape[0]
        set_(self, "outcome", outcome)
        set_(self, "model_names", tuple(self.model_names))
        set_(self, "criterion_names", tuple(self.criterion_names))
        for name in ("model_a", "model_b"):
            set_(self, name, _int_array(getattr(self, name), name, n))
        if self.criterion is None:
            set_(self, "criterion", np.zeros(n, dtype=np.int64))
        else:
            set_(self, "criterion", _int_array(self.criterion, "criterion", n))
        if self.comparison is None:
            set_(self, "comparison", np.arange(n, dtype=np.int64))
        else:
            set_(self, "comparison", _int_array(self.comparison, "comparison", n))
        for name in ("cluster", "rater", "category"):
            if getattr(self, name) is not None:
                set_(self, name, _int_array(getattr(self, name), name, n))
        set_(self, "category_names", tuple(self.category_names))
        if self._validated:
            return
        if self.category is not None:
            _check_codes(self.category, "category", len(self.category_names), "category_names")
        _check_codes(self.model_a, "model_a", len(self.model_names), "model_names")
        _check_codes(self.model_b, "model_b", len(self.model_names), "model_names")
        _check_codes(self.criterion, "criterion", len(self.criterion_names), "criterion_names")
        if np.any(self.model_a == self.model_b):
            first = int(np.argmax(self.model_a == self.model_b))
            raise ValueError(f"vote {first} compares model {self.model_names[self.model_a[first]]!r} with itself")
        bad = ~np.isin(outcome, (A_WINS, B_WINS, TIE))
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(f"outcome of vote {first} is {outcome[first]!r}; expected 1 (A wins), 0 (B wins) or 0.5 (tie)")
        if len(set(self.model_names)) != len(self.model_names):
            raise ValueError("model_names must be unique")
        if len(set(self.criterion_names)) != len(self.criterion_names):
            raise ValueError("criterion_names must be unique")

    @property
    def n_votes(self) -> int:
        return int(self.outcome.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.model_names)

    @property
    def n_criteria(self) -> int:
        return len(self.criterion_names)

    def subset(self, mask: np.ndarray) -> VoteArrays:
        """The votes where `mask` (bool[n] or an index array) holds; names are kept."""
        take = lambda array: None if array is None else array[mask]  # noqa: E731
        return replace(
            self,
            model_a=self.model_a[mask],
            model_b=self.model_b[mask],
            outcome=self.outcome[mask],
            criterion=self.criterion[mask],
            comparison=self.comparison[mask],
            cluster=take(self.cluster),
            rater=take(self.rater),
            category=take(self.category),
            _validated=True,
        )

    def only_criterion(self, name: str) -> VoteArrays:
        """The votes on criterion `name`, as a one-criterion `VoteArrays`."""
        if name not in self.criterion_names:
            raise ValueError(f"no criterion {name!r}; the criteria are: {', '.join(self.criterion_names)}")
        chosen = self.subset(self.criterion == self.criterion_names.index(name))
        return replace(chosen, criterion=np.zeros(chosen.n_votes, dtype=np.int64), criterion_names=(name,), _validated=True)

    def votes_per_model(self) -> np.ndarray:
        """int[n_criteria, n_models]: the votes each model took part in, per criterion."""
        counts = np.zeros((self.n_criteria, self.n_models), dtype=np.int64)
        for side in (self.model_a, self.model_b):
            counts += np.bincount(
                self.criterion * self.n_models + side, minlength=self.n_criteria * self.n_models
            ).reshape(self.n_criteria, self.n_models)
        return counts


def _first_appearance(codes: np.ndarray | None) -> np.ndarray | None:
    """Codes renumbered 0, 1, ... in order of first appearance."""
    if codes is None or codes.size == 0:
        return codes
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.reshape(-1)]


def canonical(votes: VoteArrays) -> VoteArrays:
    """The same votes in the one order every caller uses, so that the same seed draws the same
    bootstrap from a database and from the vote file exported from it: models sorted by name,
    comparisons, prompts and raters numbered by first appearance, votes in file order."""
    order = sorted(range(votes.n_models), key=lambda i: votes.model_names[i])
    position = np.empty(votes.n_models, dtype=np.int64)
    position[order] = np.arange(votes.n_models)
    return replace(
        votes,
        model_a=position[votes.model_a],
        model_b=position[votes.model_b],
        model_names=tuple(votes.model_names[i] for i in order),
        comparison=_first_appearance(votes.comparison),
        cluster=_first_appearance(votes.cluster),
        rater=_first_appearance(votes.rater),
        _validated=True,
    )


def from_labels(
    model_a,
    model_b,
    outcome,
    criterion=None,
    *,
    comparison=None,
    cluster=None,
    rater=None,
    category=None,
) -> VoteArrays:
    """Build `VoteArrays` from label sequences (strings or any hashable); names come out sorted,
    criteria in order of first appearance. `comparison`, `cluster`, `rater` may be labels too;
    `category` labels become `category_names` (sorted)."""

    def codes(labels):
        if labels is None:
            return None
        _, inverse = np.unique(np.asarray(labels), return_inverse=True)
        return inverse.reshape(-1)

    names, model_codes = np.unique(np.concatenate([np.asarray(model_a), np.asarray(model_b)]), return_inverse=True)
    n = len(model_a)
    criterion_names: tuple[str, ...] = ("overall",)
    criterion_codes = None
    if criterion is not None:
        labels = [str(c) for c in criterion]
        order = list(dict.fromkeys(labels))
        position = {name: i for i, name in enumerate(order)}
        criterion_codes = np.array([position[c] for c in labels], dtype=np.int64)
        criterion_names = tuple(order)
    return VoteArrays(
        model_a=model_codes[:n],
        model_b=model_codes[n:],
        outcome=np.asarray(outcome, dtype=np.float64),
        model_names=tuple(str(name) for name in names),
        criterion=criterion_codes,
        criterion_names=criterion_names,
        comparison=codes(comparison),
        cluster=codes(cluster),
        rater=codes(rater),
        category=codes(category),
        category_names=() if category is None else tuple(str(c) for c in np.unique(np.asarray(category))),
    )

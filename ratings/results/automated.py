"""What the votes miss, beside the ratings: automated metrics per model (CLIP score, PickScore),
their agreement with the raters, and diversity across seeds.

- study_metric_means: per model, each metric's mean over prompts with a bootstrap interval over
  prompts, from the ImageMetric rows of the study's images (a metric-only leaderboard when the
  study has no votes yet, the ADM protocol).
- study_metric_agreement: per metric and criterion, the share of decisive counted votes where the
  metric prefers the chosen image (interval over prompts), and the rank correlation of the
  metric's model ranking with the human one.
- study_diversity_compute: per model, 1 - mean pairwise MS-SSIM across the study's seeds (pixels,
  no weights) and, where a metric's weights are available, the Vendi score of its image
  embeddings; computed in a task, never in a request, and kept in the cache until recomputed.
- study_automated: all of it as the leaderboard document's ``automated`` section, with a note
  saying how to compute what is missing.

Every number comes from ``ratings.stats`` (diversity, metric_agreement, over_prompts).
"""

from __future__ import annotations

import logging

import numpy as np
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from generation import conf as generation_conf
from common.queues import GPU_QUEUE
from generation.metrics import (
    METRICS, MetricWeightsUnavailable, image_embeddings_compute, image_metric_values, metric_weights_available,
)
from generation.models import DisplayCopy, ImageMetric
from ratings.stats.diversity import model_diversity, pixel_diversity, vendi_score
from ratings.stats.metric_agreement import model_metric_means, pairwise_accuracy, rank_correlation

from .. import queueing
from ..models import CRITERION_QUESTIONS, Study
from .image_exports import study_images
from .votes import model_label, study_votes

logger = logging.getLogger(__name__)

DIVERSITY_MEASURES = {
    "pixel": "1 - mean pairwise MS-SSIM (Wang et al. 2003) of one model's images of a prompt across the study's seeds; needs no weights",
    "embedding": "Vendi score (Friedman & Dieng 2023) of the image embeddings of the CLIP model in EVALSITE_METRIC_CLIP "
    "across the study's seeds: 1 = every seed the same picture, k = k unrelated pictures",
}
HOW_TO_METRICS = (
    "No automated metrics computed for this study's images yet. Run `manage.py compute_metrics --study {id}` "
    "(add --metric clip_score or --metric pickscore for one), or let them run on the gpu queue after generation "
    "when EVALSITE_METRIC_CLIP / EVALSITE_METRIC_PICKSCORE name weights the workers have (a hub id in their cache or a local directory)."
)
HOW_TO_DIVERSITY = (
    "Diversity across seeds is not computed yet (it runs by itself once every image is made): press 'Compute diversity' on the results page, POST "
    "/api/v1/studies/{id}/diversity/, or run `manage.py compute_metrics --study {id} --diversity`."
)
ONE_SEED = "Diversity across seeds needs at least two seeds per prompt; this study has one ({seed}), so there is nothing to compare."


def _round(value, digits: int = 4):
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _study_image_rows(study: Study) -> list[tuple[int, int, int, int]]:
    """(image id, spec id, prompt id, seed) of every image of the study."""
    return list(study_images(study=study).values_list("pk", "spec_id", "prompt_id", "seed"))


def _metric_weights(metric: str, image_ids: list[int]) -> str | None:
    """The scoring weights whose values are shown: those the settings name now when they scored
    the study's images, else the weights that scored most of them."""
    rows = list(
        ImageMetric.objects.filter(image_id__in=image_ids, metric=metric).values_list("weights", flat=True).distinct()
    )
    if not rows:
        return None
    current = generation_conf.metric_source(METRICS[metric].setting)
    if current in rows:
        return current
    counts = {w: ImageMetric.objects.filter(image_id__in=image_ids, metric=metric, weights=w).count() for w in rows}
    return max(sorted(counts), key=counts.get)


def study_metric_values(*, study: Study) -> dict[str, dict]:
    """{metric: {"weights", "values": {image id: value}}} for the metrics computed on the study's images."""
    image_ids = [row[0] for row in _study_image_rows(study)]
    found = {}
    for metric in METRICS:
        weights = _metric_weights(metric, image_ids)
        if weights is not None:
            found[metric] = {"weights": weights, "values": image_metric_values(image_ids=image_ids, metric=metric, weights=weights)}
    return found


def study_metric_means(*, study: Study, values: dict[str, dict] | None = None, rounds: int = 1000, seed: int = 0) -> list[dict]:
    """Per metric: its label, weights, images scored, and per model the mean over prompts with a
    bootstrap interval over prompts (seeds averaged first)."""
    values = study_metric_values(study=study) if values is None else values
    specs = list(study.job.specs.order_by("pk"))
    index = {spec.pk: i for i, spec in enumerate(specs)}
    rows = _study_image_rows(study)
    table = []
    for metric, found in values.items():
        scored = [(index[spec], prompt, found["values"][image]) for image, spec, prompt, _ in rows if image in found["values"]]
        model = np.array([r[0] for r in scored], dtype=np.int64)
        means = model_metric_means(
            model, np.array([r[1] for r in scored], dtype=np.int64), np.array([r[2] for r in scored], dtype=np.float64),
            n_models=len(specs), rounds=rounds, seed=seed,
        )
        models = [
            {"model": model_label(spec), "mean": _round(means.mean[i]), "ci_low": _round(means.low[i]), "ci_high": _round(means.high[i]), "prompts": int(means.prompts[i])}
            for i, spec in enumerate(specs)
        ]
        models.sort(key=lambda row: -row["mean"] if row["mean"] is not None else np.inf)
        table.append({
            "metric": metric, "label": METRICS[metric].label, "weights": found["weights"], "images": len(scored),
            "interval": f"{int(means.level * 100)}% bootstrap percentile interval over prompts, {rounds} rounds, seed {seed}",
            "models": models,
        })
    return table


def study_metric_agreement(
    *, study: Study, document: dict, means: list[dict], values: dict[str, dict] | None = None, include_flagged: bool = False,
    rounds: int = 1000, seed: int = 0,
) -> list[dict]:
    """Per metric and criterion: pairwise accuracy on the decisive counted votes (a metric tie
    counts half; interval over prompts) and Spearman / Kendall between the metric's model means
    and the leaderboard's ratings of that criterion."""
    values = study_metric_values(study=study) if values is None else values
    if not values:
        return []
    votes = study_votes(study=study, include_flagged=include_flagged)
    keep = np.ones(votes.arrays.n_votes, dtype=bool) if include_flagged else ~votes.flagged
    image_ids = np.concatenate([votes.image_a_ids[keep], votes.image_b_ids[keep]])
    known, position = np.unique(image_ids, return_inverse=True) if image_ids.size else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    n = int(keep.sum())
    image_a, image_b = position[:n], position[n:]
    outcome, criterion, prompt = votes.arrays.outcome[keep], votes.arrays.criterion[keep], votes.prompt_ids[keep]
    ratings = {(row["model"], row["criterion"]): row["rating"] for row in document.get("models", [])}
    agreement = []
    for table in means:
        found = values[table["metric"]]["values"]
        score = np.array([found.get(int(i), np.nan) for i in known], dtype=np.float64)
        metric_by_model = {row["model"]: row["mean"] for row in table["models"]}
        for k, name in enumerate(votes.arrays.criterion_names):
            if name in (study.set_criteria or []):
                continue  # a per-image metric does not judge a set of images (see study_human_diversity)
            mine = criterion == k
            accuracy = pairwise_accuracy(image_a[mine], image_b[mine], outcome[mine], score, cluster=prompt[mine], rounds=rounds, seed=seed)
            models = sorted(metric_by_model)
            correlation = rank_correlation(
                [np.nan if metric_by_model[m] is None else metric_by_model[m] for m in models],
                [ratings.get((m, name), np.nan) if ratings.get((m, name)) is not None else np.nan for m in models],
            )
            agreement.append({
                "metric": table["metric"], "criterion": name,
                "accuracy": _round(accuracy.accuracy), "ci_low": _round(accuracy.low), "ci_high": _round(accuracy.high),
                "votes": accuracy.votes, "metric_ties": accuracy.metric_ties, "skipped": accuracy.skipped,
                "spearman": _round(correlation.spearman), "spearman_p": _round(correlation.spearman_p),
                "kendall": _round(correlation.kendall), "kendall_p": _round(correlation.kendall_p), "models": correlation.models,
            })
    return agreement


# --- diversity across seeds: computed in a task, kept in the cache -------------------------------


# The diversity task's time limit (ratings.tasks): past it, a study's queued mark lapses.
DIVERSITY_TASK_LIMIT_S = 3600


def study_diversity_done(*, study_id: int) -> None:
    """The study's diversity task ended (done or failed): a new request may queue another."""
    cache.delete(f"{_diversity_key(study_id)}:queued")


def _diversity_key(study_id: int) -> str:
    return f"diversity:v1:{study_id}"


def _decode(file_name: str, size: int) -> np.ndarray:
    """uint8[size, size, 3]: an image file decoded with Pillow, resized to the study's display size
    (every model's images compared at one size, as raters see them)."""
    from PIL import Image as PILImage

    with default_storage.open(file_name, "rb") as handle:
        picture = PILImage.open(handle).convert("RGB")
    if picture.size != (size, size):
        picture = picture.resize((size, round(size * picture.height / picture.width)), PILImage.BICUBIC)
    return np.asarray(picture, dtype=np.uint8)


def _embedding_diversity(study: Study, rows, index) -> tuple[dict | None, str]:
    """(per model's Vendi scores over prompts, a note): from the CLIP metric's image embeddings
    when its weights load on this worker; (None, why not) otherwise."""
    try:
        ids, embeddings = image_embeddings_compute(image_ids=[row[0] for row in rows], metric="clip_score")
    except MetricWeightsUnavailable as error:
        return None, f"embedding diversity not computed: {error}"
    where = {image_id: i for i, image_id in enumerate(ids)}
    groups: dict[tuple[int, int], list[int]] = {}
    for image_id, spec, prompt, _ in rows:
        groups.setdefault((spec, prompt), []).append(where[image_id])
    return {key: vendi_score(embeddings[members]) for key, members in groups.items() if len(members) >= 2}, ""


def study_diversity_compute(*, study: Study, embeddings: bool = False, rounds: int = 1000, seed: int = 0) -> dict:
    """Diversity across seeds per model, computed now and cached until the next compute: the pixel
    measure from the display copies (the originals where none exists), and with ``embeddings``
    the Vendi score of CLIP image embeddings (loads the metric's model: run it on the gpu queue)."""
    seeds = list(study.job.seeds)
    specs = list(study.job.specs.order_by("pk"))
    index = {spec.pk: i for i, spec in enumerate(specs)}
    result = {"computed_at": timezone.now().isoformat(), "seeds": len(seeds), "measures": {}, "notes": []}
    if len(set(seeds)) < 2:
        result["notes"].append(ONE_SEED.format(seed=seeds[0] if seeds else "none"))
        cache.set(_diversity_key(study.pk), result, timeout=None)
        return result
    rows = _study_image_rows(study)
    size = study.display_size
    copies = dict(DisplayCopy.objects.filter(image_id__in=[r[0] for r in rows], size=size).values_list("image_id", "file"))
    files = dict(study_images(study=study).values_list("pk", "file"))
    groups: dict[tuple[int, int], list[int]] = {}
    for image_id, spec, prompt, _ in rows:
        groups.setdefault((spec, prompt), []).append(image_id)
    per_prompt = {}
    for key, members in groups.items():
        if len(members) >= 2:
            per_prompt[key] = pixel_diversity(np.stack([_decode(copies.get(i) or files[i], size) for i in members]))
    measured = {"pixel": per_prompt}
    if embeddings:
        vendi, note = _embedding_diversity(study, rows, index)
        if vendi is not None:
            measured["embedding"] = vendi
        if note:
            result["notes"].append(note)
    for measure, values in measured.items():
        keys = list(values)
        means = model_diversity(
            np.array([index[k[0]] for k in keys], dtype=np.int64), np.array([k[1] for k in keys], dtype=np.int64),
            np.array([values[k] for k in keys], dtype=np.float64), n_models=len(specs), rounds=rounds, seed=seed,
        )
        result["measures"][measure] = {
            "description": DIVERSITY_MEASURES[measure],
            "interval": f"{int(means.level * 100)}% bootstrap percentile interval over prompts, {rounds} rounds, seed {seed}",
            "models": [
                {"model": model_label(spec), "mean": _round(means.mean[i]), "ci_low": _round(means.low[i]), "ci_high": _round(means.high[i]), "prompts": int(means.prompts[i])}
                for i, spec in enumerate(specs)
            ],
        }
    cache.set(_diversity_key(study.pk), result, timeout=None)
    cache.delete(f"{_diversity_key(study.pk)}:queued")
    return result


def study_diversity(*, study: Study) -> dict | None:
    """The diversity last computed for the study (``study_diversity_compute``), or None."""
    return cache.get(_diversity_key(study.pk))


def study_diversity_enqueue(*, study: Study, embeddings: bool | None = None) -> str:
    """Queue the diversity computation (after commit); the pixel measure on the default queue, the
    embedding one, which loads a model, on the gpu queue. Returns what was queued, in a sentence."""
    if len(set(study.job.seeds)) < 2:
        return ONE_SEED.format(seed=study.job.seeds[0] if study.job.seeds else "none")
    if embeddings is None:
        # Settings only: whether the weights load is the worker's to find out (it notes it if not),
        # never something a web process checks on its own disk.
        embeddings = bool(generation_conf.metric_source(METRICS["clip_score"].setting))
    # One computation per study at a time: while one is queued or running, asking again queues
    # nothing (the key lives until the task ends, or the task's time limit if its worker was lost).
    queued_at = timezone.now().isoformat(timespec="seconds")
    if not cache.add(f"{_diversity_key(study.pk)}:queued", queued_at, timeout=DIVERSITY_TASK_LIMIT_S):
        since = cache.get(f"{_diversity_key(study.pk)}:queued") or "a moment ago"
        return (
            f"Diversity across seeds is already being computed for this study (asked for at {since}); nothing more was "
            "queued. The leaderboard's automated.diversity shows it when done."
        )
    # One task writes the result: with embeddings it runs where the model loads (gpu) and does the pixels too.
    if embeddings:
        transaction.on_commit(lambda: queueing.study_diversity_compute_send(study.pk, True, queue=GPU_QUEUE))
        return "Diversity across seeds is being computed on the gpu queue (pixels and CLIP embeddings)."
    transaction.on_commit(lambda: queueing.study_diversity_compute_send(study.pk, False))
    return (
        "Diversity across seeds is being computed on the default queue (pixels only: set "
        f"{METRICS['clip_score'].setting} for the embedding measure)."
    )


def study_diversity_after_generation(sender=None, *, job_id: int, **kwargs) -> str | None:
    """``generation.signals.job_done`` receiver: once a study's images are all made, its
    diversity across seeds is computed without anyone asking (as the metrics are); a study with
    one seed has none to compute. Returns what was queued, or None.

    It runs in the worker that finished the job, so like the metrics it asks for the embedding
    measure only when that worker has the CLIP weights (a local directory, or a hub id in its
    cache): finishing a job never starts a download."""
    study = Study.objects.select_related("job").filter(job_id=job_id).first()
    if study is None or len(set(study.job.seeds)) < 2:
        return None
    return study_diversity_enqueue(study=study, embeddings=metric_weights_available(METRICS["clip_score"]))


def study_automated_fingerprint(*, study: Study) -> str:
    """Changes when a metric value of the study's images is written or its diversity recomputed:
    the key of the cached ``automated`` section."""
    job = study.job
    metrics = ImageMetric.objects.filter(
        image__spec__in=job.specs.all(), image__prompt__prompt_set_id=job.prompt_set_id, image__seed__in=job.seeds
    ).aggregate(rows=Count("pk"), last=Max("pk"))
    diversity = study_diversity(study=study) or {}
    queued = cache.get(f"{_diversity_key(study.pk)}:queued") or ""
    return f"{metrics['rows']}:{metrics['last']}:{diversity.get('computed_at', '')}:{queued}"


def study_human_diversity(*, study: Study, document: dict, diversity: dict | None) -> list[dict]:
    """Per set criterion (the raters' question about variety): each model's human rating from the
    leaderboard beside its automated diversity across seeds (every measure computed), and the rank
    correlation of each measure's model ranking with the human one."""
    measures = (diversity or {}).get("measures") or {}
    models = sorted(model_label(spec) for spec in study.job.specs.all())
    tables = []
    for criterion in study.set_criteria or []:
        human = {row["model"]: row for row in document.get("models", []) if row["criterion"] == criterion}
        rows = [
            {
                "model": model,
                "rating": human[model]["rating"] if model in human else None,
                "ci_low": human[model]["ci_low"] if model in human else None,
                "ci_high": human[model]["ci_high"] if model in human else None,
                "votes": human[model]["votes"] if model in human else 0,
                "diversity": {
                    measure: next(({k: row[k] for k in ("mean", "ci_low", "ci_high")} for row in measures[measure]["models"] if row["model"] == model), None)
                    for measure in sorted(measures)
                },
            }
            for model in models
        ]
        rows.sort(key=lambda row: (row["rating"] is None, -(row["rating"] or 0.0), row["model"]))
        correlations = {}
        for measure, part in measures.items():
            automated = {row["model"]: row["mean"] for row in part["models"]}
            correlation = rank_correlation(
                [np.nan if automated.get(m) is None else automated[m] for m in models],
                [np.nan if m not in human else human[m]["rating"] for m in models],
            )
            correlations[measure] = {"spearman": _round(correlation.spearman), "kendall": _round(correlation.kendall), "models": correlation.models}
        tables.append({
            "criterion": criterion, "question": CRITERION_QUESTIONS.get(criterion, criterion), "measures": sorted(measures),
            "rows": rows, "correlations": correlations,
        })
    return tables


def study_automated(*, study: Study, document: dict, include_flagged: bool = False, rounds: int = 1000, seed: int = 0) -> dict:
    """The leaderboard document's ``automated`` section: metric means, their agreement with the
    raters, diversity across seeds, and notes saying how to compute what is missing."""
    values = study_metric_values(study=study)
    rounds = min(rounds, 2000)
    means = study_metric_means(study=study, values=values, rounds=rounds, seed=seed)
    notes = []
    if not means:
        notes.append(HOW_TO_METRICS.format(id=study.pk))
    diversity = study_diversity(study=study)
    if diversity is None:
        if len(set(study.job.seeds)) < 2:
            diversity = {"seeds": len(study.job.seeds), "measures": {}, "notes": [ONE_SEED.format(seed=study.job.seeds[0] if study.job.seeds else "none")]}
        else:
            queued = cache.get(f"{_diversity_key(study.pk)}:queued")
            notes.append(
                f"Diversity across seeds: not computed yet — computing (queued {queued})." if queued else HOW_TO_DIVERSITY.format(id=study.pk)
            )
    return {
        "metrics": means,
        "agreement": study_metric_agreement(
            study=study, document=document, means=means, values=values, include_flagged=include_flagged, rounds=rounds, seed=seed
        ) if document.get("models") else [],
        "agreement_description": "accuracy: share of decisive counted votes where the metric scores the chosen image higher "
        "(a metric tie counts half), 95% bootstrap interval over prompts; spearman / kendall: rank correlation of the metric's "
        "model means with the leaderboard's ratings of the criterion",
        "diversity": diversity,
        # The raters' answer about variety (set criteria) beside the automated diversity.
        "human_diversity": study_human_diversity(study=study, document=document, diversity=diversity),
        "notes": notes,
    }


def study_automated_cached(*, key: str, study: Study, document: dict, include_flagged: bool, rounds: int, seed: int, timeout: int) -> dict:
    """``study_automated`` cached under the leaderboard's key until a metric value is written or
    the diversity recomputed (``study_automated_fingerprint``)."""
    automated_key = f"{key}:automated:{study_automated_fingerprint(study=study)}"
    section = cache.get(automated_key)
    if section is None:
        section = study_automated(study=study, document=document, include_flagged=include_flagged, rounds=rounds, seed=seed)
        cache.set(automated_key, section, timeout=timeout)
    return section

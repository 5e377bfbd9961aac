"""Reads of the ratings app: a study's images and pairs, the images a rater is shown, study
links, reports, and the votes that count."""

from __future__ import annotations

import itertools
from collections import defaultdict

from django.core import signing
from django.utils.crypto import constant_time_compare

from generation.models import DisplayCopy, Image

from .models import AttentionCheck, Comparison, HiddenImage, PairSlot, Participation, Rater, Study, Vote


def study_items(*, study: Study) -> dict[tuple[int, int], dict[int, int]]:
    """{(prompt id, seed): {spec id: image id}} for every image of the study that exists and was
    not hidden in screening (``ratings/screening.py``): what pair slots, attention checks and the
    instructions' example are made from."""
    job = study.job
    spec_ids = list(job.specs.values_list("pk", flat=True))
    hidden = HiddenImage.objects.filter(study_id=study.pilot_of_id or study.pk).values("image_id")
    images = Image.objects.filter(spec_id__in=spec_ids, prompt__prompt_set=job.prompt_set, seed__in=job.seeds).exclude(pk__in=hidden)
    by_item: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for image_id, spec_id, prompt_id, seed in images.values_list("pk", "spec_id", "prompt_id", "seed"):
        by_item[(prompt_id, seed)][spec_id] = image_id
    return dict(by_item)


def study_image_pairs(*, study: Study) -> list[tuple[int, int, int, int]]:
    """(prompt, seed, image of model A, image of model B) for every pair of models whose two
    images exist; A is the model with the lower id."""
    pairs = []
    for (prompt_id, seed), spec_images in sorted(study_items(study=study).items()):
        for spec_a, spec_b in itertools.combinations(sorted(spec_images), 2):
            pairs.append((prompt_id, seed, spec_images[spec_a], spec_images[spec_b]))
    return pairs


def study_image_sets(*, study: Study) -> list[tuple[int, int, int, int]]:
    """(prompt, first seed, first-seed image of model A, of model B) for every prompt and pair of
    models that both have an image for every seed of the study: the set slots' rows (A is the
    model with the lower id)."""
    seeds = list(study.job.seeds)
    items = study_items(study=study)
    sets = []
    for prompt_id in sorted({prompt_id for prompt_id, _ in items}):
        complete = set.intersection(*(set(items.get((prompt_id, seed), {})) for seed in seeds))
        first = items[(prompt_id, seeds[0])] if complete else {}
        for spec_a, spec_b in itertools.combinations(sorted(complete), 2):
            sets.append((prompt_id, seeds[0], first[spec_a], first[spec_b]))
    return sets


def comparison_image_file(*, study_id: int, rater_id: int, token, side: str) -> str | None:
    """Storage name of the display copy shown on ``side`` of a pair served to this rater, or
    None; for a degraded attention check, image B is its degraded copy."""
    comparison = (
        Comparison.objects.select_related("study__job", "attention_check")
        .filter(token=token, study_id=study_id, rater_id=rater_id)
        .first()
    )
    if comparison is None or side not in ("left", "right"):
        return None
    shows_a = (side == "left") == comparison.left_is_a
    check = comparison.attention_check
    if not shows_a and check is not None and check.kind == AttentionCheck.Kind.DEGRADED:
        return check.decoy_file.name
    image_id = comparison.image_a_id if shows_a else comparison.image_b_id
    copy = DisplayCopy.objects.filter(image_id=image_id, size=comparison.study.display_size).first()
    return copy.file.name if copy else None


def comparison_set_image_file(*, study_id: int, rater_id: int, token, side: str, index: int) -> str | None:
    """Storage name of the display copy shown at position ``index`` of the set on ``side`` of a
    set comparison served to this rater (the images in the order of the study's seeds), or None."""
    comparison = (
        Comparison.objects.select_related("study__job", "image_a", "image_b")
        .filter(token=token, study_id=study_id, rater_id=rater_id, slot__kind=PairSlot.Kind.SET)
        .first()
    )
    seeds = list(comparison.study.job.seeds) if comparison else []
    if comparison is None or side not in ("left", "right") or not 0 <= index < len(seeds):
        return None
    shows_a = (side == "left") == comparison.left_is_a
    spec_id = (comparison.image_a if shows_a else comparison.image_b).spec_id
    copy = DisplayCopy.objects.filter(
        image__spec_id=spec_id, image__prompt_id=comparison.prompt_id, image__seed=seeds[index], size=comparison.study.display_size,
    ).first()
    return copy.file.name if copy else None


def display_copy_file(*, image_id: int, size: int) -> str | None:
    """Storage name of an image's display copy at ``size``, or None."""
    return DisplayCopy.objects.filter(image_id=image_id, size=size).values_list("file", flat=True).first()


def example_pair(*, study: Study) -> dict | None:
    """The instructions' example: one image of the study (display copy), and an image of the
    same model made for another prompt; None before two prompts have images."""
    items = study_items(study=study)
    for (prompt_id, seed), spec_images in sorted(items.items()):
        spec_id = min(spec_images)
        others = [images[spec_id] for (p, s), images in sorted(items.items()) if p != prompt_id and spec_id in images]
        if not others:
            continue
        copies = dict(
            DisplayCopy.objects.filter(image_id__in=[spec_images[spec_id], others[0]], size=study.display_size).values_list("image_id", "file")
        )
        if len(copies) < 2:
            continue
        prompts = dict(Image.objects.filter(pk__in=[spec_images[spec_id], others[0]]).values_list("pk", "prompt__text"))
        return {
            "prompt": prompts[spec_images[spec_id]],
            "other_prompt": prompts[others[0]],
            "clear_file": copies[spec_images[spec_id]],
            "unrelated_file": copies[others[0]],
        }
    return None


def study_link_signature(*, study: Study) -> str:
    """What makes a study link valid: an HMAC of the study and its link key (change the key to
    revoke every link handed out)."""
    return signing.Signer(salt="ratings.study-link").signature(f"{study.pk}:{study.link_key}")


def study_link_valid(*, study: Study, signature: str) -> bool:
    return constant_time_compare(study_link_signature(study=study), signature or "")


LINK_USE = {
    "prolific": "Prolific: paste it as the study URL; Prolific fills in PROLIFIC_PID, STUDY_ID and SESSION_ID. "
    "Set the study's completion_url to Prolific's completion link with {code} where the code goes.",
    "mturk": "MTurk: use it as the ExternalURL of an ExternalQuestion HIT; MTurk adds workerId, assignmentId, hitId and "
    "turkSubmitTo itself, shows it in a frame, and the HIT is submitted back when the worker finishes.",
}


def study_links(*, study: Study) -> dict[str, str]:
    """The links (paths) to hand to crowd platforms: Prolific's with the placeholders it fills
    in; MTurk's bare, as MTurk appends its own parameters to an ExternalQuestion's URL."""
    base = f"/rate/{study.pk}/join/{study_link_signature(study=study)}/"
    return {
        "prolific": base + "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}",
        "mturk": base,
    }


def study_crowd_links(*, study: Study, site: str) -> dict[str, dict[str, str]]:
    """``{platform: {"url", "use"}}``: the links of ``study_links`` on ``site`` (scheme and
    host), with where each goes on its platform (the operations page and the API show both)."""
    return {platform: {"url": site.rstrip("/") + path, "use": LINK_USE[platform]} for platform, path in study_links(study=study).items()}


def raters_invitable(*, study: Study | None = None):
    """Raters a study can invite: live rater accounts (crowd participants arrive through the
    study's links and are never invited), and whoever the study already invited."""
    invitable = Rater.objects.filter(source=Rater.Source.ACCOUNT, user__isnull=False, withdrawn_at__isnull=True)
    if study is not None and study.pk:
        invitable = invitable | Rater.objects.filter(studies=study)
    return invitable.select_related("user").distinct().order_by("user__username", "pk")


def study_reports(*, study: Study) -> list[Comparison]:
    """Pairs raters skipped, newest first, with the images and why (for the staff side)."""
    return list(
        Comparison.objects.filter(study=study, reported_at__isnull=False)
        .select_related("rater__user", "image_a__spec", "image_b__spec", "prompt", "attention_check")
        .order_by("-reported_at")
    )


def counted_votes(*, study: Study, include_flagged: bool = False):
    """The votes a leaderboard counts: not excluded, not of a withdrawn rater, not on an
    attention check or a deliberate repeat, and (by default) not of a flagged rater."""
    votes = Vote.objects.filter(
        comparison__study=study,
        excluded=False,
        comparison__attention_check__isnull=True,
        comparison__is_repeat=False,
        comparison__rater__withdrawn_at__isnull=True,
    )
    if not include_flagged:
        flagged = Participation.objects.filter(study=study, flagged=True).values("rater_id")
        votes = votes.exclude(comparison__rater_id__in=flagged)
    return votes

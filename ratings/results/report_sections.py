"""The sections of a study's report (``report.py`` writes them as HTML and PDF).

``report_sections`` reads the study once (its cached default leaderboard, design, prompts,
raters, speeds, weights) into plain sections of blocks: paragraphs, tables and figures (the
plots of ``plots.py``, drawn from the same leaderboard document).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from generation.models import Prompt
from generation.selectors import spec_speed

from ..models import CRITERION_QUESTIONS, Participation, Study
from ..screening import hidden_per_model
from . import leaderboards
from .exports import _automated_columns, _automated_notes
from .votes import model_label


@dataclass
class Section:
    """A heading and its blocks in order: ("p", text), ("table", Table), ("figure", plot name)."""

    title: str
    anchor: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, caption: str, columns: list[str], rows: list[list]) -> None:
        self.blocks.append(("table", Table(caption, columns, [[_cell(value) for value in row] for row in rows])))

    def figure(self, plot: str) -> None:
        self.blocks.append(("figure", plot))


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str]]


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _interval(low, high, digits: int = 3) -> str:
    return "-" if low is None or high is None else f"{low:.{digits}f} to {high:.{digits}f}"


def _study_unit(study: Study) -> str | None:
    """The study's inference unit when the study has one (a setting some versions add)."""
    for name in ("inference_unit", "unit"):
        value = getattr(study, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def report_sections(*, study: Study) -> tuple[dict, list[Section]]:
    """(the header: study, when, code version; the report's sections), from the study's default
    leaderboard (Bradley-Terry, 1000 rounds, seed 0, flagged raters left out)."""
    document = leaderboards.study_leaderboard(study=study)
    provenance = document["provenance"]
    specs = sorted(study.job.specs.all(), key=model_label)
    design = provenance.get("design") or {}
    sections = [
        _design_section(study, specs, design),
        _prompts_section(study),
        _raters_section(study, provenance),
        _stop_section(study, design),
    ]
    if document.get("versus_settings"):
        sections.append(_versus_section(document))
    sections += [_ranking_section(document), _speed_section(specs, document)]
    automated = _automated_section(document.get("automated") or {}, bool(document["models"]))
    if automated is not None:
        sections.append(automated)
    sections.append(_provenance_section(study, provenance, document))
    header = {
        "study": study.name, "study_id": study.pk, "status": study.get_status_display(),
        "generated_at": timezone.now().strftime("%Y-%m-%d %H:%M UTC"), "code_version": provenance["code_version"],
        "votes": provenance["votes"], "raters": provenance["raters"],
    }
    return {"header": header, "document": document}, sections


def _design_section(study: Study, specs, design: dict) -> Section:
    section = Section("Design", "design")
    reference = model_label(study.reference) if study.reference_id else None
    section.p(
        f"{len(specs)} models, each generating one image per prompt and seed (seeds {', '.join(str(s) for s in study.job.seeds)}), "
        f"shown to raters in pairs, sides randomized. "
        + (f"Design: versus the reference {reference} (the other model pairs' share kept: {study.other_pairs_share:g}); "
           if study.design == "versus_reference" else "Design: every model pair served (all pairs); ")
        + (f"decisions against {reference} at margin {study.versus_margin:g}, level {study.stop_alpha:g}." if reference else "no reference model.")
    )
    questions = "; ".join(f"{name}: {CRITERION_QUESTIONS.get(name, name)}" for name in study.criteria)
    section.p(f"Criteria asked for every pair: {questions}." + (f" Set criteria (every seed of a prompt at once): {', '.join(study.set_criteria)}." if study.set_criteria else ""))
    unit = _study_unit(study)
    section.p(
        f"Sampling: {study.sampling}" + (f" (exploration {study.exploration:g})" if study.sampling == "adaptive" else "")
        + f"; stop rule: {study.stop_when}" + (f", budget {study.vote_budget} comparisons" if study.vote_budget else "")
        + f", level {study.stop_alpha:g}"
        + (f"; inference unit: {unit}" if unit else "")
        + f". Ties {'allowed' if study.allow_ties else 'not offered (forced choice, as in ADD)'}; {study.votes_per_pair} votes per model pair, prompt and seed; "
        f"attention checks {study.attention_check_rate:.0%} of pairs; deliberate repeats {study.repeat_share:.0%}."
    )
    if design.get("note"):
        section.p(f"Caution: {design['note']}")
    section.table(
        "The models", ["model", "name", "pipeline", "steps", "guidance", "dtype", "weights", "revision"],
        [[model_label(spec) + (" (reference)" if spec.pk == study.reference_id else ""), spec.name, spec.pipeline_class, spec.steps,
          f"{spec.guidance_scale:g}", spec.dtype, spec.weights, spec.revision or "-"] for spec in specs],
    )
    return section


def _prompts_section(study: Study) -> Section:
    section = Section("Prompts", "prompts")
    prompts = Prompt.objects.filter(prompt_set=study.job.prompt_set)
    categories = Counter(prompts.values_list("category", flat=True))
    challenges = Counter(prompts.values_list("challenge", flat=True))
    total = sum(categories.values())
    section.p(f"{total} prompts from the set \"{study.job.prompt_set.name}\", in {len([c for c in categories if c])} categories.")
    if any(categories):
        section.table("Prompts per category", ["category", "prompts"], [[name or "(none)", n] for name, n in sorted(categories.items())])
    if any(challenges):
        section.table("Prompts per challenge", ["challenge", "prompts"], [[name or "(none)", n] for name, n in sorted(challenges.items())])
    return section


def _raters_section(study: Study, provenance: dict) -> Section:
    section = Section("Raters and exclusions", "raters")
    participations = Participation.objects.filter(study=study)
    section.p(
        f"{participations.count()} participants joined, {participations.filter(finished_at__isnull=False).count()} finished, "
        f"{participations.filter(flagged=True).count()} flagged in this study. Counted: {provenance['votes']} votes in "
        f"{provenance['comparisons']} comparisons by {provenance['raters']} raters; failed attention checks: {provenance['attention_check_failures']}."
    )
    if provenance.get("left_out", {}).get("note"):
        section.p(provenance["left_out"]["note"])
    agreement = ", ".join(f"{name} {'n/a' if alpha is None else f'{alpha:.3f}'}" for name, alpha in provenance["rater_agreement"].items())
    section.p(f"Agreement between raters (Krippendorff's alpha): {agreement or 'n/a'}.")
    consistency = provenance.get("self_consistency") or {}
    if consistency:
        shares = [f"{name} no repeats" if cell["share"] is None else f"{name} {cell['share']:.2f} of {cell['repeats']}" for name, cell in consistency.items()]
        section.p(f"Self-consistency on deliberate repeats (share answered the same way): {', '.join(shares)}.")
    excluded = provenance.get("excluded_raters") or []
    if excluded:
        section.table("Raters left out of the results", ["rater (pseudonym)", "reason"], [[row["rater"], row["reason"]] for row in excluded])
    else:
        section.p("No rater was left out of the results.")
    hidden = [row for row in hidden_per_model(study=study) if row["hidden"]]
    if hidden:
        section.table("Images hidden in screening (never served)", ["model", "hidden", "images"], [[r["model"], r["hidden"], r["images"]] for r in hidden])
    return section


def _stop_section(study: Study, design: dict) -> Section:
    section = Section("Status and stop", "stop")
    reason = study.stop_reason or design.get("stop_reason")
    section.p(
        f"Status: {study.get_status_display()}. "
        + (f"Stopped{f' at {study.stopped_at:%Y-%m-%d %H:%M UTC}' if study.stopped_at else ''}: {reason}" if reason
           else "No stopping rule or budget has stopped the study.")
    )
    return section


def _versus_section(document: dict) -> Section:
    settings = document["versus_settings"]
    section = Section(f"Against the reference, {settings['reference']}", "versus")
    section.p(
        f"Each model's win rate against {settings['reference']} (a tie counts half) with its interval on the unit {settings['unit']} "
        f"({settings.get('population', '')}), each bound one-sided at level {settings['alpha']}: {settings.get('interval', '')}. "
        f"Decisions at margin {settings['margin']}: {settings.get('decisions', '')}."
    )
    section.figure("versus-bars")
    section.figure("versus-table")
    section.table(
        "The decision table", ["model", "criterion", "win rate", "interval", "decision", "votes", "clusters"],
        [[row["model"], row["criterion"], row["win_rate"], _interval(row["low"], row["high"]), row["decision"], row["votes"], row["clusters"]]
         for row in document["versus"]],
    )
    return section


def _ranking_section(document: dict) -> Section:
    section = Section("Ranking", "ranking")
    if not document["models"]:
        section.p("No votes are counted yet: there is no ranking.")
        return section
    section.p(f"Method {document['method']}; intervals: {document['interval']}, about {document['provenance']['population']}. "
              "Rank = 1 + the number of models whose interval lies wholly above.")
    for warning in document.get("warnings") or []:
        section.p(f"Caution: {warning}")
    section.figure("forest")
    criteria = [*document["criteria"], *(["mean"] if document.get("mean_of") else [])]
    for criterion in criteria:
        rows = sorted((row for row in document["models"] if row["criterion"] == criterion), key=lambda row: (row["rank"] or 0, row["model"]))
        if rows:
            section.table(
                criterion, ["rank", "model", "rating", "interval", "votes"],
                [[row["rank"], row["model"], f"{row['rating']:.2f}", _interval(row["ci_low"], row["ci_high"], 2), row["votes"]] for row in rows],
            )
    return section


def _speed_section(specs, document: dict) -> Section:
    section = Section("Speed", "speed")
    speeds = {model_label(spec): spec_speed(spec) for spec in specs}
    if any(speeds.values()) and document["models"]:
        section.figure("speed")
    if any(speed and speed["cpu"] for speed in speeds.values()):
        section.p("Timed on a CPU: these seconds rank the models against each other; a GPU is many times faster.")
    section.table(
        "Seconds per image", ["model", "seconds", "spread", "device", "how"],
        [[name, None if s is None else s["seconds"], "-" if s is None else _interval(s["low"], s["high"]),
          "not measured" if s is None else s["device"], "-" if s is None else s["source"]] for name, s in speeds.items()],
    )
    return section


def _automated_section(automated: dict, has_ratings: bool) -> Section | None:
    columns = _automated_columns(automated)
    if not columns and not automated.get("agreement"):
        return None
    section = Section("Automated metrics and diversity across seeds", "automated")
    for note in _automated_notes(automated):
        section.p(note)
    if (automated.get("diversity") or {}).get("measures") and has_ratings:
        section.figure("diversity")
    for name, rows in columns.items():
        section.table(name, ["model", "mean", "95% interval over prompts", "prompts"],
                      [[row["model"], row["mean"], _interval(row["ci_low"], row["ci_high"]), row["prompts"]] for row in rows])
    if automated.get("agreement"):
        section.table(
            f"Agreement with the raters: {automated.get('agreement_description', '')}", ["metric", "criterion", "accuracy", "interval", "votes"],
            [[row["metric"], row["criterion"], row["accuracy"], _interval(row["ci_low"], row["ci_high"]), row["votes"]] for row in automated["agreement"]],
        )
    return section


def _provenance_section(study: Study, provenance: dict, document: dict) -> Section:
    section = Section("Provenance", "provenance")
    section.p(
        f"Study {study.pk}; code {provenance['code_version']}; ratings computed {provenance['computed_at']} by {provenance['method']} "
        f"with {provenance['rounds']} rounds, seed {provenance['seed']}, resampling {provenance['resample']}. Image seeds: "
        f"{', '.join(str(s) for s in study.job.seeds)}."
    )
    weights = provenance.get("weights") or {}
    rows = [[model, w["role"], w["repo"], w["revision"] or "-", w["commit"] or "-"] for model, found in weights.items() for w in found]
    if rows:
        section.table("Weights the images were generated from", ["model", "role", "repository", "revision", "commit"], rows)
    else:
        section.p("No hub snapshot recorded: the models' weights are local directories or uploaded images.")
    return section

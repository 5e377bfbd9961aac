"""The admin of the ratings app: studies (with actions to start generation, open, pause,
resume, close, export, clone and pilot); raters (flag, exclude) and the append-only comparisons
and votes are registered by ``admin_raters.py``, imported here."""

from __future__ import annotations

import io
import zipfile

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from generation.selectors import job_progress

from . import admin_raters  # noqa: F401  (registers the raters', participations' and records' admins)
from . import cloning, crowd, pilots, selectors, studies
from .sampling import design_errors
from .versus import design_errors as versus_design_errors
from .results.exports import votes_csv
from .models import SamplingOptions, Study
from .studies import rater_title_problem, set_criteria_problem


def _each_study(modeladmin, request, queryset, step, done: str):
    """Run one study service per selected study, reporting each success and refusal."""
    for study in queryset:
        try:
            step(study=study)
        except (studies.StudyStateError, ValidationError) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            modeladmin.message_user(request, f"{study}: {text}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{study}: {done}.", messages.SUCCESS)


class StudyAdminForm(forms.ModelForm):
    """Sampling and stopping settings are checked as the API checks them (ratings/sampling.py);
    the rater title may not name a model of the study."""

    class Meta:
        model = Study
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "raters" in self.fields:
            field = self.fields["raters"]
            field.queryset = selectors.raters_invitable(study=self.instance)
            field.label = "Invited raters"
            field.help_text = "Rater accounts invited to this study. Crowd participants (Prolific, MTurk) join through the study's links and are not listed here."

    def clean(self):
        data = super().clean()
        self._clean_codes(data)
        if self.instance.pk is None:
            return data
        # The study's own options with the form's changes (a field that failed its own check keeps the study's value).
        chosen = self.instance.sampling_options.replace(**{name: data[name] for name in SamplingOptions.names() if name in data})
        errors = design_errors(chosen, n_models=self.instance.job.specs.count(), has_reference=data.get("reference") is not None)
        # The versus-reference design (ratings/versus.py): checked as study_create checks it, and
        # fixed once the study leaves draft (its pair slots are made when it opens).
        errors.update(versus_design_errors(
            specs=list(self.instance.job.specs.all()), design=data.get("design", "all_pairs"), reference=data.get("reference"),
            other_pairs_share=data.get("other_pairs_share", 0.0), versus_margin=data.get("versus_margin", 0.05),
        ))
        if self.instance.status != Study.Status.DRAFT:
            for field in ("design", "reference", "other_pairs_share"):
                before = getattr(self.instance, f"{field}_id" if field == "reference" else field)
                after = data.get(field)
                after = after.pk if field == "reference" and after is not None else after
                if field in data and after != before:
                    errors.setdefault(field, "The design is fixed once the study leaves draft: its pair slots are made when it opens. Clone it into a draft to change it.")
        field_names = {"sampling_rule": "sampling"}
        for field, message in errors.items():
            self.add_error(field_names.get(field, field), message)
        set_criteria = data.get("set_criteria")
        if "set_criteria" in data and set_criteria in (None, ""):
            set_criteria = data["set_criteria"] = []  # an emptied field means none, not NULL
        set_criteria = set_criteria or []
        if set_criteria != (self.instance.set_criteria or []) and self.instance.status != Study.Status.DRAFT:
            self.add_error("set_criteria", "Set criteria are fixed once the study leaves draft: its set comparisons are made when it opens.")
        elif "set_criteria" in data:
            if not isinstance(set_criteria, list):
                self.add_error("set_criteria", 'Give a list of names, e.g. ["diversity"], or [] for none.')
            else:
                problem = set_criteria_problem(set_criteria=set_criteria, criteria=data.get("criteria") or [], seeds=self.instance.job.seeds)
                if problem:
                    self.add_error("set_criteria", problem)
        return data

    def clean_screener_questions(self):
        questions = self.cleaned_data.get("screener_questions") or []
        problems = crowd.screener_questions_problems(study=self.instance, questions=questions)
        if problems:
            raise forms.ValidationError(problems)
        return questions

    def clean_bonus_per_pair(self):
        bonus = self.cleaned_data["bonus_per_pair"]
        if bonus < 0:
            raise forms.ValidationError("A bonus is zero or more.")
        return bonus

    def _clean_codes(self, data: dict) -> None:
        names = ["completion_code", "screened_out_code", "no_consent_code", "quota_full_code"]
        codes = [(data.get(name) or "").strip() for name in names]
        for name, code in zip(names, codes):
            if not code:
                self.add_error(name, "Give a code: the crowd platform tells outcomes apart by it.")
            elif codes.count(code) > 1:
                self.add_error(name, "Each outcome needs its own code; this one is used for another outcome too.")

    def clean_rater_title(self):
        title = self.cleaned_data["rater_title"].strip()
        specs = self.instance.job.specs.all() if self.instance.pk else []
        problem = rater_title_problem(rater_title=title, specs=specs)
        if problem:
            raise forms.ValidationError(problem)
        return title


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    form = StudyAdminForm
    list_display = ("name", "state", "owner", "model_count", "images_made", "answered", "allow_ties", "votes_per_pair", "created_at", "dashboard")
    list_filter = ("status", "allow_ties", "owner")
    search_fields = ("name", "owner__username")
    filter_horizontal = ("shared_with", "raters")
    readonly_fields = (
        "job", "created_at", "stop_reason", "stopped_at", "pair_weights", "pair_weights_at", "pair_weights_votes",
        "pilot_of", "cloned_from", "images_reviewed_at", "images_reviewed_by", "images_review_skipped",
    )
    list_select_related = ("owner", "job")
    actions = [
        "start_generation", "open_for_rating", "pause", "resume", "close", "export_votes", "export_images",
        "clone_studies", "start_pilots",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            model_count=Count("job__specs", distinct=True),
            answered=Count("comparisons", filter=Q(comparisons__answered_at__isnull=False), distinct=True),
        )

    @admin.display(description="status", ordering="status")
    def state(self, study):
        return study.get_status_display()  # "Stopped: ..." when its rule or budget stopped it

    @admin.display(description="models", ordering="model_count")
    def model_count(self, study):
        return study.model_count

    @admin.display(description="images made")
    def images_made(self, study):
        progress = job_progress(job=study.job)
        return f"{progress['done']} / {progress['total']}"

    @admin.display(description="comparisons answered", ordering="answered")
    def answered(self, study):
        return study.answered

    @admin.display(description="dashboard")
    def dashboard(self, study):
        return format_html(
            '<a href="{}">open</a> · <a href="{}">screening, pilot, clone</a>{}',
            reverse("dashboard:study", args=[study.pk]), reverse("ratings:operations", args=[study.pk]),
            f" (pilot of study {study.pilot_of_id})" if study.pilot_of_id else "",
        )

    @admin.action(description="Clone the selected studies into new drafts (settings and images; no votes, raters or link secrets)")
    def clone_studies(self, request, queryset):
        for study in queryset:
            try:
                copy = cloning.study_clone(study=study, by=request.user)
            except ValidationError as error:
                self.message_user(request, f"{study}: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{study}: cloned into the draft '{copy.name}' (study {copy.pk}).", messages.SUCCESS)

    @admin.action(description="Start a pilot of each selected study (its votes are kept apart from the study's results)")
    def start_pilots(self, request, queryset):
        for study in queryset:
            try:
                pilot = pilots.study_pilot_start(study=study, by=request.user)
            except (studies.StudyStateError, ValidationError, PermissionDenied) as error:
                text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
                self.message_user(request, f"{study}: {text}", messages.ERROR)
            else:
                self.message_user(request, f"{study}: pilot '{pilot.name}' (study {pilot.pk}) made, {pilot.get_status_display().lower()}.", messages.SUCCESS)

    @admin.action(description="Start generating the images of the selected studies")
    def start_generation(self, request, queryset):
        _each_study(self, request, queryset, studies.study_start_generation, "generation queued")

    @admin.action(description="Open the selected studies for rating")
    def open_for_rating(self, request, queryset):
        _each_study(self, request, queryset, studies.study_open, "open for rating")

    @admin.action(description="Pause the selected studies")
    def pause(self, request, queryset):
        _each_study(self, request, queryset, studies.study_pause, "paused")

    @admin.action(description="Resume the selected studies")
    def resume(self, request, queryset):
        _each_study(self, request, queryset, studies.study_resume, "resumed")

    @admin.action(description="Close the selected studies")
    def close(self, request, queryset):
        _each_study(self, request, queryset, studies.study_close, "closed")

    @admin.action(description="Export votes (Arena CSV; a zip for several studies)")
    def export_votes(self, request, queryset):
        chosen = list(queryset)
        if len(chosen) == 1:
            response = HttpResponse(votes_csv(study=chosen[0]), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="study-{chosen[0].pk}-votes.csv"'
            return response
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for study in chosen:
                zipped.writestr(f"study-{study.pk}-votes.csv", votes_csv(study=study))
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="votes.zip"'
        return response

    @admin.action(description="Export images with their metadata (one study)")
    def export_images(self, request, queryset):
        from django.http import FileResponse

        from .results.image_exports import study_images_zip

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one study to export its images.", messages.ERROR)
            return None
        study = queryset.get()
        return FileResponse(study_images_zip(study=study), as_attachment=True, filename=f"study-{study.pk}-images.zip", content_type="application/zip")

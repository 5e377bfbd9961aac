"""The admin of the ratings app: studies (with actions to start generation, open, pause,
resume, close and export), raters (flag, exclude), and the append-only comparisons and votes."""

from __future__ import annotations

import io
import zipfile

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html

from generation.selectors import job_progress

from . import cloning, crowd, payments, pilots, raters, studies
from .sampling import design_errors
from .results.exports import votes_csv
from .models import AttentionCheck, Comparison, HiddenImage, PairSlot, Participation, PaymentDecision, Rater, Study, Vote
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

    def clean(self):
        data = super().clean()
        self._clean_codes(data)
        if self.instance.pk is None:
            return data
        errors = design_errors(
            n_models=self.instance.job.specs.count(), sampling_rule=data.get("sampling", "uniform"),
            exploration=data.get("exploration", 0.2), stop_when=data.get("stop_when", "target"),
            stop_alpha=data.get("stop_alpha", 0.05), stop_top_k=data.get("stop_top_k"), stop_width=data.get("stop_width"),
            vote_budget=data.get("vote_budget"),
        )
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
    list_display = ("name", "status", "owner", "model_count", "images_made", "answered", "allow_ties", "votes_per_pair", "created_at", "dashboard")
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


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ("__str__", "source", "external_id", "flagged_in", "withdrawn_at", "answered", "excluded_votes", "created_at")
    list_filter = ("source", "participations__flagged", "studies")
    search_fields = ("user__username", "external_id")
    list_select_related = ("user",)
    actions = ["exclude_votes", "include_votes"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            answered=Count("comparisons", filter=Q(comparisons__answered_at__isnull=False), distinct=True),
            excluded_votes=Count("comparisons__votes", filter=Q(comparisons__votes__excluded=True)),
        ).prefetch_related("participations__study")

    @admin.display(description="comparisons answered", ordering="answered")
    def answered(self, rater):
        return rater.answered

    @admin.display(description="excluded votes", ordering="excluded_votes")
    def excluded_votes(self, rater):
        return rater.excluded_votes

    @admin.display(description="flagged in (flags are per study: see Participations)")
    def flagged_in(self, rater):
        names = [p.study.name for p in rater.participations.all() if p.flagged]
        return ", ".join(names) or "-"

    @admin.action(description="Exclude every vote of the selected raters")
    def exclude_votes(self, request, queryset):
        changed = sum(raters.rater_exclude_everywhere(rater=rater) for rater in queryset)
        self.message_user(request, f"{changed} vote{pluralize(changed)} excluded (kept, never deleted).", messages.SUCCESS)

    @admin.action(description="Count the votes of the selected raters again")
    def include_votes(self, request, queryset):
        changed = sum(raters.rater_exclude_everywhere(rater=rater, excluded=False) for rater in queryset)
        self.message_user(request, f"{changed} vote{pluralize(changed)} counted again.", messages.SUCCESS)


class AppendOnlyAdmin(admin.ModelAdmin):
    """Comparisons and votes are never added or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PaymentDecisionInline(admin.StackedInline):
    """Staff's payment decision, overriding the export's suggestion; who and when are recorded."""

    model = PaymentDecision
    extra = 0
    max_num = 1
    fields = ("decision", "reason", "decided_by", "decided_at")
    readonly_fields = ("decided_by", "decided_at")
    verbose_name = "payment decision (overrides the suggestion of the participants export)"


@admin.register(Participation)
class ParticipationAdmin(admin.ModelAdmin):
    """One rater in one study; a flag here leaves the rater out of this study's leaderboards only.
    The payment decision below overrides the participants export's suggestion."""

    list_display = (
        "pk", "study", "rater", "answered", "failed_checks", "flagged", "flag_reason", "outcome", "decision", "consented_at",
        "finished_at", "feedback_excerpt",
    )
    list_filter = ("study", "flagged", "flag_reason", "outcome", "payment_decision__decision")
    list_select_related = ("study", "rater__user", "payment_decision")
    search_fields = ("rater__external_id", "crowd_session_id", "withdrawn_crowd_id", "feedback")
    readonly_fields = (
        "outcome", "outcome_at", "outcome_reason", "screener_passed_at", "crowd_submit_to", "withdrawn_crowd_id", "feedback", "feedback_at",
    )
    inlines = [PaymentDecisionInline]
    actions = ["flag", "unflag"]

    @admin.display(description="payment decision", ordering="payment_decision__decision")
    def decision(self, participation):
        override = getattr(participation, "payment_decision", None)
        return f"{override.decision} (override)" if override else "suggested"

    @admin.display(description="feedback")
    def feedback_excerpt(self, participation):
        return (participation.feedback[:80] + "…") if len(participation.feedback) > 80 else participation.feedback

    def save_formset(self, request, form, formset, change):
        if formset.model is not PaymentDecision:
            return super().save_formset(request, form, formset, change)
        # Through the service, so who decided and when are recorded as for any other caller.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []  # read by the change message
        for inline in formset.forms:
            if not inline.has_changed() and inline.instance.pk is None:
                continue
            if inline.cleaned_data.get("DELETE"):
                payments.payment_decision_clear(participation=form.instance)
            elif inline.has_changed():
                payments.payment_decision_override(
                    participation=form.instance, decision=inline.cleaned_data["decision"], reason=inline.cleaned_data["reason"], by=request.user,
                )
        return None

    @admin.action(description="Flag the selected raters in these studies (left out of their leaderboards)")
    def flag(self, request, queryset):
        changed = sum(raters.rater_flag(study=p.study, rater=p.rater, flagged=True) for p in queryset)
        self.message_user(request, f"{changed} participation{'s' if changed != 1 else ''} flagged.", messages.SUCCESS)

    @admin.action(description="Clear the flag of the selected raters in these studies")
    def unflag(self, request, queryset):
        changed = sum(raters.rater_flag(study=p.study, rater=p.rater, flagged=False) for p in queryset)
        self.message_user(request, f"{changed} participation{'s' if changed != 1 else ''} no longer flagged.", messages.SUCCESS)


@admin.register(PaymentDecision)
class PaymentDecisionAdmin(admin.ModelAdmin):
    """Every override at a glance; a decision is made or changed on its participation's page."""

    list_display = ("participation", "decision", "reason", "decided_by", "decided_at")
    list_filter = ("decision", "participation__study")
    list_select_related = ("participation", "decided_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PairSlot)
class PairSlotAdmin(admin.ModelAdmin):
    list_display = ("pk", "study", "prompt", "seed", "filled", "retired")
    list_filter = ("study", "retired")


@admin.register(HiddenImage)
class HiddenImageAdmin(admin.ModelAdmin):
    """Read-only: hiding and showing images goes through the screening page or the API, which
    also retire and restore their pairs."""

    list_display = ("pk", "study", "image", "reason", "note", "hidden_by", "hidden_at")
    list_filter = ("study", "reason")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AttentionCheck)
class AttentionCheckAdmin(admin.ModelAdmin):
    list_display = ("pk", "study", "kind", "prompt", "seed", "criteria", "retired")
    list_filter = ("study", "kind", "retired")


@admin.register(Comparison)
class ComparisonAdmin(AppendOnlyAdmin):
    list_display = ("pk", "study", "rater", "prompt", "seed", "models", "left_is_a", "served_at", "answered_at", "is_repeat", "failed_check", "report_reason")
    list_filter = ("study", ("answered_at", admin.EmptyFieldListFilter), "is_repeat", "failed_check", "report_reason")
    search_fields = ("prompt__text", "rater__user__username", "rater__external_id", "=token")
    list_select_related = ("study", "rater__user", "prompt", "image_a__spec", "image_b__spec")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Comparison._meta.fields]

    @admin.display(description="models (A vs B)")
    def models(self, comparison):
        return f"{comparison.image_a.spec.slug} vs {comparison.image_b.spec.slug}"


@admin.register(Vote)
class VoteAdmin(AppendOnlyAdmin):
    list_display = ("pk", "study", "rater", "criterion", "choice", "response_ms", "excluded", "created_at")
    list_filter = ("excluded", "criterion", "choice", "comparison__study")
    search_fields = ("comparison__rater__user__username", "comparison__rater__external_id", "criterion")
    list_select_related = ("comparison__study", "comparison__rater__user")
    readonly_fields = ("comparison", "criterion", "choice", "response_ms", "excluded", "created_at")
    actions = ["exclude_selected", "include_selected"]

    @admin.display(description="study", ordering="comparison__study")
    def study(self, vote):
        return vote.comparison.study

    @admin.display(description="rater")
    def rater(self, vote):
        return vote.comparison.rater

    @admin.action(description="Exclude the selected votes")
    def exclude_selected(self, request, queryset):
        changed = raters.votes_exclude(votes=queryset, excluded=True)
        self.message_user(request, f"{changed} vote{pluralize(changed)} excluded (kept, never deleted).", messages.SUCCESS)

    @admin.action(description="Count the selected votes again")
    def include_selected(self, request, queryset):
        changed = raters.votes_exclude(votes=queryset, excluded=False)
        self.message_user(request, f"{changed} vote{pluralize(changed)} counted again.", messages.SUCCESS)

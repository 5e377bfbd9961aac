"""The admin of raters (exclude their votes), their participations (flag, the payment decision)
and the records staff read but never add or delete: pair slots, hidden images, attention
checks, comparisons and votes (exclude and count again). Registered when ``admin.py`` imports it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.template.defaultfilters import pluralize

from . import payments, rater_flags
from .models import AttentionCheck, Comparison, HiddenImage, PairSlot, Participation, PaymentDecision, Rater, Vote


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
        changed = sum(rater_flags.rater_exclude_everywhere(rater=rater) for rater in queryset)
        self.message_user(request, f"{changed} vote{pluralize(changed)} excluded (kept, never deleted).", messages.SUCCESS)

    @admin.action(description="Count the votes of the selected raters again")
    def include_votes(self, request, queryset):
        changed = sum(rater_flags.rater_exclude_everywhere(rater=rater, excluded=False) for rater in queryset)
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
        changed = sum(rater_flags.rater_flag(study=p.study, rater=p.rater, flagged=True) for p in queryset)
        self.message_user(request, f"{changed} participation{'s' if changed != 1 else ''} flagged.", messages.SUCCESS)

    @admin.action(description="Clear the flag of the selected raters in these studies")
    def unflag(self, request, queryset):
        changed = sum(rater_flags.rater_flag(study=p.study, rater=p.rater, flagged=False) for p in queryset)
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
        changed = rater_flags.votes_exclude(votes=queryset, excluded=True)
        self.message_user(request, f"{changed} vote{pluralize(changed)} excluded (kept, never deleted).", messages.SUCCESS)

    @admin.action(description="Count the selected votes again")
    def include_selected(self, request, queryset):
        changed = rater_flags.votes_exclude(votes=queryset, excluded=False)
        self.message_user(request, f"{changed} vote{pluralize(changed)} counted again.", messages.SUCCESS)

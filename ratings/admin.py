from django.contrib import admin

from .models import AttentionCheck, Comparison, PairSlot, Participation, Rater, Study, Vote


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "owner", "allow_ties", "votes_per_pair", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ("__str__", "source", "flagged", "withdrawn_at", "created_at")
    list_filter = ("source", "flagged")


@admin.register(Participation)
class ParticipationAdmin(admin.ModelAdmin):
    list_display = ("pk", "study", "rater", "answered", "failed_checks", "consented_at", "finished_at")
    list_filter = ("study",)


@admin.register(PairSlot)
class PairSlotAdmin(admin.ModelAdmin):
    list_display = ("pk", "study", "prompt", "seed", "filled", "retired")
    list_filter = ("study", "retired")


@admin.register(AttentionCheck)
class AttentionCheckAdmin(admin.ModelAdmin):
    list_display = ("pk", "study", "kind", "prompt", "seed", "criteria")
    list_filter = ("study", "kind")


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ("pk", "study", "rater", "prompt", "seed", "served_at", "answered_at", "is_repeat", "failed_check", "report_reason")
    list_filter = ("study", "is_repeat", "failed_check", "report_reason")


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("pk", "comparison", "criterion", "choice", "response_ms", "excluded", "created_at")
    list_filter = ("criterion", "choice", "excluded")

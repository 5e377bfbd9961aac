from django.contrib import admin

from .models import Comparison, Rater, Study, Vote


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "owner", "allow_ties", "votes_per_pair", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ("__str__", "source", "flagged", "created_at")
    list_filter = ("source", "flagged")


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ("pk", "study", "rater", "prompt", "seed", "served_at", "answered_at")
    list_filter = ("study",)


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("pk", "comparison", "criterion", "choice", "response_ms", "excluded", "created_at")
    list_filter = ("criterion", "choice", "excluded")

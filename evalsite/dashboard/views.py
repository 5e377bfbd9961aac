"""The staff dashboard: every study at a glance, and one page per study that refreshes itself
(generation progress, queue and workers, votes per hour, raters, live leaderboard, reported
pairs, media used)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.safestring import mark_safe

from evalsite.observability import alerts
from generation.selectors import job_progress
from ratings import payments, pilots, progress, rater_reads, screening
from ratings.results.plots import cpu_timing_note
from ratings.stopping import study_sampling_summary
from ratings.models import Study
from ratings.selectors import study_reports

from . import broker, charts, selectors

REFRESH_SECONDS = 10


@staff_member_required
def index(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.select_related("job", "owner").order_by("-created_at")
    rows = []
    for study in studies:
        images = job_progress(job=study.job)
        rows.append({"study": study, "images": images, "percent": _percent(images["done"], images["total"])})
    return render(request, "dashboard/index.html", {"rows": rows, "broker": broker.broker_status(), "alerts": alerts()})


@staff_member_required
def study_page(request: HttpRequest, study_id: int) -> HttpResponse:
    study = get_object_or_404(Study.objects.select_related("job", "owner"), pk=study_id)
    context = {
        **_panel_context(study), "refresh_seconds": REFRESH_SECONDS,
        "role": pilots.study_role(study=study), "screening": screening.screening_state(study=study),
    }
    return render(request, "dashboard/study.html", context)


@staff_member_required
def study_panel(request: HttpRequest, study_id: int) -> HttpResponse:
    """The part of the study page that refreshes, fetched by dashboard.js."""
    study = get_object_or_404(Study.objects.select_related("job", "owner"), pk=study_id)
    return render(request, "dashboard/panel.html", _panel_context(study))


def _percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


def _panel_context(study: Study) -> dict:
    state = progress.study_progress(study=study)
    per_hour = progress.study_votes_per_hour(study=study)
    board = selectors.study_leaderboard_live(study=study)
    seconds = selectors.study_seconds_per_image(study=study)
    for row in state["images"]["per_model"]:
        row["percent"] = _percent(row["done"], row["total"])
    for row in state["comparisons"]["per_pair"]:
        row["percent"] = min(100, _percent(row["comparisons"], row["target"]))
    return {
        "study": study,
        "progress": state,
        "images_percent": _percent(state["images"]["done"], state["images"]["total"]),
        "comparisons_percent": min(100, _percent(state["comparisons"]["done"], state["comparisons"]["target"])),
        "broker": broker.broker_status(),
        "alerts": alerts(),
        "votes_chart": mark_safe(
            charts.bar_chart([h["comparisons"] for h in per_hour], [h["hour"].strftime("%H:00") for h in per_hour],
                             title="Comparisons answered per hour, last 24 hours (UTC)", css_class="votes-per-hour")
        ),
        "active_minutes": int(progress.ACTIVE_WINDOW.total_seconds() // 60),
        "votes_last_24h": sum(h["comparisons"] for h in per_hour),
        "raters": rater_reads.study_rater_table(study=study),
        "board": board,
        "interval_chart": mark_safe(charts.interval_chart(board["models"])),
        "speed_chart": mark_safe(charts.speed_chart(
            selectors.rating_speed_points(board=board, seconds=seconds), note=cpu_timing_note(selectors.study_speed_devices(study=study)),
        )),
        "seconds_per_image": sorted(seconds.items()),
        "reported": study_reports(study=study)[:50],
        "participants": payments.study_feedback(study=study),
        "media_bytes": selectors.study_media_bytes(study=study),
        "sampling": study_sampling_summary(study=study),
        "updated_at": timezone.now(),
    }

"""What raters and staff meet around the rating pages: the rater's home (studies by their rater
title, never their name), and the site's small parts (favicon, staff header link, the schema in
a browser, plural names, the admin's check of a rater title)."""

from __future__ import annotations

import pytest
from django.test import Client

from generation.models import DisplayCopy, GenerationBatch
from ratings import raters, studies
from ratings.models import Participation, Study
from tests.factories import StudyWithImagesFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_home_page_lists_studies_to_rate_by_rater_title_and_leaves_out_finished_ones(make_study):
    first = make_study(n_models=2, n_prompts=2)
    second = StudyWithImagesFactory(name="second", specs=first.job.specs.all(), prompt_set=first.job.prompt_set, seeds=[1])
    Study.objects.filter(pk=first.pk).update(name="Zephyrturbo vs Quillbase", rater_title="Photo study A")
    user = UserFactory()
    for study in (first, second):
        raters.rater_invite(study=study, user=user)
    client = Client()
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "Photo study A" in page and "Zephyrturbo" not in page and page.count(f"/rate/{second.pk}/") == 1
    rater = user.rater
    Participation.objects.create(study=first, rater=rater, finished_at="2026-01-01T00:00:00Z")
    page = client.get("/").content.decode()
    assert "Photo study A" not in page and f"/rate/{second.pk}/" in page
    Participation.objects.create(study=second, rater=rater, finished_at="2026-01-01T00:00:00Z")
    page = client.get("/").content.decode()
    assert "you have finished every study open to you" in page and "/rate/" not in page


def test_the_favicon_is_served_and_staff_see_a_dashboard_link():
    client = Client()
    icon = client.get("/favicon.ico", follow=True)
    assert icon.status_code == 200 and icon.redirect_chain and b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"
    staff = UserFactory(staff=True)
    plain = UserFactory()
    client.force_login(staff)
    assert 'href="/dashboard/"' in client.get("/").content.decode()
    client.force_login(plain)
    assert 'href="/dashboard/"' not in client.get("/").content.decode()


def test_the_schema_shows_as_text_in_a_browser_and_stays_openapi_for_tools():
    browser = Client().get("/api/schema/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert browser.status_code == 200 and browser["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in browser and browser.content.startswith(b"openapi:")
    tool = Client().get("/api/schema/")
    assert tool["Content-Type"].startswith("application/vnd.oai.openapi")


def test_staff_pages_name_plurals_properly():
    assert DisplayCopy._meta.verbose_name_plural == "display copies"
    assert GenerationBatch._meta.verbose_name_plural == "generation batches"


def test_the_admin_refuses_a_rater_title_naming_a_model(make_study):
    study = make_study(n_models=2, n_prompts=2)
    spec = study.job.specs.first()
    staff = UserFactory(superuser=True)
    client = Client()
    client.force_login(staff)
    page = client.get(f"/admin/ratings/study/{study.pk}/change/")
    assert page.status_code == 200 and 'name="rater_title"' in page.content.decode()
    from ratings.admin import StudyAdminForm

    form = StudyAdminForm(instance=study, data={"rater_title": f"{spec.name} study"})
    form.is_valid()
    assert "must not name a model" in " ".join(form.errors.get("rater_title", []))

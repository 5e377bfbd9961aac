"""The study admin's "Invited raters" list: rater accounts only, never crowd participants
(issue 26, item 10)."""

import re

import pytest
from django.test import Client

from ratings import raters
from ratings.models import Rater
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def rater_options(html: str) -> dict[str, bool]:
    """The raters <select>'s options: value -> selected."""
    select = re.search(r'<select[^>]*name="raters"[^>]*>(.*?)</select>', html, re.S).group(1)
    return {value: "selected" in attrs for value, attrs in re.findall(r'<option value="(\d+)"([^>]*)>', select)}


def test_invited_raters_lists_rater_accounts_and_never_crowd_participants(make_study):
    study = make_study()
    invited = raters.rater_invite(study=study, user=UserFactory(username="invited-rater"))
    account = Rater.objects.create(user=UserFactory(username="other-account"))
    crowd = [
        Rater.objects.create(source=source, external_id=f"{source}-participant-{n}")
        for n, source in enumerate([Rater.Source.PROLIFIC, Rater.Source.MTURK])
    ]
    for rater in crowd:
        raters.participation_start(study=study, rater=rater)
    staff = UserFactory(username="admin-staff", superuser=True)
    client = Client()
    client.force_login(staff)
    page = client.get(f"/admin/ratings/study/{study.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    options = rater_options(html)
    assert options == {str(invited.pk): True, str(account.pk): False}
    assert "Invited raters" in html and "not listed here" in html


def test_the_study_list_says_a_stopped_study_is_stopped(make_study):
    from django.utils import timezone

    from ratings.models import Study

    study = make_study()
    Study.objects.filter(pk=study.pk).update(stopped_at=timezone.now(), stop_reason="Vote budget reached: 5 of 5 comparisons answered.", stopped_by="budget")
    staff = UserFactory(username="list-staff", superuser=True)
    client = Client()
    client.force_login(staff)
    html = client.get("/admin/ratings/study/").content.decode()
    rows = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "Stopped: vote budget reached" in rows and "Open for rating" not in rows

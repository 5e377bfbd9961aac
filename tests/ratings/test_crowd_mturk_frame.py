"""An MTurk HIT in MTurk's frame (ratings/crowd.py): the framed link gets a page only MTurk's
hosts may frame, joins nobody, and opens the study in a tab of its own; that tab does not post
the assignment (the frame does, once the status endpoint says the worker has finished)."""

import re
from urllib.parse import quote

import pytest

from ratings.models import Participation
from ratings.views.links import PREVIEW_ASSIGNMENT
from tests.ratings.rater_client import RaterSession, RecordingClient, study_link

pytestmark = pytest.mark.django_db

SANDBOX = "https://workersandbox.mturk.com"
IDS = {"workerId": "WORKER7", "assignmentId": "ASSIGN7", "hitId": "HIT7"}


def mturk_link(study, **extra) -> str:
    return study_link(study, "mturk", **{**IDS, "turkSubmitTo": quote(SANDBOX, safe=""), **extra})


def frame_ancestors(response) -> str:
    policy = response["Content-Security-Policy"]
    return re.search(r"frame-ancestors ([^;]+)", policy).group(1).strip()


def status_of(client, study, **ids):
    link = study_link(study, "mturk").split("?")[0]
    return client.get(f"{link}mturk-status/?workerId={ids.get('workerId', '')}&assignmentId={ids.get('assignmentId', '')}")


def test_a_framed_mturk_link_gets_a_page_only_mturk_may_frame_and_joins_nobody(make_study, settings):
    study = make_study(attention_check_rate=0, repeat_share=0)
    client = RecordingClient()
    response = client.get(mturk_link(study), HTTP_SEC_FETCH_DEST="iframe")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="open-study"' in html and 'target="_blank"' in html
    assert "X-Frame-Options" not in response
    assert frame_ancestors(response).split() == settings.EVALSITE_MTURK_FRAME_ANCESTORS
    assert "https://worker.mturk.com" in frame_ancestors(response)
    assert not Participation.objects.exists() and "rater_" not in "".join(client.cookies.keys())
    # The tab it opens is the same link, marked as coming from the frame; the form posts to the sandbox.
    href = re.search(r'href="([^"]+)" target="_blank" rel="noopener" id="open-study"', html).group(1).replace("&amp;", "&")
    assert "via=frame" in href and "workerId=WORKER7" in href and "assignmentId=ASSIGN7" in href
    assert f'action="{SANDBOX}/mturk/externalSubmit"' in html and 'name="assignmentId" value="ASSIGN7"' in html
    assert "csrfmiddlewaretoken" not in html.split('id="mturk-submit"')[1]  # never sent to another site


def test_the_preview_is_framable_by_mturk_and_every_other_page_refuses_framing(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0)
    client = RecordingClient()
    preview = client.get(study_link(study, "mturk", assignmentId=PREVIEW_ASSIGNMENT), HTTP_SEC_FETCH_DEST="iframe")
    assert preview.status_code == 200 and "X-Frame-Options" not in preview and "mturk.com" in frame_ancestors(preview)
    # The same link opened as a page of its own, a Prolific link in a frame, the rating pages: no framing.
    top = client.get(mturk_link(study), HTTP_SEC_FETCH_DEST="document")
    assert top.status_code == 302 and top["X-Frame-Options"] == "DENY" and frame_ancestors(top) == "'none'"
    rate = client.get(f"/rate/{study.pk}/", HTTP_SEC_FETCH_DEST="iframe")
    assert rate["X-Frame-Options"] == "DENY" and frame_ancestors(rate) == "'none'"
    prolific = RecordingClient().get(study_link(study, PROLIFIC_PID="P1", STUDY_ID="S", SESSION_ID="X"), HTTP_SEC_FETCH_DEST="iframe")
    assert prolific["X-Frame-Options"] == "DENY" and frame_ancestors(prolific) == "'none'"


def test_a_framed_link_with_a_foreign_submit_host_or_a_bad_worker_id_is_refused(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0)
    foreign = RecordingClient().get(mturk_link(study, turkSubmitTo=quote("https://evil.example", safe="")), HTTP_SEC_FETCH_DEST="iframe")
    assert foreign.status_code == 400 and "is not an MTurk address" in foreign.content.decode()
    bad = RecordingClient().get(mturk_link(study, workerId="<script>"), HTTP_SEC_FETCH_DEST="iframe")
    assert bad.status_code == 400 and 'id="open-study"' not in bad.content.decode()


def test_the_tab_opened_from_the_frame_shows_the_code_and_the_status_tells_the_frame(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=1, ask_feedback=True)
    frame_client = RecordingClient()
    assert status_of(frame_client, study, **IDS).json() == {"finished": False}
    session = RaterSession(RecordingClient(), study)
    assert session.client.get(mturk_link(study, via="frame"), HTTP_SEC_FETCH_DEST="document").status_code == 302
    assert Participation.objects.get().crowd_submit_to == ""  # this tab posts nothing to MTurk
    session.start()
    assert status_of(frame_client, study, **IDS).json() == {"finished": False}
    session.vote()
    assert 'id="feedback-form"' in session.finish().content.decode()
    # Finished, but the feedback box is still open in the tab: the frame waits.
    assert status_of(frame_client, study, **IDS).json() == {"finished": False}
    session.post_form(f"/rate/{study.pk}/feedback/", {"skip": "1"})
    html = session.finish().content.decode()
    assert 'id="return-to-hit"' in html and study.completion_code in html and 'id="mturk-submit"' not in html
    answer = status_of(frame_client, study, **IDS)
    assert answer.json() == {"finished": True, "code": study.completion_code} and answer["Cache-Control"] == "no-store"
    # Another worker's id, or the right worker with another assignment, learns nothing.
    assert status_of(frame_client, study, workerId="WORKER7", assignmentId="OTHER").json() == {"finished": False}
    assert status_of(frame_client, study, workerId="SOMEONE", assignmentId="ASSIGN7").json() == {"finished": False}
    assert status_of(frame_client, study).json() == {"finished": False}
    forged = frame_client.get(f"/rate/{study.pk}/join/not-the-signature/mturk-status/?workerId=WORKER7&assignmentId=ASSIGN7")
    assert forged.status_code == 403 and "not valid" in forged.json()["detail"]

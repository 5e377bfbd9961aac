"""Drive the rater side over HTTP like a browser would, and keep every response a rater
received, for the view, blinding and reliability tests.

``RecordingClient`` is Django's test client that records each response (URL, status, headers,
body bytes); ``RaterSession`` walks the pages (study link, consent, instructions, voting page,
images, votes, reports, finish) and fetches every image the page would load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.test import Client

from ratings import selectors


@dataclass
class Received:
    method: str
    url: str
    status: int
    headers: dict
    body: bytes


class RecordingClient(Client):
    """A test client that keeps every response it receives, redirects included."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[Received] = []

    def request(self, **request):
        response = super().request(**request)
        if response.streaming:
            # Static files: read once here; the caller gets the bytes back as a plain body.
            body = b"".join(response.streaming_content)
            response.streaming_content = [body]
        else:
            body = response.content
        url = request.get("PATH_INFO", "") + (("?" + request["QUERY_STRING"]) if request.get("QUERY_STRING") else "")
        self.received.append(Received(request.get("REQUEST_METHOD", "GET"), url, response.status_code, dict(response.headers), body))
        return response


def study_link(study, platform: str = "prolific", **params) -> str:
    """The study's signed link with a platform's placeholders filled in."""
    path = selectors.study_links(study=study)[platform].split("?")[0]
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{path}?{query}" if query else path


@dataclass
class RaterSession:
    client: RecordingClient
    study: object
    state: dict = field(default_factory=dict)

    def join_prolific(self, pid: str, study_id: str = "STUDY1", session_id: str = "SESSION1"):
        return self.client.get(study_link(self.study, PROLIFIC_PID=pid, STUDY_ID=study_id, SESSION_ID=session_id))

    def open(self):
        """The rate URL, following redirects; loads the pair's images as a browser would."""
        response = self.client.get(f"/rate/{self.study.pk}/", follow=True)
        html = response.content.decode()
        match = re.search(r'<script id="rate-state" type="application/json">(.*?)</script>', html, re.S)
        if match:
            self.state = json.loads(match.group(1))
            self.load_images()
        for src in re.findall(r'<img[^>]+src="([^"]+)"', html):
            self.client.get(src)
        for src in re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/static/[^"]+)"', html):
            self.client.get(src)
        return response

    def start(self):
        """Consent and instructions, then the voting page."""
        self.open()
        self.post_form(f"/rate/{self.study.pk}/consent/", {"answer": "agree"})
        self.open()
        self.post_form(f"/rate/{self.study.pk}/instructions/")
        return self.open()

    def post_form(self, path: str, data: dict | None = None):
        return self.client.post(path, {**(data or {}), "csrfmiddlewaretoken": self.csrf()})

    def load_images(self):
        for pair in self.state.get("pairs", []):
            # A set comparison's page loads every image of both sets.
            for url in pair["left_set"] + pair["right_set"] if pair.get("kind") == "set" else [pair["left"], pair["right"]]:
                self.client.get(url)

    @property
    def token(self) -> str:
        return self.state["pairs"][0]["token"]

    def post_json(self, path: str, body: dict):
        response = self.client.post(path, json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=self.csrf())
        payload = response.json()
        if "pairs" in payload:
            self.state = payload
            self.load_images()
        return response

    def csrf(self) -> str:
        cookie = self.client.cookies.get("csrftoken")
        return cookie.value if cookie else ""

    def vote(self, answers: dict | None = None, token: str | None = None, response_ms: int = 1800):
        # Every criterion, pair and set: a comparison records those it asks and ignores the rest.
        answers = answers or {criterion: "left" for criterion in self.study.all_criteria}
        return self.post_json(f"/rate/{self.study.pk}/vote/", {"token": token or self.token, "answers": answers, "response_ms": response_ms})

    def report(self, reason: str = "broken", note: str = ""):
        return self.post_json(f"/rate/{self.study.pk}/report/", {"token": self.token, "reason": reason, "note": note})

    def finish(self):
        return self.client.get(f"/rate/{self.study.pk}/finish/", follow=False)

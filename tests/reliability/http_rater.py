"""A rater over real HTTP (``requests``) against a server the test started: the request shapes
of ``tests/ratings/rater_client.py`` (study link, consent, instructions, JSON votes)."""

from __future__ import annotations

import json
import re

import requests

from tests.ratings.rater_client import study_link

STATE = re.compile(r'<script id="rate-state" type="application/json">(.*?)</script>', re.S)


class HttpRater:
    def __init__(self, base_url: str, study, pid: str):
        self.base_url, self.study, self.pid = base_url.rstrip("/"), study, pid
        self.http = requests.Session()
        self.state: dict = {}

    def url(self, path: str) -> str:
        return self.base_url + path

    def csrf(self) -> str:
        return self.http.cookies.get("csrftoken", "")

    def open(self) -> requests.Response:
        response = self.http.get(self.url(f"/rate/{self.study.pk}/"), timeout=30)
        match = STATE.search(response.text)
        if match:
            self.state = json.loads(match.group(1))
        return response

    def start(self) -> None:
        """Study link, consent, instructions, then the voting page with its first pairs."""
        self.http.get(self.url(study_link(self.study, PROLIFIC_PID=self.pid, STUDY_ID="S", SESSION_ID=f"s-{self.pid}")), timeout=30)
        for step, data in (("consent", {"answer": "agree"}), ("instructions", {})):
            self.http.post(self.url(f"/rate/{self.study.pk}/{step}/"), data={**data, "csrfmiddlewaretoken": self.csrf()}, timeout=30)
        self.open()

    @property
    def token(self) -> str | None:
        pairs = self.state.get("pairs") or []
        return pairs[0]["token"] if pairs else None

    def vote_body(self, token: str | None = None) -> dict:
        return {"token": token or self.token, "answers": {c: "left" for c in self.study.criteria}, "response_ms": 1500}

    def post_vote(self, body: dict, http: requests.Session | None = None) -> requests.Response:
        """One submit; does not change ``state`` (the caller decides what the answer means)."""
        return (http or self.http).post(
            self.url(f"/rate/{self.study.pk}/vote/"), data=json.dumps(body),
            headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf()}, timeout=30,
        )

    def twin(self) -> requests.Session:
        """A second connection with the same cookies: a double click sent on two sockets."""
        other = requests.Session()
        other.cookies.update(self.http.cookies)
        return other

"""Who reaches what: every URL the project routes, for an anonymous visitor, a rater, a
researcher (token) and staff, checked against one table of rules. A new URL that no rule
covers fails the test until someone decides who may see it. Also: CSRF on every form post,
and a rater never reaches another rater's comparison."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from ratings import raters, studies
from ratings.models import Comparison
from tests.ratings.rater_client import RaterSession, RecordingClient
from tests.factories import PromptSetFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = {302}  # redirected to log in
# rater: an external participant (study link, signed cookie); account_rater: an invited login.
ROLES = ("anonymous", "rater", "account_rater", "researcher", "staff")
# (URL prefix, {role: allowed statuses}); the first matching prefix decides.
API_REFUSED = {"anonymous": {401, 403}, "rater": {401, 403}, "account_rater": {403}}
RULES = [
    ("healthz/", dict.fromkeys(ROLES, {200})),
    ("livez/", dict.fromkeys(ROLES, {200})),
    # Prometheus metrics: the test client connects from 127.0.0.1, the internal network, where a
    # scraper needs no login; from outside only staff get them (tests/deploy/test_observability.py).
    ("metrics", dict.fromkeys(ROLES, {200})),
    ("favicon.ico", dict.fromkeys(ROLES, {301})),  # to the static icon
    ("login/", dict.fromkeys(ROLES, {200, 302})),
    ("logout/", dict.fromkeys(ROLES, {405})),  # logging out is a POST
    ("api/v1/auth/token/", dict.fromkeys(ROLES, {405})),  # POST only
    # The schema and its Swagger page describe the API and hold no study data.
    ("api/schema/", dict.fromkeys(ROLES, {200})),
    ("api/docs/", dict.fromkeys(ROLES, {200})),
    ("api/", {**API_REFUSED, "researcher": {200, 404, 405}, "staff": {200, 404, 405}}),
    ("dashboard/", {"anonymous": LOGIN, "rater": LOGIN, "account_rater": LOGIN | {403}, "researcher": LOGIN, "staff": {200}}),
    # 405 for staff: a results action that takes only POST (computing diversity; the operations page's
    # screening, pilot, clone and models forms), checked after who asks.
    ("studies/", {"anonymous": LOGIN, "rater": LOGIN, "account_rater": {403}, "researcher": LOGIN, "staff": {200, 404, 405}}),
    ("admin/", dict.fromkeys(ROLES, LOGIN) | {"staff": {200}}),
    # The rater's pages: a participant reaches their own; nobody else gets a pair, an image or
    # an example (405: the URL takes only POST, refused before anything is read).
    ("rate/", {
        "anonymous": LOGIN | {403, 404, 405}, "researcher": LOGIN | {403, 404, 405},
        "rater": {200, 302, 403, 404, 405}, "account_rater": {200, 302, 403, 404, 405}, "staff": LOGIN | {403, 404, 405},
    }),
    ("", {"anonymous": LOGIN, "rater": LOGIN, "account_rater": {200}, "researcher": LOGIN, "staff": {200}}),  # home
]


def routes():
    """(route text, name) of every URL pattern, the admin's as one entry, format-suffix twins skipped."""

    def walk(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if text.startswith("admin/"):
                    yield "admin/", "admin"
                    continue
                yield from walk(pattern, text)
            elif isinstance(pattern, URLPattern) and "(?P<format>" not in text and "<drf_format_suffix" not in text:
                yield text, pattern.name

    return list(dict.fromkeys(walk(get_resolver())))


def concrete(route: str, values: dict) -> str:
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], path)  # the router's regex groups
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)
    return "/" + path


def rule_for(path: str) -> dict:
    for prefix, allowed in RULES:
        if path[1:].startswith(prefix):
            return allowed
    raise AssertionError(f"No access rule covers {path}: add one to RULES")


@pytest.fixture
def world(make_study):
    study = make_study(n_models=3, n_prompts=4, attention_check_rate=0, repeat_share=0)
    owner = UserFactory(username="owner")
    study.owner = owner
    study.save(update_fields=["owner"])
    staff = UserFactory(username="staff", superuser=True)
    rater_session = RaterSession(RecordingClient(), study)
    rater_session.join_prolific("a1b2c3d4e5f6")
    rater_session.start()
    other_rater = RaterSession(RecordingClient(), study)
    other_rater.join_prolific("f6e5d4c3b2a1")
    other_rater.start()
    researcher_client = APIClient()
    researcher_client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=owner).key}")
    staff_client = Client()
    staff_client.force_login(staff)
    account_client = Client()
    account_user = UserFactory(username="invited")
    raters.rater_invite(study=study, user=account_user)
    account_client.force_login(account_user)
    other_comparison = Comparison.objects.get(token=other_rater.token)
    values = {
        "pk": str(study.pk), "study_id": str(study.pk), "rater_id": str(other_comparison.rater_id),
        "signature": "not-a-real-signature", "token": str(other_comparison.token), "side": "left", "index": "0",
        "kind": "clear", "fmt": "csv", "plot": "ratings",  # plots come as png or svg: a .csv plot is a 404
        "number": "0",  # a screener question: this study has none, so its images are a 404
        "image_id": str(other_comparison.image_a_id),  # the screening grid's image (issue 15)
    }
    return {
        "clients": {"anonymous": Client(), "rater": rater_session.client, "account_rater": account_client, "researcher": researcher_client, "staff": staff_client},
        "values": values,
        "other_comparison": other_comparison,
        "study": study,
    }


def test_every_url_answers_each_role_as_the_rules_say(world):
    failures = []
    checked = 0
    for route, name in routes():
        path = concrete(route, world["values"])
        allowed = rule_for(path)
        for role, client in world["clients"].items():
            status = client.get(path).status_code
            checked += 1
            if status not in allowed[role]:
                failures.append(f"{role:10} GET {path} ({name}) -> {status}, allowed {sorted(allowed[role])}")
    assert checked > len(ROLES) * 40
    assert failures == [], "\n" + "\n".join(failures)


def test_a_rater_never_reaches_another_raters_comparison(world):
    rater = world["clients"]["rater"]
    study = world["study"]
    other = world["other_comparison"]
    for side in ("left", "right"):
        assert rater.get(f"/rate/{study.pk}/image/{other.token}/{side}/").status_code in (403, 404)
    csrf = rater.cookies["csrftoken"].value
    body = '{"token": "%s", "answers": {"prompt_adherence": "left", "image_quality": "left"}, "response_ms": 5000}' % other.token
    response = rater.post(f"/rate/{study.pk}/vote/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 403
    assert not other.votes.exists()
    tampered = str(other.token)[:-4] + "beef"
    body = body.replace(str(other.token), tampered)
    response = rater.post(f"/rate/{study.pk}/vote/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code in (403, 404) and response.json()["message"]


def test_csrf_is_enforced_on_every_form_post(world):
    """Every non-API URL refuses a POST without a CSRF token from a logged-in browser session."""
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.get(username="staff"))
    rater = Client(enforce_csrf_checks=True)
    rater.cookies = world["clients"]["rater"].cookies
    refused = []
    for route, name in routes():
        path = concrete(route, world["values"])
        if path.startswith("/api/"):
            continue  # token-authenticated, no cookies: CSRF does not apply
        for who, client in (("staff", strict), ("rater", rater)):
            status = client.post(path, {"anything": "1"}).status_code
            if status != 403:
                refused.append(f"{who} POST {path} ({name}) -> {status}")
    allowed_without_csrf = {"healthz", "livez"}
    assert [line for line in refused if not any(f"({name})" in line for name in allowed_without_csrf)] == []


def test_a_second_researcher_reaches_no_endpoint_of_a_study_not_shared_with_them(world):
    """Every /api/v1/studies/{id}/... route (the study operations of issue 15 included): another
    researcher's GET and POST find nothing (404; 405 for a method the route does not take), and
    nothing changes."""
    from ratings.models import HiddenImage, Study

    outsider = APIClient()
    outsider.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=UserFactory(username='second')).key}")
    studies_before = list(Study.objects.order_by("pk").values_list("pk", "status", "images_reviewed_at"))
    checked = []
    for route, name in routes():
        path = concrete(route, world["values"])
        if not path.startswith(f"/api/v1/studies/{world['study'].pk}/"):
            continue
        for method in ("get", "post"):
            status = getattr(outsider, method)(path, {}, format="json").status_code
            checked.append(path)
            assert status in (404, 405), f"second researcher {method.upper()} {path} ({name}) -> {status}"
    assert any(path.endswith("/clone/") for path in checked) and any(path.endswith("/screening/hide/") for path in checked)
    assert list(Study.objects.order_by("pk").values_list("pk", "status", "images_reviewed_at")) == studies_before
    assert not HiddenImage.objects.exists()


# --- Specs, prompt sets, uploads and slugs with two researchers --------------------------------


def _png_zip(prompt_set, seeds, size=64):
    import io
    import zipfile

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for position in range(prompt_set.prompts.count()):
            for seed in seeds:
                png = io.BytesIO()
                PILImage.new("RGB", (size, size), (position * 40 % 256, seed % 256, 90)).save(png, format="PNG")
                zipped.writestr(f"{position}_{seed}.png", png.getvalue())
    buffer.seek(0)
    buffer.name = "images.zip"
    return buffer


@pytest.fixture
def two_researchers(db):
    from generation import specs

    clients = {}
    for name in ("ada", "bob"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=UserFactory(username=name)).key}")
        clients[name] = client
    system = [
        specs.model_spec_create(
            name=f"System {slug}", slug=slug, weights="stabilityai/sd-turbo", pipeline_class="StableDiffusionPipeline", steps=1, height=64, width=64
        )
        for slug in ("tiny-turbo-1step", "tiny-base-25step")
    ]
    ada = clients["ada"]
    spec = ada.post("/api/v1/specs/external/", {"name": "Ada's secret model", "slug": "ada-model", "width": 64, "height": 64, "source": "internal notes"}, format="json")
    assert spec.status_code == 201, spec.json()
    upload = io_upload("ada.txt", b"a lighthouse at dawn\na red bicycle\n")
    prompts = ada.post("/api/v1/prompt-sets/", {"name": "Ada's prompts", "file": upload}, format="multipart")
    assert prompts.status_code == 201, prompts.json()
    return {"ada": ada, "bob": clients["bob"], "spec": spec.json(), "prompt_set": prompts.json()["prompt_set"], "system": system}


def io_upload(name, content):
    import io

    upload = io.BytesIO(content)
    upload.name = name
    return upload


def _study(client, models, prompt_set):
    return client.post("/api/v1/studies/", {"name": "S", "models": models, "prompt_set": prompt_set, "seeds": [0]}, format="json")


def test_a_researcher_reaches_only_their_own_shared_or_system_specs_and_prompt_sets(two_researchers):
    from generation.models import Image, ModelSpec, PromptSet

    ada, bob = two_researchers["ada"], two_researchers["bob"]
    spec, prompt_set = two_researchers["spec"], two_researchers["prompt_set"]
    # Bob lists and reads nothing of Ada's: not her spec (nor its source notes), not her prompts.
    listed = bob.get("/api/v1/specs/", {"page_size": 500}).json()["results"]
    assert {row["slug"] for row in listed} == {"tiny-turbo-1step", "tiny-base-25step"}
    assert "ada-model" not in bob.get("/api/v1/specs/", {"slug": "ada-model"}).content.decode()
    assert bob.get(f"/api/v1/specs/{spec['id']}/").status_code == 404
    assert bob.get("/api/v1/prompt-sets/").json()["results"] == []
    assert bob.get(f"/api/v1/prompt-sets/{prompt_set['id']}/").status_code == 404
    assert bob.get(f"/api/v1/prompt-sets/{prompt_set['id']}/prompts/").status_code == 404
    # Bob cannot upload into Ada's spec, nor take a version of her slug or of a system slug.
    ada_prompt_set = PromptSet.objects.get(pk=prompt_set["id"])
    response = bob.post(f"/api/v1/specs/{spec['id']}/images/", {"prompt_set": prompt_set["id"], "seeds": [0], "file": _png_zip(ada_prompt_set, [0])}, format="multipart")
    assert response.status_code == 404
    for slug in ("ada-model", "tiny-turbo-1step"):
        response = bob.post("/api/v1/specs/external/", {"name": "Mine now", "slug": slug, "width": 64, "height": 64}, format="json")
        assert response.status_code == 400 and "taken by another owner" in response.json()["slug"][0], response.json()
        response = bob.post("/api/v1/specs/", {"name": "Mine now", "slug": slug, "weights": "org/model", "pipeline_class": "StableDiffusionPipeline", "steps": 1}, format="json")
        assert response.status_code == 400 and "taken by another owner" in response.json()["slug"][0], response.json()
    assert ModelSpec.objects.filter(slug__in=["ada-model", "tiny-turbo-1step"]).count() == 2
    # Bob cannot make a study on Ada's spec (by slug or slug@version) or her prompt set.
    bob_prompts = bob.post("/api/v1/prompt-sets/", {"name": "Bob's prompts", "file": io_upload("bob.txt", b"a blue teapot\n")}, format="multipart").json()["prompt_set"]["id"]
    for models in (["ada-model", "tiny-turbo-1step"], ["ada-model@1", "tiny-turbo-1step"]):
        response = _study(bob, models, bob_prompts)
        assert response.status_code == 400 and "Unknown model spec" in response.json()["models"][0]
    response = _study(bob, ["tiny-turbo-1step", "tiny-base-25step"], prompt_set["id"])
    assert response.status_code == 400 and "prompt_set" in response.json()
    # His own external spec takes only prompt sets he may use.
    bob_spec = bob.post("/api/v1/specs/external/", {"name": "Bob's", "slug": "bob-model", "width": 64, "height": 64}, format="json").json()
    response = bob.post(f"/api/v1/specs/{bob_spec['id']}/images/", {"prompt_set": prompt_set["id"], "seeds": [0], "file": _png_zip(ada_prompt_set, [0])}, format="multipart")
    assert response.status_code == 400 and "prompt_set" in response.json()
    assert Image.objects.count() == 0
    # System specs are read-only for everyone, Ada included; a study by slug resolves to them.
    tiny = two_researchers["system"][0]
    response = ada.post(f"/api/v1/specs/{tiny.pk}/images/", {"prompt_set": prompt_set["id"], "seeds": [0], "file": _png_zip(ada_prompt_set, [0])}, format="multipart")
    assert response.status_code == 403 and "system-owned" in response.json()["detail"]
    response = _study(bob, ["tiny-turbo-1step", "bob-model"], bob_prompts)
    assert response.status_code == 201, response.json()
    assert {m["id"] for m in response.json()["models"]} == {tiny.pk, bob_spec["id"]}
    # Ada's own: her version, her study. Sharing lets Bob use but not change them.
    assert ada.post("/api/v1/specs/external/", {"name": "Ada v2", "slug": "ada-model", "width": 64, "height": 64}, format="json").json()["version"] == 2
    assert _study(ada, ["ada-model@1", "tiny-turbo-1step"], prompt_set["id"]).status_code == 201
    assert bob.post(f"/api/v1/specs/{spec['id']}/share/", {"usernames": ["bob"]}, format="json").status_code == 404
    assert ada.post(f"/api/v1/specs/{spec['id']}/share/", {"usernames": ["bob"]}, format="json").status_code == 200
    assert ada.post(f"/api/v1/prompt-sets/{prompt_set['id']}/share/", {"usernames": ["bob"]}, format="json").status_code == 200
    assert bob.get(f"/api/v1/prompt-sets/{prompt_set['id']}/prompts/").status_code == 200
    response = _study(bob, ["ada-model", "tiny-turbo-1step"], prompt_set["id"])
    assert response.status_code == 201, response.json()
    assert {m["version"] for m in response.json()["models"] if m["slug"] == "ada-model"} == {1}  # v2 is not shared with him
    response = bob.post(f"/api/v1/specs/{spec['id']}/images/", {"prompt_set": prompt_set["id"], "seeds": [0], "file": _png_zip(ada_prompt_set, [0])}, format="multipart")
    assert response.status_code == 403 and "owner" in response.json()["detail"]
    assert bob.post(f"/api/v1/specs/{spec['id']}/share/", {"usernames": ["bob"]}, format="json").status_code == 403
    assert Image.objects.count() == 0


def test_the_ownership_migration_gives_existing_rows_their_first_studys_owner_or_the_system(db):
    import importlib

    from django.apps import apps

    from generation import specs
    from generation.models import ModelSpec

    migration = importlib.import_module("ratings.migrations.0001_squashed_0022_sched_split_sql")  # 0007_spec_and_prompt_set_owners, squashed
    ada = UserFactory(username="ada")
    make = dict(weights="org/model", pipeline_class="StableDiffusionPipeline", steps=1)
    v1 = specs.model_spec_create(name="A", slug="ada-model", **make)
    v2 = specs.model_spec_create(name="A", slug="ada-model", **{**make, "steps": 2})
    preset = specs.model_spec_create(name="Turbo", slug="sdxl-turbo-1step", **make)
    unused = specs.model_spec_create(name="U", slug="nobodys", **make)
    used_prompts, other_prompts = PromptSetFactory(size=1), PromptSetFactory(size=1)
    StudyFactory(specs=[v1, preset], prompt_set=used_prompts, owner=ada)
    migration.give_owners(apps, None)
    owners = dict(ModelSpec.objects.values_list("pk", "owner__username"))
    assert owners == {v1.pk: "ada", v2.pk: "ada", preset.pk: None, unused.pk: None}
    used_prompts.refresh_from_db()
    other_prompts.refresh_from_db()
    assert (used_prompts.owner, other_prompts.owner) == (ada, None)

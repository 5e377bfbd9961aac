"""Step sweeps (generation.specs.model_spec_sweep): a spec's versions at several step counts and
guidance scales, each a normal version with its speed measured, from the service, the API, the
admin and the command line."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from generation import configs, specs
from generation.models import ModelSpec, SpeedMeasurement
from generation.configs import spec_config
from generation.specs import model_spec_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def teacher(tiny_specs):
    return next(spec for spec in tiny_specs if not spec.timesteps)


def test_sweep_makes_a_version_per_step_count_and_guidance_with_everything_else_unchanged(teacher):
    made = model_spec_sweep(spec=teacher, steps=[1, 2, 4], guidance_scales=[0.0, 1.5])
    assert [(v.steps, v.guidance_scale) for v, _ in made] == [(1, 0.0), (1, 1.5), (2, 0.0), (2, 1.5), (4, 0.0), (4, 1.5)]
    for version, created in made:
        same = {**spec_config(teacher), "steps": version.steps, "guidance_scale": version.guidance_scale}
        assert spec_config(version) == same
        assert version.slug == teacher.slug and version.owner_id == teacher.owner_id
        assert version.config_hash == configs.config_hash(same)
        assert created == (version.pk != teacher.pk)
        assert f"{version.steps} step" in version.name
    assert sorted(v.version for v, created in made if created) == list(range(teacher.version + 1, teacher.version + 1 + sum(c for _, c in made)))


def test_sweeping_twice_creates_nothing_new_and_the_spec_itself_is_reused(teacher):
    first = model_spec_sweep(spec=teacher, steps=[teacher.steps, 2, 3])
    assert first[0] == (teacher, False)
    count = ModelSpec.objects.count()
    again = model_spec_sweep(spec=teacher, steps=[3, 2, 2])
    assert ModelSpec.objects.count() == count
    assert [v.pk for v, created in again] == [first[2][0].pk, first[1][0].pk] and not any(c for _, c in again)


@pytest.mark.parametrize("steps, guidance, field, words", [
    ([], None, "steps", "Give a list of step counts"),
    ([0, 2], None, "steps", "from 1 to"),
    ([2, "four"], None, "steps", "not 'four'"),
    ([2, True], None, "steps", "not True"),
    ([1, 2], [-1.0], "guidance_scales", "from 0 to 100"),
    (list(range(1, 12)), [0.0, 1.0, 2.0], "steps", "at most 32"),
])
def test_bad_sweeps_are_refused_with_plain_words_and_make_nothing(teacher, steps, guidance, field, words):
    count = ModelSpec.objects.count()
    with pytest.raises(ValidationError) as error:
        model_spec_sweep(spec=teacher, steps=steps, guidance_scales=guidance)
    assert words in " ".join(error.value.message_dict[field])
    assert ModelSpec.objects.count() == count


def test_explicit_timesteps_and_external_systems_cannot_be_swept(teacher):
    fixed = specs.model_spec_create(name="fixed", slug="fixed-timesteps", **{**spec_config(teacher), "steps": 2, "timesteps": [999, 499]})
    with pytest.raises(ValidationError, match="explicit timesteps"):
        model_spec_sweep(spec=fixed, steps=[1, 2])
    assert model_spec_sweep(spec=fixed, steps=[2]) == [(fixed, False)]  # its own step count is fine
    from generation.uploads import external_spec_create

    external = external_spec_create(name="Midjourney", slug="mj", width=64, height=64)
    with pytest.raises(ValidationError, match="external system"):
        model_spec_sweep(spec=external, steps=[1])


def test_each_new_version_gets_its_speed_measured_through_the_task(teacher, django_capture_on_commit_callbacks):
    made = model_spec_sweep(spec=teacher, steps=[1, 2])
    with django_capture_on_commit_callbacks(execute=True):
        queued = specs.spec_speeds_queue(specs=[v for v, _ in made], runs=2, warmup=0)
    assert queued == 2
    for version, _ in made:
        measurement = SpeedMeasurement.objects.get(spec=version)
        assert measurement.runs == 2 and measurement.median_s > 0 and measurement.device == "cpu"
    assert specs.spec_speeds_queue(specs=[v for v, _ in made]) == 0  # measured ones are not measured again


# --- the admin action and the command ---------------------------------------------------------

def test_admin_action_asks_for_the_steps_then_sweeps(client, teacher, django_user_model, django_capture_on_commit_callbacks):
    staff = django_user_model.objects.create_superuser("boss", "boss@example.org", "pw")
    client.force_login(staff)
    url = "/admin/generation/modelspec/"
    page = client.post(url, {"action": "sweep_steps", "_selected_action": [teacher.pk]})
    assert page.status_code == 200 and b"Make the versions" in page.content
    bad = client.post(url, {"action": "sweep_steps", "_selected_action": [teacher.pk], "apply": "1", "steps": "1, x"})
    assert bad.status_code == 200 and b"&#x27;x&#x27; is not a whole number of steps" in bad.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        done = client.post(url, {"action": "sweep_steps", "_selected_action": [teacher.pk], "apply": "1", "steps": f"{teacher.steps + 1}, {teacher.steps + 2}", "measure_speed": "on"}, follow=True)
    notes = [str(m) for m in done.context["messages"]]
    assert done.status_code == 200 and "2 new version(s) made; 2 speed measurement(s) queued on the gpu queue." in notes, notes
    assert len(callbacks) == 2  # one measurement per new version, run by a GPU worker after commit
    assert sorted(ModelSpec.objects.filter(slug=teacher.slug).values_list("steps", flat=True)) == [teacher.steps, teacher.steps + 1, teacher.steps + 2]


def test_command_sweeps_and_measures_here(teacher, capsys):
    steps = f"{teacher.steps},{teacher.steps + 1}"
    call_command("sweep_spec", teacher.slug, "--steps", steps, "--runs", "1", "--warmup", "0")
    out = capsys.readouterr().out
    plural = lambda n: f"{n} step{'s' if n != 1 else ''}"  # noqa: E731
    assert f"{teacher.slug}@{teacher.version} ({plural(teacher.steps)}, guidance {teacher.guidance_scale:g}): exists" in out
    assert f"{teacher.slug}@{teacher.version + 1} ({plural(teacher.steps + 1)}, guidance {teacher.guidance_scale:g}): created" in out
    assert out.count("s/image") == 2  # the teacher had no measurement either
    assert SpeedMeasurement.objects.filter(spec__slug=teacher.slug).count() == 2
    call_command("sweep_spec", teacher.slug, "--steps", steps, "--runs", "1", "--warmup", "0")
    out = capsys.readouterr().out
    assert out.count(": exists") == 2 and "s/image" not in out
    with pytest.raises(CommandError, match="no model spec 'nope'"):
        call_command("sweep_spec", "nope", "--steps", "1")
    with pytest.raises(CommandError, match="from 1 to"):
        call_command("sweep_spec", teacher.slug, "--steps", "0", "--no-measure")
    with pytest.raises(CommandError, match="numbers separated by commas"):
        call_command("sweep_spec", teacher.slug, "--steps", "1,x")


@pytest.mark.slow
def test_a_real_gpu_queue_worker_measures_each_new_versions_speed(celery_worker, tiny_specs):
    """The sweep's measurements go to the gpu queue after commit and a real worker stores them."""
    from django.db import transaction

    from tests.processes import wait_for

    teacher = next(spec for spec in tiny_specs if not spec.timesteps)
    with transaction.atomic():
        made = model_spec_sweep(spec=teacher, steps=[teacher.steps + 1, teacher.steps + 2])
        assert specs.spec_speeds_queue(specs=[v for v, _ in made], runs=2, warmup=0) == 2
    wait_for(lambda: SpeedMeasurement.objects.filter(spec__in=[v for v, _ in made]).count() == 2, timeout=180,
             what="the worker to measure the two new versions", interval=0.5)
    log = celery_worker.log()
    assert log.count("generation.spec_speed_measure") >= 2 and "succeeded" in log, log[-3000:]
    for version, _ in made:
        measurement = SpeedMeasurement.objects.get(spec=version)
        assert measurement.runs == 2 and measurement.median_s > 0

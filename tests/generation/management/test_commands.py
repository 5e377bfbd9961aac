"""Commands of the generation app (and ratings' generate --study, which calls run_job's code)."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from generation import jobs
from generation.models import Image, ModelSpec, SpeedMeasurement
from generation.selectors import spec_seconds_per_image

VALID = dict(weights="stabilityai/sdxl-turbo", pipeline_class="StableDiffusionXLPipeline", steps=1, guidance_scale=0.0, height=512, width=512)


@pytest.mark.django_db
def test_run_job_dry_run_prints_what_would_be_made_and_makes_nothing(tiny_specs, prompt_set, capsys):
    job = jobs.job_create(specs=tiny_specs[:2], prompt_set=prompt_set, seeds=[0, 1], display_size=32)
    call_command("run_job", "--job", str(job.pk), "--dry-run", "--batch-size", "8")
    out = capsys.readouterr().out
    assert f"Job {job.pk}: 0 of 32 images exist; 32 would be made in 4 batch(es)." in out
    assert f"{tiny_specs[0]}: 16 to make (0 of 16 exist)" in out
    assert Image.objects.count() == 0


@pytest.mark.django_db
def test_run_job_makes_the_missing_images_with_a_progress_bar_then_has_nothing_left(tiny_specs, prompt_set, capsys):
    job = jobs.job_create(specs=tiny_specs[:1], prompt_set=prompt_set, seeds=[0], display_size=32)
    call_command("run_job", "--job", str(job.pk), "--batch-size", "4")
    captured = capsys.readouterr()
    assert f"Job {job.pk}: made 8 image(s)." in captured.out
    assert "8/8" in captured.err, "tqdm's bar reached the end"
    assert Image.objects.count() == 8
    call_command("run_job", "--job", str(job.pk))
    assert "all 8 images exist; nothing to make" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no generation job with id 999999"):
        call_command("run_job", "--job", "999999")


@pytest.mark.django_db
def test_generate_study_runs_the_study_job(tiny_specs, prompt_set, capsys):
    from tests.factories import StudyFactory

    study = StudyFactory(specs=tiny_specs[:2], prompt_set=prompt_set, display_size=32)
    call_command("generate", "--study", str(study.pk), "--dry-run")
    assert "16 would be made" in capsys.readouterr().out
    call_command("generate", "--study", str(study.pk), "--batch-size", "8")
    assert f"Job {study.job.pk}: made 16 image(s)." in capsys.readouterr().out
    assert Image.objects.filter(spec__in=tiny_specs[:2]).count() == 16


@pytest.mark.django_db
def test_measure_speed_stores_median_and_spread_for_the_speed_plot(tiny_specs, capsys):
    spec = tiny_specs[0]
    assert spec_seconds_per_image(spec) is None
    call_command("measure_speed", spec.slug, "--runs", "5", "--warmup", "1")
    assert f"{spec.slug} v{spec.version}: median" in capsys.readouterr().out
    measurement = SpeedMeasurement.objects.get(spec=spec)
    assert measurement.runs == 5 and measurement.warmup_runs >= 1 and measurement.device == "cpu"
    assert 0 < measurement.p10_s <= measurement.median_s <= measurement.p90_s
    assert spec_seconds_per_image(spec) == (measurement.median_s, "CPU")
    with pytest.raises(CommandError, match="no model spec with slug 'nope'"):
        call_command("measure_speed", "nope")


@pytest.mark.django_db
def test_install_presets_command_lists_every_preset_and_is_idempotent(capsys):
    from generation.presets import PRESETS

    call_command("install_presets")
    assert capsys.readouterr().out.count("created") == len(PRESETS)
    call_command("install_presets")
    assert capsys.readouterr().out.count("exists") == len(PRESETS)


@pytest.mark.django_db
def test_create_spec_command_creates_from_json(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"name": "SDXL-Turbo", "slug": "sdxl-turbo", **VALID}))
    call_command("create_spec", "--json", str(path))
    assert "Created sdxl-turbo v1" in capsys.readouterr().out
    assert ModelSpec.objects.get().steps == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content, message",
    [
        (json.dumps({"name": "x", "slug": "x", **VALID, "steps": 0, "weights": "/no/such/dir"}), "steps: Steps must be a whole number"),
        ("{not json", "is not valid UTF-8 JSON"),
        (json.dumps([1, 2]), "must hold one JSON object"),
        (json.dumps({"slug": "x"}), "lacks name"),
    ],
)
def test_create_spec_command_refuses_bad_input_with_exit_code_2(tmp_path, content, message):
    path = tmp_path / "spec.json"
    path.write_text(content)
    with pytest.raises(CommandError) as caught:
        call_command("create_spec", "--json", str(path))
    assert caught.value.returncode == 2 and message in str(caught.value)
    assert ModelSpec.objects.count() == 0


@pytest.mark.django_db
def test_create_spec_command_exits_2_from_the_shell(tmp_path):
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"name": "x", "slug": "x", **VALID, "guidance_scale": -1}))
    db = connection.settings_dict
    env = {"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}", "EVALSITE_DATA_DIR": str(settings.DATA_DIR), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "manage.py", "create_spec", "--json", str(path)], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR)
    assert result.returncode == 2
    assert "guidance_scale: Guidance scale must be a number of at least 0" in result.stderr

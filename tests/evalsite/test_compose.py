"""docker-compose.yml, validated without a Docker engine: its structure, and that every
service's command names code that exists."""

import importlib
import re
import runpy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_words(service: dict) -> list[str]:
    command = service.get("command")
    if isinstance(command, str):
        return command.split()
    words = []
    for part in command:
        words.extend(part.split())
    return words


def test_every_service_is_there_and_shares_one_image_built_from_the_dockerfile():
    services = load_compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "gpu-worker", "beat", "flower"}
    app_services = ["web", "worker", "gpu-worker", "beat", "flower"]
    assert {services[name]["build"] for name in app_services} == {"."}
    assert {services[name]["image"] for name in app_services} == {"evalsite:latest"}
    assert (ROOT / "Dockerfile").exists()
    for name in app_services:
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")


def test_gpu_worker_listens_on_the_gpu_queue_with_a_solo_pool_and_reserves_an_nvidia_device():
    from evalsite.queues import DEFAULT_QUEUE, GPU_QUEUE

    services = load_compose()["services"]
    gpu = command_words(services["gpu-worker"])
    assert gpu[gpu.index("-Q") + 1] == GPU_QUEUE
    assert "--pool=solo" in gpu
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    cpu = command_words(services["worker"])
    assert cpu[cpu.index("-Q") + 1] == DEFAULT_QUEUE


def test_every_command_names_code_that_exists():
    services = load_compose()["services"]
    for name in ["worker", "gpu-worker", "beat", "flower"]:
        words = command_words(services[name])
        assert words[0] == "celery"
        app_module = words[words.index("-A") + 1]
        assert hasattr(importlib.import_module(app_module), "celery_app")
    web = " ".join(command_words(services["web"]))
    target = web.split("gunicorn ")[1].split()[0]
    module, attribute = target.split(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    # The Dockerfile copies every package the commands import.
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ["evalsite", "generation", "ratings", "manage.py"]:
        assert f"COPY {package}" in dockerfile
    # The web command's settings file is copied into the image and sets a threaded worker.
    config = web.split("--config ")[1].split()[0]
    assert re.search(rf"^COPY .*\b{re.escape(config)}\b", dockerfile, re.M), f"{config} is not copied into the image"
    settings = runpy.run_path(str(ROOT / config))
    assert settings["worker_class"] == "gthread" and settings["threads"] >= 1 and settings["workers"] >= 1


APP_SERVICES = ["migrate", "web", "worker", "gpu-worker", "beat", "flower"]


def test_migrations_run_once_before_every_service_that_uses_the_database():
    services = load_compose()["services"]
    assert command_words(services["migrate"]) == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ["web", "worker", "gpu-worker", "beat", "flower"]:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == depends["redis"] == {"condition": "service_healthy"}, name
        assert "migrate" not in " ".join(command_words(services[name])), f"{name} must not race the migrate service"


def test_long_running_services_have_healthchecks_that_test_the_right_thing():
    from django.urls import resolve

    services = load_compose()["services"]
    for name in ["postgres", "redis", "web", "worker", "gpu-worker", "flower"]:
        assert services[name]["healthcheck"]["test"], name
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    path = web_check.split("http://127.0.0.1:8000")[1].split("'")[0]
    assert resolve(path).func.__name__ == "healthz"
    for name in ["worker", "gpu-worker"]:
        words = command_words(services[name])
        node = words[words.index("-n") + 1].split("@")[0]
        check = " ".join(services[name]["healthcheck"]["test"])
        assert f"inspect ping -d {node}@$$HOSTNAME" in check, name


def test_media_volume_env_file_and_every_interpolated_variable_is_documented():
    import re

    compose = load_compose()
    services = compose["services"]
    assert "media" in compose["volumes"]
    for name in APP_SERVICES:
        assert services[name]["env_file"] == ".env"
        assert "media:/data" in services[name]["volumes"]
    assert "EVALSITE_DATA_DIR=/data" in (ROOT / "Dockerfile").read_text()
    example = (ROOT / ".env.example").read_text()
    interpolated = set(re.findall(r"\$\{([A-Z_]+)(?::-[^}]*)?\}", (ROOT / "docker-compose.yml").read_text()))
    assert interpolated == {"POSTGRES_PASSWORD", "WEB_PORT", "FLOWER_PORT"}
    for variable in interpolated:
        assert re.search(rf"^{variable}=", example, re.M), f"{variable} is not in .env.example"

"""docker-compose.yml, validated without a Docker engine: its structure, and that every
service's command names code that exists."""

import importlib
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
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


def dockerfile_stages() -> dict[str, str]:
    """Each ``FROM ... AS name`` stage of the Dockerfile and its text."""
    stages, name = {}, None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"^FROM\s+\S+\s+AS\s+(\w+)", line, re.I)
        if match:
            name = match.group(1)
            stages[name] = ""
        elif name:
            stages[name] += line + "\n"
    return stages


def test_every_service_is_there_and_images_are_built_by_role_from_the_dockerfile():
    services = load_compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "gpu-worker", "beat", "flower"}
    cpu_services = ["migrate", "web", "worker", "beat", "flower"]
    app_services = [*cpu_services, "gpu-worker"]
    for name in cpu_services:
        assert services[name]["build"] == {"context": ".", "target": "app"}, name
        assert services[name]["image"] == "evalsite:latest", name
    assert services["gpu-worker"]["build"] == {"context": ".", "target": "gpu"}
    assert services["gpu-worker"]["image"] == "evalsite-gpu:latest"
    stages = dockerfile_stages()
    assert set(stages) == {"app", "gpu"}
    # The app image installs no generation stack; the gpu image adds CUDA torch and the gpu extra.
    app_install = " ".join(line for line in stages["app"].splitlines() if "pip install" in line)
    assert "gpu" not in app_install and "torch" not in app_install and "ops" in app_install
    assert "download.pytorch.org/whl/cu" in stages["gpu"] and '"torch==2.13.0"' in stages["gpu"]
    assert re.search(r'pip install "\.\[gpu[,\]]', stages["gpu"])
    for name in app_services:
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")


def test_gpu_worker_listens_on_the_gpu_queue_with_a_solo_pool_and_reserves_an_nvidia_device():
    from common.queues import DEFAULT_QUEUE, GPU_QUEUE

    services = load_compose()["services"]
    gpu = command_words(services["gpu-worker"])
    assert gpu[gpu.index("-Q") + 1] == GPU_QUEUE
    assert "--pool=solo" in gpu
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    # One GPU per worker: this one is pinned to device 0 (the override adds the others).
    assert services["gpu-worker"]["environment"]["CUDA_VISIBLE_DEVICES"] == "0"
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
    interpolated = set(re.findall(r"\$\{([A-Z_]+)(?::[-?][^}]*)?\}", (ROOT / "docker-compose.yml").read_text()))
    assert interpolated == {"POSTGRES_PASSWORD", "WEB_PORT", "FLOWER_PORT", "FLOWER_BASIC_AUTH", "HF_TOKEN"}
    for variable in interpolated:
        assert re.search(rf"^{variable}=", example, re.M), f"{variable} is not in .env.example"


def test_hf_token_and_weights_cache_reach_the_gpu_workers_only():
    compose = load_compose()
    services = compose["services"]
    assert "hf-cache" in compose["volumes"]
    gpu = services["gpu-worker"]
    assert gpu["environment"]["HF_TOKEN"] == "${HF_TOKEN:-}"
    assert "hf-cache:/hf-cache" in gpu["volumes"] and gpu["environment"]["HF_HOME"] == "/hf-cache"
    for name in ["migrate", "web", "worker", "beat", "flower"]:
        # .env reaches every service through env_file; the token is blanked where it is not needed.
        assert services[name]["environment"]["HF_TOKEN"] == "", name
        assert not any("hf-cache" in volume for volume in services[name]["volumes"]), name
    assert re.search(r"^HF_TOKEN=$", (ROOT / ".env.example").read_text(), re.M)


def test_flower_asks_for_a_password_from_env_and_no_other_service_gets_it():
    services = load_compose()["services"]
    auth = services["flower"]["environment"]["FLOWER_BASIC_AUTH"]
    # ":?" makes docker compose refuse to start when .env does not set it.
    assert auth.startswith("${FLOWER_BASIC_AUTH:?") and "user:password" in auth
    for name in ["migrate", "web", "worker", "gpu-worker", "beat"]:
        assert services[name]["environment"]["FLOWER_BASIC_AUTH"] == "", name
    assert re.search(r"^FLOWER_BASIC_AUTH=\w+:\S+$", (ROOT / ".env.example").read_text(), re.M)
    pinned = [dep for dep in tomllib_project()["optional-dependencies"]["ops"] if dep.startswith("flower")]
    assert pinned and "==" in pinned[0], "Flower is pinned in the ops extra"


def tomllib_project() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_base_dependencies_leave_out_the_generation_stack_and_the_gpu_extra_has_it():
    project = tomllib_project()
    names = {re.split(r"[<>=!\[ ;]", dep)[0].lower() for dep in project["dependencies"]}
    assert not names & {"torch", "diffusers", "transformers", "accelerate", "peft", "safetensors"}
    gpu = {re.split(r"[<>=!\[ ;]", dep)[0].lower() for dep in project["optional-dependencies"]["gpu"]}
    assert {"torch", "diffusers", "transformers", "accelerate", "peft"} <= gpu
    setup = (ROOT / "scripts" / "lib" / "setup.sh").read_text()
    assert '"torch==2.13.0"' in setup
    assert "ensure_venv gpu,test" in (ROOT / "scripts" / "test").read_text()
    assert "ensure_venv gpu" in (ROOT / "scripts" / "demo").read_text()


@pytest.mark.parametrize("gpus", [1, 4, 8])
def test_the_generated_override_runs_one_gpu_worker_per_device(gpus, tmp_path):
    output = tmp_path / "docker-compose.gpus.yml"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compose-gpus"), str(gpus), "--output", str(output)],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    override = yaml.safe_load(output.read_text())
    extra = override.get("services") or {}
    assert len(extra) == gpus - 1
    base = load_compose()["services"]["gpu-worker"]
    devices = [base["environment"]["CUDA_VISIBLE_DEVICES"]]
    for name, service in extra.items():
        assert service["extends"] == {"file": "docker-compose.yml", "service": "gpu-worker"}, name
        devices.append(service["environment"]["CUDA_VISIBLE_DEVICES"])
    assert devices == [str(device) for device in range(gpus)]
    # Each further worker only changes its device: the device reservation list is not appended to.
    assert all(set(service) == {"extends", "environment"} for service in extra.values())


def test_the_readme_shows_one_four_and_eight_gpus_and_a_worker_on_a_machine_of_its_own():
    readme = (ROOT / "README.md").read_text()
    for gpus in (4, 8):
        assert f"scripts/compose-gpus {gpus}" in readme
    assert "docker compose -f docker-compose.yml -f docker-compose.gpus.yml up -d" in readme
    assert "1 GPU" in readme
    assert "docker-compose.gpu-machine.yml" in readme


def test_a_gpu_machine_of_its_own_runs_the_same_worker_with_only_database_broker_and_storage_settings():
    main = load_compose()["services"]["gpu-worker"]
    machine = yaml.safe_load((ROOT / "docker-compose.gpu-machine.yml").read_text())
    assert set(machine["services"]) == {"gpu-worker"}
    worker = machine["services"]["gpu-worker"]
    for key in ["build", "image", "command", "healthcheck", "deploy", "env_file"]:
        assert worker[key] == main[key], key
    assert "depends_on" not in worker, "it joins a deployment that runs elsewhere"
    assert worker["environment"] == {"HF_HOME": "/hf-cache", "CUDA_VISIBLE_DEVICES": "0"}
    assert "hf-cache:/hf-cache" in worker["volumes"]
    header = (ROOT / "docker-compose.gpu-machine.yml").read_text().split("services:")[0]
    for variable in ["DATABASE_URL", "REDIS_URL", "EVALSITE_STORAGE=s3", "AWS_STORAGE_BUCKET_NAME", "HF_TOKEN"]:
        assert variable in header


def test_docker_compose_config_accepts_the_files_where_docker_is_installed(tmp_path):
    import shutil

    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose is not installed on this machine; the stack test runs the services without it")
    # A copy of the files with .env made from .env.example, as an operator starts.
    for name in ["docker-compose.yml", "docker-compose.gpu-machine.yml", "Dockerfile"]:
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    generated = subprocess.run([sys.executable, str(ROOT / "scripts" / "compose-gpus"), "4", "--output", str(tmp_path / "docker-compose.gpus.yml")], capture_output=True, text=True)
    assert generated.returncode == 0, generated.stderr
    for files in (["docker-compose.yml"], ["docker-compose.yml", "docker-compose.gpus.yml"], ["docker-compose.gpu-machine.yml"]):
        args = [arg for name in files for arg in ("-f", name)]
        result = subprocess.run([docker, "compose", *args, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{files}: {result.stderr}"

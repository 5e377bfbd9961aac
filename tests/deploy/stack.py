"""The production configuration without Docker: docker-compose.yml's own commands and
environment (with .env.example as the .env), run as processes on this machine. Only what a
container provides is translated: service addresses become 127.0.0.1 ports, /data a temporary
directory, and a fresh PostgreSQL database stands in for the compose one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""

    def substitute(match):
        name, op, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        current = variables.get(name, "")
        if op == ":?" and not current:
            raise ValueError(f"compose would refuse to start: {rest}")
        return current or (rest if op == ":-" else "")

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(:-|:\?)?([^}]*)\}", substitute, str(value))


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def fresh_database(base_url: str) -> str:
    """A new, empty PostgreSQL database on the test server; its URL."""
    name = f"evalsite_stack_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return re.sub(r"/[^/]*$", f"/{name}", base_url)


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = re.sub(r"/[^/]*$", "/postgres", url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    data_dir: Path
    database_url: str
    redis_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.dotenv = env_file(ROOT / ".env.example")
        self.services = compose_services()
        self.ports = {"web": free_port(), "flower": free_port(), "worker": free_port(), "gpu-worker": free_port()}
        self.logs = self.data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def env(self, service: str) -> dict[str, str]:
        """What the container of ``service`` would see: .env, then the service's environment,
        then the machine's translations."""
        spec = self.services[service]
        values = dict(self.dotenv) if spec.get("env_file") == ".env" else {}
        for name, value in (spec.get("environment") or {}).items():
            values[name] = interpolate(value, self.dotenv)
        data = str(self.data_dir)
        values.update({
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "EVALSITE_DATA_DIR": data,
            "EVALSITE_MEDIA_ROOT": f"{data}/media",
            "EVALSITE_MODELS_DIR": f"{data}/models",
            "EVALSITE_STATIC_ROOT": f"{data}/static",
            "GUNICORN_BIND": f"127.0.0.1:{self.ports['web']}",
            "TRANSFORMERS_VERBOSITY": "error",
        })
        if "PROMETHEUS_MULTIPROC_DIR" in values:
            values["PROMETHEUS_MULTIPROC_DIR"] = f"{data}/prometheus"
        if "HF_HOME" in values:
            values["HF_HOME"] = f"{data}/hf-cache"
        if service in ("worker", "gpu-worker"):
            values["EVALSITE_WORKER_METRICS_PORT"] = str(self.ports[service])
        values.update(self.extra_env)
        keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
        return {**keep, "PYTHONPATH": str(ROOT), **values}

    def command(self, service: str) -> list[str]:
        """The service's command, run with this interpreter; container paths and ports moved."""
        words = [str(word) for word in self.services[service]["command"]]
        if words[0] in ("celery", "gunicorn"):
            words = [sys.executable, "-m", *words]
        elif words[0] == "python":
            words = [sys.executable, *words[1:]]
        words = [word.replace("=/data/", f"={self.data_dir}/") for word in words]
        if service == "flower":
            words = [f"--port={self.ports['flower']}" if word.startswith("--port=") else word for word in words]
            words.append("--address=127.0.0.1")
        return words

    def run(self, service: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(service), cwd=ROOT, env=self.env(service), capture_output=True, text=True, timeout=timeout)

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``python manage.py ...`` as an operator would run it in the web container."""
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env("web"), capture_output=True, text=True, timeout=timeout)

    def start(self, service: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.logs / f"{service}.log", "ab")
        process = subprocess.Popen(self.command(service), cwd=ROOT, env={**self.env(service), **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        self.processes[service] = process
        return process

    def log(self, service: str) -> str:
        path = self.logs / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    @property
    def flower_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['flower']}"

"""Real processes the tests start on free ports: Redis servers and Celery workers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"Timed out after {timeout:.0f} s waiting for {what}.")


class RedisServer:
    """A private redis-server on a free loopback port; the machine's Redis is never touched."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url)

        def ready():
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_for(ready, 10, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class CeleryWorker:
    """``celery -A evalsite worker`` as a subprocess, on the test database and a given broker."""

    def __init__(
        self,
        *,
        broker_url: str,
        database_url: str,
        data_dir: str,
        queues: str = "gpu,default",
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        self.broker_url = broker_url
        self.database_url = database_url
        self.data_dir = data_dir
        self.queues = queues
        self.log_path = log_path
        self.extra_env = dict(extra_env or {})
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "CeleryWorker":
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "evalsite.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.broker_url,
            "EVALSITE_DATA_DIR": self.data_dir,
            "TRANSFORMERS_VERBOSITY": "error",
            **self.extra_env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "evalsite", "worker",
                "-Q", self.queues, "--pool=solo", "--concurrency=1",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel=INFO", "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
                *self.extra_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"The Celery worker exited with {self.process.returncode}; see {self.log_path}:\n{self.log()[-5000:]}")
            return b"ready." in self.log_path.read_bytes()

        wait_for(ready, timeout, f"the Celery worker (log: {self.log_path})", interval=0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()


def kill_when(worker: CeleryWorker, predicate, *, timeout: float, what: str, delay: float = 0.0) -> None:
    """SIGKILL ``worker`` as soon as ``predicate()`` holds (plus ``delay`` seconds): a crash at a
    chosen moment, e.g. while a generation batch is running. Fails if the moment never comes or
    the worker already exited."""
    wait_for(predicate, timeout, what, interval=0.02)
    if delay:
        time.sleep(delay)
    if worker.process is None or worker.process.poll() is not None:
        raise RuntimeError(f"The worker exited before it could be killed {what}; see {worker.log_path}.")
    worker.kill()


class GunicornServer:
    """``gunicorn evalsite.wsgi`` on a free loopback port with the given environment (e.g. a
    DATABASE_URL through a fault-injecting proxy)."""

    def __init__(self, *, env: dict[str, str], log_path: Path, threads: int = 8):
        self.port = free_port()
        self.env, self.log_path, self.threads = env, log_path, threads
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "GunicornServer":
        import requests

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "evalsite.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "--threads", str(self.threads), "--worker-class", "gthread", "--timeout", "60"],
            cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "evalsite.settings", **self.env},
            stdout=self._log, stderr=subprocess.STDOUT,
        )

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                return requests.get(f"{self.url}/livez/", timeout=2).ok
            except (requests.ConnectionError, requests.Timeout):  # a first request on a loaded machine may take longer
                return False

        wait_for(ready, timeout, f"gunicorn on port {self.port} (log: {self.log_path})", interval=0.2)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if getattr(self, "_log", None):
            self._log.close()

"""Load on the rater's vote endpoint: capacity, the bare-view ceiling, and a realistic crowd.

    python benchmarks/rater_load.py [--raters 64] [--seconds 10] [--crowd 500] [--crowd-seconds 20]
                                    [--sampling uniform|adaptive] [--refresh-seconds 5]

Makes its own study on PostgreSQL (``DATABASE_URL``, else database ``evalsite_bench`` on the
local server at 127.0.0.1, created if missing) with no minimum vote time, no attention checks
and targets that never run out, and vacuums and analyzes its tables as autovacuum would; starts gunicorn as
production runs it (``gunicorn.conf.py``: 2 threaded workers, ``--threads`` to try others) on
127.0.0.1; and drives it with one client, wrk with a Lua script, for every part (wrk is installed
with apt-get when missing and running as root; otherwise the run stops saying how to install it):

(a) capacity: N raters on N keep-alive connections, no pause, each submitting exactly what the
    rater page sends: one JSON POST per submit carrying both answers, whose response carries
    the next pair (so 1 HTTP request per submit; the page also loads the pair's two images,
    not counted here);
(b) the same client and connections against ``/livez/``, a bare Django JSON view (no database) in the same
    server: the ceiling; its time is split in two halves, one before (a) and one after;
(c) a crowd of 500 raters pausing 2-5 s between submits.

With ``--sampling adaptive`` the study chooses model pairs by its precomputed weights (issue 13):
the benchmark process refreshes them every ``--refresh-seconds`` while the server takes votes,
with the service beat's task calls (``study_sampling_refresh``), so the hot path reads weights
that change under it as in production.

Every acknowledged vote (``"status": "recorded"``) is checked against the database afterwards
(``lost_votes``). Commits are durable: PostgreSQL's ``synchronous_commit`` is left as the
server has it (the run prints it). The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.postgres import ensure_database  # noqa: E402
from benchmarks.rater_load_wrk import LUA, PAUSE_LUA, ensure_wrk, run_wrk  # noqa: E402  (the client, wrk)


DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/evalsite_bench"
PROMPTS, SEEDS = 100, [0, 1]  # 3 tiny models -> 3 x 100 x 2 = 600 pairs a rater can see once each


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django(database_url: str, data_dir: Path) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["EVALSITE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def make_study(log, sampling_rule: str = "uniform"):
    """A study on the tiny models, reusing the images of an earlier run when they exist."""
    from django.conf import settings

    from generation import jobs
    from generation.specs import tiny_family_install
    from generation.models import PromptSet
    from ratings import studies
    from tests.factories import PromptSetFactory, StudyFactory

    specs = tiny_family_install(directory=settings.EVALSITE_MODELS_DIR / "tiny")
    prompt_set = PromptSet.objects.filter(name="rater-load prompts").first() or PromptSetFactory(
        name="rater-load prompts", size=PROMPTS, text="load test prompt {i}: a small object on a table"
    )
    study = StudyFactory(
        name=f"rater load {time.strftime('%Y-%m-%d %H:%M:%S')}", specs=specs, prompt_set=prompt_set, seeds=SEEDS,
        votes_per_pair=10**6, quota_per_rater=10**6, no_checks=True, reservation_seconds=3600, sampling_rule=sampling_rule,
    )
    started = time.monotonic()
    made = jobs.job_run_inline(job=study.job)
    log(f"images: {made} generated in {time.monotonic() - started:.1f} s (others reused)")
    studies.study_open(study=study)
    study.refresh_from_db()
    return study


class WeightRefresher(threading.Thread):
    """Beat's part in an adaptive study: refit and write the pair weights every few seconds."""

    def __init__(self, study, every_s: float):
        super().__init__(daemon=True)
        self.study, self.every_s, self.stopping = study, every_s, threading.Event()
        self.refreshes, self.seconds = 0, 0.0

    def run(self) -> None:
        from django.db import connection

        from ratings.sampling import study_sampling_refresh

        try:
            while not self.stopping.wait(self.every_s):
                started = time.monotonic()
                study_sampling_refresh(study=self.study)
                self.seconds += time.monotonic() - started
                self.refreshes += 1
        finally:
            connection.close()


def make_raters(study, count: int, prefix: str, path: Path) -> None:
    """Crowd participants who consented and read the instructions, each with a pair on screen;
    one line per rater: Cookie header, CSRF token, current pair token."""
    from ratings import raters, scheduler
    from ratings.models import Participation, Rater
    from ratings.identity import rater_cookie_value

    lines = []
    for i in range(count):
        rater, participation = raters.rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"{prefix}{i:05d}")
        Participation.objects.filter(pk=participation.pk).update(consented_at=participation.started_at, instructed_at=participation.started_at)
        token = scheduler.session_serve(study_id=study.pk, rater_id=rater.pk)["pairs"][0]["token"]
        csrf = secrets.token_hex(16)  # 32 characters: Django accepts an unmasked secret as the token
        cookie = f"csrftoken={csrf}; rater_{study.pk}={rater_cookie_value(study_id=study.pk, rater_id=rater.pk)}"
        lines.append(f"{cookie}\t{csrf}\t{token}")
    path.write_text("\n".join(lines) + "\n")


def start_gunicorn(port: int, env: dict, log_path: Path, worker_args: list[str]) -> subprocess.Popen:
    """The production web server: gunicorn.conf.py (threaded workers), with 2 workers."""
    log = open(log_path, "ab")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "evalsite.wsgi:application", "--config", str(ROOT / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", "2", *worker_args,
            "--backlog", "2048", "--log-level", "warning",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /livez/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if b"200 OK" in sock.recv(1024):
                    return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60 s")


def parse_options(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raters", type=int, default=64, help="simulated raters for the capacity part (default 64)")
    parser.add_argument("--seconds", type=int, default=10, help="length of the capacity and baseline parts (default 10)")
    parser.add_argument("--max-votes", type=int, default=2000, help="cap on submits per rater in the capacity part (default 2000)")
    parser.add_argument("--crowd", type=int, default=500, help="raters in the crowd part (default 500)")
    parser.add_argument("--threads", type=int, default=None, help="threads per gunicorn worker (default: gunicorn.conf.py's)")
    parser.add_argument("--crowd-seconds", type=int, default=20, help="length of the crowd part (default 20)")
    parser.add_argument("--sampling", choices=("uniform", "adaptive"), default="uniform",
                        help="the study's pair sampling (default uniform; adaptive serves by weights refreshed during the run)")
    parser.add_argument("--refresh-seconds", type=float, default=5.0,
                        help="with --sampling adaptive: seconds between two refreshes of the pair weights (default 5)")
    return parser.parse_args(argv)


def prepare(options: argparse.Namespace, log) -> tuple:
    """The database migrated, the study and its raters made, the tables vacuumed; returns the
    study, the work folder, the synchronous_commit setting and the weight refresher (adaptive)."""
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    ensure_database(database_url)
    data_dir = Path(os.environ.get("EVALSITE_DATA_DIR") or Path(tempfile.gettempdir()) / "evalsite-rater-load")
    data_dir.mkdir(parents=True, exist_ok=True)
    setup_django(database_url, data_dir)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        synchronous_commit = cursor.fetchone()[0]
    log(f"database: {connection.settings_dict['NAME']} (synchronous_commit={synchronous_commit})")
    study = make_study(log, options.sampling)

    work = Path(tempfile.mkdtemp(prefix="rater-load-"))
    (work / "vote.lua").write_text(LUA)
    (work / "vote_crowd.lua").write_text(LUA + PAUSE_LUA)
    make_raters(study, options.raters, f"cap{study.pk}-", work / "capacity.tsv")
    make_raters(study, options.crowd, f"crowd{study.pk}-", work / "crowd.tsv")
    with connection.cursor() as cursor:
        # As autovacuum would on a production server (this one may run without it): no dead rows
        # left by earlier runs, and statistics of the tables as set up, so the plans the web
        # processes keep are made for them.
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
        cursor.execute("VACUUM ANALYZE ratings_comparison, ratings_participation, ratings_pairslot, ratings_rater, ratings_vote")
    log(f"vacuumed and analyzed the rating tables (server autovacuum={autovacuum})")
    refresher = None
    if options.sampling == "adaptive":
        from ratings.sampling import study_sampling_refresh

        study_sampling_refresh(study=study)
        refresher = WeightRefresher(study, options.refresh_seconds)
    connection.close()
    return study, work, synchronous_commit, refresher


def run_parts(options: argparse.Namespace, study, work: Path, threads: int, refresher, log) -> tuple[dict, dict, dict]:
    """The server started; a warm-up, the bare view around the capacity part, then the crowd
    part; returns (baseline, capacity, crowd) as wrk measured them."""
    script, crowd_script = work / "vote.lua", work / "vote_crowd.lua"
    capacity_raters, crowd_raters = work / "capacity.tsv", work / "crowd.tsv"
    port = free_port()
    env = {**os.environ, "DJANGO_DEBUG": "0", "EVALSITE_LOG_LEVEL": "WARNING"}
    server = start_gunicorn(port, env, work / "gunicorn.log", ["--threads", str(threads)])
    url = f"http://127.0.0.1:{port}"
    vote_path = f"/rate/{study.pk}/vote/"
    if refresher:
        refresher.start()
    try:
        run_wrk(url=url, script=script, connections=options.raters, seconds=2,
                args=["baseline", str(capacity_raters), "1000000", "0", "0", vote_path], out=work / "warmup.json")
        # The bare view's time is split around the capacity part (half before, half after), so a
        # machine whose speed drifts during the run (a shared virtual machine does) weighs on
        # both alike.
        def run_baseline(half: int) -> dict:
            return run_wrk(url=url, script=script, connections=options.raters, seconds=max(1, options.seconds // 2),
                           args=["baseline", str(capacity_raters), "1000000", "0", "0", vote_path], out=work / f"baseline{half}.json")

        baseline_halves = [run_baseline(1)]
        log(f"(b) bare view, first half: {baseline_halves[0]}")
        capacity = run_wrk(url=url, script=script, connections=options.raters, seconds=options.seconds,
                           args=["vote", str(capacity_raters), str(options.max_votes), "0", "0", vote_path], out=work / "capacity.json")
        log(f"(a) capacity: {capacity}")
        baseline_halves.append(run_baseline(2))
        log(f"(b) bare view, second half: {baseline_halves[1]}")
        baseline = {key: sum(half[key] for half in baseline_halves)
                    for key in ("requests", "duration_us", "socket_errors", "http_errors", "bad")}
        crowd = run_wrk(url=url, script=crowd_script, connections=options.crowd, seconds=options.crowd_seconds,
                        args=["vote", str(crowd_raters), "1000000", "2000", "5000", vote_path], out=work / "crowd.json")
        log(f"(c) crowd: {crowd}")
    finally:
        if refresher:
            refresher.stopping.set()
            refresher.join(60)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    return baseline, capacity, crowd


def lost_votes(work: Path) -> int:
    """Submits wrk saw acknowledged whose comparison has no stored answer and vote."""
    from ratings.models import Comparison

    lost = 0
    for part in ("capacity", "crowd"):
        tokens = [t for t in (work / f"{part}.json.tokens").read_text().split() if t]
        stored = 0
        for start in range(0, len(tokens), 5000):
            chunk = tokens[start:start + 5000]
            stored += Comparison.objects.filter(token__in=chunk, answered_at__isnull=False, votes__isnull=False).distinct().count()
        lost += len(tokens) - stored
    return lost


def main() -> None:
    options = parse_options()

    def log(message: str) -> None:
        print(message, flush=True)

    ensure_wrk(log)
    study, work, synchronous_commit, refresher = prepare(options, log)
    threads = options.threads or runpy.run_path(str(ROOT / "gunicorn.conf.py"))["threads"]
    baseline, capacity, crowd = run_parts(options, study, work, threads, refresher, log)
    lost = lost_votes(work)
    votes_per_s = capacity["acked"] / (capacity["duration_us"] / 1e6)
    baseline_req_per_s = baseline["requests"] / (baseline["duration_us"] / 1e6)
    errors = sum(part["socket_errors"] + part["http_errors"] + part["bad"] for part in (baseline, capacity, crowd))
    result = {
        "raters": options.raters,
        "votes_per_s": round(votes_per_s, 1),
        "p50_ms": round(capacity["p50_us"] / 1000, 1),
        "p99_ms": round(capacity["p99_us"] / 1000, 1),
        "errors": errors,
        "lost_votes": lost,
        "baseline_req_per_s": round(baseline_req_per_s, 1),
        "ratio": round(votes_per_s / baseline_req_per_s, 3),
        "crowd_p99_ms": round(crowd["p99_us"] / 1000, 1),
        "crowd_raters": options.crowd,
        "crowd_votes": crowd["acked"],
        "requests_per_submit": 1,
        "client": "wrk with a Lua script (one thread and connection per rater)",
        "server": f"gunicorn, 2 gthread workers x {threads} threads",
        "synchronous_commit": synchronous_commit,
        "sampling": options.sampling,
    }
    if refresher:
        study.refresh_from_db()
        result["weight_refreshes"] = refresher.refreshes
        result["refresh_ms_mean"] = round(1000 * refresher.seconds / max(refresher.refreshes, 1), 1)
        result["pair_weights"] = study.pair_weights
    print(json.dumps(result))


if __name__ == "__main__":
    main()

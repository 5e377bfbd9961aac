"""How much of the sampler's speed survives everything the product does around it.

One tiny spec at 256 x 256 (the fastest member of the tiny family whose batch of 8 takes at
least 0.5 s on this CPU, measured at start) makes the same images, with the same prompts, seeds
and batch size, two ways in one run:

  (a) bare: a loop of pipeline calls in this process that keeps the PIL images in memory;
  (b) worker: a real Celery worker (``--pool=solo``) on a private redis-server and PostgreSQL,
      doing everything the product does: batch rows and heartbeats, PNG files through Django's
      storage, display copies, Image rows, timings, job progress.

Both load the pipeline and make one untimed warm-up batch first. (b) is timed from queueing
the job to the moment its last image is committed. Each way runs ``--rounds`` times, in turns
whose order alternates (bare first, then worker first, ...), and the rates are taken over all
rounds, so a machine whose speed wanders during the run weighs on both ways alike. The last line
printed is a JSON object with ``bare_images_per_s``, ``worker_images_per_s`` and
``overhead_ratio`` (worker / bare; target >= 0.95).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evalsite_bench python benchmarks/generation_overhead.py

The database named in DATABASE_URL is created if missing and migrated; its rows are left in
place (each run makes its own spec version, prompt set and jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/evalsite_bench"


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


MIN_BATCH_SECONDS = 0.5


def choose_spec(family, batch_size: int, pipelines, spec_config):
    """The fastest tiny spec whose batch takes at least MIN_BATCH_SECONDS here (best of three
    calls after a warm-up), loaded and warm: a fast spec is the hard case for overhead, and
    batches shorter than that would measure Celery's latency more than the product's."""
    for spec in family:
        config = spec_config(spec)
        pipe = pipelines.load_pipeline(config, "cpu")
        prompts, seeds = [f"warm-up {i}" for i in range(batch_size)], list(range(batch_size))
        pipelines.sample(pipe, config, prompts, seeds, "cpu")
        seconds = min(pipelines.sample(pipe, config, prompts, seeds, "cpu").seconds for _ in range(3))
        if seconds >= MIN_BATCH_SECONDS or spec is family[-1]:
            return spec, config, pipe, seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=10, help="Timed batches per round (default 10).")
    parser.add_argument("--batch-size", type=int, default=8, help="Images per batch (default 8).")
    parser.add_argument("--size", type=int, default=256, help="Image side in pixels (default 256).")
    parser.add_argument("--display-size", type=int, default=128, help="Display copy width (default 128).")
    parser.add_argument("--rounds", type=int, default=6, help="Rounds of each way, alternating which goes first (default 6).")
    return parser.parse_args()


def start_services() -> tuple[str, Path, object]:
    """The benchmark's database (migrated), data folder and private Redis; Django set up."""
    database_url = os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    data_dir = Path(tempfile.mkdtemp(prefix="evalsite-bench-"))
    os.environ["EVALSITE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    ensure_database(database_url)

    from tests.processes import RedisServer

    redis_server = RedisServer(data_dir / "redis").start()
    os.environ["REDIS_URL"] = redis_server.url
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return database_url, data_dir, redis_server


def measure_rounds(args, *, turbo, config, pipe, prompt_set, warmup_set, database_url: str, data_dir: Path, redis_server) -> tuple[list, list]:
    """``args.rounds`` rounds of each way (the bare pipeline loop, a real worker's job), which
    goes first alternating; returns the seconds of each round, bare and worker."""
    from django.utils import timezone

    from generation import jobs, pipelines
    from generation.models import GenerationJob
    from tests.processes import CeleryWorker, wait_for

    images_per_round = args.batches * args.batch_size
    prompts = list(prompt_set.prompts.order_by("position"))
    worker = CeleryWorker(
        broker_url=redis_server.url, database_url=database_url, data_dir=str(data_dir),
        log_path=data_dir / "celery.log", extra_env={"CELERY_TASK_ALWAYS_EAGER": "0"},
    ).start(timeout=120)
    try:
        def run_job(prompt_set, seed: int) -> float:
            job = jobs.job_create(specs=[turbo], prompt_set=prompt_set, seeds=[seed], display_size=args.display_size)
            started = timezone.now()
            jobs.job_enqueue(job=job, batch_size=args.batch_size)
            # Polled lazily (a tight loop would take CPU from the worker it measures): the end is
            # the job's finished_at, which the worker stamps right after committing its last image.
            wait_for(lambda: GenerationJob.objects.get(pk=job.pk).status == GenerationJob.Status.DONE, 600, "the worker to finish the job", interval=0.25)
            return (GenerationJob.objects.get(pk=job.pk).finished_at - started).total_seconds()

        run_job(warmup_set, seed=0)  # the worker loads the pipeline and warms up, untimed

        def run_bare(seed: int) -> float:
            kept = []
            started = time.perf_counter()
            for start in range(0, images_per_round, args.batch_size):
                chunk = prompts[start : start + args.batch_size]
                kept.extend(pipelines.sample(pipe, config, [p.text for p in chunk], [seed] * len(chunk), "cpu").images)
            elapsed = time.perf_counter() - started
            assert len(kept) == images_per_round
            return elapsed

        bare, worker_times = [], []
        for round_number in range(args.rounds):
            seed = 100 + round_number  # a fresh seed per round: the worker's images are all new
            # Alternating which way goes first (bare, worker, then worker, bare, ...) cancels a
            # machine that drifts faster or slower during the run.
            ways = [("bare", run_bare), ("worker", lambda s: run_job(prompt_set, s))]
            for name, run in ways if round_number % 2 == 0 else ways[::-1]:
                (bare if name == "bare" else worker_times).append(run(seed))
            print(f"round {round_number + 1}: bare {bare[-1]:.2f} s, worker {worker_times[-1]:.2f} s for {images_per_round} images", flush=True)
    finally:
        worker.stop()
        redis_server.stop()
    return bare, worker_times


def main() -> None:
    args = parse_args()
    database_url, data_dir, redis_server = start_services()

    from django.conf import settings

    from generation import pipelines, specs
    from generation.configs import spec_config
    from tests.factories import PromptSetFactory

    family = sorted(specs.tiny_family_install(directory=settings.EVALSITE_MODELS_DIR / "tiny", size=args.size), key=lambda s: s.steps)
    turbo, config, pipe, batch_seconds = choose_spec(family, args.batch_size, pipelines, spec_config)
    print(f"spec {turbo.slug}: a batch of {args.batch_size} at {args.size}x{args.size} takes {batch_seconds:.2f} s here", flush=True)
    images_per_round = args.batches * args.batch_size
    run_id = time.strftime("%Y%m%d-%H%M%S")
    prompt_set = PromptSetFactory(
        name=f"overhead benchmark {run_id}", size=images_per_round, text="a small red cube on a wooden table, photo number {i}"
    )
    warmup_set = PromptSetFactory(name=f"overhead warm-up {run_id}", size=args.batch_size, text="warm-up {i}")
    bare, worker_times = measure_rounds(args, turbo=turbo, config=config, pipe=pipe, prompt_set=prompt_set, warmup_set=warmup_set,
                                        database_url=database_url, data_dir=data_dir, redis_server=redis_server)

    # Rates over all rounds (a shared virtual machine's speed wanders by 10-20 % over a minute:
    # the best round of each way would compare the luckier moments, not the two ways).
    bare_rate = images_per_round * args.rounds / sum(bare)
    worker_rate = images_per_round * args.rounds / sum(worker_times)
    print(
        json.dumps(
            {
                "spec": turbo.slug,
                "size": args.size,
                "batch_size": args.batch_size,
                "images_per_round": images_per_round,
                "rounds": args.rounds,
                "bare_images_per_s": round(bare_rate, 3),
                "worker_images_per_s": round(worker_rate, 3),
                "overhead_ratio": round(worker_rate / bare_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    main()

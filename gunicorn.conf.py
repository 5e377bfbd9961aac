"""gunicorn settings of evalsite's web process, read by the Dockerfile's and docker-compose.yml's
web command and by ``benchmarks/rater_load.py`` (gunicorn also reads this file by default when
started from the repository's root).

Threaded workers: an idle keep-alive connection (a rater looking at a pair for a few seconds)
waits in the worker's poller, not in a thread, so a thread is busy only while a request runs,
and two per worker keep both cores busy while a request waits on PostgreSQL. More threads add
only waiting for Python's interpreter lock: measured with the load benchmark on 2 cores,
8 threads gave the same votes per second with a 99th-percentile submit of 165-210 ms, 2 threads
75-140 ms.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
keepalive = 30
timeout = 120


def on_starting(server):
    # Prometheus metrics of the worker processes are merged through PROMETHEUS_MULTIPROC_DIR
    # (evalsite.observability); files of a previous run would add stale counts.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

"""What one worker process holds in flight: batch heartbeats and the background image writer.

Encoding PNGs, saving files and writing rows take about as long as a 1-step model takes to
sample a 512-pixel image on a GPU, so the writer thread does them while the main thread samples
the next batch. Durability does not rest on the Celery ack: a batch's row stays ``running``
(its heartbeat refreshed here) until the writer has committed its images, and reconciliation
re-queues the missing images of any batch whose heartbeat stops, so a SIGKILL at any moment
loses nothing.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from .models import GenerationBatch

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_held: set[int] = set()
_heartbeat: threading.Thread | None = None
_writer: ThreadPoolExecutor | None = None
_pending: list[Future] = []
# At most this many batches wait for the writer: the sampler blocks rather than pile up images.
MAX_PENDING_WRITES = 2


def hold(batch_id: int) -> None:
    """Keep ``batch_id``'s heartbeat fresh until ``release``."""
    global _heartbeat
    with _lock:
        _held.add(batch_id)
        if _heartbeat is None or not _heartbeat.is_alive():
            _heartbeat = threading.Thread(target=_beat_forever, name="batch-heartbeat", daemon=True)
            _heartbeat.start()


def release(batch_id: int) -> None:
    with _lock:
        _held.discard(batch_id)


def held() -> set[int]:
    with _lock:
        return set(_held)


def _beat_forever() -> None:
    interval = settings.EVALSITE_BATCH_HEARTBEAT_S
    stop = threading.Event()
    while not stop.wait(interval):
        ids = held()
        if not ids:
            continue
        try:
            GenerationBatch.objects.filter(pk__in=ids, status=GenerationBatch.Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # a database hiccup must not kill the heartbeat; the next beat retries
            logger.exception("batch heartbeat failed")
        finally:
            # Beats are seconds apart; holding no connection between them keeps test databases droppable.
            connection.close()


def _run_in_writer(function, args, kwargs):
    close_old_connections()
    return function(*args, **kwargs)


def write_behind(function, *args, **kwargs) -> Future:
    """Run ``function`` on the writer thread; blocks while too many writes are pending."""
    global _writer
    with _lock:
        if _writer is None:
            _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-writer")
        writer = _writer
    while True:
        with _lock:
            _pending[:] = [future for future in _pending if not future.done()]
            if len(_pending) < MAX_PENDING_WRITES:
                future = writer.submit(_run_in_writer, function, args, kwargs)
                _pending.append(future)
                return future
            oldest = _pending[0]
        oldest.exception()  # wait for it; its errors are handled inside the write itself


def drain() -> None:
    """Wait until every handed-off write has finished (worker shutdown, tests, benchmarks)."""
    with _lock:
        pending = list(_pending)
    for future in pending:
        future.exception()


def shutdown() -> None:
    """Finish every pending write, close the writer thread's database connection and stop it."""
    global _writer
    drain()
    with _lock:
        writer, _writer = _writer, None
    if writer is not None:
        writer.submit(lambda: connection.close()).result()  # looked up in the writer thread: its own connection
        writer.shutdown(wait=True)

"""Prometheus metrics of generation, recorded by the GPU worker that samples (served by
``evalsite.observability.worker_metrics_start``). prometheus-client only: no torch."""

from prometheus_client import Counter, Histogram

IMAGES_GENERATED = Counter("evalsite_images_generated", "Images sampled and stored.", ["spec", "device"])
SECONDS_PER_IMAGE = Histogram(
    "evalsite_seconds_per_image", "Pipeline seconds per image (batch wall time / batch size).", ["spec", "device"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)
BATCH_FAILURES = Counter("evalsite_batch_failures", "Generation batches that failed, by the error's kind.", ["spec", "reason"])
BATCH_RETRIES = Counter("evalsite_batch_retries", "Generation batches given back to the queue after a transient fault.")
QUEUE_WAIT = Histogram(
    "evalsite_queue_wait_seconds", "Seconds a generation batch waited in the queue before a worker claimed it.",
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200),
)

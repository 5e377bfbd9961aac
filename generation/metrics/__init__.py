"""Automated metrics per image, computed where the GPU is, after generation, never in a web
request: one ImageMetric row per image, metric and scoring weights (id and revision).

    METRICS: {"clip_score", "pickscore"} -> Metric (label, the setting naming its weights, formula)
    image_metrics_compute(*, image_ids, metric, batch_size=None, device=None) -> rows written
    job_image_ids(*, job_id) -> the job's image ids;  job_image_metrics_enqueue(*, job_id, metrics=None)
    metric_weights_available(metric) -> loadable here without a download (after generation: which to queue)
    image_metric_values(*, image_ids, metric, weights=None) -> {image id: value}
    image_embeddings_compute(*, image_ids, metric="clip_score") -> (ids, float[n, d])
Tasks (gpu queue): generation.metric_tasks. Statistics over the values: ratings.stats.metric_agreement.

Nothing here imports torch or transformers until a scorer is loaded.
"""

from .scorers import METRICS, Metric, MetricWeightsUnavailable, metric_get, metric_weights_available
from .services import (
    image_embeddings_compute,
    image_metric_values,
    image_metrics_compute,
    job_image_ids,
    job_image_metrics_enqueue,
)

__all__ = [
    "METRICS", "Metric", "MetricWeightsUnavailable", "image_embeddings_compute", "image_metric_values",
    "image_metrics_compute", "job_image_ids", "job_image_metrics_enqueue", "metric_get", "metric_weights_available",
]

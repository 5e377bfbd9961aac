"""The scoring models behind the automated metrics, loaded lazily in the process that uses them.

torch and transformers are imported inside functions only: importing this module is free, so
the web process can name the metrics without paying for torch. One scorer stays resident per
worker process (the last one used), like the generation pipeline.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from generation import conf
from generation.pipelines import resolve_device, resolved_commit
from generation.weights import HUB_ID

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Metric:
    """One automated metric: its name in rows and URLs, the setting naming its weights (a hub id or
    a local directory), and, when the weights lack one, the setting naming its processor."""

    name: str
    label: str
    setting: str
    formula: str
    processor_setting: str = ""


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric(
            name="clip_score", label="CLIP score", setting="EVALSITE_METRIC_CLIP",
            formula="100 x cosine(image embedding, prompt embedding) of a CLIP model, clipped at 0 "
            "(torchmetrics' CLIPScore; Hessel et al. 2021, CLIPScore, with w = 100)",
        ),
        Metric(
            name="pickscore", label="PickScore", setting="EVALSITE_METRIC_PICKSCORE",
            processor_setting="EVALSITE_METRIC_PICKSCORE_PROCESSOR",
            formula="logit scale x cosine(image embedding, prompt embedding) of PickScore's fine-tuned "
            "CLIP-H (Kirstain et al. 2023, Pick-a-Pic), as its model card scores",
        ),
    )
}


class MetricWeightsUnavailable(Exception):
    """A metric's weights (or processor) cannot be read on this worker: a setting that names a
    directory that is not there, or a hub id that is neither cached nor downloadable. Retrying
    does not help until an operator acts; nothing is written."""


def metric_get(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"Unknown metric {name!r}: choose one of {', '.join(METRICS)}.") from None


def metric_sources(metric: Metric) -> tuple[str, str]:
    """(weights, processor): where this worker loads the metric from, as its settings say; the
    processor defaults to the weights' own."""
    weights = conf.metric_source(metric.setting)
    if not weights:
        raise MetricWeightsUnavailable(
            f"No weights for the {metric.label}: set {metric.setting} to a Hugging Face hub id or a local directory."
        )
    processor = conf.metric_source(metric.processor_setting) if metric.processor_setting else ""
    return weights, processor or weights


def metric_weights_available(metric: Metric) -> bool:
    """Whether this process can load the metric without a download: its settings name a local
    directory that exists, or a hub id already in the Hugging Face cache (weights and processor)."""
    try:
        sources = metric_sources(metric)
    except MetricWeightsUnavailable:
        return False
    from huggingface_hub import try_to_load_from_cache

    for source in dict.fromkeys(sources):
        if _is_local(source):
            if not Path(source).is_dir():
                return False
        elif not isinstance(try_to_load_from_cache(source, "config.json"), str):
            return False
    return True


def _is_local(source: str) -> bool:
    return not HUB_ID.match(source) or Path(source).exists()


def local_fingerprint(directory: str) -> str:
    """"sha256:<hex>" over a local weights directory's config and weight files (names and
    contents): a local directory has no hub commit, and its files may be replaced in place."""
    digest = hashlib.sha256()
    root = Path(directory)
    for path in sorted(root.rglob("*")):
        if path.is_file() and (path.suffix in {".safetensors", ".bin", ".pt", ".pth"} or path.name == "config.json"):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            with path.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    return "sha256:" + digest.hexdigest()


def weights_revision(weights: str) -> str:
    """The hub snapshot commit the weights resolved to, or a local directory's fingerprint."""
    if _is_local(weights):
        return local_fingerprint(weights)
    return resolved_commit(weights)


def _unavailable(metric: Metric, setting: str, source: str, error: BaseException | None = None) -> MetricWeightsUnavailable:
    what = "processor" if setting == metric.processor_setting else "weights"
    if _is_local(source) and not Path(source).is_dir():
        return MetricWeightsUnavailable(
            f"The {metric.label} {what} directory {source!r} ({setting}) does not exist on this worker: copy the "
            f"model there, or set {setting} to a Hugging Face hub id."
        )
    said = f" The loader said: {str(error).strip()[:300]}" if error is not None else ""
    return MetricWeightsUnavailable(
        f"The {metric.label} {what} {source!r} ({setting}) cannot be loaded: not a complete model directory, or not "
        f"in this worker's Hugging Face cache and not downloadable (an offline worker needs them in its cache first; "
        f"or set {setting} to a local directory).{said}"
    )


@dataclass
class Scorer:
    """A loaded scoring model and what a row records about it."""

    metric: Metric
    weights: str
    weights_revision: str
    library_version: str
    device: str
    model: Any
    processor: Any

    def score(self, images: list, prompts: list[str]) -> list[float]:
        """The metric of each PIL image against its prompt, in order."""
        import torch

        inputs = self.processor(text=list(prompts), images=list(images), return_tensors="pt", padding=True, truncation=True)
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        with torch.inference_mode():
            output = self.model(**inputs)
            # CLIPModel returns unit-norm embeddings: their dot product is the cosine.
            cosine = (output.image_embeds * output.text_embeds).sum(dim=-1)
            if self.metric.name == "clip_score":
                values = 100.0 * cosine.clamp(min=0.0)
            else:
                values = self.model.logit_scale.exp() * cosine
        return [float(v) for v in values.float().cpu()]

    def embed(self, images: list):
        """Unit-norm image embeddings, float[n, d] (for the embedding diversity measures)."""
        import torch

        inputs = self.processor(images=list(images), return_tensors="pt")
        with torch.inference_mode():
            features = self.model.get_image_features(pixel_values=inputs["pixel_values"].to(self.device))
            # transformers 5 returns the projected features in an output object, 4.x as a tensor.
            features = features if isinstance(features, torch.Tensor) else features.pooler_output
            features = features / features.norm(dim=-1, keepdim=True)
        return features.float().cpu().numpy()


_resident: tuple[tuple, Scorer] | None = None


def scorer_load(metric: Metric, *, device: str | None = None) -> Scorer:
    """The metric's scorer from the sources its settings name, loaded through transformers'
    ``from_pretrained`` (``local_files_only`` when the hub is offline); cached per process.
    Raises MetricWeightsUnavailable, naming the setting, before anything is scored."""
    global _resident
    weights, processor_source = metric_sources(metric)
    device = device or resolve_device(settings.EVALSITE_DEVICE)
    key = (metric.name, weights, processor_source, device)
    if _resident is not None and _resident[0] == key:
        return _resident[1]
    _resident = None  # one scorer resident at a time: drop the old one before loading the next
    for setting, source in ((metric.setting, weights), (metric.processor_setting, processor_source)):
        if setting and _is_local(source) and not Path(source).is_dir():
            raise _unavailable(metric, setting, source)
    import torch
    import transformers
    from huggingface_hub import constants
    from transformers import CLIPModel, CLIPProcessor

    transformers.utils.logging.disable_progress_bar()
    offline = bool(constants.HF_HUB_OFFLINE)
    try:
        model = CLIPModel.from_pretrained(weights, local_files_only=offline or _is_local(weights))
    except OSError as error:
        raise _unavailable(metric, metric.setting, weights, error) from error
    processor_setting = metric.processor_setting if processor_source != weights else metric.setting
    try:
        processor = CLIPProcessor.from_pretrained(processor_source, local_files_only=offline or _is_local(processor_source))
    except OSError as error:
        raise _unavailable(metric, processor_setting, processor_source, error) from error
    model = model.eval().to(device)
    scorer = Scorer(
        metric=metric, weights=weights, weights_revision=weights_revision(weights),
        library_version=f"transformers {transformers.__version__}, torch {torch.__version__}",
        device=device, model=model, processor=processor,
    )
    logger.info("loaded %s from %s (%s) on %s", metric.label, weights, scorer.weights_revision or "revision unknown", device)
    _resident = (key, scorer)
    return scorer


def scorer_unload() -> None:
    """Forget the resident scorer (tests; a worker switching to generation keeps it otherwise)."""
    global _resident
    _resident = None

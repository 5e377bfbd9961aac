"""Model specs: the writes that create, version, sweep and measure them (their generation config,
its validation and hash, in ``configs``).

No torch or diffusers at import: specs are validated in the web process; measuring speed loads
the pipeline lazily.
"""

from __future__ import annotations

import re
import statistics

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from . import pipelines, queueing, tiny
from .catalog import MAX_STEPS
from .configs import CONFIG_FIELDS, SPEC_DEFAULTS, config_hash, spec_config, validate_config
from .models import ModelSpec, SpeedMeasurement
from .presets import PRESETS

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _unknown_settings_error(config: dict) -> None:
    unknown = set(config) - set(CONFIG_FIELDS)
    if unknown:
        raise ValidationError({field: ["Not a model spec setting."] for field in sorted(unknown)})


def slug_owner_check(*, slug: str, owner) -> int:
    """The next version number of ``slug``, locking its latest version; ``ValidationError`` if
    the slug belongs to someone else (only its owner makes versions; ``owner=None`` is the
    system: presets, the tiny family, commands)."""
    latest = ModelSpec.objects.select_for_update().filter(slug=slug).order_by("-version").first()
    if latest is None:
        return 1
    if latest.owner_id != (owner.pk if owner is not None else None):
        raise ValidationError(
            {"slug": [f"The slug '{slug}' is taken by another owner (or is a system preset): only its owner makes new versions. Choose another slug."]}
        )
    return latest.version + 1


def model_spec_create(*, name: str, slug: str, source: str = "", owner=None, local_root=None, **config) -> ModelSpec:
    """Validate a spec's config (raising ``ValidationError`` with field -> messages, saving
    nothing) and create it as the next version of ``slug``, which must be ``owner``'s
    (``None``: system-owned). With ``local_root`` local weights are taken only from inside it
    (the API passes ``EVALSITE_MODELS_DIR``)."""
    _unknown_settings_error(config)
    full = {**SPEC_DEFAULTS, **config}
    validate_config(full, local_root=local_root)
    errors = {}
    if not str(name).strip():
        errors["name"] = ["Give the spec a name."]
    if not SLUG.match(str(slug)):
        errors["slug"] = ["A slug is lowercase letters, digits and hyphens, e.g. sdxl-turbo-1step."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        version = slug_owner_check(slug=slug, owner=owner)
        return ModelSpec.objects.create(
            name=name, slug=slug, version=version, source=source, owner=owner, config_hash=config_hash(full), **full
        )


def model_spec_update(*, spec: ModelSpec, name: str | None = None, source: str | None = None, **changes) -> ModelSpec:
    """Change a spec. A spec with images is immutable: a change to its config creates a new
    version (returned) and leaves the old one, and its images, as they were; a spec without
    images is edited in place. Name and source shape no image and are edited in place."""
    _unknown_settings_error(changes)
    config = {**spec_config(spec), **changes}
    validate_config(config)
    new_hash = config_hash(config)
    with transaction.atomic():
        if new_hash != spec.config_hash and spec.images.exists():
            return model_spec_create(
                name=spec.name if name is None else name, slug=spec.slug, source=spec.source if source is None else source,
                owner=spec.owner, **config
            )
        for field, value in config.items():
            setattr(spec, field, value)
        if name is not None:
            spec.name = name
        if source is not None:
            spec.source = source
        spec.config_hash = new_hash
        spec.save()
    return spec


def model_spec_ensure(*, name: str, slug: str, source: str = "", owner=None, **config) -> tuple[ModelSpec, bool]:
    """The latest spec of ``slug`` with exactly this config, or a new version; (spec, created)."""
    full = {**SPEC_DEFAULTS, **config}
    existing = ModelSpec.objects.filter(slug=slug, config_hash=config_hash(full), owner=owner).order_by("-version").first()
    if existing is not None:
        return existing, False
    return model_spec_create(name=name, slug=slug, source=source, owner=owner, **full), True


def presets_install() -> list[tuple[ModelSpec, bool]]:
    """Create a spec for every preset in ``generation.presets`` (idempotent); (spec, created) each."""
    return [model_spec_ensure(name=p["name"], slug=p["slug"], source=p["source"], **p["config"]) for p in PRESETS]


# Warm-up goes on past the requested calls while the calls still get faster (lazy
# initialisation, allocator growth, CPU thread pools), at most this many more.
MAX_EXTRA_WARMUP = 8
STEADY_WITHIN = 0.1  # a warm-up call within 10% of the one before it: steady state reached


def spec_speed_measure(*, spec: ModelSpec, runs: int = 10, warmup: int = 2, device: str | None = None, prompt: str = "a photograph of an astronaut riding a horse") -> SpeedMeasurement:
    """Batch-1 latency of ``spec`` in steady state: load, at least ``warmup`` untimed calls (more,
    up to ``MAX_EXTRA_WARMUP``, while each call is still over 10% faster than the one before:
    the first calls pay one-time costs that would make a slow model look fast beside one
    measured after it), then ``runs`` timed calls (CUDA synchronized), stored as median and
    10th/90th percentiles with the warm-up calls made."""
    return specs_speed_measure(specs=[spec], runs=runs, warmup=warmup, device=device, prompt=prompt)[0]


def specs_speed_measure(*, specs, runs: int = 10, warmup: int = 2, device: str | None = None, prompt: str = "a photograph of an astronaut riding a horse") -> list[SpeedMeasurement]:
    """``spec_speed_measure`` for several specs at once, their timed calls interleaved (one call of
    each in turn), so a passing load on a shared machine slows every model alike instead of the
    one being timed then. Holds every pipeline in memory together: for small models (the tiny
    family of the demo and the tests); ``measure_speed`` times real models one at a time."""
    if runs < 1 or warmup < 0:
        raise ValidationError({"runs": ["Give at least one timed run and zero or more warm-up runs."]})
    device = pipelines.resolve_device(device or settings.EVALSITE_DEVICE)
    loaded = [(spec, spec_config(spec)) for spec in specs]
    loaded = [(spec, config, pipelines.resident_pipeline(config, spec.config_hash, device)) for spec, config in loaded]
    warm_calls = [_warm_up(pipelines, pipe, config, warmup, device, prompt) for _, config, pipe in loaded]
    timed: list[list] = [[] for _ in loaded]
    for i in range(runs):
        for k, (_, config, pipe) in enumerate(loaded):
            timed[k].append(pipelines.sample(pipe, config, [prompt], [warm_calls[k] + i], device))
    measured = []
    for (spec, _, _), calls, warm in zip(loaded, timed, warm_calls):
        seconds = sorted(part.seconds for part in calls)
        deciles = statistics.quantiles(seconds, n=10, method="inclusive") if len(seconds) > 1 else [seconds[0]] * 9
        last = calls[-1]
        measured.append(SpeedMeasurement.objects.create(
            spec=spec, device=last.device, gpu_name=last.gpu_name, runs=runs, warmup_runs=warm,
            median_s=statistics.median(seconds), p10_s=deciles[0], p90_s=deciles[-1], height=spec.height, width=spec.width,
            torch_version=last.torch_version, diffusers_version=last.diffusers_version,
        ))
    return measured


def _warm_up(pipelines, pipe, config: dict, warmup: int, device: str, prompt: str) -> int:
    """Untimed calls until steady state (see ``spec_speed_measure``); returns how many were made."""
    warm: list[float] = []
    while len(warm) < warmup or (
        warmup and len(warm) < warmup + MAX_EXTRA_WARMUP and (len(warm) < 2 or warm[-2] - warm[-1] > STEADY_WITHIN * warm[-2])
    ):
        warm.append(pipelines.sample(pipe, config, [prompt], [len(warm)], device).seconds)
    return len(warm)


#: Most versions one sweep makes (steps x guidance values).
MAX_SWEEP_VERSIONS = 32


def _sweep_values(values, *, field: str, kind: str, check) -> tuple[list, list[str]]:
    errors = []
    if not isinstance(values, (list, tuple)) or not values:
        return [], [f"Give a list of {kind}, e.g. [1, 2, 4, 8]." if field == "steps" else f"Give a list of {kind}, e.g. [0.0, 1.5]."]
    seen = []
    for value in values:
        problem = check(value)
        if problem:
            errors.append(problem)
        elif value not in seen:
            seen.append(value)
    return seen, errors


def model_spec_sweep(*, spec: ModelSpec, steps, guidance_scales=None) -> list[tuple[ModelSpec, bool]]:
    """Versions of ``spec`` at each step count (and each guidance scale; default the spec's own),
    everything else unchanged: each a normal version of the spec's slug, owned by its owner and
    validated as ``model_spec_create`` validates. A combination that already exists as a version
    of the slug (the spec itself, or an earlier sweep's) is reused, so sweeping twice creates
    nothing new. Returns (spec, created) per combination, steps first, in the order given.
    All or nothing: one invalid combination and no version is made. Speeds are measured
    separately (``spec_speed_measure``, or ``spec_speeds_queue`` for the gpu queue)."""
    errors: dict[str, list[str]] = {}
    if spec.is_external:
        raise ValidationError({"spec": [f"{spec} is an external system whose images are uploaded: it has no steps or guidance to sweep."]})

    def check_steps(value):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_STEPS:
            return f"Steps must be whole numbers from 1 to {MAX_STEPS}, not {value!r}."
        return None

    def check_guidance(value):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 100:
            return f"Guidance scales must be numbers from 0 to 100, not {value!r}."
        return None

    step_values, problems = _sweep_values(steps, field="steps", kind="step counts", check=check_steps)
    if problems:
        errors["steps"] = problems
    if guidance_scales is None:
        guidance_values = [spec.guidance_scale]
    else:
        guidance_values, problems = _sweep_values(guidance_scales, field="guidance_scales", kind="guidance scales", check=check_guidance)
        if problems:
            errors["guidance_scales"] = problems
    if errors:
        raise ValidationError(errors)
    if len(step_values) * len(guidance_values) > MAX_SWEEP_VERSIONS:
        raise ValidationError({"steps": [
            f"{len(step_values)} step counts x {len(guidance_values)} guidance scales make "
            f"{len(step_values) * len(guidance_values)} versions; one sweep makes at most {MAX_SWEEP_VERSIONS}."
        ]})
    if spec.timesteps and any(n != spec.steps for n in step_values):
        raise ValidationError({"steps": [
            f"{spec} sets explicit timesteps {spec.timesteps}; a sweep cannot choose the timesteps of other step counts. "
            "Make each version with its own timesteps (POST /api/v1/specs/ with the same slug)."
        ]})
    base = spec_config(spec)
    plans = []
    for n_steps in step_values:
        for guidance in guidance_values:
            config = {**base, "steps": n_steps, "guidance_scale": float(guidance)}
            validate_config(config)
            name = f"{spec.name} ({n_steps} step{'s' if n_steps != 1 else ''}, guidance {float(guidance):g})"
            plans.append((name[:200], config))
    made = []
    with transaction.atomic():
        slug_owner_check(slug=spec.slug, owner=spec.owner)  # locks the slug's latest version
        for name, config in plans:
            existing = (
                ModelSpec.objects.filter(slug=spec.slug, owner=spec.owner, is_external=False, config_hash=config_hash(config))
                .order_by("-version").first()
            )
            if existing is not None:
                made.append((existing, False))
                continue
            made.append((model_spec_create(name=name, slug=spec.slug, source=spec.source, owner=spec.owner, **config), True))
    return made


def spec_speeds_queue(*, specs, runs: int = 10, warmup: int = 2) -> int:
    """Queue a speed measurement (``spec_speed_measure`` on the gpu queue, after commit) for each
    spec that has none yet; returns how many were queued."""
    if runs < 1 or warmup < 0:
        raise ValidationError({"runs": ["Give at least one timed run and zero or more warm-up runs."]})
    queued = 0
    for spec in specs:
        if spec.is_external or spec.speed_measurements.exists():
            continue
        transaction.on_commit(lambda pk=spec.pk: queueing.spec_speed_measure_send(pk, runs=runs, warmup=warmup))
        queued += 1
    return queued


def tiny_family_install(*, directory, size: int = 64, overwrite: bool = False) -> list[ModelSpec]:
    """Write the tiny pipelines and create (or reuse) a spec for each; reuses a spec whose
    config is unchanged, so running it twice creates nothing new."""
    paths = tiny.write_tiny_family(directory, overwrite=overwrite)
    return [
        model_spec_ensure(
            name=member["name"], slug=member["slug"], source="Tiny random-weight pipeline for tests and the demo.",
            **{**member["spec"], "weights": str(paths[member["slug"]]), "height": size, "width": size},
        )[0]
        for member in tiny.TINY_FAMILY
    ]

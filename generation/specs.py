"""Model specs: their generation config (validation, the hash stored on every image) and the
writes that create, version and measure them.

No torch or diffusers at import: specs are validated in the web process; measuring speed loads
the pipeline lazily.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from .catalog import COMPONENT_CLASSES, MAX_IMAGE_SIDE, MAX_STEPS, PIPELINE_SIZE_FACTORS, SCHEDULER_CLASSES, SHADOWED_CALL_KWARGS
from .models import ModelSpec, SpeedMeasurement

# Every setting that shapes an image; the config hash covers exactly these.
CONFIG_FIELDS = (
    "weights",
    "pipeline_class",
    "scheduler_class",
    "scheduler_config",
    "lora",
    "component_overrides",
    "dtype",
    "variant",
    "revision",
    "steps",
    "guidance_scale",
    "height",
    "width",
    "timesteps",
    "extra_call_kwargs",
)

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DTYPES = ("float32", "float16", "bfloat16")
COMPONENT_OVERRIDE_KEYS = frozenset({"class", "weights", "subfolder", "variant", "weight_name", "config", "config_subfolder", "revision"})
LORA_KEYS = frozenset({"weights", "weight_name", "adapter_name", "scale", "fuse", "revision"})


def spec_config(spec) -> dict:
    return {field: getattr(spec, field) for field in CONFIG_FIELDS}


# Settings added after specs had images: left out of the hash while unset, so every existing
# spec keeps its hash (and its images stay its own).
OPTIONAL_HASH_FIELDS = ("revision",)
# A hub revision: a branch, a tag or a commit hash (refs/pr/N included).
REVISION = re.compile(r"^[A-Za-z0-9][\w./-]{0,99}$")


def config_hash(config: dict) -> str:
    canonical = json.dumps(
        {k: config.get(k) for k in CONFIG_FIELDS if k not in OPTIONAL_HASH_FIELDS or config.get(k)},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_local_weights(weights: str, local_root: Path | None = None) -> bool:
    if local_root is not None:
        return not HUB_ID.match(weights) or local_path_under(weights, local_root)
    return not HUB_ID.match(weights) or local_path_exists(weights)


def local_path_under(value: str, root: Path, *, directory: bool = False) -> bool:
    """Whether ``value`` (absolute, or relative to ``root``) names an existing path inside
    ``root`` once links and ``..`` are resolved. The answer says nothing of paths elsewhere."""
    try:
        root = Path(root).resolve()
        path = Path(value)
        path = (path if path.is_absolute() else root / path).resolve()
        if path != root and root not in path.parents:
            return False
        return path.is_dir() if directory else path.exists()
    except (OSError, ValueError, RuntimeError):
        return False


def local_path_exists(value: str, *, directory: bool = False) -> bool:
    """Whether a local path exists; a name the filesystem cannot even look up (too long, a NUL
    byte) does not, rather than raising."""
    try:
        path = Path(value)
        return path.is_dir() if directory else path.exists()
    except (OSError, ValueError):
        return False


def validate_config(config: dict, *, local_root: Path | None = None) -> None:
    """Raise ``ValidationError`` naming every field that is wrong; checks need no download.

    With ``local_root`` (the API: ``EVALSITE_MODELS_DIR``), local weights are taken only from
    inside that directory, and a path outside it gets the same answer whether it exists or not."""
    errors: dict[str, list[str]] = {}

    def local_ok(value: str, *, directory: bool = False) -> bool:
        if local_root is not None:
            return local_path_under(value, local_root, directory=directory)
        return local_path_exists(value, directory=directory)

    where = "under the server's models directory (EVALSITE_MODELS_DIR)" if local_root is not None else "locally"

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    weights = (config.get("weights") or "").strip()
    if not weights:
        fail("weights", "Give a Hugging Face hub id (org/name) or a local directory.")
    elif is_local_weights(weights, local_root) and not local_ok(weights, directory=True):
        fail("weights", f"'{weights}' is not a hub id (org/name) nor a directory {where}.")

    _check_revision(config.get("revision"), weights, "revision", fail)

    pipeline_class = config.get("pipeline_class") or ""
    factor = PIPELINE_SIZE_FACTORS.get(pipeline_class)
    if factor is None:
        fail("pipeline_class", f"Unknown pipeline class '{pipeline_class}'. Known: {', '.join(sorted(PIPELINE_SIZE_FACTORS))}.")

    scheduler_class = config.get("scheduler_class") or ""
    if scheduler_class and scheduler_class not in SCHEDULER_CLASSES:
        fail("scheduler_class", f"Unknown scheduler class '{scheduler_class}'. Known: {', '.join(sorted(SCHEDULER_CLASSES))}.")
    if not isinstance(config.get("scheduler_config") or {}, dict):
        fail("scheduler_config", "Must be an object of scheduler config overrides.")

    steps = config.get("steps")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
        fail("steps", f"Steps must be a whole number from 1 to {MAX_STEPS}, not {steps!r}.")
    guidance = config.get("guidance_scale")
    if not isinstance(guidance, (int, float)) or isinstance(guidance, bool) or guidance < 0:
        fail("guidance_scale", f"Guidance scale must be a number of at least 0, not {guidance!r}.")

    for side in ("height", "width"):
        value = config.get(side)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            fail(side, f"{side.capitalize()} must be a positive whole number of pixels, not {value!r}.")
        elif value > MAX_IMAGE_SIDE:
            fail(side, f"{side.capitalize()} {value} is larger than the largest supported side, {MAX_IMAGE_SIDE} pixels.")
        elif factor and value % factor:
            fail(side, f"{side.capitalize()} {value} is not a multiple of {factor}, which {pipeline_class} requires.")

    if config.get("dtype") not in DTYPES:
        fail("dtype", f"dtype must be one of {', '.join(DTYPES)}.")

    timesteps = config.get("timesteps")
    if timesteps is not None:
        if not isinstance(timesteps, list) or not timesteps or not all(isinstance(t, int) and 0 <= t < 1000 for t in timesteps):
            fail("timesteps", "Timesteps must be a non-empty list of whole numbers between 0 and 999.")
        elif isinstance(steps, int) and len(timesteps) != steps:
            fail("timesteps", f"{len(timesteps)} timesteps given for {steps} steps: they must match.")

    lora = config.get("lora")
    if lora is not None:
        if not isinstance(lora, dict) or not lora.get("weights"):
            fail("lora", 'A LoRA needs at least {"weights": hub id or path}.')
        elif is_local_weights(lora["weights"], local_root) and not local_ok(lora["weights"]):
            fail("lora", f"LoRA weights '{lora['weights']}' are not a hub id nor a file or directory {where}.")
        elif set(lora) - LORA_KEYS:
            fail("lora", f"Unknown LoRA keys {', '.join(sorted(set(lora) - LORA_KEYS))}; known: {', '.join(sorted(LORA_KEYS))}.")
        elif not isinstance(lora.get("scale", 1.0), (int, float)) or isinstance(lora.get("scale", 1.0), bool):
            fail("lora", f"LoRA scale must be a number, not {lora.get('scale')!r}.")
        else:
            _check_revision(lora.get("revision"), lora["weights"], "lora", fail, what="LoRA ")

    overrides = config.get("component_overrides") or {}
    if not isinstance(overrides, dict):
        fail("component_overrides", "Must be an object mapping a component name to its replacement.")
    else:
        for component, override in overrides.items():
            if not isinstance(override, dict) or override.get("class") not in COMPONENT_CLASSES or not override.get("weights"):
                fail("component_overrides", f"'{component}' needs a known \"class\" ({', '.join(sorted(COMPONENT_CLASSES))}) and \"weights\".")
                continue
            unknown = set(override) - COMPONENT_OVERRIDE_KEYS
            if unknown:
                fail("component_overrides", f"'{component}' has unknown keys {', '.join(sorted(unknown))}; known: {', '.join(sorted(COMPONENT_OVERRIDE_KEYS))}.")
            weight_name = override.get("weight_name")
            if weight_name and not str(weight_name).endswith((".safetensors", ".bin")):
                fail("component_overrides", f"'{component}': weight_name '{weight_name}' must be a .safetensors or .bin state-dict file.")
            if is_local_weights(override["weights"], local_root) and not local_ok(override["weights"]):
                fail("component_overrides", f"'{component}': '{override['weights']}' is not a hub id (org/name) nor a path {where}.")
            _check_revision(override.get("revision"), override["weights"], "component_overrides", fail, what=f"'{component}': ")

    extra = config.get("extra_call_kwargs") or {}
    if not isinstance(extra, dict):
        fail("extra_call_kwargs", "Must be an object of extra pipeline call arguments.")
    elif set(extra) & SHADOWED_CALL_KWARGS:
        fail(
            "extra_call_kwargs",
            f"{', '.join(sorted(set(extra) & SHADOWED_CALL_KWARGS))} cannot be set here: use the spec's own fields "
            "(steps, guidance_scale, height, width, timesteps); prompts, seeds and batch size come from the study.",
        )
    if errors:
        raise ValidationError(errors)


def _check_revision(revision, weights: str, field: str, fail, *, what: str = "") -> None:
    """A revision is a hub branch, tag or commit, and pins hub weights only."""
    if revision in (None, ""):
        return
    if not isinstance(revision, str) or not REVISION.match(revision) or ".." in revision:
        fail(field, f"{what}revision {revision!r} is not a hub revision: give a commit hash, a tag or a branch name (letters, digits, '.', '_', '-', '/').")
    elif weights and is_local_weights(weights):
        fail(field, f"{what}revision pins hub weights, but '{weights}' is a local directory: leave the revision empty.")


SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

SPEC_DEFAULTS = {
    "scheduler_class": "",
    "scheduler_config": {},
    "lora": None,
    "component_overrides": {},
    "dtype": "float32",
    "variant": "",
    "revision": "",
    "guidance_scale": 0.0,
    "height": 512,
    "width": 512,
    "timesteps": None,
    "extra_call_kwargs": {},
}


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
    from .presets import PRESETS

    return [model_spec_ensure(name=p["name"], slug=p["slug"], source=p["source"], **p["config"]) for p in PRESETS]


def spec_speed_measure(*, spec: ModelSpec, runs: int = 10, warmup: int = 2, device: str | None = None, prompt: str = "a photograph of an astronaut riding a horse") -> SpeedMeasurement:
    """Batch-1 latency of ``spec``: load, ``warmup`` untimed calls, then ``runs`` timed calls
    (CUDA synchronized), stored as median and 10th/90th percentiles."""
    import statistics

    from . import pipelines

    if runs < 1 or warmup < 0:
        raise ValidationError({"runs": ["Give at least one timed run and zero or more warm-up runs."]})
    config = spec_config(spec)
    device = pipelines.resolve_device(device or settings.EVALSITE_DEVICE)
    pipe = pipelines.resident_pipeline(config, spec.config_hash, device)
    for seed in range(warmup):
        pipelines.sample(pipe, config, [prompt], [seed], device)
    timed = [pipelines.sample(pipe, config, [prompt], [warmup + i], device) for i in range(runs)]
    seconds = sorted(part.seconds for part in timed)
    deciles = statistics.quantiles(seconds, n=10, method="inclusive") if len(seconds) > 1 else [seconds[0]] * 9
    last = timed[-1]
    return SpeedMeasurement.objects.create(
        spec=spec, device=last.device, gpu_name=last.gpu_name, runs=runs, warmup_runs=warmup,
        median_s=statistics.median(seconds), p10_s=deciles[0], p90_s=deciles[-1], height=spec.height, width=spec.width,
        torch_version=last.torch_version, diffusers_version=last.diffusers_version,
    )


def tiny_family_install(*, directory, size: int = 64, overwrite: bool = False) -> list[ModelSpec]:
    """Write the tiny pipelines and create (or reuse) a spec for each; reuses a spec whose
    config is unchanged, so running it twice creates nothing new."""
    from . import tiny

    paths = tiny.write_tiny_family(directory, overwrite=overwrite)
    return [
        model_spec_ensure(
            name=member["name"], slug=member["slug"], source="Tiny random-weight pipeline for tests and the demo.",
            **{**member["spec"], "weights": str(paths[member["slug"]]), "height": size, "width": size},
        )[0]
        for member in tiny.TINY_FAMILY
    ]

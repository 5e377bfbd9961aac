"""A spec's generation config: the settings that shape an image, their defaults, the hash stored
on every image, and their validation (no download, no torch or diffusers)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from django.core.exceptions import ValidationError

from .catalog import COMPONENT_CLASSES, MAX_IMAGE_SIDE, MAX_STEPS, PIPELINE_SIZE_FACTORS, SCHEDULER_CLASSES, SHADOWED_CALL_KWARGS
from .weights import HUB_ID, is_local_weights

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

# A Hugging Face repository id, as the hub names them: "org/name", each part letters, digits, "_",
# "-" and "." (not first nor last), no "--" nor "..". So "tmp/..", "./x" and "a/b/c" are no hub id.
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


def relative_folder_exists(value: str, local_root: Path | None = None) -> bool:
    """Whether a hub-shaped ``value`` also names a path relative to this process's working
    directory or the models directory (so a reader could take it for local weights)."""
    for base in (Path.cwd(), *([Path(local_root)] if local_root is not None else [])):
        try:
            if (base / value).exists():
                return True
        except (OSError, ValueError):
            continue
    return False


def weights_source_problem(value, *, local_root: Path | None, directory: bool, what: str) -> str | None:
    """Why ``value`` is no usable weights source, or None: an absolute path (under ``local_root``
    when given, and existing) or a hub id that names no folder relative to the server."""
    where = "under the server's models directory (EVALSITE_MODELS_DIR)" if local_root is not None else "locally"
    value = value if isinstance(value, str) else ""
    shown = value if len(value) <= 200 else value[:200] + "..."
    if is_local_weights(value):
        found = local_path_under(value, local_root, directory=directory) if local_root is not None else local_path_exists(value, directory=directory)
        return None if found else f"{what}'{shown}' is not a hub id (org/name) nor a {'directory' if directory else 'path'} {where}."
    if not HUB_ID.match(value):
        return (
            f"{what}'{shown}' is neither a hub id (org/name, as on huggingface.co) nor an absolute path {where}: local "
            "weights are given by their absolute path; '..', './', '--' and more than one '/' make no hub id."
        )
    if relative_folder_exists(value, local_root):
        return (
            f"{what}'{shown}' names a folder relative to the server, not a hub repository: give local weights by their "
            f"absolute path {where}, or a hub id (org/name) as on huggingface.co."
        )
    return None


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
    inside that directory, and a path outside it gets the same answer whether it exists or not.
    Local weights are absolute paths; a relative one, or a hub-shaped name that is also a folder
    relative to the server (``generation/data``), is refused rather than guessed at."""
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    weights = (config.get("weights") or "").strip()
    if not weights:
        fail("weights", "Give a Hugging Face hub id (org/name) or a local directory.")
    elif problem := weights_source_problem(weights, local_root=local_root, directory=True, what=""):
        fail("weights", problem)

    _check_revision(config.get("revision"), weights, "revision", fail)
    _check_classes(config, fail)
    _check_sampling(config, fail)
    _check_lora(config.get("lora"), local_root, fail)
    _check_component_overrides(config.get("component_overrides") or {}, local_root, fail)

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


def _check_classes(config: dict, fail) -> None:
    """The pipeline and scheduler classes, and the scheduler's config overrides."""
    pipeline_class = config.get("pipeline_class") or ""
    if PIPELINE_SIZE_FACTORS.get(pipeline_class) is None:
        fail("pipeline_class", f"Unknown pipeline class '{pipeline_class}'. Known: {', '.join(sorted(PIPELINE_SIZE_FACTORS))}.")

    scheduler_class = config.get("scheduler_class") or ""
    if scheduler_class and scheduler_class not in SCHEDULER_CLASSES:
        fail("scheduler_class", f"Unknown scheduler class '{scheduler_class}'. Known: {', '.join(sorted(SCHEDULER_CLASSES))}.")
    if not isinstance(config.get("scheduler_config") or {}, dict):
        fail("scheduler_config", "Must be an object of scheduler config overrides.")


def _check_sampling(config: dict, fail) -> None:
    """Steps, guidance, the image's sides (a multiple of the pipeline's factor), dtype, timesteps."""
    pipeline_class = config.get("pipeline_class") or ""
    factor = PIPELINE_SIZE_FACTORS.get(pipeline_class)
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


def _check_lora(lora, local_root: Path | None, fail) -> None:
    if lora is None:
        return
    if not isinstance(lora, dict) or not lora.get("weights"):
        fail("lora", 'A LoRA needs at least {"weights": hub id or path}.')
    elif problem := weights_source_problem(lora["weights"], local_root=local_root, directory=False, what="LoRA weights "):
        fail("lora", problem)
    elif set(lora) - LORA_KEYS:
        fail("lora", f"Unknown LoRA keys {', '.join(sorted(set(lora) - LORA_KEYS))}; known: {', '.join(sorted(LORA_KEYS))}.")
    elif not isinstance(lora.get("scale", 1.0), (int, float)) or isinstance(lora.get("scale", 1.0), bool):
        fail("lora", f"LoRA scale must be a number, not {lora.get('scale')!r}.")
    else:
        _check_revision(lora.get("revision"), lora["weights"], "lora", fail, what="LoRA ")


def _check_component_overrides(overrides, local_root: Path | None, fail) -> None:
    if not isinstance(overrides, dict):
        fail("component_overrides", "Must be an object mapping a component name to its replacement.")
        return
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
        for key in ("weights", "config"):
            if key in override and (problem := weights_source_problem(override[key], local_root=local_root, directory=False, what=f"'{component}': ")):
                fail("component_overrides", problem)
        _check_revision(override.get("revision"), override["weights"], "component_overrides", fail, what=f"'{component}': ")


def _check_revision(revision, weights: str, field: str, fail, *, what: str = "") -> None:
    """A revision is a hub branch, tag or commit, and pins hub weights only."""
    if revision in (None, ""):
        return
    if not isinstance(revision, str) or not REVISION.match(revision) or ".." in revision:
        fail(field, f"{what}revision {revision!r} is not a hub revision: give a commit hash, a tag or a branch name (letters, digits, '.', '_', '-', '/').")
    elif weights and is_local_weights(weights):
        fail(field, f"{what}revision pins hub weights, but '{weights}' is a local directory: leave the revision empty.")


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

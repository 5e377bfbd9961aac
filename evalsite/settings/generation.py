"""Image generation and automated metrics: the generation app's settings (defaults in
generation/conf.py), read from the environment."""

from pathlib import Path

from generation import conf as generation_conf

from .base import DATA_DIR
from .env import env

_default = generation_conf.DEFAULTS  # the app's defaults, declared once in generation/conf.py

# Where tiny (random-weight) pipelines and other local model weights are written.
EVALSITE_MODELS_DIR = Path(env.str("EVALSITE_MODELS_DIR", default=str(DATA_DIR / "models"))).resolve()
EVALSITE_DEVICE = env.str("EVALSITE_DEVICE", default=_default["EVALSITE_DEVICE"])
EVALSITE_BATCH_SIZE = env.int("EVALSITE_BATCH_SIZE", default=_default["EVALSITE_BATCH_SIZE"])
EVALSITE_BATCH_HEARTBEAT_S = env.float("EVALSITE_BATCH_HEARTBEAT_S", default=_default["EVALSITE_BATCH_HEARTBEAT_S"])
EVALSITE_BATCH_LEASE_S = env.float("EVALSITE_BATCH_LEASE_S", default=_default["EVALSITE_BATCH_LEASE_S"])
EVALSITE_BATCH_MAX_ATTEMPTS = env.int("EVALSITE_BATCH_MAX_ATTEMPTS", default=_default["EVALSITE_BATCH_MAX_ATTEMPTS"])
EVALSITE_WRITE_BEHIND = env.bool("EVALSITE_WRITE_BEHIND", default=_default["EVALSITE_WRITE_BEHIND"])
EVALSITE_PNG_COMPRESS_LEVEL = env.int("EVALSITE_PNG_COMPRESS_LEVEL", default=_default["EVALSITE_PNG_COMPRESS_LEVEL"])
EVALSITE_METRIC_CLIP = env.str("EVALSITE_METRIC_CLIP", default=_default["EVALSITE_METRIC_CLIP"])
EVALSITE_METRIC_PICKSCORE = env.str("EVALSITE_METRIC_PICKSCORE", default=_default["EVALSITE_METRIC_PICKSCORE"])
EVALSITE_METRIC_PICKSCORE_PROCESSOR = env.str(
    "EVALSITE_METRIC_PICKSCORE_PROCESSOR", default=_default["EVALSITE_METRIC_PICKSCORE_PROCESSOR"]
)
EVALSITE_METRIC_BATCH_SIZE = env.int("EVALSITE_METRIC_BATCH_SIZE", default=_default["EVALSITE_METRIC_BATCH_SIZE"])
EVALSITE_ORPHAN_AGE_S = env.float("EVALSITE_ORPHAN_AGE_S", default=_default["EVALSITE_ORPHAN_AGE_S"])
# Upload limits of the API: a zip of external images, a prompt file, and the pixels one image
# upload decodes (every image is decoded, checked and stored one at a time): per image, and in all.
EVALSITE_MAX_IMAGE_ZIP_BYTES = env.int("EVALSITE_MAX_IMAGE_ZIP_BYTES", default=_default["EVALSITE_MAX_IMAGE_ZIP_BYTES"])
EVALSITE_MAX_PROMPT_FILE_BYTES = env.int("EVALSITE_MAX_PROMPT_FILE_BYTES", default=_default["EVALSITE_MAX_PROMPT_FILE_BYTES"])
EVALSITE_MAX_UPLOAD_IMAGE_PIXELS = env.int("EVALSITE_MAX_UPLOAD_IMAGE_PIXELS", default=_default["EVALSITE_MAX_UPLOAD_IMAGE_PIXELS"])
EVALSITE_MAX_UPLOAD_PIXELS = env.int("EVALSITE_MAX_UPLOAD_PIXELS", default=_default["EVALSITE_MAX_UPLOAD_PIXELS"])

"""Where images and uploads are stored: the local media directory or an S3 bucket."""

from pathlib import Path

from .base import DATA_DIR
from .env import env

MEDIA_ROOT = Path(env.str("EVALSITE_MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "/media/"

# Images go through Django's storage API: "local" (MEDIA_ROOT) or "s3" (django-storages,
# configured by the AWS_* variables in .env.example).
EVALSITE_STORAGE = env.str("EVALSITE_STORAGE", default="local")
if EVALSITE_STORAGE == "s3":
    STORAGES = {
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }
    AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default=None)  # empty: None, as unset
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default=None)
    # Objects are private and carry no metadata beyond their content type; raters never get a
    # bucket URL: the web streams images by opaque key (ratings.views), so a signed URL is never
    # handed out, and keys are random (images/<uuid>.png).
    AWS_QUERYSTRING_AUTH = True
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = False
    AWS_S3_OBJECT_PARAMETERS: dict = {}
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

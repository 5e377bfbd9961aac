"""Storage across machines, for real: EVALSITE_STORAGE=s3 against a real S3 API server (moto's
server mode) started here. A real Celery GPU worker writes the images into the bucket, the web
serves them to a rater from the bucket, and blinding holds: opaque keys, no metadata, private
objects, and no response a rater gets names the bucket or its address. A worker SIGKILLed
mid-batch leaves no row pointing at a missing object, and the hourly clean-up removes the files
it left without a row."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
import requests

from generation import storage
from generation.models import DisplayCopy, GenerationBatch, Image
from generation.selectors import job_progress
from tests.generation.crash import celery_workers, kill_mid_batch_then_recover, slow_job
from tests.processes import free_port, wait_for

pytestmark = pytest.mark.slow

BUCKET = "evalsite-lab-images"
KEY = re.compile(r"^(images|display|decoys)/[0-9a-f]{32}\.png$")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "lab-key", "AWS_SECRET_ACCESS_KEY": "lab-secret", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return requests.get(url, timeout=5).status_code < 500
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or slow to answer its first request on a loaded machine
            return False

    try:
        wait_for(ready, 60, "moto's S3 server", interval=0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def s3_storage(s3_server, settings, monkeypatch):
    """This process (the web) and the workers it starts store images in a fresh private bucket."""
    import boto3

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="lab-key", aws_secret_access_key="lab-secret")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = s3_server
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_S3_FILE_OVERWRITE = False
    settings.AWS_S3_OBJECT_PARAMETERS = {}
    worker_env = {
        **CREDENTIALS, "EVALSITE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_ENDPOINT_URL": s3_server,
        "AWS_S3_REGION_NAME": "us-east-1",
    }
    yield client, worker_env
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def bucket_keys(client) -> set[str]:
    return {item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for item in page.get("Contents", [])}


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        chunks.append(data[offset + 4:offset + 8])
        offset += 12 + length
    return chunks


@pytest.fixture
def gpu_worker(transactional_db, redis_server, artifacts_dir, request, s3_storage):
    with celery_workers(redis_url=redis_server.url, log_dir=artifacts_dir / "logs", test_name=request.node.name, extra_env=s3_storage[1]) as start:
        yield start


def test_a_gpu_worker_writes_to_the_bucket_and_the_web_serves_raters_blinded_images(gpu_worker, s3_storage, tiny_specs, prompt_set, s3_server):
    from ratings import screening, studies
    from tests.factories import StudyFactory
    from tests.ratings.rater_client import RaterSession, RecordingClient

    client, _ = s3_storage
    gpu_worker("gpu", extra_args=("-Q", "gpu"))
    study = StudyFactory(name="SDXL-Turbo vs LCM on S3", specs=tiny_specs[:2], prompt_set=prompt_set, display_size=32, votes_per_pair=1, no_checks=True)
    studies.study_start_generation(study=study)
    wait_for(lambda: job_progress(job=study.job)["done"] == 16, 180, "the GPU worker to write 16 images to the bucket", interval=0.5)
    studies.study_open(study=study)
    screening.study_images_reviewed(study=study, by=None)  # crowd links work only after screening

    keys = bucket_keys(client)
    referenced = set(Image.objects.values_list("file", flat=True)) | set(DisplayCopy.objects.values_list("file", flat=True))
    assert referenced and referenced <= keys, "every row points at an object in the bucket"
    assert all(KEY.match(key) for key in keys), sorted(keys)[:5]
    for key in sorted(keys)[:6]:
        head = client.head_object(Bucket=BUCKET, Key=key)
        assert head["Metadata"] == {} and head["ContentType"] == "image/png"
        grants = client.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
        assert not any("AllUsers" in str(grant.get("Grantee", {})) or "AuthenticatedUsers" in str(grant.get("Grantee", {})) for grant in grants), "private object"
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert set(png_chunks(body)) <= {b"IHDR", b"IDAT", b"IEND"}, "no text, time or other metadata chunk"
    bucket_grants = client.get_bucket_acl(Bucket=BUCKET)["Grants"]
    assert not any("AllUsers" in str(grant.get("Grantee", {})) for grant in bucket_grants), "nobody may list the bucket"

    rater = RaterSession(RecordingClient(), study)
    rater.join_prolific("P1")
    rater.start()
    for _ in range(3):
        if not rater.state.get("pairs"):
            break
        assert rater.vote().status_code == 200
    images = [r for r in rater.client.received if r.headers.get("Content-Type") == "image/png"]
    assert len(images) >= 4, "the rater saw images, streamed by the web from the bucket"
    for response in images:
        assert set(png_chunks(response.body)) <= {b"IHDR", b"IDAT", b"IEND"}
    address = s3_server.split("//")[1]
    for response in rater.client.received:
        visible = response.url + " " + " ".join(f"{k}: {v}" for k, v in response.headers.items()) + " " + response.body.decode("latin-1")
        for secret in (BUCKET, address, "X-Amz-", "amazonaws", "AWSAccessKeyId"):
            assert secret not in visible, f"{response.url} shows {secret!r} to a rater"


def test_a_worker_killed_mid_batch_leaves_no_row_without_its_object_and_no_object_after_clean_up(gpu_worker, s3_storage, tiny_specs, prompt_set, tmp_path):
    client, _ = s3_storage
    job, slow = slow_job(tiny_specs=tiny_specs, prompt_set=prompt_set)
    kill_mid_batch_then_recover(start_worker=gpu_worker, job=job, schedule_path=tmp_path / "beat-schedule", delay=0.3)
    wait_for(lambda: not GenerationBatch.objects.filter(job=job, status__in=["queued", "running"]).exists(), 60, "the batches to settle", interval=0.3)

    referenced = set(Image.objects.values_list("file", flat=True)) | set(DisplayCopy.objects.values_list("file", flat=True))
    keys = bucket_keys(client)
    assert referenced <= keys, f"rows pointing at missing objects: {sorted(referenced - keys)}"
    for name in Image.objects.filter(spec=slow).values_list("file", flat=True):
        from PIL import Image as PILImage

        PILImage.open(io.BytesIO(client.get_object(Bucket=BUCKET, Key=name)["Body"].read())).verify()
    orphans = keys - referenced
    assert storage.storage_orphans_delete(older_than_s=0) == len(orphans)
    assert bucket_keys(client) == referenced, "after the clean-up, every object in the bucket belongs to a row"

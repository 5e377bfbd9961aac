# Two images from one file, by role:
#   target "app": web, CPU worker, beat, Flower and migrations; no torch, diffusers or transformers.
#   target "gpu": the GPU workers; the app image plus CUDA torch and the diffusers stack.
FROM python:3.11-slim AS app

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 EVALSITE_DATA_DIR=/data
WORKDIR /app

COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY evalsite ./evalsite
COPY common ./common
COPY generation ./generation
COPY ratings ./ratings
COPY manage.py gunicorn.conf.py ./
# Every version from the lock (requirements/lock.txt, made by scripts/lock), as CI tested them.
RUN pip install ".[s3,ops]" -c requirements/lock.txt \
    && DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput -v0

RUN useradd --create-home evalsite && mkdir -p /data && chown evalsite /data
USER evalsite
EXPOSE 8000
CMD ["gunicorn", "evalsite.wsgi:application", "--config", "gunicorn.conf.py"]

FROM app AS gpu
USER root
# The CUDA build of the pinned torch first, so the gpu extra finds it and keeps it.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
RUN pip install --index-url "$TORCH_INDEX_URL" "torch==2.13.0" && pip install ".[gpu,s3,ops]" -c requirements/lock.txt
# The Hugging Face cache is a volume shared by the machine's GPU workers (docker-compose.yml).
ENV HF_HOME=/hf-cache
RUN mkdir -p /hf-cache && chown evalsite /hf-cache
USER evalsite
CMD ["celery", "-A", "evalsite", "worker", "-Q", "gpu", "--pool=solo", "--concurrency=1", "--prefetch-multiplier=1"]

# One image for every service: web, workers, beat and flower.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 EVALSITE_DATA_DIR=/data
WORKDIR /app

COPY pyproject.toml README.md ./
COPY evalsite ./evalsite
COPY generation ./generation
COPY ratings ./ratings
COPY manage.py gunicorn.conf.py ./
RUN pip install "torch==2.13.0" && pip install ".[s3]" flower \
    && DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput -v0

RUN useradd --create-home evalsite && mkdir -p /data && chown evalsite /data
USER evalsite
EXPOSE 8000
CMD ["gunicorn", "evalsite.wsgi:application", "--config", "gunicorn.conf.py"]

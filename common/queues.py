"""Queue names, in one place: generation goes to GPU workers, everything else to ``default``; and
``task_send``, which enqueues a task by its registered name, so that the code that queues work
never imports the tasks module that runs it (the tasks import the services, not the reverse)."""

from __future__ import annotations

from celery import current_app

GPU_QUEUE = "gpu"
DEFAULT_QUEUE = "default"
# The queues the dashboard and the metrics report on.
QUEUES = (GPU_QUEUE, DEFAULT_QUEUE)


def task_send(name: str, args: tuple = (), kwargs: dict | None = None, **options):
    """Enqueue the task registered as ``name`` (``CELERY_TASK_ROUTES`` routes it by that name).

    With a broker, the message goes out by name; a worker holds the code. Where tasks run
    in-process (``CELERY_TASK_ALWAYS_EAGER``: the demo, the tests), the task modules are loaded
    as a worker loads them (``CELERY_IMPORTS`` and each app's ``tasks``) and the task runs here.
    """
    app = current_app
    if app.conf.task_always_eager:
        if name not in app.tasks:
            app.loader.import_default_modules()
        return app.tasks[name].apply_async(args, kwargs or {}, **options)
    return app.send_task(name, args=args, kwargs=kwargs or {}, **options)

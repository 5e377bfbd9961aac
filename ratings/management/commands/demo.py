import logging
import os
import sys
import threading
import warnings

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from ratings.demo import demo_generate, demo_prepare, demo_speeds_measure


class Command(BaseCommand):
    help = (
        "Set up the no-services demo: tiny models, a demo study, a rater login and a staff login; then serve it on "
        "http://127.0.0.1:8000 at once while its images are generated in the background (with --no-serve: generate "
        "them, print the logins, and exit)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="Generate every image, print the logins, and exit.")
        parser.add_argument("--port", type=int, default=8000, help="Port to serve on (default 8000).")

    def handle(self, *args, **options):
        quiet_console()
        self.stdout.write("Making the tiny models and the demo study...")
        demo = demo_prepare(generate=options["no_serve"])
        study = demo["study"]
        base = f"http://127.0.0.1:{options['port']}"
        total = study.job.specs.count() * study.job.prompt_set.prompts.count() * len(study.job.seeds)
        if options["no_serve"]:
            first = f"Demo ready: {total} images generated for '{study.name}'."
        else:
            first = (
                f"Serving now. The demo study's {total} images are being generated in the background (a minute or two); "
                "the rate page shows how far it has got and opens by itself when they are made."
            )
        self.stdout.write(
            "\n".join(
                [
                    "",
                    first,
                    f"  Rate pairs:       {base}/rate/{study.pk}/   log in as '{demo['rater']}' with password '{demo['passwords'][demo['rater']]}'",
                    f"  See leaderboard:  {base}/studies/{study.pk}/leaderboard/   log in as '{demo['staff']}' with password '{demo['passwords'][demo['staff']]}'",
                    f"  Dashboard:        {base}/dashboard/   (same staff login; the admin is at {base}/admin/)",
                    "Passwords are new each time the demo starts. Press Ctrl+C to stop the server.",
                    "",
                ]
            )
        )
        if options["no_serve"]:
            self._measure(study.pk)
            return
        generation = threading.Thread(target=self._generate, args=(study.pk,), name="demo-generation", daemon=True)
        generation.start()
        try:
            call_command("runserver", f"127.0.0.1:{options['port']}", use_reloader=False)
        except (KeyboardInterrupt, SystemExit):  # runserver turns Ctrl+C into SystemExit(0)
            if generation.is_alive():
                # Leave at once: torch's threads abort the process if Python tears them down
                # mid-generation. Every image made so far is saved; the next start makes the rest.
                self.stdout.write("\nStopped while generating; the next ./scripts/demo makes the remaining images.")
                sys.stdout.flush()
                os._exit(0)
            raise

    def _measure(self, study_id: int) -> None:
        try:
            measured = demo_speeds_measure(study_id=study_id)
        except Exception as error:  # the study works without it: the plot falls back to the in-batch estimate
            print(f"Measuring the demo models' speed failed: {error!r}; the speed plot shows the in-batch estimate instead.",
                  file=sys.stderr, flush=True)
            return
        if measured:
            self.stdout.write(_measured_line(measured))

    def _generate(self, study_id: int) -> None:
        try:
            progress = demo_generate(study_id=study_id)
            self.stdout.write(f"Demo ready: {progress['done']} of {progress['total']} images generated; the study is open for rating.")
            self._measure(study_id)
        except Exception as error:  # the server keeps running; say what went wrong
            print(f"Generating the demo's images failed: {error!r}. Stop the demo and run ./scripts/demo again.", file=sys.stderr, flush=True)
            raise
        finally:
            connection.close()


def _measured_line(measured) -> str:
    speeds = ", ".join(f"{m.spec.slug} {m.median_s:.3f} s" for m in measured)
    return f"Measured each model's seconds per image for the speed plot (batch 1, steady state, on {measured[0].device.upper()}): {speeds}."


def quiet_console() -> None:
    """Keep the demo's console to what a user can act on: no progress bars of writing the tiny
    weights, no log line per in-process task, no notices from libraries about their own
    defaults (kombu's broker host, diffusers' renamed ``torch_dtype``, matplotlib's first-run
    font cache), no development-server notice, and one line per request: runserver logs each
    (``django.server``), so the site's own request line (``evalsite.request``) stays out."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when huggingface_hub is first imported
    # The demo is local by design; the README's deployment section says what serves production.
    os.environ.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
    for name in ("celery.app.trace", "kombu.connection", "matplotlib", "matplotlib.font_manager", "evalsite.request"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r"`torch_dtype` is deprecated", category=FutureWarning)

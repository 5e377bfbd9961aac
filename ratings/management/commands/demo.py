from django.core.management import call_command
from django.core.management.base import BaseCommand

from generation.selectors import job_progress
from ratings.demo import demo_prepare


class Command(BaseCommand):
    help = (
        "Set up the no-services demo: tiny models, a demo study with all its images, a rater login and a staff "
        "login; then serve it on http://127.0.0.1:8000 (unless --no-serve)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="Prepare everything, print the logins, and exit.")
        parser.add_argument("--port", type=int, default=8000, help="Port to serve on (default 8000).")

    def handle(self, *args, **options):
        self.stdout.write("Making the tiny models and the demo study, and generating its images (about a minute)...")
        demo = demo_prepare()
        study = demo["study"]
        progress = job_progress(job=study.job)
        base = f"http://127.0.0.1:{options['port']}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Demo ready: {progress['done']} of {progress['total']} images generated for '{study.name}'.",
                    f"  Rate pairs:       {base}/rate/{study.pk}/   log in as '{demo['rater']}' with password '{demo['passwords'][demo['rater']]}'",
                    f"  See leaderboard:  {base}/studies/{study.pk}/leaderboard/   log in as '{demo['staff']}' with password '{demo['passwords'][demo['staff']]}'",
                    f"  Admin:            {base}/admin/   (same staff login)",
                    "Passwords are new each time the demo starts. Press Ctrl+C to stop the server.",
                    "",
                ]
            )
        )
        if not options["no_serve"]:
            call_command("runserver", f"127.0.0.1:{options['port']}", use_reloader=False)

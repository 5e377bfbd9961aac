from django.core.management.base import BaseCommand, CommandError

from generation.management.commands.run_job import run_job_command
from ratings.models import Study


class Command(BaseCommand):
    help = "Generate a study's missing images in this process, without a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument("--study", type=int, required=True, help="Id of the study.")
        parser.add_argument("--dry-run", action="store_true", help="Print what would be made and make nothing.")
        parser.add_argument("--batch-size", type=int, default=None, help="Images per pipeline call (default EVALSITE_BATCH_SIZE).")

    def handle(self, *args, **options):
        study = Study.objects.select_related("job").filter(pk=options["study"]).first()
        if study is None:
            raise CommandError(f"There is no study with id {options['study']}.")
        run_job_command(self, study.job, dry_run=options["dry_run"], batch_size=options["batch_size"])

from django.core.management.base import BaseCommand, CommandError

from generation import jobs, selectors
from generation.models import GenerationJob

# One pipeline call holds a whole batch in memory; beyond this it is a typo, not a plan.
MAX_BATCH_SIZE = 256


def run_job_command(command: BaseCommand, job: GenerationJob, *, dry_run: bool, batch_size: int | None) -> None:
    """Shared by ``run_job`` and ratings' ``generate --study``: print or make a job's missing images."""
    from django.conf import settings

    batch_size = settings.EVALSITE_BATCH_SIZE if batch_size is None else batch_size
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise CommandError(f"--batch-size must be from 1 to {MAX_BATCH_SIZE} images per pipeline call, not {batch_size}.", returncode=2)
    batches = list(selectors.job_missing_batches(job=job, batch_size=batch_size))
    missing = sum(len(items) for _, items in batches)
    progress = selectors.job_progress(job=job)
    if dry_run:
        command.stdout.write(f"Job {job.pk}: {progress['done']} of {progress['total']} images exist; {missing} would be made in {len(batches)} batch(es).")
        names = {row["spec_id"]: row["spec"] for row in progress["per_spec"]}
        for row in progress["per_spec"]:
            todo = sum(len(items) for spec_id, items in batches if spec_id == row["spec_id"])
            command.stdout.write(f"  {names[row['spec_id']]}: {todo} to make ({row['done']} of {row['total']} exist)")
        return
    if not missing:
        command.stdout.write(f"Job {job.pk}: all {progress['total']} images exist; nothing to make.")
        return
    from tqdm import tqdm

    with tqdm(total=missing, unit="img", desc=f"job {job.pk}", file=command.stderr._out) as bar:
        made = jobs.job_run_inline(job=job, batch_size=batch_size, on_batch=bar.update)
    command.stdout.write(f"Job {job.pk}: made {made} image(s).")


class Command(BaseCommand):
    help = "Generate a generation job's missing images in this process, without a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument("--job", type=int, required=True, help="Id of the generation job.")
        parser.add_argument("--dry-run", action="store_true", help="Print what would be made and make nothing.")
        parser.add_argument("--batch-size", type=int, default=None, help="Images per pipeline call (default EVALSITE_BATCH_SIZE).")

    def handle(self, *args, **options):
        job = GenerationJob.objects.filter(pk=options["job"]).first()
        if job is None:
            raise CommandError(f"There is no generation job with id {options['job']}.")
        run_job_command(self, job, dry_run=options["dry_run"], batch_size=options["batch_size"])

"""`python manage.py report --study ID [--format pdf|html] [--output FILE]`: the study's
self-contained report (``ratings.results.report``), the same file the API and the results page give."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ratings.models import Study
from ratings.results.report import REPORT_FORMATS, study_report


class Command(BaseCommand):
    help = (
        "Write a study's self-contained report: design, prompts, raters and exclusions, stop reason, the figures "
        "(win rates against the reference, speed, the decision table), the ranking, automated metrics and provenance. "
        "HTML (one file, figures embedded) or PDF."
    )

    def add_arguments(self, parser):
        parser.add_argument("--study", type=int, required=True, help="Id of the study.")
        parser.add_argument("--format", dest="fmt", default="pdf", choices=list(REPORT_FORMATS), help="pdf (default) or html.")
        parser.add_argument("--output", type=Path, default=None, help="Output file (default: study-ID-report.FORMAT in the current directory).")

    def handle(self, *args, study, fmt, output, **options):
        found = Study.objects.filter(pk=study).first()
        if found is None:
            raise CommandError(f"There is no study with id {study}.", returncode=2)
        content, _, filename = study_report(study=found, fmt=fmt)
        path = output or Path(filename)
        try:
            path.write_bytes(content)
        except OSError as error:
            raise CommandError(f"Could not write {path}: {error.strerror or error}.", returncode=2) from None
        self.stdout.write(f"Wrote {path} ({len(content)} bytes).")

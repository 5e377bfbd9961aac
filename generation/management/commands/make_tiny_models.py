from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from generation.specs import tiny_family_install


class Command(BaseCommand):
    help = (
        "Write the tiny model family (pipelines built from configs with seeded random weights, no download) "
        "to a local directory and create the model specs that point at them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=None, help="Where to write the pipelines (default: EVALSITE_MODELS_DIR/tiny).")
        parser.add_argument("--size", type=int, default=64, help="Image height and width of the specs, a multiple of 8 (default 64).")
        parser.add_argument("--overwrite", action="store_true", help="Rebuild pipelines that already exist on disk.")

    def handle(self, *args, **options):
        directory = options["dir"] or settings.EVALSITE_MODELS_DIR / "tiny"
        specs = tiny_family_install(directory=directory, size=options["size"], overwrite=options["overwrite"])
        for spec in specs:
            self.stdout.write(f"{spec.slug} (v{spec.version}): {spec.steps} step(s), guidance {spec.guidance_scale}, weights {spec.weights}")

"""`python manage.py sweep_spec SLUG[@VERSION] --steps 1,2,4,8 [--guidance 0,1.5] [--no-measure | --queue]`:
a spec's versions at several step counts (and guidance scales), each a normal version of its slug,
each with its batch-1 speed measured here as `measure_speed` measures it (or on the gpu queue)."""

import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from generation.models import ModelSpec
from generation.specs import model_spec_sweep, spec_speed_measure, spec_speeds_queue


def _list(kind, what):
    def parse(text):
        try:
            return [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} are numbers separated by commas, e.g. 1,2,4,8") from None

    return parse


class Command(BaseCommand):
    help = (
        "Make a spec's versions at several step counts (and guidance scales) in one go, everything else unchanged; "
        "each is a normal version of the spec's slug (one that exists is reused) and gets its speed measured."
    )

    def add_arguments(self, parser):
        parser.add_argument("spec", help="The spec to sweep: SLUG (its latest version) or SLUG@VERSION.")
        parser.add_argument("--steps", required=True, type=_list(int, "--steps"), help="Step counts, e.g. 1,2,4,8.")
        parser.add_argument("--guidance", type=_list(float, "--guidance"), help="Guidance scales to cross with the steps (default: the spec's own).")
        parser.add_argument("--no-measure", action="store_true", help="Do not measure the versions' speed.")
        parser.add_argument("--queue", action="store_true", help="Measure on a GPU worker (the gpu queue) instead of here.")
        parser.add_argument("--runs", type=int, default=10, help="Timed runs per version (default 10).")
        parser.add_argument("--warmup", type=int, default=2, help="Untimed warm-up runs per version (default 2).")
        parser.add_argument("--device", default=None, help="torch device when measuring here (default EVALSITE_DEVICE).")

    def handle(self, *args, **options):
        slug, _, version = options["spec"].partition("@")
        specs = ModelSpec.objects.filter(slug=slug)
        if version:
            if not version.isdigit():
                raise CommandError(f"'{options['spec']}': the version after @ is a whole number, e.g. {slug}@2.", returncode=2)
            specs = specs.filter(version=int(version))
        spec = specs.order_by("-version").first()
        if spec is None:
            raise CommandError(f"There is no model spec '{options['spec']}'.", returncode=2)
        if options["runs"] < 1 or options["warmup"] < 0:
            raise CommandError("--runs must be at least 1 and --warmup at least 0.", returncode=2)
        try:
            made = model_spec_sweep(spec=spec, steps=options["steps"], guidance_scales=options["guidance"])
        except ValidationError as error:
            raise CommandError(" ".join(m for ms in error.message_dict.values() for m in ms), returncode=2) from None
        for version_spec, created in made:
            state = "created" if created else "exists"
            steps = f"{version_spec.steps} step{'s' if version_spec.steps != 1 else ''}"
            self.stdout.write(f"{version_spec.slug}@{version_spec.version} ({steps}, guidance {version_spec.guidance_scale:g}): {state}")
        if options["no_measure"]:
            return
        versions = [version_spec for version_spec, _ in made]
        if options["queue"]:
            queued = spec_speeds_queue(specs=versions, runs=options["runs"], warmup=options["warmup"])
            self.stdout.write(f"{queued} speed measurement(s) queued on the gpu queue.")
            return
        for version_spec in versions:
            if version_spec.speed_measurements.exists():
                continue
            measured = spec_speed_measure(spec=version_spec, runs=options["runs"], warmup=options["warmup"], device=options["device"])
            self.stdout.write(
                f"{version_spec.slug}@{version_spec.version}: median {measured.median_s:.4f} s/image "
                f"(p10 {measured.p10_s:.4f}, p90 {measured.p90_s:.4f}) over {measured.runs} runs on {measured.gpu_name or measured.device}"
            )

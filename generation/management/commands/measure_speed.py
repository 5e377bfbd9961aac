from django.core.management.base import BaseCommand, CommandError

from generation.specs import spec_speed_measure
from generation.models import ModelSpec


class Command(BaseCommand):
    help = (
        "Measure each spec's batch-1 latency in steady state on this machine's device: load, warm-up calls (more "
        "than asked while calls still get faster), then N timed calls (CUDA synchronized); stores the median and the "
        "10th/90th percentiles for the speed-vs-rating plot."
    )

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="Spec slugs (latest version of each); default: every spec.")
        parser.add_argument("--runs", type=int, default=10, help="Timed runs per spec (default 10).")
        parser.add_argument("--warmup", type=int, default=2, help="At least this many untimed warm-up runs per spec (default 2; more while calls still get over 10%% faster).")
        parser.add_argument("--device", default=None, help="torch device (default EVALSITE_DEVICE).")

    def handle(self, *args, **options):
        if options["runs"] < 1 or options["warmup"] < 0:
            raise CommandError("--runs must be at least 1 and --warmup at least 0.", returncode=2)
        if options["slugs"]:
            specs = []
            for slug in options["slugs"]:
                spec = ModelSpec.objects.filter(slug=slug).order_by("-version").first()
                if spec is None:
                    raise CommandError(f"There is no model spec with slug '{slug}'.", returncode=2)
                specs.append(spec)
        else:
            latest = {}
            for spec in ModelSpec.objects.order_by("slug", "version"):
                latest[spec.slug] = spec
            specs = list(latest.values())
        for spec in specs:
            measured = spec_speed_measure(spec=spec, runs=options["runs"], warmup=options["warmup"], device=options["device"])
            self.stdout.write(
                f"{spec.slug} v{spec.version}: median {measured.median_s:.4f} s/image (p10 {measured.p10_s:.4f}, p90 {measured.p90_s:.4f}) "
                f"over {measured.runs} runs on {measured.gpu_name or measured.device}, {measured.width}x{measured.height}"
            )

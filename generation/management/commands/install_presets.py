from django.core.management.base import BaseCommand

from generation import specs


class Command(BaseCommand):
    help = (
        "Create a model spec for every preset (the real distilled systems and their baselines, with the settings "
        "their authors publish; see generation/presets.py). Running it again creates nothing new."
    )

    def handle(self, *args, **options):
        for spec, created in specs.presets_install():
            state = "created" if created else "exists"
            self.stdout.write(f"{state:8} {spec.slug} (v{spec.version}): {spec.steps} step(s), guidance {spec.guidance_scale}, {spec.width}x{spec.height}, {spec.weights}")

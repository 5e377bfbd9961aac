from django.core.management.base import BaseCommand, CommandError

from generation.metrics import METRICS, MetricWeightsUnavailable, image_metrics_compute, job_image_metrics_enqueue
from ratings.models import Study
from ratings.results import automated
from ratings.results.image_exports import study_images


class Command(BaseCommand):
    help = (
        "Score a study's images with automated metrics (CLIP score, PickScore) from the weights their settings name "
        "(EVALSITE_METRIC_CLIP, EVALSITE_METRIC_PICKSCORE), and with --diversity compute diversity across seeds; "
        "the leaderboard shows them beside the ratings. Runs here unless --queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("--study", type=int, required=True, help="Id of the study.")
        parser.add_argument("--metric", action="append", choices=list(METRICS), help="A metric to compute (repeatable; default all).")
        parser.add_argument("--diversity", action="store_true", help="Also compute diversity across seeds (pixels; with --embeddings, CLIP embeddings too).")
        parser.add_argument("--embeddings", action="store_true", help="With --diversity: also the Vendi score of CLIP image embeddings (loads EVALSITE_METRIC_CLIP).")
        parser.add_argument("--queue", action="store_true", help="Queue the metrics on the gpu queue instead of computing them in this process.")

    def handle(self, *args, study, metric, diversity, embeddings, queue, **options):
        found = Study.objects.select_related("job").filter(pk=study).first()
        if found is None:
            raise CommandError(f"There is no study with id {study}.", returncode=2)
        metrics = metric or list(METRICS)
        if queue:
            job_image_metrics_enqueue(job_id=found.job_id, metrics=metrics)
            self.stdout.write(f"Queued {', '.join(metrics)} for study {found.pk} on the gpu queue.")
        else:
            image_ids = list(study_images(study=found).values_list("pk", flat=True))
            for name in metrics:
                try:
                    written = image_metrics_compute(image_ids=image_ids, metric=name)
                except MetricWeightsUnavailable as error:
                    raise CommandError(str(error)) from None
                self.stdout.write(f"{METRICS[name].label}: {written} of {len(image_ids)} images scored now (the rest had a value).")
        if diversity:
            result = automated.study_diversity_compute(study=found, embeddings=embeddings)
            for note in result["notes"]:
                self.stdout.write(note)
            for measure, part in result["measures"].items():
                means = ", ".join(f"{row['model']} {row['mean']}" for row in part["models"])
                self.stdout.write(f"diversity ({measure}): {means}")

from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "ratings"
    verbose_name = "Ratings"

    def ready(self) -> None:
        from generation.signals import job_done

        from .results.automated import study_diversity_after_generation
        from .scheduler import checks  # noqa: F401  registers the scheduler SQL check

        job_done.connect(study_diversity_after_generation, dispatch_uid="ratings.study_diversity_after_generation")

from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "ratings"
    verbose_name = "Ratings"

    def ready(self) -> None:
        from .scheduler import checks  # noqa: F401  registers the scheduler SQL check

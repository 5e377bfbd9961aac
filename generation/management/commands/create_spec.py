import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from generation import specs

USAGE_EXIT = 2


def validation_message(error: ValidationError) -> str:
    """One line per field and message, in plain English."""
    if hasattr(error, "error_dict"):
        return "\n".join(f"  {field}: {message}" for field, messages in error.message_dict.items() for message in messages)
    return "\n".join(f"  {message}" for message in error.messages)


class Command(BaseCommand):
    help = (
        "Create a model spec from a JSON file: {\"name\", \"slug\", \"source\", and the settings: weights, "
        "pipeline_class, scheduler_class, scheduler_config, lora, component_overrides, dtype, variant, steps, "
        "guidance_scale, height, width, timesteps, extra_call_kwargs}. Invalid specs are refused and nothing is saved."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", dest="json_file", type=Path, required=True, help="Path of the JSON file describing the spec.")

    def handle(self, *args, **options):
        path = options["json_file"]
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CommandError(f"No such file: {path}", returncode=USAGE_EXIT)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CommandError(f"{path} is not valid UTF-8 JSON: {error}", returncode=USAGE_EXIT)
        if not isinstance(document, dict):
            raise CommandError(f"{path} must hold one JSON object, not {type(document).__name__}.", returncode=USAGE_EXIT)
        missing = [key for key in ("name", "slug") if key not in document]
        if missing:
            raise CommandError(f"{path} lacks {', '.join(missing)}.", returncode=USAGE_EXIT)
        try:
            spec = specs.model_spec_create(**document)
        except ValidationError as error:
            raise CommandError(f"The spec in {path} is invalid; nothing was saved:\n{validation_message(error)}", returncode=USAGE_EXIT)
        self.stdout.write(f"Created {spec.slug} v{spec.version} (config hash {spec.config_hash[:12]}).")

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from generation.builtin_prompts import BUILTIN_PROMPT_SETS, builtin_prompt_set_import
from generation.management.commands.create_spec import USAGE_EXIT, validation_message
from generation.prompt_imports import FORMATS, prompt_set_import


class Command(BaseCommand):
    help = (
        "Import prompts as a new prompt set: a built-in set (--builtin partiprompts, shipped with the project) or a file "
        "(PartiPrompts TSV, DrawBench CSV, plain text or JSON lines). Prints the rows taken and refused, and the new set's id."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--builtin", choices=sorted(BUILTIN_PROMPT_SETS), help="A prompt set that ships with the project.")
        source.add_argument("--file", type=Path, help="A prompt file to import.")
        parser.add_argument("--name", default="", help="The new set's name (default: the built-in set's name, or the file's name).")
        parser.add_argument("--format", choices=sorted(FORMATS), default="", help="The file's format (default: guessed from its name).")
        parser.add_argument("--strict", action="store_true", help="Save nothing if any row is refused.")

    def handle(self, *args, **options):
        try:
            if options["builtin"]:
                result = builtin_prompt_set_import(key=options["builtin"], name=options["name"], strict=True)
            else:
                path = options["file"]
                try:
                    raw = path.read_bytes()
                except OSError as error:
                    raise CommandError(f"Cannot read {path}: {error.strerror}.", returncode=USAGE_EXIT)
                result = prompt_set_import(
                    name=options["name"] or path.stem, filename=path.name, raw=raw, format=options["format"], strict=options["strict"]
                )
        except ValidationError as error:
            raise CommandError("Nothing was imported:\n" + validation_message(error), returncode=USAGE_EXIT)
        for row in result.refused:
            self.stdout.write(f"  line {row['line']} refused: {row['reason']}")
        self.stdout.write(
            f"Prompt set {result.prompt_set.pk} '{result.prompt_set.name}': {result.taken} prompts taken, "
            f"{len(result.refused)} refused ({result.format})."
        )

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ratings.results import exports, plots
from ratings.results import options as leaderboard_options
from ratings.models import Study


class Command(BaseCommand):
    help = (
        "Export a study's results to a file: the leaderboard (json, csv, md, latex), all votes as an Arena CSV, "
        "or a plot (png, svg, pdf). Every export says how it was made."
    )

    def add_arguments(self, parser):
        parser.add_argument("--study", type=int, required=True, help="Id of the study.")
        parser.add_argument("what", choices=["leaderboard", "votes", *plots.PLOTS], help="What to export.")
        parser.add_argument("--format", dest="fmt", default=None, help="leaderboard: json|csv|md|latex (default json); plots: png|svg|pdf (default svg).")
        parser.add_argument("--method", default="bt", choices=leaderboard_options.METHODS, help="Rating method (default bt).")
        parser.add_argument("--rounds", type=int, default=1000, help="Bootstrap rounds, or orderings for elo (default 1000).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument("--resample", default="comparison", choices=leaderboard_options.RESAMPLE_UNITS,
                            help="Bootstrap unit for every method: comparison (default), prompt or rater.")
        parser.add_argument("--by", default=None, choices=leaderboard_options.BREAKDOWNS, help="Add a leaderboard per prompt category or challenge.")
        parser.add_argument("--include-flagged", action="store_true", help="Count raters flagged in the study.")
        parser.add_argument("--out", type=Path, default=None, help="Output file (default: a descriptive name in the current directory).")

    def handle(self, *args, what, fmt, method, rounds, seed, out, resample, by, include_flagged, **options):
        study = Study.objects.filter(pk=options["study"]).first()
        if study is None:
            raise CommandError(f"There is no study with id {options['study']}.", returncode=2)
        try:
            if what == "leaderboard":
                content, _, filename = exports.leaderboard_export(
                    study=study, method=method, fmt=fmt or "json", rounds=rounds, seed=seed, resample=resample, by=by, include_flagged=include_flagged
                )
            elif what == "votes":
                content, filename = exports.votes_csv(study=study), f"study-{study.pk}-votes.csv"
            else:
                content, _, filename = plots.plot_export(
                    study=study, plot=what, fmt=fmt or "svg", method=method, resample=resample, include_flagged=include_flagged
                )
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from None
        path = out or Path(filename)
        path.write_bytes(content)
        self.stdout.write(f"Wrote {path} ({len(content)} bytes).")

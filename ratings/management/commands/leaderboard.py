"""`python manage.py leaderboard --votes FILE.csv [--method bt|davidson|elo|winrate] [--rounds 1000]
[--seed 0] [--criterion NAME] [--versus SLUG --margin 0.05] [--format json|csv|md|latex]`: a thin wrapper over
`ratings.stats.cli`, which holds all the logic and runs without Django too
(`python -m ratings.stats.cli`). A bad file exits with status 2, its line and column on stderr.
"""

from django.core.management.base import BaseCommand, CommandError

from ratings.stats import cli
from ratings.stats.vote_file import VoteFileError


class Command(BaseCommand):
    help = cli.DESCRIPTION

    def add_arguments(self, parser):
        cli.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            text = cli.run(options, stderr=self.stderr)
        except VoteFileError as error:
            raise CommandError(f"{options['votes']}: {error}", returncode=2) from None
        except cli.UsageError as error:
            raise CommandError(str(error), returncode=2) from None
        self.stdout.write(text, ending="")

"""The `leaderboard` command without Django: `python -m ratings.stats.cli --votes FILE.csv`.

`main(argv, stdout, stderr) -> exit status` is the whole command; the Django management command
`ratings/management/commands/leaderboard.py` shares `add_arguments` and `run`. Nothing here
imports torch, diffusers or Django.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping, TextIO

from .arrays import TIE
from .documents import design_notes, results_document
from .formats import FORMATS, render
from .leaderboard import METHODS
from .versus import UNITS as VERSUS_UNITS
from .versus import versus_document
from .vote_file import VoteFileError, read_vote_file

DESCRIPTION = (
    "Rate models from a vote CSV (columns model_a, model_b, winner = model_a | model_b | tie | "
    "tie (bothbad); optional criterion, prompt_id, rater_id, tstamp, category, counted) and print a "
    "leaderboard."
)
RESAMPLE_CHOICES = ("comparison", "prompt", "rater", "prompt_rater")


class UsageError(ValueError):
    """A bad option value; like a bad file it exits with status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")


def _anchor(text: str) -> tuple[str, float]:
    model, sep, rating = text.rpartition("=")
    try:
        if not sep or not model:
            raise ValueError
        return model, float(rating)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MODEL=RATING, got {text!r}") from None


def _criteria(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected criterion names separated by commas, got {text!r}")
    return names


def _fraction(name: str, low: float, high: float, low_open: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not ((low < value) if low_open else (low <= value)) or not value < high:
            bracket = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"{name} must lie in {bracket}{low:g}, {high:g}), got {text}")
        return value

    return parse


_margin = _fraction("the margin", 0.0, 0.5, low_open=False)
_alpha = _fraction("alpha", 0.0, 0.5, low_open=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, on the plain parser of `main` or on Django's `CommandParser`."""
    parser.add_argument("--votes", required=True, metavar="FILE.csv", help="the vote file")
    parser.add_argument("--method", choices=METHODS, default="bt",
                        help="bt: Bradley-Terry with bootstrap, a tie half a win (default, Chatbot "
                             "Arena's); davidson: Bradley-Terry with Davidson's tie model (ties do not "
                             "make the ratings depend on the design); elo: online Elo over random "
                             "orderings (ADD); winrate: mean win rate with bootstrap")
    parser.add_argument("--rounds", type=int, default=1000,
                        help="bootstrap rounds, or orderings for elo (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--criterion", metavar="NAME", help="rate this criterion only")
    parser.add_argument("--format", choices=FORMATS, default="json", dest="output_format",
                        help="output format (default json)")
    parser.add_argument("--ties", choices=("half", "exclude"), default="half",
                        help="winrate: a tie counts half a win, or is left out (default half)")
    parser.add_argument("--resample", choices=RESAMPLE_CHOICES, default="comparison",
                        help="bootstrap unit, for every method: comparisons (default; intervals about these "
                             "prompts and raters), prompts (needs prompt_id; about prompts like these) or "
                             "raters (needs rater_id; about raters like these) or prompt_rater (needs both; prompts and raters "
                             "resampled together, the pigeonhole bootstrap)")
    parser.add_argument("--by", choices=("category",), dest="by",
                        help="category: also a leaderboard per prompt category (needs a category column; "
                             "JSON key by_category)")
    parser.add_argument("--pairs", action="store_true",
                        help="also the pairwise significance table: win rate with interval, exact binomial p, "
                             "Holm-adjusted p (JSON key pairs)")
    parser.add_argument("--include-uncounted", action="store_true",
                        help="keep rows whose counted column is no (e.g. flagged raters' votes in an export)")
    parser.add_argument("--mean-of", type=_criteria, metavar="NAME,NAME",
                        help='the criteria the combined rating "mean" averages (default: every criterion in '
                             "the file); name a study's pair questions to leave its set questions (variety) out")
    parser.add_argument("--versus", metavar="SLUG",
                        help="also each model against the reference model SLUG: win rate (ties half) with its interval "
                             "and a decision at --margin, per criterion and the mean (JSON key versus; fixed-sample "
                             "intervals: read once, for a vote file whose size was not chosen by looking at it)")
    parser.add_argument("--margin", type=_margin, default=0.05,
                        help="--versus: the non-inferiority and equivalence margin on the win-rate scale (default 0.05: "
                             "non-inferior means a win rate above 0.45 against the reference)")
    parser.add_argument("--alpha", type=_alpha, default=0.05,
                        help="--versus: the error allowed for each decision (default 0.05; each bound one-sided)")
    parser.add_argument("--versus-unit", choices=VERSUS_UNITS, dest="versus_unit",
                        help="--versus: the inference unit: comparison, prompt (needs prompt_id) or prompt_rater "
                             "(needs prompt_id and rater_id; two-way clustering); default: the --resample unit when "
                             "prompt or prompt_rater, else comparison")
    parser.add_argument("--anchor", type=_anchor, metavar="MODEL=RATING",
                        help="bt: pin MODEL at RATING instead of centring the mean at 1000")


def run(options: Mapping[str, Any], stderr: TextIO | None = None) -> str:
    """The rendered leaderboard for parsed options (as `add_arguments` names them).
    Raises VoteFileError for a bad file and UsageError for an impossible request."""
    if options["rounds"] < 1:
        raise UsageError(f"--rounds must be at least 1, got {options['rounds']}")
    resample = options.get("resample") or "comparison"
    by_category = options.get("by") == "category"
    reference = options.get("versus")
    versus_unit = options.get("versus_unit") or {"prompt": "prompt", "prompt_rater": "prompt_rater"}.get(resample, "comparison")
    votes = read_vote_file(
        options["votes"],
        require_prompt=resample in ("prompt", "prompt_rater") or bool(reference and versus_unit != "comparison"),
        require_rater=resample in ("rater", "prompt_rater") or bool(reference and versus_unit == "prompt_rater"),
        require_category=by_category, include_uncounted=bool(options.get("include_uncounted")),
    )
    if options.get("criterion"):
        name = options["criterion"]
        if name not in votes.criterion_names:
            found = ", ".join(votes.criterion_names)
            raise UsageError(f"--criterion {name!r} is not in {options['votes']}; it has: {found}")
        votes = votes.only_criterion(name)
    mean_of = options.get("mean_of")
    missing = [name for name in mean_of or [] if name not in votes.criterion_names]
    if missing and not options.get("criterion"):
        raise UsageError(f"--mean-of names {', '.join(map(repr, missing))}, not in {options['votes']}; it has: {', '.join(votes.criterion_names)}")
    try:
        document = results_document(
            votes,
            options["method"],
            options["rounds"],
            options["seed"],
            anchor=options.get("anchor"),
            ties=options.get("ties") or "half",
            resample=resample,
            pairs=bool(options.get("pairs")),
            by_category=by_category,
            mean_of=mean_of,
        )
    except ValueError as error:  # e.g. an anchor model that is not in the file
        raise UsageError(str(error)) from None
    if reference:
        if reference not in votes.model_names:
            raise UsageError(f"--versus {reference!r} is not a model in {options['votes']}; it has: {', '.join(votes.model_names)}")
        document.update(versus_document(
            votes, reference, unit=versus_unit, margin=options.get("margin", 0.05), alpha=options.get("alpha", 0.05),
            mean_of=mean_of,
        ))
    if stderr is not None:
        for warning in document.pop("warnings"):
            stderr.write(f"warning: {warning}\n")
        for note in design_notes(options["method"], adaptive=False, ties=bool((votes.outcome == TIE).any())):
            stderr.write(f"note: {note}\n")
    else:
        document.pop("warnings")
    return render(document, options["output_format"])


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command; returns the exit status: 0, or 2 for a bad file or bad options (the
    message, naming line and column for a bad file, goes to stderr)."""
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    parser = _Parser(prog="leaderboard", description=DESCRIPTION)
    add_arguments(parser)
    try:
        options = vars(parser.parse_args(argv))
        stdout.write(run(options, stderr))
    except VoteFileError as error:
        stderr.write(f"{options['votes']}: {error}\n")
        return 2
    except UsageError as error:
        stderr.write(f"{error}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

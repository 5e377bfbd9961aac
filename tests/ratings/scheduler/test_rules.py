"""The rule names are written once (``ratings/stats/rules.py``) and are the models' choices; the
scheduler's ``rules`` needs nothing but Python and those names."""

import ast
import sys
from pathlib import Path

from ratings import models
from ratings import versus
from ratings.scheduler import rules
from ratings.stats import forecast, sampling
from ratings.stats import rules as rule_names
from ratings.stats import versus as stats_versus


def test_the_rule_names_are_the_models_choices():
    assert [value for value, _ in models.SAMPLING_CHOICES] == list(rules.Sampling)
    assert [value for value, _ in models.STOP_CHOICES] == list(rules.StopWhen)
    assert [value for value, _ in models.UNIT_CHOICES] == list(rules.Unit)
    assert [value for value, _ in models.DESIGN_CHOICES] == list(rule_names.Design)
    assert rules.Sampling is rule_names.Sampling and rules.StopWhen is rule_names.StopWhen and rules.Unit is rule_names.Unit


def test_the_statistics_and_the_versus_design_read_the_same_names():
    assert forecast.SAMPLING_RULES == ("uniform", "adaptive") and all(type(name) is str for name in forecast.SAMPLING_RULES)
    assert sampling.STOP_RULES == tuple(rule_names.StopWhen) and sampling.UNITS == stats_versus.UNITS == tuple(rule_names.Unit)
    assert versus.DESIGNS == ("all_pairs", "versus_reference")


def _imported(module) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return imported | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_rules_imports_only_the_standard_library_and_the_rule_names():
    """The rule names import nothing but Python, so the models, the pure statistics and the
    scheduler (which may import nothing above the models) can all take them."""
    assert all(name.split(".")[0] in (*sys.stdlib_module_names, "__future__") for name in _imported(rule_names)), _imported(rule_names)
    imported = _imported(rules) - {"ratings.stats.rules"}
    assert imported and all(name.split(".")[0] in (*sys.stdlib_module_names, "__future__") for name in imported), imported


def test_the_slot_cap_and_prompt_spreading_follow_the_rules():
    class Adaptive:
        sampling, unit = rules.Sampling.ADAPTIVE, rules.Unit.PROMPT

    class Uniform:
        sampling, unit = rules.Sampling.UNIFORM, rules.Unit.PROMPT

    assert rules.spreads_prompts(Adaptive) and not rules.spreads_prompts(Uniform)
    assert rules.SLOT_UNCAPPED == 2**31 - 1  # PostgreSQL's largest integer: the SQL compares an integer column with it
    assert rules.SIDES == ("left", "right", "tie")

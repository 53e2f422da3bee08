"""The study commands' shared options (`cli/_common.py`): one definition, added to each command."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.testing import CliRunner

from cardiopredict.cli._common import StudyOptions, with_study_options


def _app(seen: list) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @with_study_options
    def run(
        name: Annotated[str, typer.Option(help="The command's own option.")] = "x",
        *,
        options: StudyOptions,
    ) -> None:
        seen.append((name, options))

    return app


def test_the_shared_options_reach_the_command_as_one_object():
    seen: list = []
    result = CliRunner().invoke(
        _app(seen), ["--name", "y", "--folds", "3", "--learning-rate", "0.002", "--quick", "--fresh"]
    )
    assert result.exit_code == 0, result.output
    name, options = seen[0]
    assert name == "y"
    assert options == StudyOptions(folds=3, learning_rate=0.002, quick=True, fresh=True)
    assert options.profile().name == "quick-lr0.002"


def test_without_flags_the_command_gets_the_training_defaults():
    seen: list = []
    result = CliRunner().invoke(_app(seen), [])
    assert result.exit_code == 0, result.output
    assert seen == [("x", StudyOptions())]
    assert StudyOptions().profile().training.n_folds == StudyOptions().folds


def test_every_study_command_shows_the_same_shared_options():
    from cardiopredict.cli import app

    helps = [
        CliRunner().invoke(app, [study, "run", "--help"]).output for study in ("crt", "cardiomyopathy", "va")
    ]
    for flag in ("--folds", "--learning-rate", "--fresh", "--executor", "--gpus-per-training"):
        assert all(flag in text for text in helps), flag

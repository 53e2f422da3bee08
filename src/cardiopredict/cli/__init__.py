"""The ``cardiopredict`` command line: one Typer app per command group, joined here."""

from __future__ import annotations

import typer

from cardiopredict.cli import cardiomyopathy, cmr, crt, demo, ecg, predict, report, serve, simulate, tune, va

app = typer.Typer(
    name="cardiopredict",
    help="Deep learning on 12-lead ECGs and LGE cardiac MRI (CRT response, VA risk, cardiomyopathy).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(ecg.app, name="ecg")
app.add_typer(simulate.app, name="simulate")
app.add_typer(crt.app, name="crt")
app.add_typer(cardiomyopathy.app, name="cardiomyopathy")
app.add_typer(cmr.app, name="cmr")
app.add_typer(va.app, name="va")
app.command("demo")(demo.demo)
app.command("predict")(predict.predict)
app.command("report")(report.report)
app.command("tune")(tune.tune)
app.command("serve")(serve.serve)


def main() -> None:
    """Console-script entry point."""
    app()

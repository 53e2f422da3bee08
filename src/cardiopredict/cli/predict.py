"""`cardiopredict predict`: score new patients with a trained fold ensemble."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiopredict.cli._common import clean_errors


@clean_errors
def predict(
    model: Annotated[Path, typer.Option(help="Model folder, e.g. runs/crt/models/combined.", exists=True)],
    manifest: Annotated[
        Path, typer.Option(help="Manifest of the new patients.", exists=True, dir_okay=False)
    ],
    out: Annotated[Path, typer.Option(help="CSV of scores to write.")],
) -> None:
    """Score every patient of MANIFEST; unusable ECGs are listed as excluded with the reason."""
    from cardiopredict.studies.predict import predict_manifest

    result = predict_manifest(model, manifest, out)
    excluded = int((result["status"] == "excluded").sum())
    typer.echo(f"scored {len(result) - excluded} patient(s), excluded {excluded}; wrote {out}")

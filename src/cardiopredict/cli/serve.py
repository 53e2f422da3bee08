"""`cardiopredict serve`: the HTTP API and the clinician's page over trained fold ensembles."""

from __future__ import annotations

from typing import Annotated

import typer

from cardiopredict.cli._common import clean_errors


@clean_errors
def serve(
    model: Annotated[
        list[str],
        typer.Option(help="Model folder <run>/models/<model>, or NAME=DIR; repeat for several models."),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on; beyond loopback it needs a token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="CARDIOPREDICT_TOKEN",
            help="Access token every API call must send (prefer the environment variable: a command "
            "line is visible to other users).",
            show_default=False,
        ),
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload (request body), MB.")] = 20.0,
    processes: Annotated[
        int | None,
        typer.Option(
            help="Worker processes that score and draw (default: one per core, at most 4; 0: threads of "
            "the server process). Each holds torch and the models (~0.5 GB).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve MODEL(s) at http://HOST:PORT/ (page), /api/v1 (API) and /docs (OpenAPI). Research use only."""
    from cardiopredict.serve import check_bind, run_server

    check_bind(host, token)
    typer.echo(f"cardiopredict serve: http://{host}:{port}/  (API docs at /docs; research use only)")
    run_server(
        model,
        host=host,
        port=port,
        token=token,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        processes=processes,
    )

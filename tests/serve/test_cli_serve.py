"""`cardiopredict serve` as a Typer command: host refusal, options passed through, clean errors."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from cardiopredict.cli.serve import serve


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(serve)
    return app


def test_exposed_host_without_token_exits_cleanly(app, monkeypatch, tmp_path):
    monkeypatch.delenv("CARDIOPREDICT_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["--model", str(tmp_path), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "ConfigError" in result.output and "CARDIOPREDICT_TOKEN" in result.output
    assert "Traceback" not in result.output


def test_options_and_token_from_the_environment_reach_the_server(app, monkeypatch, tmp_path):
    import cardiopredict.serve

    calls = []
    monkeypatch.setattr(cardiopredict.serve, "run_server", lambda models, **kw: calls.append((models, kw)))
    monkeypatch.setenv("CARDIOPREDICT_TOKEN", "from-the-environment")
    args = ["--model", str(tmp_path), "--model", f"b={tmp_path}", "--host", "0.0.0.0", "--port", "8123"]
    result = CliRunner().invoke(app, [*args, "--max-upload-mb", "5", "--processes", "2"])
    assert result.exit_code == 0, result.output
    models, options = calls[0]
    assert models == [str(tmp_path), f"b={tmp_path}"]
    assert options == {
        "host": "0.0.0.0",
        "port": 8123,
        "token": "from-the-environment",
        "max_upload_bytes": 5 * 2**20,
        "processes": 2,
    }


def test_no_loadable_model_is_a_clean_error(app, tmp_path):
    result = CliRunner().invoke(app, ["--model", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "no model could be loaded" in result.output and "model.json not found" in result.output

"""report.write_report on hand-made run directories (no training)."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from cardiopredict.errors import InputError
from cardiopredict.report import write_report

SECRET_NAME = "Jane Q. Doe"  # a column no report may ever show


def _provenance():
    return {
        "versions": {"cardiopredict": "0.1.0", "numpy": "2.0"},
        "git_commit": "abc123def",
        "python": "3.11",
    }


def _write_png(path):
    from cardiopredict.plots.waveforms import new_figure, save_figure

    figure = new_figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1], [0, 1])
    return save_figure(figure, path, dpi=20)


def _crt_dir(path, *, synthetic=True, early_stopping="inner", profile="quick"):
    from cardiopredict.evaluation.run import evaluate_predictions

    rng = np.random.default_rng(0)
    n = 60
    y = np.repeat([0, 1], n // 2)
    pids = [f"P{i:03d}" for i in range(n)]
    predictions = pd.DataFrame(
        {"patient_id": pids, "task": "response", "fold": np.arange(n) % 3, "y_true": y}
    )
    for name, strength in (("pre", 1.0), ("post", 0.5), ("combined", 1.5)):
        predictions[f"score_{name}"] = 1 / (1 + np.exp(-(rng.normal(size=n) + strength * (2 * y - 1))))
    predictions["score_qrs150_lbbb"] = (rng.uniform(size=n) < 0.3 + 0.3 * y).astype(float)
    predictions["score_clinical_logistic"] = 1 / (1 + np.exp(-(rng.normal(size=n) + 0.7 * (2 * y - 1))))
    predictions["score_fpca_logistic"] = rng.uniform(size=n)
    predictions["score_oracle"] = y * 0.6 + 0.2
    evaluation = {
        "layout": "single",
        "n_boot": 100,
        "seed": 0,
        "tasks": {
            "response": {
                "classes": ["0", "1"],
                "models": ["pre", "post", "combined"],
                "baselines": ["qrs150_lbbb", "clinical_logistic", "fpca_logistic"],
                "rules": ["qrs150_lbbb"],
                "references": ["qrs150_lbbb", "clinical_logistic"],
                "oracles": {"oracle_auc": "oracle"},
            }
        },
    }
    metrics = evaluate_predictions(predictions, evaluation)
    metrics.update(
        {
            "profile": profile,
            "early_stopping": early_stopping,
            "n_patients": n,
            "n_excluded": 2,
            "synthetic": synthetic,
            "runtime_s": 12.5,
            "baseline_inputs": {"qrs150_lbbb": "manifest covariates (qrs_duration_ms, lbbb)"},
        }
    )
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps(metrics, allow_nan=False))
    (path / "config.json").write_text(
        json.dumps(
            {
                "study": "crt",
                "synthetic": synthetic,
                "profile": profile,
                "inputs": ["pre", "post", "combined"],
                "training": {"n_folds": 3, "seed": 0},
                "evaluation": evaluation,
                "provenance": _provenance(),
            }
        )
    )
    predictions.assign(name=SECRET_NAME).to_csv(path / "predictions.csv", index=False)
    cohort = pd.DataFrame(
        {
            "patient_id": [*pids, "P998", "P999"],
            "included": [True] * n + [False] * 2,
            "reason": [""] * n + ["ecg_pre: unreadable"] * 2,
            "name": SECRET_NAME,
        }
    )
    cohort.to_csv(path / "cohort.csv", index=False)
    _write_png(path / "figures" / "roc.png")
    _write_png(path / "figures" / "curves_combined.png")
    _write_png(path / "figures" / "waveforms_pre_pre" / "pre_pre_I.png")
    return path, metrics, pids


def _cm_dir(path):
    from cardiopredict.evaluation.run import evaluate_predictions

    rng = np.random.default_rng(1)
    frames = []
    for task in ("gen-vs-myo", "gen-vs-sarc"):
        n = 40
        y = np.repeat([0, 1], n // 2)
        frame = pd.DataFrame(
            {
                "patient_id": [f"{task[:7]}-{i}" for i in range(n)],
                "task": task,
                "fold": np.arange(n) % 2,
                "y_true": y,
            }
        )
        for name in ("qrs", "rr", "clinical_logistic"):
            frame[f"score_{name}"] = 1 / (1 + np.exp(-(rng.normal(size=n) + (2 * y - 1))))
        frames.append(frame)
    y3 = np.repeat([0, 1, 2], 10)
    three = pd.DataFrame(
        {
            "patient_id": [f"T{i}" for i in range(30)],
            "task": "3class",
            "fold": np.arange(30) % 2,
            "y_true": y3,
        }
    )
    for name in ("qrs", "rr", "clinical_logistic"):
        logits = rng.normal(size=(30, 3)) + 3 * np.eye(3)[y3]
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        for k, cls in enumerate(("GEN", "MYO", "SARC")):
            three[f"score_{name}_{cls}"] = proba[:, k]
    binary = {"classes": ["GEN", "X"], "models": ["qrs", "rr"], "baselines": ["clinical_logistic"]}
    binary["references"] = ["clinical_logistic"]
    evaluation = {
        "layout": "per_task",
        "n_boot": 100,
        "seed": 0,
        "tasks": {
            "gen-vs-myo": binary,
            "gen-vs-sarc": binary,
            "3class": {**binary, "classes": ["GEN", "MYO", "SARC"]},
        },
    }
    metrics = evaluate_predictions(pd.concat([*frames, three], ignore_index=True), evaluation)
    metrics.update(
        {
            "profile": "demo",
            "early_stopping": "inner",
            "n_patients": 70,
            "n_excluded": 0,
            "class_counts": {"GEN": 30, "MYO": 20, "SARC": 20},
            "synthetic": True,
        }
    )
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps(metrics, allow_nan=False))
    (path / "config.json").write_text(
        json.dumps(
            {"study": "cardiomyopathy", "synthetic": True, "profile": "demo", "provenance": _provenance()}
        )
    )
    return path, metrics


def _text(html):
    """The report without embedded images (base64 could contain any short string by chance)."""
    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', html)


def test_crt_report_tables_banner_and_figures(tmp_path):
    run, metrics, _ = _crt_dir(tmp_path / "run")
    out = write_report(run)
    assert out == run / "report.html"
    html = out.read_text()
    text = _text(html)
    assert "SYNTHETIC DATA — not clinical evidence" in text
    block = metrics["models"]["combined"]
    lo, hi = block["auc_ci95"]
    assert f"{block['auc_pooled']:.3f} [{lo:.3f}, {hi:.3f}]" in text
    assert f"{block['auc_mean']:.3f} ± {block['auc_sd']:.3f}" in text
    for name in ("pre", "post", "combined", "qrs150_lbbb", "clinical_logistic", "fpca_logistic"):
        assert f">{name}" in text
    assert "DeLong p vs qrs150_lbbb" in text and "DeLong p vs clinical_logistic" in text
    p = metrics["delong"]["combined_vs_qrs150_lbbb"]
    assert ("&lt; 0.001" if p < 0.001 else f"{p:.3f}") in text
    # a baseline vs the rule comes from metrics.json like every other number (the report computes nothing)
    p = metrics["delong"]["clinical_logistic_vs_qrs150_lbbb"]
    assert ("&lt; 0.001" if p < 0.001 else f"{p:.3f}") in text and "computed here" not in text
    assert f"<b>{metrics['oracle_auc']:.3f}</b>" in text
    assert "profile: quick" in text and "early stopping: inner" in text and "Optimistic estimate" not in text
    assert "excluded: <b>2</b>" in text and 'href="cohort.csv"' in text
    assert "abc123def" in text
    assert html.count('src="data:image/png;base64,') == 3
    assert "pre_pre_I" in text


def test_report_shows_no_patient_information(tmp_path):
    run, _, pids = _crt_dir(tmp_path / "run")
    text = _text(write_report(run).read_text())
    assert SECRET_NAME not in text
    assert not any(pid in text for pid in [*pids, "P998", "P999"])  # tables are aggregates only


def test_real_data_run_has_no_banner_and_outer_stopping_is_flagged(tmp_path):
    run, _, _ = _crt_dir(
        tmp_path / "run",
        synthetic=False,
        early_stopping="outer (optimistic: stops on the test fold)",
        profile="paper",
    )
    text = _text(write_report(run).read_text())
    assert "SYNTHETIC" not in text.upper()
    assert "Optimistic estimate" in text and "is not the paper" not in text


def test_parent_directory_with_both_studies(tmp_path):
    _crt_dir(tmp_path / "crt")
    _, metrics = _cm_dir(tmp_path / "cardiomyopathy")
    out = write_report(tmp_path)
    text = _text(out.read_text())
    assert out == tmp_path / "report.html"
    assert 'id="crt"' in text and 'id="cardiomyopathy"' in text
    assert text.index('id="crt"') < text.index('id="cardiomyopathy"')  # the paper's order
    assert "Table 1" in text and "Table 3" in text
    block = metrics["table3"]["gen-vs-sarc"]["rr"]
    assert f"{block['auc_pooled']:.3f} [{block['auc_ci95'][0]:.3f}, {block['auc_ci95'][1]:.3f}]" in text
    multiclass = metrics["multiclass"]["qrs"]
    assert f"Macro AUC <b>{multiclass['macro_auc']:.3f}</b>" in text
    first_row = "".join(f"<td>{n}</td>" for n in multiclass["confusion_matrix"][0])
    assert f'<td class="name">GEN</td>{first_row}' in text
    assert 'href="crt/cohort.csv"' in text and "GEN 30, MYO 20, SARC 20" in text
    assert text.count("SYNTHETIC DATA — not clinical evidence") == 1


def test_values_are_html_escaped(tmp_path):
    run, _, _ = _crt_dir(tmp_path / "run", profile="<script>alert(1)</script>")
    html = write_report(run).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_linked_figures_and_bad_directories(tmp_path):
    run, _, _ = _crt_dir(tmp_path / "run")
    html = write_report(run, embed_figures=False).read_text()
    assert 'src="figures/roc.png"' in html and "base64" not in html
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="neither a study run directory"):
        write_report(tmp_path / "empty")
    (run / "metrics.json").unlink()
    with pytest.raises(InputError, match=r"metrics\.json is missing"):
        write_report(run)

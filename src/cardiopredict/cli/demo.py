"""`cardiopredict demo`: the main job on the embedded default — synthetic cohorts, every study, a report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cardiopredict.cli._common import clean_errors
from cardiopredict.config import StudyProfile


@clean_errors
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the cohorts, the runs and report.html.")] = Path(
        "runs/demo"
    ),
    seed: Annotated[int, typer.Option(help="Seed for cohorts and training.")] = 0,
    quick: Annotated[bool, typer.Option(help="Tiny cohorts and the quick profile (a smoke test).")] = False,
    va_protocol: Annotated[
        str, typer.Option(help="Protocol of the VA study: quick (default in the demo) or paper.")
    ] = "quick",
) -> None:
    """Simulate the default SYNTHETIC cohorts, run all three studies, write one report."""
    from cardiopredict.report import write_report

    if va_protocol not in ("quick", "paper"):
        raise typer.BadParameter(f"--va-protocol {va_protocol!r}: choose quick or paper.")

    started = time.perf_counter()
    profile = StudyProfile.quick(seed=seed) if quick else StudyProfile.demo(seed=seed)
    n_crt, n_cm, n_va = (40, 60, 40) if quick else (196, 500, 235)
    typer.echo("cardiopredict demo — every number below comes from SYNTHETIC cohorts, not patients.")
    typer.echo(
        f"protocol: {profile.name!r} ({profile.training.n_folds} folds, <= {profile.training.max_epochs} "
        f"epochs, patience {profile.training.patience}, early stopping on an inner split)"
    )
    cohorts = out / "cohorts"
    crt_manifest, cm_manifest = _simulate_ecg_cohorts(cohorts, n_crt=n_crt, n_cm=n_cm, seed=seed)
    _crt_study(crt_manifest, out, profile)
    _cardiomyopathy_study(cm_manifest, out, profile)
    _va_study(cohorts, out, n=n_va, seed=seed, va_protocol=va_protocol)

    report = write_report(out, embed_figures=False)  # the study reports embed theirs; this one links
    typer.echo(f"done in {time.perf_counter() - started:.0f} s — report: {report.resolve()}")


def _simulate_ecg_cohorts(cohorts: Path, *, n_crt: int, n_cm: int, seed: int) -> tuple[Path, Path]:
    """Steps 1-2: the CRT and cardiomyopathy cohorts; their manifests."""
    from cardiopredict.cohort.synthetic import simulate_cardiomyopathy_cohort, simulate_crt_cohort

    typer.echo(f"[1/6] simulating the CRT cohort (n={n_crt}) in the clinical Excel export format ...")
    crt_manifest = simulate_crt_cohort(cohorts / "crt", n=n_crt, seed=seed, overwrite=True)
    typer.echo(f"[2/6] simulating the cardiomyopathy cohort (n={n_cm}) ...")
    cm_manifest = simulate_cardiomyopathy_cohort(
        cohorts / "cardiomyopathy", n=n_cm, seed=seed, overwrite=True
    )
    return crt_manifest, cm_manifest


def _crt_study(manifest: Path, out: Path, profile: StudyProfile) -> None:
    """Step 3: the CRT study and its pooled AUCs."""
    from cardiopredict.studies.crt import run_crt_study

    typer.echo("[3/6] CRT study: pre, post, combined + guideline rule, clinical logistic, FPCA ...")
    crt = run_crt_study(manifest, out / "crt", profile=profile, cache_dir=out / "cache", progress=True)
    _echo_pooled_aucs(crt)


def _cardiomyopathy_study(manifest: Path, out: Path, profile: StudyProfile) -> None:
    """Step 4: the cardiomyopathy study and its AUCs per task and input."""
    from cardiopredict.studies.cardiomyopathy import run_cardiomyopathy_study

    typer.echo("[4/6] cardiomyopathy study: GEN/MYO/SARC on QRS and RR-extended windows ...")
    tasks = ("gen-vs-myo", "gen-vs-sarc", "myo-vs-sarc", "3class")
    cm = run_cardiomyopathy_study(
        manifest,
        out / "cardiomyopathy",
        tasks=tasks,
        profile=profile,
        cache_dir=out / "cache",
        progress=True,
    )
    for task, by_input in cm["table3"].items():
        aucs = ", ".join(f"{name} {block['auc_pooled']:.3f}" for name, block in by_input.items())
        for key, label in (("oracle_ecg_auc", "ECG oracle"), ("oracle_auc", "oracle")):
            if cm.get(key, {}).get(task) is not None:
                aucs += f", {label} {cm[key][task]:.3f}"
        typer.echo(f"    {task:>18}: {aucs}")


def _va_study(cohorts: Path, out: Path, *, n: int, seed: int, va_protocol: str) -> None:
    """Steps 5-6: the ventricular-arrhythmia LGE cohort, its study and pooled AUCs."""
    from cardiopredict.cohort.va import simulate_va_cohort
    from cardiopredict.studies.va import run_va_study

    typer.echo(f"[5/6] simulating the ventricular-arrhythmia LGE cohort (n={n}, DICOM + contours) ...")
    va_manifest = simulate_va_cohort(cohorts / "va", n=n, seed=seed, overwrite=True)
    va_profile = StudyProfile.paper(seed=seed) if va_protocol == "paper" else StudyProfile.quick(seed=seed)
    typer.echo(
        f"[6/6] VA study ({va_profile.name} protocol): slice CNN vs LVEF <= 35 %, scar features, Cox ..."
    )
    va = run_va_study(va_manifest, out / "va", profile=va_profile, cache_dir=out / "cache", progress=True)
    _echo_pooled_aucs(va)


def _echo_pooled_aucs(metrics: dict[str, Any]) -> None:
    """One line per model and baseline (pooled AUC), then the oracle's AUC when the cohort has one."""
    for name, block in {**metrics["models"], **metrics["baselines"]}.items():
        typer.echo(f"    {name:>18}: pooled AUC {block['auc_pooled']:.3f}")
    if metrics.get("oracle_auc") is not None:
        typer.echo(f"    {'oracle':>18}: AUC {metrics['oracle_auc']:.3f} (best possible on this cohort)")

"""Executors (local, Ray) and fold-level cross-validation: same files bit for bit, retries, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from cardiopredict.config import StudyProfile, TrainingConfig
from cardiopredict.errors import CardioPredictError, ConfigError
from cardiopredict.training.executors import LocalExecutor, make_executor, pinned_threads
from cardiopredict.training.fold_jobs import CVRequest, cross_validate_all
from cardiopredict.training.resume import cross_validate

SMALL = {"input_key": "ecg", "n_samples": 250, "channels": (4, 8, 16), "hidden_size": 16}
CONFIG = TrainingConfig(n_folds=3, max_epochs=3, patience=2, learning_rate=1e-3, batch_size=8)


def _cohort(n: int = 36, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    rng.shuffle(y)
    x = rng.normal(0.0, 1.0, size=(n, 12, 250)).astype(np.float32)
    x[y == 1, :, 60:100] += 0.5
    return x, y, [f"P{i:03d}" for i in range(n)], np.arange(n) % 3


def _request(x, y, pids, folds, key: str = "m", **changes) -> CVRequest:
    base = {"model": "ecgnet", "model_kwargs": SMALL, "training": CONFIG, "model_json_extra": {"study": "t"}}
    return CVRequest(key, {"ecg": "x"}, np.arange(len(y)), y, folds, pids, **{**base, **changes})


def _files(run: Path, key: str) -> dict[str, bytes]:
    paths = [
        run / "curves" / f"{key}.csv",
        run / "cv" / f"{key}.npz",
        *sorted((run / "models" / key).glob("*")),
    ]
    return {str(path.relative_to(run)): path.read_bytes() for path in paths}


def test_fold_jobs_write_the_files_of_cross_validate_bit_for_bit(tmp_path) -> None:
    x, y, pids, folds = _cohort()
    with pinned_threads(1):
        cross_validate(
            tmp_path / "a", "m", {"ecg": x}, y, folds, patient_ids=pids, model="ecgnet", model_kwargs=SMALL,
            training=CONFIG, model_json_extra={"study": "t"},
        )  # fmt: skip
        batch = cross_validate_all(tmp_path / "b", [_request(x, y, pids, folds)], {"x": x})
    reference, now = _files(tmp_path / "a", "m"), _files(tmp_path / "b", "m")
    assert sorted(reference) == sorted(now) and len(now) == 6  # curves, npz, 3 folds, model.json
    assert reference == now
    assert sorted(batch.fold_times_s) == ["m fold 0", "m fold 1", "m fold 2"]
    again = cross_validate_all(tmp_path / "a", [_request(x, y, pids, folds)], {"x": x})  # resume across
    assert again.trained[0].reused and again.fold_times_s == {}


def test_a_failing_training_is_retried_once_then_reported_while_others_finish(tmp_path) -> None:
    calls = []

    def flaky(shared, item):
        calls.append(item)
        if item == "bad" or (item == "once" and calls.count("once") == 1):
            raise ValueError(f"broken {item}")
        return shared + item

    outcomes = LocalExecutor().map(flaky, "x-", ["a", "bad", "once"], labels=["A", "B", "C"])
    assert [o.value for o in outcomes] == ["x-a", None, "x-once"]
    assert outcomes[1].label == "B" and outcomes[1].error == "ValueError: broken bad"
    assert calls.count("bad") == 2 and calls.count("once") == 2


def test_a_failed_fold_names_its_key_and_fold_and_the_other_models_are_saved(tmp_path) -> None:
    x, y, pids, folds = _cohort()
    good = _request(x, y, pids, folds, key="good")
    bad = _request(x, y, pids, folds, key="bad", model_kwargs={**SMALL, "n_samples": 99})
    with pinned_threads(1), pytest.raises(CardioPredictError, match=r"(?s)3 of 6 .*bad fold 0: InputError"):
        cross_validate_all(tmp_path, [good, bad], {"x": x})
    assert (tmp_path / "cv" / "good.npz").is_file() and not (tmp_path / "cv" / "bad.npz").exists()
    assert not (tmp_path / "models" / "bad" / "model.json").exists()


def test_executor_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="choose 'local' or 'ray'"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="add --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(ConfigError, match="at least 1 thread"):
        LocalExecutor(threads=0)


def test_pinned_threads_restores_the_setting() -> None:
    before = torch.get_num_threads()
    with pinned_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# --- Ray ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_executor():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'cardiopredict[ray]'")
    from ray._private import ray_constants

    from cardiopredict.training.executors import RayExecutor

    if ray.is_initialized():
        pytest.skip("a Ray session is already running in this process; these tests start their own")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # bind to 127.0.0.1 only (workers inherit it)
    ray_constants.ENABLE_RAY_CLUSTER = False
    executor = RayExecutor(cpus_per_training=1, num_cpus=2, init_kwargs={"num_gpus": 0})
    yield executor
    executor.shutdown()


@pytest.mark.slow
def test_crt_study_on_ray_gives_the_local_files_bit_for_bit_and_resumes(ray_executor, tmp_path) -> None:
    from cardiopredict.cohort.synthetic import simulate_crt_cohort
    from cardiopredict.studies.crt import crt_spec
    from cardiopredict.studies.engine import run_study

    cohort = simulate_crt_cohort(tmp_path / "cohort", n=30, seed=3, format="csv")
    profile = StudyProfile.quick(seed=1)
    spec = crt_spec(cache_dir=tmp_path / "cache")
    local, remote = tmp_path / "local", tmp_path / "ray"
    run_study(spec, cohort, local, profile=profile, figures=False, executor=LocalExecutor(threads=1))
    run_study(spec, cohort, remote, profile=profile, figures=False, executor=ray_executor)
    for key in ("pre", "post", "combined"):
        assert _files(local, key) == _files(remote, key), key
    assert (local / "predictions.csv").read_bytes() == (remote / "predictions.csv").read_bytes()
    config = json.loads((remote / "config.json").read_text())
    assert config["run"]["executor"]["executor"] == "ray" and len(config["run"]["training_times_s"]) == 6
    run_study(spec, cohort, local, profile=profile, figures=False, executor=ray_executor)  # resume on Ray
    config = json.loads((local / "config.json").read_text())
    assert config["run"]["reused_trainings"] == ["pre", "post", "combined"]


@pytest.mark.slow  # after the study test: its workers are warm
def test_ray_runs_on_loopback_and_retries_then_reports(ray_executor, tmp_path) -> None:
    import ray

    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    items = [(name, str(tmp_path / name)) for name in ("a", "b", "c")]
    outcomes = ray_executor.map(_fail_on_b, {"p": "x-"}, items, labels=["A", "B", "C"])
    assert [o.value for o in outcomes] == ["x-a", None, "x-c"]
    assert outcomes[1].label == "B" and "ValueError: broken b" in outcomes[1].error
    assert (tmp_path / "b").read_text() == "run\nrun\n"  # tried, then retried once
    assert (tmp_path / "a").read_text() == "run\n"


def _fail_on_b(shared, item):
    name, attempts = item
    with open(attempts, "a") as log:
        log.write("run\n")
    if name == "b":
        raise ValueError(f"broken {name}")
    return shared["p"] + name

"""The service's figures (Pillow grid and saliency), the result store, and scoring in worker processes."""

from __future__ import annotations

import asyncio
import io
import os
import signal

import numpy as np
import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.xdist_group("serve")

PREDICT = "/api/v1/models/crt-combined/predict"


def _image(png: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(png))


def test_grid_is_one_page_with_every_lead_and_survives_missing_samples(ecg_pair):
    from cardiopredict.ecg import delineate
    from cardiopredict.ecg.io import read_ecg
    from cardiopredict.plots.ecg_grid import ecg_grid_png

    record = read_ecg(ecg_pair[0])
    delineation = delineate(record)
    image = _image(ecg_grid_png(record, delineation, dpi=80))
    assert image.size == (round(max(8.0, 1.6 * min(record.duration_s, 10.0)) * 80), round(1.1 * 12 * 80))
    pixels = np.asarray(image)
    assert (pixels == 5).sum() > 12 * 500  # black trace pixels: every lead is drawn
    assert (pixels == 3).any()  # valid QRS complexes shaded green
    gapped = record.signal.copy()
    gapped[:, 1000:1500] = np.nan
    gapped_png = ecg_grid_png(record.replace(signal=gapped), None, dpi=80)
    assert _image(gapped_png).size == image.size


def test_saliency_png_draws_every_window_and_needs_matching_shapes():
    from cardiopredict.errors import InputError
    from cardiopredict.plots.saliency import window_saliency_png

    rng = np.random.default_rng(0)
    waves = {"pre": rng.normal(size=(12, 250)), "post": rng.normal(size=(12, 250))}
    scores = {key: rng.normal(size=(12, 250)) for key in waves}
    image = _image(window_saliency_png(waves, scores, title="test", dpi=80))
    pixels = np.asarray(image)
    assert (pixels >= 8).sum() > 2 * 12 * 200  # coloured trace pixels in every panel
    with pytest.raises(InputError, match="shape"):
        window_saliency_png(waves, {"pre": scores["pre"], "post": scores["post"][:, :10]}, title="x")


def test_saliency_is_complete_and_the_fused_copy_computes_the_same_network(served, ecg_pair):
    """Integrated gradients add up to P(input) - P(baseline) (completeness) within the error of the
    8-node quadrature, and the copy the saliency runs through (batch norm folded into the convolutions,
    channels-last) gives the attributions of the plain ensemble; the scores' ensemble is untouched."""
    import torch

    from cardiopredict.plots import integrated_gradients
    from cardiopredict.serve import score
    from cardiopredict.serve._figures import attributions_of, gradient_ensemble

    model = served["crt-combined"]
    inputs = score(model, {"pre": ecg_pair[0], "post": ecg_pair[1]}).inputs
    attributions = attributions_of(model, inputs)
    baseline = {key: np.zeros_like(v) if v.ndim == 3 else v for key, v in inputs.items()}
    change = float(model.ensemble.predict(inputs)[0] - model.ensemble.predict(baseline)[0])
    total = sum(float(a.sum()) for a in attributions.values())
    assert abs(total - change) <= 1e-3 + 0.05 * abs(change)

    tensors = {key: torch.as_tensor(v) for key, v in inputs.items()}
    with torch.no_grad():
        fused = gradient_ensemble(model).probabilities(tensors)
        plain_probability = model.ensemble.probabilities(tensors)
    assert torch.allclose(fused, plain_probability, atol=1e-6)
    reference = integrated_gradients(
        model.ensemble.probabilities,
        tensors,
        {key: torch.as_tensor(v) for key, v in baseline.items()},
        n_steps=8,
    )
    scale = max(float(r.abs().max()) for r in reference.values())
    for key, value in reference.items():
        assert np.abs(attributions[key] - value.numpy()).max() <= 5e-3 * scale  # 8 vs 64 nodes: ~9 %
    modules = list(model.ensemble.models[0].modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in modules)  # scores: the network as trained
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in gradient_ensemble(model).models[0].modules())


def test_one_figure_is_drawn_once_for_concurrent_requests():
    from cardiopredict.serve._answer import Scored
    from cardiopredict.serve._figures import ResultStore

    calls = []

    async def draw(model_name, job):
        calls.append(job[0])
        await asyncio.sleep(0.05)
        return b"png"

    async def main():
        store = ResultStore(max_results=2)
        result_id, names = store.add("m", Scored(answer={}, ecgs={"pre": None}))
        assert names == ["ecg_pre", "saliency"]
        both = await asyncio.gather(
            store.png(result_id, "saliency", draw), store.png(result_id, "saliency", draw)
        )
        assert both == [b"png", b"png"] and calls == ["ecg_saliency"]
        assert await store.png(result_id, "saliency", draw) == b"png" and len(calls) == 1
        assert await store.png(result_id, "nope", draw) is None
        assert await store.png("unknown", "saliency", draw) is None

    asyncio.run(main())


@pytest.fixture(scope="module")
def process_client(served, upload_root):
    from cardiopredict.serve import create_app

    with TestClient(create_app(served, upload_dir=upload_root, processes=1)) as test_client:
        yield test_client


def test_worker_processes_answer_as_threads_do(process_client, client, crt_files):
    in_threads = client.post(PREDICT, files=crt_files).json()
    response = process_client.post(PREDICT, files=crt_files)
    assert response.status_code == 200, response.text
    answer = response.json()
    for key in ("probability", "fold_probabilities"):
        assert answer["prediction"][key] == pytest.approx(in_threads["prediction"][key], abs=1e-6)
    assert answer["rule"] == in_threads["rule"] and answer["warnings"] == in_threads["warnings"]
    for url in answer["figures"].values():
        figure = process_client.get(url)
        assert figure.status_code == 200 and figure.content[:4] == b"\x89PNG"
    bad = process_client.post(PREDICT, files={"pre": ("a.csv", b"garbage"), "post": crt_files["post"]})
    assert bad.status_code == 422 and bad.json()["error"] == "ECGFormatError"
    assert "<pre file>" in bad.json()["message"]
    broken = process_client.post("/api/v1/models/broken/predict", files=crt_files)
    assert broken.status_code == 409 and broken.json()["error"] == "ModelFileError"


def test_a_dead_worker_gives_503_and_the_workers_restart(process_client, crt_files):
    pool = process_client.app.state.compute._pool
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    response = process_client.post(PREDICT, files=crt_files)
    assert response.status_code == 503 and response.json()["error"] == "ServiceUnavailable"
    again = process_client.post(PREDICT, files=crt_files)
    assert again.status_code == 200, again.text


def test_grid_marks_every_pacing_stimulus_with_a_dotted_line():
    from cardiopredict.ecg import delineate
    from cardiopredict.ecg.simulate import simulate_ecg
    from cardiopredict.plots.ecg_grid import INK, ecg_grid_png

    record = simulate_ecg("biv_paced", seed=0)
    delineation = delineate(record)
    spikes = delineation.pacing_spikes
    assert spikes is not None and len(spikes) >= 5
    pixels = np.asarray(_image(ecg_grid_png(record, delineation, dpi=80)))
    columns = np.flatnonzero((pixels == INK["pacing"]).sum(axis=0) > 50)  # dashes down the page
    runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    shown = spikes[spikes < min(record.n_samples, 10 * record.fs)]
    assert len(runs) == len(shown)
    rows = np.flatnonzero(pixels[:, columns[0]] == INK["pacing"])
    dashes = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    assert len(dashes) >= 20 and max(len(d) for d in dashes) <= 4  # dotted: dashes of 4 pixels

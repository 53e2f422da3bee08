"""12-lead ECG grid with the delineated QRS complexes marked, for a person to check the delineation.

Drawn straight onto a Pillow raster (a few lines and rectangles per lead, no axes or tick machinery):
about 10 ms for a 10-s page where the matplotlib version took more than a second, which matters
when the scoring service draws one per uploaded ECG. :func:`ecg_grid_png` returns the PNG bytes;
:func:`plot_ecg_grid` writes them to a file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict._io import atomic_write_bytes
from cardiopredict.ecg.delineation import QRSDelineation
from cardiopredict.ecg.filters import remove_baseline
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import ConfigError

__all__ = ["ecg_grid_png", "plot_ecg_grid"]

_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
MAX_SECONDS = 10.0
"""Longest stretch drawn: a 0.2 s grid stays readable at ~1.6 inch per second (a 10-s page is 16 in)."""
GRID_S, GRID_MV = 0.2, 0.5
"""Grid spacing: 0.2 s (a large box of ECG paper) by 0.5 mV."""

# Palette of the PNG (index: RGB); shaded spans are the colours over white at 18 % opacity.
_COLOURS = {
    "white": (255, 255, 255),
    "grid": (246, 196, 196),
    "grid_major": (232, 150, 150),
    "valid": (217, 238, 217),
    "flagged": (248, 216, 216),
    "trace": (0, 0, 0),
    "pacing": (31, 119, 180),
    "text": (40, 40, 40),
}
INK = {name: k for k, name in enumerate(_COLOURS)}
"""Palette index of each colour of :data:`_COLOURS` (the first 8 entries of every palette here)."""


def ecg_grid_png(
    record: ECGRecord,
    delineation: QRSDelineation | None,
    *,
    title: str | None = None,
    start_s: float = 0.0,
    max_seconds: float = MAX_SECONDS,
    dpi: int = 110,
) -> bytes:
    """The figure of :func:`plot_ecg_grid` as PNG bytes (same parameters, without ``out``)."""
    if dpi < 30 or max_seconds <= 0:
        raise ConfigError(f"dpi={dpi}, max_seconds={max_seconds}: give dpi >= 30 and max_seconds > 0.")
    first = int(np.clip(round(start_s * record.fs), 0, max(record.n_samples - 1, 0)))
    last = min(record.n_samples, first + max(1, round(max_seconds * record.fs)))
    signal = remove_baseline(record.signal, record.fs)[:, first:last]
    shown_s = (last - first) / record.fs
    order = [lead for column in zip(*_LAYOUT, strict=True) for lead in column if lead in record.leads]
    order += [lead for lead in record.leads if lead not in order]
    traces = signal[[record.leads.index(lead) for lead in order]]
    frame = _Frame.of(traces, shown_s, dpi=dpi)
    image, draw = new_canvas(frame.width, frame.height)
    if delineation is not None:
        _draw_marks(draw, frame, delineation, record.fs, first, last)
    _draw_grid(draw, frame, dpi=dpi, start_s=first / record.fs)
    for row, (lead, trace) in enumerate(zip(order, traces, strict=True)):
        zero = frame.zero_line(row)
        draw_polyline(draw, frame.x(np.arange(len(trace)) / record.fs), zero - trace * frame.px_per_mv)
        draw.text((frame.left - 0.08 * dpi, zero), lead, fill=INK["text"], anchor="rm", font=font(9, dpi))
    if title is None:
        title = _default_title(record, delineation, shown_s, first / record.fs)
    draw.text((frame.width / 2, 0.2 * dpi), title, fill=INK["text"], anchor="mm", font=font(10, dpi))
    return png_bytes(image)


def plot_ecg_grid(
    record: ECGRecord,
    delineation: QRSDelineation | None,
    out: str | Path,
    *,
    title: str | None = None,
    start_s: float = 0.0,
    max_seconds: float = MAX_SECONDS,
    dpi: int = 110,
) -> Path:
    """Draw all 12 leads with QRS onset/offset marks over at most ``max_seconds``; write a PNG atomically.

    Leads are stacked in the standard 3×4 reading order (I, II, III, aVR, aVL, aVF, V1–V6) on a
    0.2 s / 0.5 mV grid, all at the same gain (a row spans at least 2 mV; taller complexes may reach
    into the next row, as on ECG paper). Valid QRS complexes are shaded green between global onset
    and offset, flagged ones red; pacing stimuli are marked with a dotted line. A longer record is
    drawn from ``start_s`` for ``max_seconds`` (the title says which part), so the figure width stays
    readable.

    Parameters
    ----------
    record : ECGRecord
    delineation : QRSDelineation or None
        From :func:`cardiopredict.ecg.delineate`; None draws the signal only.
    out : path
        PNG file to write.
    title : str, optional
        Defaults to the record id, fs and duration (no patient identifiers).
    start_s : float
        First second drawn.
    max_seconds : float
        Length drawn, in seconds (default 10 s: one page).
    dpi : int
        Pixels per inch of the ``max(8, 1.6 * seconds)`` by ``1.1 * n_leads`` inch page.

    Returns
    -------
    Path
        ``out``.
    """
    png = ecg_grid_png(record, delineation, title=title, start_s=start_s, max_seconds=max_seconds, dpi=dpi)
    return atomic_write_bytes(Path(out), png)


class _Frame:
    """Pixel geometry of the page: margins, one row per lead, a gain shared by every lead."""

    def __init__(
        self,
        width: int,
        height: int,
        bounds: list[np.ndarray | None],
        shown_s: float,
        row_mv: float,
        dpi: int,
    ):
        n_rows = len(bounds)
        self.width, self.height, self.n_rows, self.shown_s = width, height, n_rows, shown_s
        self.bounds = bounds
        self.left, self.right = 0.55 * dpi, width - 0.15 * dpi
        self.top, self.bottom = 0.42 * dpi, height - 0.32 * dpi
        self.row_px = (self.bottom - self.top) / max(n_rows, 1)
        self.px_per_mv = self.row_px / row_mv
        self.px_per_s = (self.right - self.left) / max(shown_s, 1e-9)

    @classmethod
    def of(cls, traces: np.ndarray, shown_s: float, *, dpi: int) -> _Frame:
        bounds = _robust_bounds(traces)
        spans = [float(b[1] - b[0]) for b in bounds if b is not None]
        row_mv = float(np.clip(np.ceil(max(spans, default=0.0) / GRID_MV) * GRID_MV, 2.0, 5.0))
        width = round(max(8.0, 1.6 * shown_s) * dpi)
        return cls(width, round(1.1 * len(traces) * dpi), bounds, shown_s, row_mv, dpi)

    def x(self, seconds: Any) -> Any:
        return self.left + np.asarray(seconds) * self.px_per_s

    def zero_line(self, row: int) -> float:
        """Pixel row of 0 mV of lead ``row``: the middle of its range placed mid-row, on a grid line."""
        bounds = self.bounds[row]
        middle = 0.5 * float(np.sum(bounds)) if bounds is not None else 0.0
        centre = self.top + (row + 0.5) * self.row_px + middle * self.px_per_mv
        step = GRID_MV * self.px_per_mv
        return self.top + round((centre - self.top) / step) * step


def _robust_bounds(traces: np.ndarray) -> list[np.ndarray | None]:
    """The 0.5th and 99.5th percentiles of each trace's finite samples (None: no finite sample)."""
    finite = np.isfinite(traces)
    if finite.all():
        return list(np.percentile(traces, [0.5, 99.5], axis=1).T)
    return [
        np.percentile(t[ok], [0.5, 99.5]) if ok.any() else None for t, ok in zip(traces, finite, strict=True)
    ]


def _draw_grid(draw: Any, frame: _Frame, *, dpi: int, start_s: float) -> None:
    step = GRID_MV * frame.px_per_mv
    for y in np.arange(frame.top, frame.bottom + 0.5, step):
        draw.line((frame.left, y, frame.right, y), fill=INK["grid"])
    for k, seconds in enumerate(np.arange(0.0, frame.shown_s + 1e-9, GRID_S)):
        major = k % 5 == 0
        x = float(frame.x(seconds))
        draw.line((x, frame.top, x, frame.bottom), fill=INK["grid_major" if major else "grid"])
        if major:
            label = f"{start_s + seconds:g} s"
            draw.text((x, frame.bottom + 0.06 * dpi), label, fill=INK["text"], anchor="mt", font=font(8, dpi))


def _draw_marks(
    draw: Any, frame: _Frame, delineation: QRSDelineation, fs: float, first: int, last: int
) -> None:
    """QRS spans (green valid, red flagged) and dotted pacing-stimulus lines, behind the traces."""
    shown = (delineation.qrs_offsets >= first) & (delineation.qrs_onsets < last)
    for k in np.flatnonzero(shown):
        onset = max(float(frame.x((delineation.qrs_onsets[k] - first) / fs)), frame.left)
        offset = min(float(frame.x((delineation.qrs_offsets[k] - first) / fs)), frame.right)
        colour = INK["valid"] if delineation.valid[k] else INK["flagged"]
        draw.rectangle((onset, frame.top, offset, frame.bottom), fill=colour)
    spikes = delineation.pacing_spikes if delineation.pacing_spikes is not None else np.zeros(0)
    shown_spikes = spikes[(spikes >= first) & (spikes < last)]
    if len(shown_spikes):
        xs = np.floor(frame.x((shown_spikes - first) / fs)).astype(int)  # Pillow truncates coordinates
        starts = np.arange(frame.top, frame.bottom, 6.0)
        ys = np.concatenate([np.arange(int(y), int(min(y + 3.0, frame.bottom)) + 1) for y in starts])
        points = np.column_stack([np.repeat(xs, len(ys)), np.tile(ys, len(xs))])
        draw.point(points.ravel().tolist(), fill=INK["pacing"])  # the dashes of every stimulus line


def _default_title(
    record: ECGRecord, delineation: QRSDelineation | None, shown_s: float, start_s: float
) -> str:
    title = f"{record.record_id or 'ECG'} — {record.fs:g} Hz, {record.duration_s:.1f} s"
    if shown_s < record.duration_s:
        title += f" (shown: {start_s:.1f}-{start_s + shown_s:.1f} s)"
    if delineation is not None:
        qrs = delineation.qrs_durations_ms[delineation.valid]
        median = f"{np.median(qrs):.0f} ms" if len(qrs) else "n/a"
        title += f", {delineation.n_beats} beats ({int(delineation.valid.sum())} valid), QRS {median}"
    return title


def new_canvas(width: int, height: int, extra: Sequence[tuple[int, int, int]] = ()) -> tuple[Any, Any]:
    """A white palette image with the colours of :data:`INK` (then ``extra`` from index 8) to draw on."""
    from PIL import Image, ImageDraw

    colours = [*_COLOURS.values(), *extra]
    if len(colours) > 256:
        raise ConfigError(f"{len(colours)} colours: a palette image holds at most 256.")
    image = Image.new("P", (int(width), int(height)), INK["white"])
    image.putpalette([channel for colour in colours for channel in colour])
    return image, ImageDraw.Draw(image)


def draw_polyline(
    draw: Any, x: np.ndarray, y: np.ndarray, *, fill: int = INK["trace"], width: int = 1
) -> None:
    """One line through the points (x, y), broken where either is not finite (missing samples)."""
    finite = np.isfinite(x) & np.isfinite(y)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        points = np.column_stack([x[start:stop], y[start:stop]]).ravel().tolist()
        if len(points) >= 4:
            draw.line(points, fill=fill, width=width, joint="curve" if width > 1 else None)


@lru_cache(maxsize=16)
def font(points: float, dpi: int) -> Any:
    """DejaVu Sans (shipped with matplotlib) at ``points`` for ``dpi``; Pillow's own font without it."""
    from PIL import ImageFont

    size = max(6, round(points * dpi / 72))
    try:
        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size=size)


def png_bytes(image: Any) -> bytes:
    """The image as PNG; zlib level 1 (a palette page compresses well at the fastest level)."""
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=1)
    return buffer.getvalue()

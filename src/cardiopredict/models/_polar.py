"""Polar slice encoder of ScarNet: the myocardium unwrapped to a depth x angle map, then small convolutions.

Each slice is resampled along ``n_angles`` rays from the centre of its myocardium (the mean position of
the myocardium pixels): on each ray the myocardium's inner and outer edge (first and last sample inside
the mask) bound ``n_depths`` evenly spaced depths, endocardium to epicardium, where the other channels
(scar, and the LGE when given) are sampled bilinearly. The map's channels are those samples plus the
wall thickness of the ray (in pixels / 10, the same at every depth). Rows are depth, columns angle: a
transmural scar is a vertical band, a gray-zone channel running through the core a horizontal gap in
it, so small kernels see scar topology at the full resolution of the crop, which a Cartesian encoder
reaches only after many layers. The angle axis is padded circularly. Two ``3 x 5`` convolutions (batch
norm, ReLU) then global mean and max pooling give the slice vector: where the scar lies (coronary
territory) is not kept. The resampling is fixed (no weights); its grid comes from the mask, so the
gradient flows to the sampled channels only (saliency on scar and LGE, not on the mask's edge).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

_RAY_STEP = 1.0  # pixels between samples along a ray when finding the myocardium's edges
_KERNEL = (3, 5)  # depth x angle


def polar_unwrap(slices: Tensor, *, n_angles: int, n_depths: int) -> Tensor:
    """``(n, C, H, W)`` slices, channel 0 the myocardium mask -> ``(n, C, n_depths, n_angles)`` maps.

    Channels of the result: the slice's channels 1 .. C-1 sampled between the myocardium's edges, then
    the wall thickness (pixels / 10). A slice without myocardium gives zeros.
    """
    _, _, height, width = slices.shape
    myo = slices[:, 0].detach()  # the grid is fixed: no gradient to the mask
    ys = torch.arange(height, dtype=slices.dtype, device=slices.device)
    xs = torch.arange(width, dtype=slices.dtype, device=slices.device)
    weight = myo.sum(dim=(1, 2)).clamp(min=1e-6)
    cy = (myo.sum(dim=2) * ys).sum(dim=1) / weight
    cx = (myo.sum(dim=1) * xs).sum(dim=1) / weight
    theta = torch.arange(n_angles, dtype=slices.dtype, device=slices.device) * (2 * torch.pi / n_angles)
    radii = torch.arange(0.0, max(height, width) / 2, _RAY_STEP, dtype=slices.dtype, device=slices.device)
    with torch.no_grad():
        on_ray = _sample(myo[:, None], cy, cx, theta, radii[None, :].expand(n_angles, -1), by_angle=True)
        profile = on_ray[:, 0]  # (n, n_angles, n_radii)
        inside = profile > 0.5
        has = inside.any(dim=2)
        first = inside.float().argmax(dim=2)
        last = inside.shape[2] - 1 - inside.flip(2).float().argmax(dim=2)
        endo = _crossing(profile, first, first - 1) * _RAY_STEP  # (n, n_angles), sub-pixel
        epi = _crossing(profile, last, last + 1) * _RAY_STEP
        depth = (torch.arange(n_depths, dtype=slices.dtype, device=slices.device) + 0.5) / n_depths
        radius = endo[:, None, :] + depth[None, :, None] * (epi - endo)[:, None, :]  # (n, D, A)
    sampled = _sample(slices[:, 1:], cy, cx, theta, radius, by_angle=False)  # (n, C-1, D, A)
    thickness = ((epi - endo) / 10.0)[:, None, None, :].expand(-1, 1, n_depths, -1)
    return torch.cat([sampled, thickness.to(sampled.dtype)], dim=1) * has[:, None, None, :]


def _crossing(profile: Tensor, inner: Tensor, outer: Tensor) -> Tensor:
    """Where ``profile`` crosses 0.5 between sample ``inner`` (> 0.5) and its neighbour ``outer``,
    linearly interpolated (``inner`` itself at the end of the ray)."""
    outer = outer.clamp(0, profile.shape[2] - 1)
    a = profile.gather(2, inner[..., None])[..., 0]
    b = profile.gather(2, outer[..., None])[..., 0]
    share = ((a - 0.5) / (a - b).clamp(min=1e-6)).clamp(0.0, 1.0)
    return inner + share * (outer - inner)


def _sample(
    images: Tensor, cy: Tensor, cx: Tensor, theta: Tensor, radius: Tensor, *, by_angle: bool
) -> Tensor:
    """Bilinear samples of ``images (n, k, H, W)`` at ``centre + radius * (sin, cos)(theta)``.

    ``radius`` is ``(A, R)`` shared by every slice (``by_angle``: returns ``(n, k, A, R)``) or
    ``(n, D, A)`` per slice (returns ``(n, k, D, A)``)."""
    n, _, height, width = images.shape
    if by_angle:
        sin, cos = torch.sin(theta)[None, :, None], torch.cos(theta)[None, :, None]
        radius = radius[None].expand(n, -1, -1)
    else:
        sin, cos = torch.sin(theta)[None, None, :], torch.cos(theta)[None, None, :]
    y = cy[:, None, None] + sin * radius
    x = cx[:, None, None] + cos * radius
    grid = torch.stack([2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1], dim=-1)
    return functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class PolarSliceEncoder(nn.Module):
    """Polar unwrapping (module docstring), two convolutions, global mean + max -> ``slice_features``.

    Same contract as :class:`~cardiopredict.models.scarnet.SliceEncoder`: input ``(n_slots, C, H, W)``
    and the indices of the real slots -> ``(n_real, slice_features)``.
    """

    def __init__(
        self, *, in_channels: int, width: int, slice_features: int, n_angles: int = 96, n_depths: int = 12
    ) -> None:
        super().__init__()
        self.n_angles, self.n_depths = int(n_angles), int(n_depths)
        depth_padding = (_KERNEL[0] // 2, 0)  # zeros along the depth; the angle is padded circularly
        self.first = nn.Conv2d(in_channels, width, _KERNEL, padding=depth_padding, bias=False)
        self.first_norm = nn.BatchNorm2d(width)
        self.second = nn.Conv2d(width, width, _KERNEL, padding=depth_padding, bias=False)
        self.second_norm = nn.BatchNorm2d(width)
        self.project = nn.Sequential(nn.Linear(2 * width, slice_features), nn.ReLU())

    def forward(self, slots: Tensor, real: Tensor) -> Tensor:
        maps = polar_unwrap(slots.index_select(0, real), n_angles=self.n_angles, n_depths=self.n_depths)
        hidden = functional.relu(self.first_norm(self.first(_pad(maps))))
        hidden = functional.relu(self.second_norm(self.second(_pad(hidden))))
        return self.project(torch.cat([hidden.mean(dim=(2, 3)), hidden.amax(dim=(2, 3))], dim=1))


def _pad(maps: Tensor) -> Tensor:
    """Circular padding along the angle (columns) for a ``_KERNEL`` convolution (one copy)."""
    half = _KERNEL[1] // 2
    return torch.cat([maps[..., -half:], maps, maps[..., :half]], dim=-1)

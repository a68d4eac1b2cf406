"""What the gradient refinements minimise (models.objective): the log distance is the numpy
one, the linear one has its closed forms, and the pitch track follows a known glide and has
the gradient its finite difference says."""

import math

import numpy as np
import pytest
import torch

from models.objective import (
    TRACK_HOP_PERIODS,
    TRACK_PERIODS,
    pitch_distance,
    pitch_track,
    spectral_convergence,
    spectral_distance,
)
from synth import acoustics

FS = 44100.0
F0 = 110.0
B = 1e-4  # a nylon string's inharmonicity, so the partials are not multiples of F0
PARTIALS = torch.as_tensor([m * F0 * math.sqrt(1.0 + B * m * m) for m in range(1, 5)])
TAU = 0.08  # s: how fast the glide settles


def gliding(cents: torch.Tensor, seconds: float = 0.3) -> torch.Tensor:
    """Partials 1..4 (amplitudes 1/m, T60 about 7 s) starting `cents` above their settled
    frequencies, the glide falling as exp(-t / TAU)."""
    t = torch.arange(round(seconds * FS), dtype=torch.float64) / FS
    ratio = torch.pow(2.0, cents * torch.exp(-t / TAU) / 1200.0)
    x = torch.zeros_like(t)
    for m, f in enumerate(PARTIALS, 1):
        phase = 2.0 * math.pi * torch.cumsum(f * ratio, 0) / FS
        x = x + torch.sin(phase) * torch.exp(-t) / m
    return x


@pytest.mark.parametrize("fs", [48000.0, 44100.0, 16000.0])
def test_the_torch_spectral_distance_is_the_numpy_one(fs):
    rng = np.random.default_rng(int(fs))
    t = np.arange(9000)
    x = rng.standard_normal(9000) * np.exp(-t / 2000)
    y = np.sin(0.1 * t) + 0.01 * rng.standard_normal(9000)
    ours = spectral_distance(torch.as_tensor(x), torch.as_tensor(y), fs).item()
    assert ours == pytest.approx(acoustics.log_spectral_distance(x, y, fs), rel=1e-12)


def test_the_linear_distance_is_nought_for_one_sound_and_root_two_for_two_apart():
    t = torch.arange(round(0.3 * FS), dtype=torch.float64) / FS
    a, b = torch.sin(2 * math.pi * 440.0 * t), torch.sin(2 * math.pi * 3000.0 * t)
    assert spectral_convergence(a, 3.0 * a, FS).item() == pytest.approx(0.0, abs=1e-12)
    assert spectral_convergence(a, b, FS).item() == pytest.approx(math.sqrt(2.0), rel=1e-4)


def test_the_pitch_track_follows_a_known_glide_on_every_partial():
    glide = 20.0
    cents, level = pitch_track(gliding(torch.tensor(glide)), FS, PARTIALS)
    period = FS / F0
    frame, hop = round(TRACK_PERIODS * period), round(TRACK_HOP_PERIODS * period)
    # each point is the mean frequency between two frames' centres, each frame's the
    # Hann-weighted mean over it: the glide's exponential averaged so, in closed form
    s = np.arange(frame)
    window = np.hanning(frame)
    smoothing = (window * np.exp(-(s - (frame - 1) / 2) / (TAU * FS))).sum() / window.sum()
    between = np.exp(-np.arange(hop) / (TAU * FS)).mean()
    starts = np.arange(cents.shape[1]) * hop
    truth = glide * np.exp(-(starts + (frame - 1) / 2) / (TAU * FS)) * smoothing * between
    assert cents.shape == (4, len(truth)) and len(truth) >= 10
    np.testing.assert_allclose(cents.numpy(), np.broadcast_to(truth, cents.shape), atol=0.05)
    assert (level[0] > level[3]).all()  # partial 1 the loudest, 12 dB over partial 4


def test_the_pitch_distance_is_nought_for_the_same_glide_and_has_its_finite_difference():
    y = gliding(torch.tensor(8.0))
    assert pitch_distance(y, y, FS, PARTIALS).item() == 0.0
    glide = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    distance = pitch_distance(gliding(glide), y, FS, PARTIALS)
    distance.backward()
    step = 1e-4
    with torch.no_grad():
        up, down = (pitch_distance(gliding(glide + s), y, FS, PARTIALS) for s in (step, -step))
    assert glide.grad.item() == pytest.approx((up - down).item() / (2 * step), rel=1e-5)
    # 5 cents short at the start: the frames' weighted mean of 5 exp(-t / TAU), a few cents
    assert 1.0 < distance.item() < 5.0 and glide.grad.item() < 0.0


def test_a_sound_under_two_frames_has_no_track_and_no_pitch_distance():
    short = gliding(torch.tensor(8.0), seconds=0.08)  # two frames take 10 periods, 91 ms
    cents, level = pitch_track(short, FS, PARTIALS)
    assert cents.shape == level.shape == (4, 0)
    assert pitch_distance(short, 0.5 * short, FS, PARTIALS).item() == 0.0

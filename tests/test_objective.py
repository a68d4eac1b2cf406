"""What the gradient refinements minimise (models.objective): the log distance is the numpy
one, the linear one has its closed forms, and the pitch track follows a known glide and has
the gradient its finite difference says."""

import math

import numpy as np
import pytest
import torch

from models.objective import (
    LINEAR_WEIGHT,
    PITCH_WEIGHT,
    TRACK_HOP_PERIODS,
    TRACK_PERIODS,
    loss,
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


def gliding(cents: torch.Tensor, seconds: float = 0.3, sharp: float = 0.0,
            amplitudes=(1.0, 1 / 2, 1 / 3, 1 / 4)) -> torch.Tensor:
    """Partials 1..4 (T60 about 7 s) starting `cents` above their settled frequencies,
    which are `sharp` cents above PARTIALS, the glide falling as exp(-t / TAU)."""
    t = torch.arange(round(seconds * FS), dtype=torch.float64) / FS
    ratio = torch.pow(2.0, (sharp + cents * torch.exp(-t / TAU)) / 1200.0)
    x = torch.zeros_like(t)
    for f, amplitude in zip(PARTIALS, amplitudes, strict=True):
        phase = 2.0 * math.pi * torch.cumsum(f * ratio, 0) / FS
        x = x + amplitude * torch.sin(phase) * torch.exp(-t)
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
    # partial 1 is 12 dB over partial 4 (a 20-cent glide takes partial 4 farther off its
    # frame's centre, 0.37 of a bin: 0.2 dB)
    np.testing.assert_allclose((level[0] - level[3]).numpy(), 20 * math.log10(4), atol=0.2)


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
    # two frames take 10 periods, 91 ms
    short, flat = (gliding(torch.tensor(c), seconds=0.08) for c in (8.0, 0.0))
    cents, level = pitch_track(short, FS, PARTIALS)
    assert cents.shape == level.shape == (4, 0)
    assert pitch_distance(short, flat, FS, PARTIALS).item() == 0.0
    longer, flat = (gliding(torch.tensor(c), seconds=0.1) for c in (8.0, 0.0))
    assert pitch_distance(longer, flat, FS, PARTIALS).item() > 1.0


def test_a_render_sharp_on_every_partial_is_that_far_from_the_recording():
    y = gliding(torch.tensor(8.0))
    assert pitch_distance(gliding(torch.tensor(8.0), sharp=40.0), y, FS,
                          PARTIALS).item() == pytest.approx(40.0, abs=0.1)


def test_a_partial_the_render_lacks_is_left_out_rather_than_tracked_in_its_noise():
    y = gliding(torch.tensor(8.0))
    amplitude = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    x = gliding(torch.tensor(8.0), amplitudes=(1.0, amplitude, 1 / 3, 1 / 4))
    distance = pitch_distance(x, y, FS, PARTIALS)
    distance.backward()
    # without the render's own level in the mask, partial 2's track would be its neighbours'
    # leakage, its gradient as 1 / its magnitude
    assert distance.item() < 0.01 and abs(amplitude.grad.item()) < 0.01


def test_the_loss_is_nought_for_the_recording_and_adds_its_weighted_parts():
    y, x = gliding(torch.tensor(8.0)), gliding(torch.tensor(2.0), sharp=5.0)
    assert loss(y, y, FS, PARTIALS).item() == pytest.approx(0.0, abs=1e-9)
    parts = (spectral_distance(x, y, FS) + LINEAR_WEIGHT * spectral_convergence(x, y, FS)
             + PITCH_WEIGHT * pitch_distance(x, y, FS, PARTIALS))
    assert loss(x, y, FS, torch.cat([PARTIALS, 5 * PARTIALS[:1]])).item() == pytest.approx(
        parts.item(), rel=1e-12)  # partials past TRACK_PARTIALS not tracked

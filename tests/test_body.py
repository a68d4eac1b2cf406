"""The body's modal bank: a mode's impulse response and resonance against their closed
forms, decay, and the torch twin against the compiled kernel."""

import math

import numpy as np
import pytest
import torch

from models.body import BodyTwin
from synth.errors import ParameterError
from synth.kernels.body import body_block, body_coefficients

FS = 48000


def run_kernel(force, frequencies, decays, gains):
    coefficients = body_coefficients(frequencies, decays, FS)
    out = np.zeros((len(force), np.asarray(gains).shape[1]))
    state = np.zeros((len(frequencies), 3))
    half = len(force) // 2  # two blocks: the state carries across
    body_block(force[:half], coefficients, np.asarray(gains, float), state, out[:half])
    body_block(force[half:], coefficients, np.asarray(gains, float), state, out[half:])
    return out


def test_a_mode_answers_an_impulse_with_its_closed_form():
    f, sigma = 110.0, 12.0  # an air mode of about 0.58 s T60
    impulse = np.zeros(FS)
    impulse[0] = 1.0
    v = run_kernel(impulse, [f], [sigma], [[1.0]])[:, 0]
    t = np.arange(FS) / FS
    omega = 2 * math.pi * f
    closed = np.exp(-sigma * t) * (np.cos(omega * t) - sigma / omega * np.sin(omega * t)) / FS
    np.testing.assert_allclose(v, closed, rtol=0, atol=1e-9 * np.abs(closed).max())


def test_a_mode_resonates_at_its_frequency_with_the_closed_form_peak():
    """|V/F| of a unit-mass mode at its natural frequency is 1 / (2 sigma)."""
    f, sigma = 240.0, 20.0
    impulse = np.zeros(4 * FS)
    impulse[0] = 1.0
    v = run_kernel(impulse, [f], [sigma], [[1.0]])[:, 0]
    natural = math.sqrt((2 * math.pi * f) ** 2 + sigma**2)
    response = abs(np.sum(v * np.exp(-1j * natural * np.arange(len(v)) / FS)))
    assert response == pytest.approx(1 / (2 * sigma), rel=0.01)


def test_the_bank_decays_at_each_modes_rate_and_never_grows():
    impulse = np.zeros(2 * FS)
    impulse[0] = 1.0
    v = run_kernel(impulse, [90.0, 300.0], [5.0, 40.0], [[1.0, 0.0], [0.0, 1.0]])
    for channel, sigma in ((0, 5.0), (1, 40.0)):
        early = np.abs(v[1000:1500, channel]).max()
        late = np.abs(v[11000:11500, channel]).max()
        assert late / early == pytest.approx(math.exp(-sigma * 10000 / FS), rel=0.05)


def test_the_torch_twin_matches_the_kernel():
    rng = np.random.default_rng(3)
    frequencies = np.array([98.0, 203.0, 410.0, 777.0, 1500.0, 2900.0])
    decays = np.array([8.0, 15.0, 30.0, 45.0, 80.0, 150.0])
    gains = rng.standard_normal((6, 2))
    force = rng.standard_normal(4096)
    expected = run_kernel(force, frequencies, decays, gains)
    twin = BodyTwin(frequencies, decays, gains, FS)
    found = twin(torch.as_tensor(force)).detach().numpy()
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-10 * np.abs(expected).max())
    twin(torch.as_tensor(force)).square().sum().backward()  # differentiable in everything
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in twin.parameters())


@pytest.mark.parametrize("frequencies, decays", [([-30.0], [5.0]), ([100.0], [0.0]),
                                                  ([100.0], [math.nan]), ([100.0, 200.0], [1.0])])
def test_modes_that_cannot_play_are_refused(frequencies, decays):
    with pytest.raises(ParameterError):
        body_coefficients(frequencies, decays, FS)


def test_a_mode_above_the_band_is_silent_not_refused():
    coefficients = body_coefficients([200.0, 0.46 * FS], [10.0, 10.0], FS)
    assert np.all(coefficients[1] == 0.0) and coefficients[0, 0] != 0.0

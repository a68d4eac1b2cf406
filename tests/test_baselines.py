"""The tutorial's offline baselines: the PINN's inverse problem on the damped oscillator."""

import numpy as np
import pytest

pytest.importorskip("torch")

from models.baselines.pinn import Oscillator, PinnConfig, fit_inverse


def test_the_oscillator_closed_form_solves_its_equation():
    osc = Oscillator(omega0=20.0, sigma=2.0)
    h = 1e-4
    t = np.linspace(0.1, 0.9, 50)
    x, xp, xm = osc.solution(t), osc.solution(t + h), osc.solution(t - h)
    velocity, acceleration = (xp - xm) / (2 * h), (xp - 2 * x + xm) / h ** 2
    residual = acceleration + 2 * osc.sigma * velocity + osc.omega0 ** 2 * x
    assert np.max(np.abs(residual)) < 1e-4 * osc.omega0 ** 2
    assert osc.solution(np.array([0.0]))[0] == 1.0
    assert abs((osc.solution(np.array([h])) - osc.solution(np.array([-h])))[0]) < 1e-9
    with pytest.raises(ValueError, match="underdamped"):
        Oscillator(omega0=1.0, sigma=2.0)


def test_the_pinn_recovers_frequency_and_damping_within_one_percent():
    """From 30 samples, starting 25 % (omega0) and 50 % (sigma) off the truth."""
    result = fit_inverse(Oscillator(omega0=20.0, sigma=2.0), PinnConfig())
    assert result["omega0_error"] < 0.01, result
    assert result["sigma_error"] < 0.01, result
    assert result["relmse"] < 1e-3, result

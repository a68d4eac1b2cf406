"""Potentials: values against the closed forms of docs/design.md, gradients against finite
differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_sav import ExactPotential, KirchhoffCarrierPotential

from synth.errors import ParameterError
from synth.kernels.potentials import potential as potential_kernel
from synth.physics.potentials import Potential, make_potential


def modal_displacement(seed, n_modes, scale):
    """A plausible string shape: random modes with a 1/m^2 spectrum, max slope ~ scale."""
    rng = np.random.default_rng(seed)
    return scale * rng.standard_normal(n_modes) / np.arange(1, n_modes + 1) ** 2


@given(st.integers(1, 90), st.floats(1e-6, 3.0), st.integers(0, 2**32 - 1))
@settings(max_examples=150, deadline=None)
def test_exact_potential_matches_the_dct_formula(n_modes, scale, seed):
    q = modal_displacement(seed, n_modes, scale)
    kernel, reference = make_potential("exact", n_modes), ExactPotential(n_modes)
    value = reference.value(q)
    assert kernel.value(q) >= 0.0
    assert kernel.value(q) == pytest.approx(value, rel=1e-9, abs=1e-300)
    grad = reference.gradient(q)
    assert np.allclose(kernel.gradient(q), grad, rtol=1e-8, atol=1e-12 * np.abs(grad).max())


@pytest.mark.parametrize("name", ["exact", "kc"])
@pytest.mark.parametrize("n_modes", [1, 2, 7, 40, 75])
@pytest.mark.parametrize("scale", [0.05, 2.0])  # small slopes (G ~ xi^4/4) and large ones
def test_gradient_matches_central_differences(name, n_modes, scale):
    potential = make_potential(name, n_modes)
    q = modal_displacement(n_modes, n_modes, scale)
    grad = potential.gradient(q)
    h = 1e-6 * np.abs(q).max()
    numeric = np.array([(potential.value(q + h * e) - potential.value(q - h * e)) / (2 * h)
                        for e in np.eye(n_modes)])
    assert np.allclose(grad, numeric, rtol=1e-6, atol=1e-7 * np.abs(grad).max())


@given(st.integers(1, 80), st.floats(0.0, 10.0), st.integers(0, 2**32 - 1))
@settings(max_examples=150, deadline=None)
def test_potentials_are_non_negative_and_zero_at_rest(n_modes, scale, seed):
    q = modal_displacement(seed, n_modes, scale) * np.random.default_rng(seed).choice([-1, 1])
    for name in ("exact", "kc", "linear"):
        potential = make_potential(name, n_modes)
        assert potential.value(q) >= 0.0
        assert potential.value(np.zeros(n_modes)) == 0.0
        assert np.all(potential.gradient(np.zeros(n_modes)) == 0.0)


def test_kirchhoff_carrier_closed_form():
    q = modal_displacement(3, 20, 0.1)
    beta2 = (np.arange(1, 21) * np.pi) ** 2
    stretch = np.sum(beta2 * q**2)
    potential = make_potential("kc", 20)
    assert potential.value(q) == pytest.approx(stretch**2 / 8, rel=1e-13)
    assert np.allclose(potential.gradient(q), 0.5 * stretch * beta2 * q, rtol=1e-13)
    reference = KirchhoffCarrierPotential(20)
    assert potential.value(q) == pytest.approx(reference.value(q), rel=1e-13)


def test_exact_potential_is_quartic_for_small_slopes():
    # G(xi) ~ xi^4 / 4, so V scales as the fourth power of the amplitude.
    potential = make_potential("exact", 30)
    q = modal_displacement(5, 30, 1.0)
    ratio = potential.value(1e-5 * q) / potential.value(1e-6 * q)
    assert ratio == pytest.approx(1e4, rel=1e-5)


@pytest.mark.parametrize("name", ["exact", "kc"])
def test_dropped_modes_count_as_zero(name):
    n_modes, n_act = 31, 17
    potential = make_potential(name, n_modes)
    q = modal_displacement(7, n_modes, 0.3)
    truncated = q.copy()
    truncated[n_act:] = 0.0
    grad = np.zeros(n_modes)
    value = potential_kernel(potential.tables, q, n_act, potential.scratch(), grad, True)
    assert value == pytest.approx(potential.value(truncated), rel=1e-13)
    assert np.allclose(grad[:n_act], potential.gradient(truncated)[:n_act], rtol=1e-12)


@pytest.mark.parametrize("name", ["exact", "kc"])
def test_float32_tables_agree_with_float64(name):
    q = modal_displacement(11, 40, 0.2)
    p64, p32 = make_potential(name, 40), make_potential(name, 40, dtype=np.float32)
    assert p32.value(q) == pytest.approx(p64.value(q), rel=1e-4)
    grad = p64.gradient(q)
    assert np.allclose(p32.gradient(q), grad, rtol=1e-3, atol=1e-4 * np.abs(grad).max())


def test_padded_state_rows_do_not_change_the_exact_potential():
    potential = make_potential("exact", 21)
    q = modal_displacement(2, 21, 0.5)
    padded = np.zeros(32)
    padded[:21] = q
    grad = np.zeros(32)
    value = potential_kernel(potential.tables, padded, 21, potential.scratch(), grad, True)
    assert value == pytest.approx(potential.value(q), rel=1e-14)
    assert np.allclose(grad[:21], potential.gradient(q), rtol=1e-13)


def test_unknown_potential_and_bad_shapes_are_refused():
    with pytest.raises(ParameterError, match="nonlinearity"):
        make_potential("cubic", 10)
    with pytest.raises(ParameterError, match="n_modes"):
        make_potential("exact", 0)
    with pytest.raises(ParameterError, match="unknown kind"):
        Potential("mystery", 4, tuple(make_potential("exact", 4).tables))
    with pytest.raises(ParameterError, match="shape"):
        make_potential("exact", 10).value(np.zeros(9))

"""String parameters: physical <-> normalised mapping, T60, tuning."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.errors import ParameterError
from synth.physics.strings import (
    PhysicalString,
    StringParams,
    gamma_for_frequency,
    note_frequency,
    tuned,
)

# A plain steel guitar B string: 0.648 m scale, 0.41 mm diameter, 7850 kg/m^3, 200 GPa, 106 N.
STEEL_B = PhysicalString(length=0.648, tension=106.0, linear_density=7850 * math.pi * 0.000205**2,
                         youngs_modulus=2.0e11, radius=0.000205, t60_low=(100.0, 8.0),
                         t60_high=(4000.0, 1.5))


def test_flexible_string_fundamental_is_gamma_over_two():
    string = STEEL_B.to_normalised()
    # f1 = sqrt(T / mu) / (2 L) for a flexible string; gamma = sqrt(T / mu) / L.
    assert string.gamma / 2 == pytest.approx(STEEL_B.fundamental, rel=1e-12)
    assert STEEL_B.fundamental == pytest.approx(246.9, rel=0.02)  # B3 on a guitar


def test_stiffness_and_nonlinearity_closed_forms():
    string = STEEL_B.to_normalised()
    inertia = math.pi * STEEL_B.radius**4 / 4
    kappa = math.sqrt(STEEL_B.youngs_modulus * inertia / STEEL_B.linear_density) \
        / STEEL_B.length**2
    assert string.kappa == pytest.approx(kappa, rel=1e-12)
    axial = STEEL_B.youngs_modulus * STEEL_B.area
    nu_exact = math.sqrt((axial - STEEL_B.tension) / (2 * STEEL_B.linear_density)) \
        / STEEL_B.length
    assert string.nu == pytest.approx(nu_exact, rel=1e-12)
    nu_kc = math.sqrt(axial / STEEL_B.linear_density) / STEEL_B.length
    assert STEEL_B.to_normalised("kc").nu == pytest.approx(nu_kc, rel=1e-12)


def test_decay_times_are_reproduced_at_both_frequencies():
    string = STEEL_B.to_normalised()
    assert string.t60(100.0) == pytest.approx(8.0, rel=1e-10)
    assert string.t60(4000.0) == pytest.approx(1.5, rel=1e-10)


physical_strings = st.builds(
    lambda length, tension, density, modulus, radius, t_lo, ratio: PhysicalString(
        length, tension, density * math.pi * radius**2, modulus, radius, (80.0, t_lo),
        (3000.0, t_lo * ratio)),
    length=st.floats(0.1, 2.0), tension=st.floats(5.0, 1000.0), density=st.floats(1000, 9000),
    modulus=st.floats(2e9, 2.2e11), radius=st.floats(1e-4, 1e-3), t_lo=st.floats(0.5, 30.0),
    ratio=st.floats(0.05, 0.9))


@given(physical_strings, st.sampled_from(["exact", "kc"]))
@settings(max_examples=200, deadline=None)
def test_physical_normalised_physical_round_trip(physical, potential):
    try:
        normalised = physical.to_normalised(potential)
    except ParameterError:
        return  # soft strings (EA < T) and inconsistent T60 pairs are refused, not mapped
    back = normalised.to_physical(physical.length, physical.linear_density,
                                  (physical.t60_low[0], physical.t60_high[0]), potential)
    for name in ("length", "tension", "linear_density", "youngs_modulus", "radius"):
        assert getattr(back, name) == pytest.approx(getattr(physical, name), rel=1e-9)
    assert back.t60_low[1] == pytest.approx(physical.t60_low[1], rel=1e-9)
    assert back.t60_high[1] == pytest.approx(physical.t60_high[1], rel=1e-9)


@given(st.floats(20.0, 5000.0), st.floats(0.01, 20.0),
       st.one_of(st.just(0.0), st.floats(1e-2, 2000.0)),
       st.one_of(st.just(0.0), st.floats(1e-6, 10.0)),
       st.one_of(st.just(0.0), st.floats(1e-10, 1e-3)), st.sampled_from(["exact", "kc"]))
@settings(max_examples=200, deadline=None)
def test_normalised_physical_normalised_round_trip(gamma, kappa, nu, sigma0, sigma1, potential):
    if potential == "kc" and nu == 0.0:
        nu = 1.0  # zero axial stiffness has no physical string
    string = StringParams(gamma, kappa, nu, sigma0, sigma1)
    physical = string.to_physical(0.65, 1e-3, (100.0, 2000.0), potential)
    back = physical.to_normalised(potential)
    for name in ("gamma", "kappa", "sigma0", "sigma1"):
        assert getattr(back, name) == pytest.approx(getattr(string, name), rel=1e-9, abs=1e-12)
    # nu comes back through E A - T, which cancels when nu << gamma: allow for the conditioning.
    conditioning = 1.0 + (gamma / nu) ** 2 if potential == "exact" and nu > 0 else 1.0
    assert back.nu == pytest.approx(nu, rel=1e-13 * conditioning + 1e-9,
                                    abs=1e-6 * gamma if nu == 0.0 else 0.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"gamma": 0.0}, "gamma"), ({"gamma": -1.0}, "gamma"), ({"kappa": -0.1}, "kappa"),
    ({"nu": float("nan")}, "nu"), ({"sigma0": float("inf")}, "sigma0"),
    ({"sigma1": -1e-4}, "sigma1"), ({"gamma": "fast"}, "gamma"),
])
def test_bad_normalised_parameters_are_refused(kwargs, match):
    values = {"gamma": 100.0, "kappa": 1.0, "nu": 100.0, "sigma0": 1.0, "sigma1": 1e-4, **kwargs}
    with pytest.raises(ParameterError, match=match):
        StringParams(**values)


def test_decay_growing_with_frequency_is_refused():
    with pytest.raises(ParameterError, match="must not grow with frequency"):
        PhysicalString(0.65, 70.0, 1e-3, 2e11, 2e-4, (100.0, 2.0), (2000.0, 5.0)).to_normalised()


def test_physical_string_needs_increasing_t60_frequencies_and_positive_values():
    with pytest.raises(ParameterError, match="lower frequency"):
        PhysicalString(0.65, 70.0, 1e-3, 2e11, 2e-4, (2000.0, 2.0), (100.0, 5.0))
    with pytest.raises(ParameterError, match="tension"):
        PhysicalString(0.65, -70.0, 1e-3, 2e11, 2e-4, (100.0, 2.0), (2000.0, 1.0))


def test_note_frequency_is_equal_tempered():
    assert note_frequency(69) == 440.0
    assert note_frequency(81) == pytest.approx(880.0)
    assert note_frequency(60) == pytest.approx(261.6255653, rel=1e-9)
    assert note_frequency(69, a4=442.0) == 442.0


@given(st.floats(20.0, 4000.0), st.floats(0.0, 5.0), st.floats(0.0, 20.0), st.floats(0.0, 1e-3))
@settings(max_examples=200, deadline=None)
def test_tuning_puts_the_damped_first_mode_on_the_frequency(frequency, kappa, sigma0, sigma1):
    gamma = gamma_for_frequency(frequency, kappa, sigma0, sigma1)
    omega1 = math.sqrt(gamma**2 * math.pi**2 + kappa**2 * math.pi**4)
    damped = math.sqrt(omega1**2 - (sigma0 + sigma1 * math.pi**2) ** 2)
    assert damped / (2 * math.pi) == pytest.approx(frequency, rel=1e-12)


def test_tuning_refuses_a_string_too_stiff_for_the_note_and_bad_values():
    with pytest.raises(ParameterError, match="too stiff"):
        gamma_for_frequency(20.0, kappa=100.0)
    with pytest.raises(ParameterError, match="kappa must be finite"):
        gamma_for_frequency(100.0, kappa=float("nan"))
    with pytest.raises(ParameterError, match="sigma0 must be >= 0"):
        gamma_for_frequency(100.0, kappa=1.0, sigma0=-1.0)


def test_tuned_keeps_everything_but_gamma():
    string = StringParams(100.0, 2.0, 50.0, 1.0, 1e-4)
    retuned = tuned(string, 57)
    assert (retuned.kappa, retuned.nu, retuned.sigma0, retuned.sigma1) == (2.0, 50.0, 1.0, 1e-4)
    assert retuned.gamma != string.gamma

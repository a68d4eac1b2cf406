"""The piano hammer inside the SAV scheme (`synth.kernels.lanes`, "struck step"): against an
independent NumPy implementation, the discrete energy of string and hammer, a
finite-difference string struck by the same hammer, and published contact times."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_hammer import finite_difference_strike
from reference_sav import simulate_struck_reference

from synth.bench import hammer as bench
from synth.kernels import sav_voice
from synth.kernels.formulas import H_LEFT, H_PSI, H_V, HAMMER, excitation_record
from synth.kernels.lanes import GAIN, NU2, PSI, STIFF
from synth.kinds.sav_string import lanes_for
from synth.physics.hammer import PIANO_HAMMERS
from synth.physics.losses import scheme_losses
from synth.physics.modes import contact_profile
from synth.physics.potentials import make_potential

C4 = {"gamma": 524.4, "kappa": 3.24, "nu": 8029.0, "sigma0": 0.5, "sigma1": 2.4e-3,
      "n_modes": 30, "fs": 48000, "x_o": 0.83, "warp": True}
C4_HAMMER = {"mass": 0.756, "felt": 5.59e11, "exponent": 2.5, "velocity": 3.0 / 0.62,
             "position": 0.12, "half_width": 0.008}


def struck_lanes(params, hammer, n_steps, dtype=np.float64):
    """One lane of the string of `params` struck by `hammer` (as `simulate_struck_reference`
    takes them) through the kernels the engine uses; returns w (N,) and the discrete energy
    of string and hammer before each step (N,)."""
    potential = make_potential(params["nonlinearity"], params["n_modes"], dtype)
    voices = lanes_for(potential, params["fs"], 1, dtype)
    sav_voice.retune(voices, 0, params["gamma"] ** 2, params["kappa"],
                     scheme_losses(params["sigma0"], params["sigma1"]), params["nu"] ** 2,
                     params["x_o"], 0)
    sav_voice.excite(voices, 0, excitation_record(
        0.0, 0.0, HAMMER, hammer["position"], width=hammer["half_width"],
        hammer_velocity=hammer["velocity"], hammer_mass=hammer["mass"], felt=hammer["felt"],
        felt_exponent=hammer["exponent"]))
    k = 1.0 / params["fs"]
    gain = voices.coef[GAIN, :, 0]
    omega2 = np.divide(voices.coef[STIFF, :, 0], gain, out=np.zeros_like(gain),
                       where=gain != 0)
    out = np.zeros((1, 1), dtype)
    w, energy = np.zeros(n_steps), np.zeros(n_steps)
    for n in range(n_steps):
        q, p, exc = voices.q[:, 0], voices.p[:, 0], voices.exc[:, 0]
        energy[n] = 0.5 * np.sum(p * p * (1 - k * k * omega2 / 4)) \
            + 0.5 * np.sum(omega2 * q * q) \
            + 0.5 * voices.per_lane[NU2, 0] * voices.per_lane[PSI, 0] ** 2
        if exc[H_LEFT] > 0:
            energy[n] += 0.5 * hammer["mass"] * exc[H_V] ** 2 + 0.5 * exc[H_PSI] ** 2
        sav_voice.advance(voices, 1, 1, False, out)
        w[n] = out[0, 0]
    return w, energy


@pytest.mark.parametrize("nonlinearity", ["kc", "exact", "linear"])
def test_the_struck_lanes_equal_the_independent_implementation(nonlinearity):
    params = {**C4, "nonlinearity": nonlinearity}
    if nonlinearity == "exact":
        params["nu"] = 2000.0
    w, energy = struck_lanes(params, C4_HAMMER, 480)
    _, reference, reference_energy = simulate_struck_reference(params, C4_HAMMER, 480)
    assert np.abs(reference).max() > 1e-4
    np.testing.assert_allclose(w, reference, rtol=0, atol=1e-9 * np.abs(reference).max())
    np.testing.assert_allclose(energy, reference_energy, rtol=1e-9)


def test_the_contact_profile_is_the_windows_transform():
    for beta, half_width in ((3.0, 0.01), (100.0, 0.02), (math.pi / 0.05, 0.05),
                             (300.0, 0.05), (1e-3, 0.01), (50.0, 0.0)):
        s = np.linspace(-half_width, half_width, 20001) if half_width else np.zeros(1)
        if half_width:
            window = (1 + np.cos(np.pi * s / half_width)) / (2 * half_width)
            expected = np.trapezoid(window * np.cos(beta * s), s)
        else:
            expected = 1.0
        assert contact_profile(beta, half_width) == pytest.approx(expected, abs=1e-9)


@given(
    nonlinearity=st.sampled_from(["exact", "kc", "linear"]),
    fs=st.sampled_from([44100, 48000, 96000]),
    n_modes=st.integers(1, 40),
    gamma=st.floats(50.0, 5000.0),
    kappa=st.one_of(st.just(0.0), st.floats(0.0, 50.0)),
    nu=st.one_of(st.just(0.0), st.floats(0.0, 2e4)),
    sigma0=st.one_of(st.just(0.0), st.floats(0.0, 20.0)),
    sigma1=st.one_of(st.just(0.0), st.floats(0.0, 1e-2)),
    mass=st.floats(0.02, 20.0),
    felt=st.floats(1e6, 1e14),
    exponent=st.floats(1.0, 4.0),
    velocity=st.floats(0.1, 60.0),
    position=st.floats(0.01, 0.99),
    half_width=st.one_of(st.just(0.0), st.floats(0.0, 0.05)),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_energy_of_string_and_hammer_never_grows(nonlinearity, fs, n_modes, gamma,
                                                     kappa, nu, sigma0, sigma1, **hammer):
    params = {"gamma": gamma, "kappa": kappa, "nu": nu, "sigma0": sigma0, "sigma1": sigma1,
              "n_modes": n_modes, "fs": fs, "x_o": 0.7, "nonlinearity": nonlinearity}
    w, energy = struck_lanes(params, hammer, int(0.01 * fs))
    assert np.isfinite(w).all()
    # while the hammer is in play; after, its leftover energy leaves with it
    assert np.diff(energy).max() <= 1e-10 * energy[0]


def test_the_modal_hammer_meets_a_finite_difference_string():
    length, density, tension, radius, hammer, position = PIANO_HAMMERS["C4"]
    modal = bench.strike("C4", 3.0)
    direct = finite_difference_strike(length, density, tension,
                                      2e11 * math.pi * radius ** 4 / 4, hammer.mass,
                                      hammer.stiffness, hammer.exponent, position, 3.0,
                                      duration=0.004, segments=100, dt=1e-6)
    modal_contact, modal_peak = bench.contact(modal)
    direct_contact, direct_peak = bench.contact(direct, fs=1e6)
    assert modal_contact == pytest.approx(direct_contact, rel=0.03)
    assert modal_peak == pytest.approx(direct_peak, rel=0.03)


def test_contact_times_follow_published_piano_measurements():
    measured = bench.measure()
    at = {note: {speed: duration for speed, duration, _ in rows}
          for note, rows in measured.items()}
    # shorter from the bass to the treble (Chaigne 2016): under 1 ms at C7, a few ms at C4
    for speed in bench.SPEEDS:
        assert at["C2"][speed] > at["C4"][speed] > at["C7"][speed]
        assert at["C7"][speed] < 1.0
        assert 1.5 < at["C4"][speed] < 4.0
    # harder is shorter, within about +-20 % of mezzo-forte from piano to fortissimo
    # (Askenfelt and Jansson), and louder: the peak force grows with speed
    for note in ("C2", "C4"):
        durations = [at[note][speed] for speed in bench.SPEEDS]
        assert all(np.diff(durations) < 0)
        assert max(durations) < 1.2 * at[note][3.0] and min(durations) > 0.8 * at[note][3.0]
    for rows in measured.values():
        assert all(np.diff([peak for _, _, peak in rows]) > 0)


def test_the_torch_twin_strikes_as_the_kernel_does():
    torch = pytest.importorskip("torch")
    from models.hammer import StruckString
    from models.sav import KirchhoffCarrierPotential, SAVScheme
    from synth.kernels.linear import warped_mode

    params, hammer = {**C4, "nonlinearity": "kc"}, C4_HAMMER
    m = np.arange(1, params["n_modes"] + 1)
    beta2 = (m * np.pi) ** 2
    k = 1.0 / params["fs"]
    omega = np.sqrt(params["gamma"] ** 2 * beta2 + params["kappa"] ** 2 * beta2 ** 2)
    sigma = params["sigma0"] + params["sigma1"] * beta2
    omega2_s, sigma_s = np.array([warped_mode(w, s, k)
                                  for w, s in zip(omega, sigma, strict=True)]).T
    phi_h = np.sqrt(2) * np.sin(m * np.pi * hammer["position"]) \
        * np.array([contact_profile(mi * np.pi, hammer["half_width"]) for mi in m])
    as_row = lambda a: torch.as_tensor(np.asarray(a, np.float64)).reshape(1, -1)  # noqa: E731
    scheme = SAVScheme(KirchhoffCarrierPotential(params["n_modes"]), as_row(omega2_s),
                       as_row(sigma_s), as_row(params["nu"] ** 2)[0], as_row(phi_h), k)
    twin = StruckString(scheme, as_row(hammer["mass"])[0], as_row(hammer["felt"])[0],
                        as_row(hammer["exponent"])[0], as_row(phi_h))
    state = twin.start(as_row(hammer["velocity"])[0])
    pickup = np.sqrt(2) * np.sin(m * np.pi * params["x_o"])
    w_twin = []
    with torch.no_grad():
        for _ in range(480):
            state = twin.step(*state)
            w_twin.append(float(state[0][0].numpy() @ pickup))
    w_kernel, _ = struck_lanes(params, hammer, 480)
    np.testing.assert_allclose(w_twin, w_kernel, rtol=0, atol=1e-10 * np.abs(w_kernel).max())


def test_the_twins_speed_has_a_gradient():
    torch = pytest.importorskip("torch")
    from models.hammer import StruckString
    from models.sav import KirchhoffCarrierPotential, SAVScheme

    n = 8
    m = torch.arange(1, n + 1, dtype=torch.float64)
    omega2 = (524.4 * m * math.pi) ** 2
    scheme = SAVScheme(KirchhoffCarrierPotential(n), omega2[None], torch.zeros(1, n),
                       torch.tensor([8029.0 ** 2]), torch.zeros(1, n), 1 / 48000)
    phi = math.sqrt(2) * torch.sin(m * math.pi * 0.12)[None]
    twin = StruckString(scheme, torch.tensor([0.756]), torch.tensor([5.59e11]),
                        torch.tensor([2.5]), phi)
    speed = torch.tensor([4.8], requires_grad=True)
    state = twin.start(speed)
    for _ in range(100):
        state = twin.step(*state)
    energy = (state[0] ** 2).sum()
    energy.backward()
    assert speed.grad is not None and float(speed.grad) > 0


def render_note(preset, note, velocity, seconds=0.4, excitation=None):
    """The instrument's output (N, 2) of one note held `seconds`."""
    from synth.engine.engine import Engine
    from synth.engine.events import NOTE_ON
    from synth.render import Event, render_events

    engine = Engine(preset, fs=48000, polyphony=4)
    if excitation is not None:
        engine.set_param("excitation", excitation)
    return render_events(engine, [Event(0, NOTE_ON, note, velocity)], int(seconds * 48000))


def test_a_harder_key_strikes_a_brighter_piano_note_through_the_engine():
    from synth.acoustics import centroid, mono
    from synth.presets import find_preset, load_preset

    piano = load_preset(find_preset("piano-wound"))
    assert piano.excitation_type == "hammer" and piano.hammer is not None
    soft, hard = (mono(render_note(piano, 36, velocity)) for velocity in (40, 120))
    assert np.isfinite(soft).all() and np.abs(hard).max() > np.abs(soft).max()
    assert centroid(hard, 48000, 0.05, 0.3) >= 1.15 * centroid(soft, 48000, 0.05, 0.3)


@pytest.mark.parametrize("name", ["nylon-guitar", "ssm-40"])
def test_a_preset_without_a_hammer_plays_the_hammer_as_its_strike(name):
    from synth.presets import find_preset, load_preset

    preset = load_preset(find_preset(name))
    assert preset.hammer is None
    struck = render_note(preset, round(preset.reference_note), 100, excitation=1.0)
    hammered = render_note(preset, round(preset.reference_note), 100, excitation=2.0)
    assert np.abs(struck).max() > 0
    np.testing.assert_array_equal(hammered, struck)

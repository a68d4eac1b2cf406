"""The string's loss law (synth.physics.losses): its terms against their closed forms, the
kernels' modes decaying as it says, the engine's live decay and brightness on it, and its
torch twin against the kernel."""

import math

import numpy as np
import pytest

from synth.kernels import sav_voice
from synth.kernels.formulas import excitation_record
from synth.keyboards import SIGMA0
from synth.kinds.sav_string import lanes_for
from synth.physics.losses import (
    AIR_DENSITY,
    AIR_VISCOSITY,
    L_AIR,
    L_BENDING,
    L_BRIDGE,
    L_BRIDGE_MASS,
    L_FRICTION,
    L_SIGMA0,
    L_SIGMA1,
    LOSS_NAMES,
    mode_decay,
    plate_conductance,
    scheme_losses,
    string_losses,
    t60s,
)
from synth.physics.potentials import make_potential
from synth.physics.strings import LN_1000, PhysicalString

FS = 48000.0
B3 = PhysicalString(length=0.6477, tension=103.6, linear_density=1.013e-3,
                    youngs_modulus=2.0e11, radius=0.2032e-3, t60_low=(247.0, 19.0),
                    t60_high=(2000.0, 4.1))


def normalised(string):
    n = string.to_normalised()
    return n.gamma ** 2, n.kappa


def test_the_scheme_law_alone_is_sigma0_plus_sigma1_beta_squared():
    beta2 = (np.arange(1, 11) * math.pi) ** 2
    sigma = mode_decay(scheme_losses(1.5, 2e-4), 1e5, 2.0, beta2)
    np.testing.assert_allclose(sigma, 1.5 + 2e-4 * beta2, rtol=1e-15)


def test_the_air_is_valettes_drag_on_a_cylinder():
    d = 0.016 * 0.0254
    losses = string_losses(B3, 0.0, 0.0, diameter=d)
    gamma2, kappa = normalised(B3)
    for m in (1, 4, 12):
        beta2 = (m * math.pi) ** 2
        frequency = math.sqrt(gamma2 * beta2 + kappa ** 2 * beta2 ** 2) / (2 * math.pi)
        drag = 2 * math.pi * AIR_VISCOSITY \
            + 2 * math.pi * d * math.sqrt(math.pi * AIR_VISCOSITY * AIR_DENSITY * frequency)
        assert mode_decay(losses, gamma2, kappa, beta2) == pytest.approx(
            drag / (2 * B3.linear_density), rel=1e-12)


def test_internal_friction_is_woodhouses_loss_factor_plus_bendings_share():
    gamma2, kappa = normalised(B3)
    for m in (1, 30):
        beta2 = (m * math.pi) ** 2
        omega2 = gamma2 * beta2 + kappa ** 2 * beta2 ** 2
        bending_share = kappa ** 2 * beta2 ** 2 / omega2
        expected = 0.5 * math.sqrt(omega2) * (3e-4 + 2e-2 * bending_share)
        got = mode_decay(string_losses(B3, 3e-4, 2e-2), gamma2, kappa, beta2)
        assert got == pytest.approx(expected, rel=1e-12)


def test_the_bridge_takes_tension_times_the_supports_conductance_over_the_length():
    gamma2, kappa = normalised(B3)
    conductance, mass = 0.05, 0.03
    losses = string_losses(B3, 0.0, 0.0, conductance=conductance, bridge_mass=mass)
    omega = math.sqrt(gamma2 * math.pi ** 2 + kappa ** 2 * math.pi ** 4)
    real_admittance = (1 / (1 / conductance + 1j * omega * mass)).real
    assert mode_decay(losses, gamma2, kappa, math.pi ** 2) == pytest.approx(
        B3.tension * real_admittance / B3.length, rel=1e-12)


def test_an_infinite_plates_conductance_is_cremers_closed_form():
    # isotropic steel plate 2 mm: D = E h^3 / (12 (1 - nu^2)), m'' = rho h
    d = 2e11 * 0.002 ** 3 / (12 * (1 - 0.09))
    assert plate_conductance(0.002, 7850.0, 2e11, 2e11) == pytest.approx(
        1 / (8 * math.sqrt(d * 7850 * 0.002)), rel=1e-12)


def test_a_loss_record_cannot_make_a_mode_grow():
    losses = scheme_losses(-5.0, 0.0)
    with pytest.raises(Exception, match="grow"):
        t60s(losses, 1e5, 1.0, [1, 2])


def lane_energies(losses, gamma2, kappa, n_modes=24, seconds=0.5):
    """Energy of every mode over time (steps, M) of a linear string plucked in one lane."""
    voices = lanes_for(make_potential("linear", n_modes), FS, 1, np.float64)
    sav_voice.retune(voices, 0, gamma2, kappa, losses, 0.0, 0.5, 0)
    sav_voice.excite(voices, 0, excitation_record(1e4, 0.0005 * FS, 1, 0.137))
    out = np.zeros((1, 1))
    steps = int(seconds * FS)
    energies = np.zeros((steps // 480, n_modes))
    for n in range(steps):
        sav_voice.advance(voices, 1, 1, False, out)
        if n % 480 == 0 and n // 480 < len(energies):
            sav_voice.publish_modes(voices, 0, energies[n // 480])
    return energies


def test_the_lanes_modes_decay_as_the_law_says():
    gamma2, kappa = normalised(B3)
    losses = string_losses(B3, 1.85e-4, 1e-2, diameter=0.0004, conductance=0.047,
                           bridge_mass=0.06)
    energies = lane_energies(losses, gamma2, kappa)
    times = np.arange(len(energies)) * 480 / FS
    late = times > 0.01  # after the pluck
    for m in (1, 2, 5, 10, 20):
        slope = np.polyfit(times[late], np.log(energies[late, m - 1]), 1)[0]
        expected = mode_decay(losses, gamma2, kappa, (m * math.pi) ** 2)
        # an energy's envelope beats a little at twice the mode's frequency: fit to 0.5 %
        assert -0.5 * slope == pytest.approx(expected, rel=5e-3), m


def test_the_engines_decay_and_brightness_scale_the_keys_losses():
    from synth.engine.engine import Engine
    from synth.engine.events import NOTE_ON
    from synth.presets import find_preset, load_preset
    from synth.render import Event, render_events

    preset = load_preset(find_preset("steel-guitar"))
    engine = Engine(preset, fs=48000, polyphony=2)
    engine.set_param("decay", 2.0)
    engine.set_param("brightness", 4.0)
    later = 24000  # once the controls' smoothing has settled
    render_events(engine, [Event(later, NOTE_ON, 59, 100)], later + 256)
    key = preset.keyboard.strings[59, SIGMA0:]
    expected = key / 2.0
    rising = [L_SIGMA1, L_AIR, L_FRICTION, L_BENDING]  # with frequency: brightness too
    expected[rising] = key[rising] / 8.0
    expected[L_BRIDGE_MASS] = key[L_BRIDGE_MASS]  # the bridge's mass is no loss
    np.testing.assert_allclose(engine.state.losses, expected, rtol=1e-12)


def test_the_torch_twin_gives_the_kernels_coefficients():
    torch = pytest.importorskip("torch")
    from models.losses import scheme_modes
    from synth.kernels.lanes import DECAY, GAIN, STIFF

    gamma2, kappa = normalised(B3)
    losses = string_losses(B3, 1.85e-4, 1e-2, diameter=0.0004, conductance=0.047,
                           bridge_mass=0.06)
    n_modes = 120  # the top ones above 0.45 fs: dropped by both
    voices = lanes_for(make_potential("exact", n_modes), FS, 1, np.float64)
    nu2 = 300.0 ** 2
    sav_voice.retune(voices, 0, gamma2, kappa, losses, nu2, 0.7, 0)
    as_row = lambda a: torch.as_tensor(np.atleast_1d(a), dtype=torch.float64)[None]  # noqa: E731
    omega2_s, sigma_s = scheme_modes(as_row(losses), as_row(gamma2)[0], as_row(kappa)[0],
                                     n_modes, 1 / FS)
    k = 1 / FS
    d = 1 + k * sigma_s[0].numpy()
    kept = voices.coef[GAIN, :, 0] != 0
    assert 0 < kept.sum() < n_modes
    np.testing.assert_allclose(voices.coef[STIFF, :, 0], (k * omega2_s[0].numpy() / d) * kept,
                               rtol=1e-12)
    np.testing.assert_allclose(voices.coef[DECAY, kept, 0],
                               ((1 - k * sigma_s[0].numpy()) / d)[kept], rtol=1e-12)



def test_the_torch_twin_rings_as_the_kernel_does():
    torch = pytest.importorskip("torch")
    from models.losses import scheme_modes
    from models.sav import ExactPotential, SAVScheme
    from synth.kernels.formulas import excitation_force

    gamma2, kappa = normalised(B3)
    losses = string_losses(B3, 1.85e-4, 1e-2, diameter=0.0004, conductance=0.047,
                           bridge_mass=0.06)
    n_modes, nu2, k, steps = 40, 300.0 ** 2, 1 / FS, 960
    voices = lanes_for(make_potential("exact", n_modes), FS, 1, np.float64)
    sav_voice.retune(voices, 0, gamma2, kappa, losses, nu2, 0.7, 0)
    sav_voice.excite(voices, 0, excitation_record(2e4, 0.0005 * FS, 1, 0.137))
    w_kernel = np.zeros((steps, 1))
    sav_voice.advance(voices, steps, 1, False, w_kernel)

    as_row = lambda a: torch.as_tensor(np.atleast_1d(a), dtype=torch.float64)[None]  # noqa: E731
    omega2_s, sigma_s = scheme_modes(as_row(losses), as_row(gamma2)[0], as_row(kappa)[0],
                                     n_modes, k)
    m = np.arange(1, n_modes + 1)
    scheme = SAVScheme(ExactPotential(n_modes), omega2_s, sigma_s, torch.tensor([nu2]),
                       as_row(np.sqrt(2) * np.sin(m * np.pi * 0.137)), k)
    forces = torch.tensor([[excitation_force(n, 2e4, 0.0005 * FS, 1) for n in range(steps)]],
                          dtype=torch.float64)
    q = torch.zeros(1, n_modes, dtype=torch.float64)
    with torch.no_grad():
        qs, _ = scheme.run(q, torch.zeros_like(q), forces)
    w_twin = qs[0].numpy() @ (np.sqrt(2) * np.sin(m * np.pi * 0.7))
    np.testing.assert_allclose(w_twin, w_kernel[:, 0], rtol=0,
                               atol=1e-10 * np.abs(w_kernel).max())


def test_the_twins_losses_have_gradients():
    torch = pytest.importorskip("torch")
    from models.losses import scheme_modes

    gamma2, kappa = normalised(B3)
    losses = torch.tensor(string_losses(B3, 1.85e-4, 1e-2, diameter=0.0004,
                                        conductance=0.047, bridge_mass=0.06)[None],
                          requires_grad=True)
    _, sigma_s = scheme_modes(losses, torch.tensor([gamma2], dtype=torch.float64),
                              torch.tensor([kappa], dtype=torch.float64), 30, 1 / FS)
    sigma_s.sum().backward()
    assert losses.grad.shape == (1, len(LOSS_NAMES))
    assert (losses.grad[0, [L_SIGMA0, L_BRIDGE]] > 0).all()


def test_the_shipped_instruments_t60s_follow_their_keys_law():
    from synth.presets import find_preset, load_preset

    piano = load_preset(find_preset("piano-wound")).keyboard
    key = piano.strings[48]
    t60 = t60s(key[3:], key[0] ** 2, key[1], [1, 10])
    assert 2.0 < t60[0] < 20.0 and t60[1] < t60[0]
    assert LN_1000 / mode_decay(key[3:], key[0] ** 2, key[1], math.pi ** 2) == \
        pytest.approx(t60[0])

"""A piano key's mistuned unisons (synth.physics.losses, synth.kernels.lanes): the lane's mode and
its unisons' cancelling motion against the closed form of two coupled damped oscillators,
the prompt sound and the aftersound at Weinreich's rates, stability at the largest mistuning,
and the keyboards that carry the mistuning."""

import math

import numpy as np
import pytest

from synth.errors import PresetError
from synth.kernels import sav_voice
from synth.kernels.lanes import ANTI_COUPLING, COUPLING, GAIN, STIFF
from synth.keyboards import MAX_MISTUNING, MISTUNING, Keyboard, keyboard_from_file
from synth.kinds.sav_string import lanes_for
from synth.physics.losses import (
    L_BRIDGE,
    L_MISTUNING,
    bridge_decay,
    scheme_losses,
    string_decay,
    unison_coupling,
)
from synth.physics.potentials import make_potential

FS = 48000.0
F0 = 262.0
GAMMA2 = (2.0 * F0) ** 2  # normalised: the fundamental is gamma / 2 Hz
BETA2 = math.pi ** 2


def unison_losses(mistuning, sigma0=0.5, bridge=2e-6):
    losses = scheme_losses(sigma0, 0.0)
    losses[L_BRIDGE], losses[L_MISTUNING] = bridge, mistuning
    return losses


def first_mode(losses, seconds=2.0, every=96, gamma2=GAMMA2, n_modes=4):
    """q and anti_q of mode 1 of a linear string's lane, started at q_1 = 1, every `every`
    steps: (times (s), q, anti_q)."""
    voices = lanes_for(make_potential("linear", n_modes), FS, 1, np.float64)
    sav_voice.retune(voices, 0, gamma2, 0.0, losses, 0.0, 0.3, 0)
    voices.q[0, 0] = 1.0
    out = np.zeros((every, 1))
    count = int(seconds * FS) // every
    q, anti = np.zeros(count), np.zeros(count)
    for i in range(count):
        q[i], anti[i] = voices.q[0, 0], voices.anti_q[0, 0]
        sav_voice.advance(voices, every, 1, False, out)
    return np.arange(count) * every / FS, q, anti


def coupled_closed_form(losses, times):
    """(q, anti) of the continuous system q'' + 2 s_q q' + w^2 q + c x = 0, x'' + 2 s_x x' +
    w^2 x + c q = 0 from q = 1 at rest, by the matrix exponential's eigenvectors."""
    omega2 = GAMMA2 * BETA2
    s_q = string_decay(losses, GAMMA2, 0.0, BETA2) + bridge_decay(losses, GAMMA2, 0.0, BETA2)
    s_x = string_decay(losses, GAMMA2, 0.0, BETA2)
    c = unison_coupling(losses[L_MISTUNING]) * omega2
    system = np.array([[0, 0, 1, 0], [0, 0, 0, 1],
                       [-omega2, -c, -2 * s_q, 0], [-c, -omega2, 0, -2 * s_x]], dtype=complex)
    values, vectors = np.linalg.eig(system)
    weights = np.linalg.solve(vectors, np.array([1, 0, 0, 0], dtype=complex))
    states = (vectors * weights) @ np.exp(np.outer(values, times))
    return states[0].real, states[1].real


@pytest.mark.parametrize("mistuning", [0.3, 2.0])
def test_the_lane_and_its_unisons_cancelling_motion_are_two_coupled_oscillators(mistuning):
    losses = unison_losses(mistuning)
    times, q, anti = first_mode(losses)
    q_exact, anti_exact = coupled_closed_form(losses, times)
    np.testing.assert_allclose(q, q_exact, atol=2e-3)
    np.testing.assert_allclose(anti, anti_exact, atol=2e-3)
    assert np.abs(anti).max() > 0.1  # and the coupling matters: energy really moves


def test_unisons_tuned_alike_leave_the_cancelling_motion_silent():
    times, q, anti = first_mode(unison_losses(0.0), seconds=0.2)
    assert not anti.any()
    envelope = np.exp(-(0.5 + GAMMA2 * 2e-6) * times)
    assert np.abs(q).max() == 1.0 and np.all(np.abs(q) <= envelope + 1e-9)


def test_below_the_critical_mistuning_the_note_decays_fast_then_at_the_aftersounds_rate():
    # Weinreich: with the coupling eps w below half the bridge's loss, the two motions decay
    # at (s_q + s_x) / 2 +- sqrt(((s_q - s_x) / 2)^2 - (eps w)^2), without beats
    losses = unison_losses(0.5, sigma0=0.2, bridge=1e-5)
    times, q, _ = first_mode(losses, seconds=6.0)
    s_q, s_x = 0.2 + GAMMA2 * 1e-5, 0.2
    coupling = unison_coupling(0.5) * math.sqrt(GAMMA2 * BETA2) / 2.0
    half = (s_q - s_x) / 2.0
    assert coupling < half
    fast = (s_q + s_x) / 2.0 + math.sqrt(half ** 2 - coupling ** 2)
    slow = (s_q + s_x) / 2.0 - math.sqrt(half ** 2 - coupling ** 2)
    level = np.log(np.maximum.accumulate(np.abs(q)[::-1])[::-1])  # the upper envelope
    early = -np.polyfit(times[times < 0.2], level[times < 0.2], 1)[0]
    late = -np.polyfit(times[times > 3.0], level[times > 3.0], 1)[0]
    assert early == pytest.approx(fast, rel=0.05)
    assert late == pytest.approx(slow, rel=0.02)
    assert early > 5 * late


def test_the_largest_mistuning_keeps_every_mode_below_nyquist_stable():
    n_top = 15
    gamma2 = (2.0 * 0.4499 * FS / n_top) ** 2  # mode 15 just below 0.45 fs, the last kept
    voices = lanes_for(make_potential("linear", 20), FS, 1, np.float64)
    sav_voice.retune(voices, 0, gamma2, 0.0, unison_losses(MAX_MISTUNING, sigma0=0.0,
                                                            bridge=0.0), 0.0, 0.3, 0)
    kept = np.flatnonzero(voices.coef[COUPLING, :, 0])
    assert kept[-1] == n_top - 1 and np.all(voices.coef[ANTI_COUPLING, kept, 0] > 0)
    # position Verlet's limit on the coupled stiffnesses, k^2 omega_s^2 (1 + 2 eps) < 4,
    # with room to spare (about 21 cents is the edge here)
    k2_omega2 = voices.coef[STIFF, n_top - 1, 0] / voices.coef[GAIN, n_top - 1, 0] / FS ** 2
    assert k2_omega2 * (1 + unison_coupling(MAX_MISTUNING)) < 3.995
    assert k2_omega2 * (1 + unison_coupling(2.5 * MAX_MISTUNING)) > 4.0
    voices.q[kept, 0] = 1e-3
    out = np.zeros((4800, 1))
    for _ in range(20):
        sav_voice.advance(voices, 4800, 1, False, out)
    assert np.isfinite(out).all() and np.abs(voices.q).max() < 1e-2
    assert np.abs(voices.anti_q).max() < 1e-2


def test_the_struck_step_couples_the_unisons_as_the_plain_step_does():
    # a hammer moving away never touches the string, but while it is in play every step is
    # the struck one: the lane must ring exactly as without it
    from synth.kernels.formulas import HAMMER, excitation_record

    runs = []
    for hammer in (False, True):
        voices = lanes_for(make_potential("kc", 16), FS, 1, np.float64)
        sav_voice.retune(voices, 0, GAMMA2, 1.0, unison_losses(2.0), 1500.0 ** 2, 0.3, 0)
        if hammer:
            sav_voice.excite(voices, 0, excitation_record(
                0.0, 0.0, HAMMER, 0.12, hammer_velocity=-50.0, hammer_mass=0.5, felt=1e9,
                felt_exponent=2.5))
        voices.q[:3, 0] = (2e-3, -1e-3, 5e-4)
        out = np.zeros((900, 1))  # within the hammer's 20 ms in play
        sav_voice.advance(voices, 900, 1, False, out)
        runs.append((out[:, 0].copy(), voices.anti_q[:, 0].copy()))
    assert np.abs(runs[0][1]).max() > 1e-6  # the unisons are coupled
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=0, atol=1e-12)


def test_a_ramped_retune_reaches_the_unisons_coefficients_and_a_reset_silences_them():
    from synth.kernels.lanes import RAMPED

    voices = lanes_for(make_potential("linear", 8), FS, 2, np.float64)
    for v in (0, 1):
        sav_voice.retune(voices, v, GAMMA2, 0.0, unison_losses(1.0), 0.0, 0.3, 0)
    voices.q[0, :] = 1.0
    out = np.zeros((256, 2))
    sav_voice.advance(voices, 256, 2, False, out)
    sav_voice.retune(voices, 0, 1.3 * GAMMA2, 0.0, unison_losses(3.0), 0.0, 0.3, 128)
    sav_voice.retune(voices, 1, 1.3 * GAMMA2, 0.0, unison_losses(3.0), 0.0, 0.3, 0)
    sav_voice.advance(voices, 128, 2, True, np.zeros((128, 2)))
    for row in RAMPED:
        np.testing.assert_allclose(voices.coef[row, :, 0], voices.coef[row, :, 1],
                                   rtol=1e-9, atol=1e-15)
    assert np.abs(voices.anti_q).min(axis=1)[0] > 0
    sav_voice.settle(voices, 0)
    sav_voice.reset(voices, 1)
    assert not voices.anti_q.any() and not voices.anti_p.any()


def test_a_held_pluck_on_mistuned_unisons_rests_in_their_coupled_equilibrium():
    from synth.kernels.formulas import HELD_PLUCK, excitation_record

    voices = lanes_for(make_potential("linear", 24), FS, 1, np.float64)
    sav_voice.retune(voices, 0, GAMMA2, 1.0, unison_losses(5.0), 0.0, 0.3, 0)
    sav_voice.excite(voices, 0, excitation_record(0.0, 0.0, HELD_PLUCK, 0.15, hold=1e4,
                                                  release=1e9))
    before, anti_before = voices.q[:, 0].copy(), voices.anti_q[:, 0].copy()
    assert np.abs(anti_before).max() > 1e-4 * np.abs(before).max()
    sav_voice.advance(voices, 960, 1, False, np.zeros((960, 1)))
    np.testing.assert_allclose(voices.q[:, 0], before, rtol=0, atol=1e-9 * abs(before).max())
    np.testing.assert_allclose(voices.anti_q[:, 0], anti_before, rtol=0,
                               atol=1e-9 * abs(before).max())


def test_the_grand_pianos_keys_with_unisons_are_mistuned_and_the_guitars_are_not():
    from presets.keyboards import UNISON_MISTUNING, grand_piano, guitar, unisons

    piano = grand_piano().strings[:, MISTUNING]
    for note in range(21, 109):
        assert piano[note] == (UNISON_MISTUNING if unisons(note) > 1 else 0.0), note
    assert not guitar("steel", 0.1, 0.001).strings[:, MISTUNING].any()


def test_a_keyboard_saved_before_the_unisons_loads_with_one_string_a_key():
    from presets.keyboards import grand_piano

    piano = grand_piano()
    old = {"keyboard.strings": piano.strings[:, :MISTUNING],
           "keyboard.excitation": piano.excitation}
    loaded = keyboard_from_file(piano.description(), old)
    assert not loaded.strings[:, MISTUNING].any()
    np.testing.assert_array_equal(loaded.strings[:, :MISTUNING], piano.strings[:, :MISTUNING])


def test_unisons_mistuned_beyond_the_limit_are_refused():
    from presets.keyboards import grand_piano

    piano = grand_piano()
    strings = piano.strings.copy()
    strings[60, MISTUNING] = MAX_MISTUNING * 1.5
    with pytest.raises(PresetError, match="mistuned by at most"):
        Keyboard(strings, piano.excitation)


def test_the_torch_twin_plays_the_unisons_as_the_kernel_does():
    torch = pytest.importorskip("torch")
    from models.losses import scheme_modes
    from models.sav import KirchhoffCarrierPotential, SAVScheme
    from models.unisons import UnisonString
    from synth.kernels.formulas import excitation_force, excitation_record

    n_modes, nu2, k, steps, position = 30, 2000.0 ** 2, 1 / FS, 2400, 0.12
    gamma2, kappa = (2.0 * 131.0) ** 2, 1.5
    losses = unison_losses(3.0, sigma0=0.4, bridge=4e-6)
    voices = lanes_for(make_potential("kc", n_modes), FS, 1, np.float64)
    sav_voice.retune(voices, 0, gamma2, kappa, losses, nu2, 0.3, 0)
    sav_voice.excite(voices, 0, excitation_record(3e4, 0.001 * FS, 2, position))
    w_kernel = np.zeros((steps, 1))
    sav_voice.advance(voices, steps, 1, False, w_kernel)

    row = lambda a: torch.as_tensor(np.atleast_1d(a), dtype=torch.float64)  # noqa: E731
    losses_t = row(losses)[None]
    omega2_s, sigma_s = scheme_modes(losses_t, row(gamma2), row(kappa), n_modes, k)
    m = np.arange(1, n_modes + 1)
    scheme = SAVScheme(KirchhoffCarrierPotential(n_modes), omega2_s, sigma_s, row(nu2),
                       row(np.sqrt(2) * np.sin(m * np.pi * position))[None], k)
    twin = UnisonString(scheme, losses_t, row(gamma2), row(kappa))
    forces = row([excitation_force(n, 3e4, 0.001 * FS, 2) for n in range(steps)])[None]
    q = torch.zeros(1, n_modes, dtype=torch.float64)
    with torch.no_grad():
        qs, xs = twin.rollout(q, torch.zeros_like(q), scheme.psi_of(q), forces)
    w_twin = qs[0].numpy() @ (np.sqrt(2) * np.sin(m * np.pi * 0.3))
    scale = np.abs(w_kernel).max()
    np.testing.assert_allclose(w_twin, w_kernel[:, 0], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(xs[0, -1].numpy(), voices.anti_q[:, 0], rtol=0,
                               atol=1e-9 * np.abs(voices.q).max())
    assert np.abs(voices.anti_q).max() > 1e-3 * np.abs(voices.q).max()  # x is not idle


def test_the_twins_gradient_in_the_mistuning_matches_finite_differences():
    torch = pytest.importorskip("torch")
    from models.losses import scheme_modes
    from models.sav import KirchhoffCarrierPotential, SAVScheme
    from models.unisons import UnisonString

    def last_energy(losses):
        gamma2 = torch.tensor([GAMMA2], dtype=torch.float64)
        kappa = torch.zeros(1, dtype=torch.float64)
        omega2_s, sigma_s = scheme_modes(losses, gamma2, kappa, 8, 1 / FS)
        scheme = SAVScheme(KirchhoffCarrierPotential(8), omega2_s, sigma_s,
                           torch.tensor([0.0], dtype=torch.float64),
                           torch.ones(1, 8, dtype=torch.float64), 1 / FS)
        twin = UnisonString(scheme, losses, gamma2, kappa)
        q = torch.zeros(1, 8, dtype=torch.float64)
        q[0, 0] = 1.0
        qs, _ = twin.rollout(q, torch.zeros_like(q), scheme.psi_of(q),
                             torch.zeros(1, 2400, dtype=torch.float64))
        return (qs[0, -240:, 0] ** 2).mean()  # the heard mode's level after 50 ms

    losses = torch.tensor(unison_losses(2.0)[None], requires_grad=True)
    last_energy(losses).backward()
    step = 1e-4
    shifted = [unison_losses(2.0 + sign * step)[None] for sign in (1, -1)]
    with torch.no_grad():
        up, down = (last_energy(torch.tensor(x)) for x in shifted)
    finite = float(up - down) / (2 * step)
    assert abs(finite) > 1e-6
    assert float(losses.grad[0, L_MISTUNING]) == pytest.approx(finite, rel=1e-4)

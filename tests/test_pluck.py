"""A finger's or plectrum's pluck (synth.physics.pluck, formulas.HELD_PLUCK): the string held
in equilibrium and let go, its energy against the static deflection's closed form, velocity
and the plectrum's stiffness on the sound, the scrape, kinds that cannot hold a string, and
the torch twin against the kernel."""

import math

import numpy as np
import pytest

from presets.keyboards import guitar_string
from synth.acoustics import centroid, mono
from synth.engine.engine import Engine
from synth.engine.events import NOTE_ON
from synth.kernels import sav_voice
from synth.kernels.formulas import HELD_PLUCK, PLUCK, excitation_force, excitation_record
from synth.kinds.sav_string import lanes_for
from synth.physics.losses import scheme_losses
from synth.physics.pluck import (
    hold_force,
    lateral_stiffness,
    plectrum_release,
    slip_release,
)
from synth.physics.potentials import make_potential
from synth.presets import find_preset, load_preset
from synth.render import Event, render_events

FS = 48000
B3, _ = guitar_string("steel", 59)
POSITION = 0.15


def test_a_held_pluck_holds_then_lets_go_as_a_raised_cosine():
    assert excitation_force(-3.0, 2.0, 10.0, HELD_PLUCK) == 2.0
    forces = [excitation_force(n, 2.0, 10.0, HELD_PLUCK) for n in range(12)]
    np.testing.assert_allclose(forces[:10], 1.0 + np.cos(np.pi * (np.arange(10) + 0.5) / 10))
    assert forces[10:] == [0.0, 0.0]
    assert excitation_force(0.0, 2.0, 0.0, HELD_PLUCK) == 0.0  # no release time: let go


def lane(potential="linear", n_modes=60, losses=None):
    normal = B3.to_normalised()
    voices = lanes_for(make_potential(potential, n_modes), FS, 1, np.float64)
    sav_voice.retune(voices, 0, normal.gamma ** 2, normal.kappa,
                     scheme_losses(0.0, 0.0) if losses is None else losses, normal.nu ** 2, 0.5, 0)
    return voices


def test_a_held_string_rests_in_the_schemes_equilibrium():
    voices = lane()
    hold = hold_force(B3, POSITION, 2e-3)
    sav_voice.excite(voices, 0, excitation_record(0.0, 0.0, HELD_PLUCK, POSITION,
                                                  hold=hold, release=1e9))
    before = voices.q[:, 0].copy()
    out = np.zeros((480, 1))
    sav_voice.advance(voices, 480, 1, False, out)
    np.testing.assert_allclose(voices.q[:, 0], before, rtol=0, atol=1e-6 * abs(before).max())
    # the deflection under the finger is the static one, hold / s (normalised by the length)
    under = np.sqrt(2) * np.sin(np.arange(1, 61) * np.pi * POSITION) @ before * B3.length
    assert under == pytest.approx(2e-3, rel=0.03)


def test_a_string_let_go_at_once_carries_its_static_deflections_energy():
    voices = lane(n_modes=200)
    depth = 2e-3
    sav_voice.excite(voices, 0, excitation_record(0.0, 0.0, HELD_PLUCK, POSITION,
                                                  hold=hold_force(B3, POSITION, depth)))
    out = np.zeros((96, 1))
    sav_voice.advance(voices, 96, 1, False, out)
    energies = np.zeros(200)
    sav_voice.publish_modes(voices, 0, energies)
    joules = energies.sum() * B3.linear_density * B3.length ** 3
    assert joules == pytest.approx(0.5 * lateral_stiffness(B3, POSITION) * depth ** 2,
                                   rel=0.02)


def test_a_nonlinear_held_string_starts_with_a_consistent_auxiliary_variable():
    from synth.kernels.lanes import PSI
    from synth.kernels.sav import EPS

    voices = lane("exact", 40)
    sav_voice.excite(voices, 0, excitation_record(0.0, 0.0, HELD_PLUCK, POSITION,
                                                  hold=hold_force(B3, POSITION, 2e-3),
                                                  release=10.0))
    value = make_potential("exact", 40).value(voices.q[:, 0].copy())
    assert value > 0
    assert voices.per_lane[PSI, 0] == pytest.approx(math.sqrt(2 * value + EPS), rel=1e-12)


def test_the_string_slips_off_as_its_held_point_returns_and_a_plectrum_as_its_tip_springs_back():
    normal, length = B3.to_normalised(), B3.length
    x, c = POSITION * length, normal.gamma * length  # m, m/s

    def returning(depth):  # d'Alembert: the held point's speed once let go (m/s)
        return 0.5 * c * (depth / x + depth / (length - x))

    slip = 0.4e-3
    hard, soft = hold_force(B3, POSITION, 2e-3), hold_force(B3, POSITION, 0.2e-3)
    assert slip_release(slip / length, normal.gamma, hard, POSITION) == \
        pytest.approx(slip / returning(2e-3), rel=1e-12)
    assert slip_release(slip / length, normal.gamma, 2 * hard, POSITION) == pytest.approx(
        0.5 * slip_release(slip / length, normal.gamma, hard, POSITION))  # twice as fast
    # held less deep than the slip, the string leaves once it is back: its deflection's time
    assert slip_release(slip / length, normal.gamma, soft, POSITION) == \
        pytest.approx(0.2e-3 / returning(0.2e-3), rel=1e-12)
    assert plectrum_release(400.0) == pytest.approx(2 * plectrum_release(1600.0))


def render(preset, note, velocity, **controls):
    engine = Engine(preset, fs=FS, polyphony=2)
    for name, value in controls.items():
        engine.set_param(name, value)
    return mono(render_events(engine, [Event(4800, NOTE_ON, note, velocity)], 4800 + FS))[4800:]


@pytest.fixture(scope="module")
def nylon():
    return load_preset(find_preset("nylon-guitar"))


def test_a_harder_pluck_is_brighter(nylon):
    soft, hard = (render(nylon, 55, velocity) for velocity in (40, 120))
    assert centroid(hard, FS, 0.05, 0.3) >= 1.15 * centroid(soft, FS, 0.05, 0.3)


def test_a_stiffer_plectrum_is_brighter(nylon):
    # hard (played gently, the string slips off slower than any plectrum's tip springs back)
    soft, stiff = (render(nylon, 55, 120, plectrum=1.0, plectrum_stiffness=k)
                   for k in (100.0, 3000.0))
    assert centroid(stiff, FS, 0.05, 0.3) >= 1.05 * centroid(soft, FS, 0.05, 0.3)


def test_a_replucked_string_and_an_output_switch_go_on_without_a_jump(nylon):
    from synth.engine.state import PRESSED

    engine = Engine(nylon, fs=FS, polyphony=2)
    audio = render_events(engine, [Event(0, NOTE_ON, 55, 90), Event(9600, NOTE_ON, 55, 90)],
                          12000)[:, 0].astype(np.float64)
    steps = np.abs(np.diff(audio))
    assert steps[9595:9605].max() < 3 * steps[9000:9590].max()  # no click at the re-pluck
    engine.set_param("output", 2.0)
    for _ in range(200):
        engine.process(128)
    assert np.all(engine.state.voice_f[PRESSED] == 0.0)  # settled, and never denormal


def test_a_held_pluck_whose_note_on_ends_a_block_is_not_set_to_rest(nylon):
    # heard relative to its press, a held string is silent in its first sample; a block
    # ending there must not take it for a dead voice and settle it
    outputs = []
    for split in (1, 64):
        engine = Engine(nylon, fs=FS, polyphony=2)
        engine.process(128)
        engine.note_on(52, 100)
        outputs.append(np.concatenate([engine.process(split), engine.process(4096 - split)]))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_the_steel_guitar_is_played_with_a_plectrum_and_renders_the_same_twice():
    steel = load_preset(find_preset("steel-guitar"))
    assert steel.controls["plectrum"] == 1.0
    np.testing.assert_array_equal(render(steel, 59, 100), render(steel, 59, 100))


def test_the_scrape_adds_noise_while_the_string_lets_go():
    voices, quiet = lane(), lane()
    hold = hold_force(B3, POSITION, 2e-3)
    outs = []
    for v, scrape in ((voices, 0.3), (quiet, 0.0)):
        sav_voice.excite(v, 0, excitation_record(0.0, 0.0, HELD_PLUCK, POSITION, hold=hold,
                                                 release=48.0, scrape=scrape))
        out = np.zeros((480, 1))
        sav_voice.advance(v, 480, 1, False, out)
        outs.append(out[:, 0])
    difference = outs[0] - outs[1]
    assert np.abs(difference[:48]).max() > 0  # during the release
    assert np.abs(difference).max() < 0.3 * np.abs(outs[1]).max()


def test_a_kind_that_cannot_hold_a_string_plays_the_held_pluck_as_its_pulse():
    from synth.kinds import find_kind

    preset = load_preset(find_preset("ssm-40"))
    kind = find_kind(preset.kind)
    outs = []
    for shape in (PLUCK, HELD_PLUCK):
        voices = kind.build_voices(preset, FS, 1, np.float64)
        s = preset.string
        kind.kernels.retune(voices, 0, s.gamma ** 2, s.kappa, scheme_losses(s.sigma0, s.sigma1),
                            s.nu ** 2, 0.5, 0)
        kind.kernels.excite(voices, 0, excitation_record(preset.amplitude, 48.0, shape, 0.2,
                                                         hold=1e3, release=10.0))
        out = np.zeros((960, 1), voices_dtype(voices))
        kind.kernels.advance(voices, 960, 1, False, out)
        outs.append(out)
    assert np.abs(outs[0]).max() > 0
    np.testing.assert_array_equal(outs[0], outs[1])


def voices_dtype(voices):
    return next(a.dtype for a in voices if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                and a.ndim >= 2)


def test_the_torch_twin_lets_go_as_the_kernel_does():
    torch = pytest.importorskip("torch")
    from models.losses import scheme_modes
    from models.pluck import held_start, release_forces
    from models.sav import ExactPotential, SAVScheme

    normal = B3.to_normalised()
    n_modes, k, steps, release = 40, 1 / FS, 960, 20.0
    losses = scheme_losses(normal.sigma0, normal.sigma1)
    voices = lane("exact", n_modes, losses)
    hold = hold_force(B3, POSITION, 2e-3)
    sav_voice.excite(voices, 0, excitation_record(0.0, 0.0, HELD_PLUCK, POSITION, hold=hold,
                                                  release=release))
    w_kernel = np.zeros((steps, 1))
    sav_voice.advance(voices, steps, 1, False, w_kernel)

    as_row = lambda a: torch.as_tensor(np.atleast_1d(a), dtype=torch.float64)[None]  # noqa: E731
    omega2_s, sigma_s = scheme_modes(as_row(losses), as_row(normal.gamma ** 2)[0],
                                     as_row(normal.kappa)[0], n_modes, k)
    m = np.arange(1, n_modes + 1)
    scheme = SAVScheme(ExactPotential(n_modes), omega2_s, sigma_s,
                       torch.tensor([normal.nu ** 2]), as_row(np.sqrt(2) * np.sin(
                           m * np.pi * POSITION)), k)
    hold_t = torch.tensor([hold], dtype=torch.float64)
    q, p, psi = held_start(scheme, hold_t)
    forces = release_forces(hold_t, torch.tensor([release], dtype=torch.float64), steps)
    with torch.no_grad():
        qs, _, _ = scheme.rollout(q, p, psi, forces)
    w_twin = qs[0].numpy() @ (np.sqrt(2) * np.sin(m * np.pi * 0.5))
    # a hard pluck of the stiff steel string: the slopes' transforms (kernel) and products
    # (twin) round apart by 1e-9 over 960 steps of its strong nonlinearity
    np.testing.assert_allclose(w_twin, w_kernel[:, 0], rtol=0,
                               atol=1e-9 * np.abs(w_kernel).max())


def test_the_twins_pluck_has_gradients():
    torch = pytest.importorskip("torch")
    from models.pluck import release_forces

    hold = torch.tensor([100.0], dtype=torch.float64, requires_grad=True)
    release = torch.tensor([12.0], dtype=torch.float64, requires_grad=True)
    release_forces(hold, release, 20).sum().backward()
    assert float(hold.grad) > 0 and float(release.grad) > 0


def test_the_release_follows_the_tension_of_the_moment(nylon):
    from synth.kernels.formulas import E_RELEASE

    releases = []
    for tension in (1.0, 2.0):
        engine = Engine(nylon, fs=FS, polyphony=2)
        engine.set_param("tension", tension)
        later = 24000  # once the control's smoothing has settled
        render_events(engine, [Event(later, NOTE_ON, 55, 127)], later + 256)
        releases.append(engine.state.excitation[E_RELEASE])
    # held deeper than its gauge: T_r = 2 gamma slip / H; the same hold, gamma x sqrt(2)
    assert releases[1] == pytest.approx(np.sqrt(2.0) * releases[0], rel=1e-9)

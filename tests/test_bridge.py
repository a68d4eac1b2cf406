"""The bridge: the force of a string's end, against the closed form of the string's field and
its torch twin, and the instrument's path through the engine (body, stereo, outputs)."""

import math

import numpy as np
import pytest
import torch

from models.body import BodyTwin, bridge_force
from synth import params
from synth.engine import Engine
from synth.engine.state import NOTE, PAN_LEFT, PAN_RIGHT
from synth.kernels import sav_voice
from synth.kernels.body import body_coefficients
from synth.kernels.formulas import BRIDGE, PLUCK, excitation_record
from synth.kinds.sav_string import build_voices
from synth.physics.losses import scheme_losses
from synth.physics.modes import readout
from synth.presets import find_preset, load_preset

FS = 48000


def test_the_bridge_readout_is_the_end_force_of_the_modal_field():
    """F / T = u_x(0) - (EI / T) u_xxx(0), EI / T = kappa^2 / gamma^2, from finite differences
    of u(x) = sum q_m sqrt(2) sin(m pi x)."""
    rng = np.random.default_rng(5)
    q = rng.standard_normal(12) / np.arange(1, 13) ** 2
    gamma2, kappa = 150.0 ** 2, 30.0
    m = np.arange(1, 13)

    def field(x):
        return (q * np.sqrt(2) * np.sin(np.outer(x, m) * np.pi)).sum(axis=1)

    h = 1e-3
    x = np.array([-2, -1, 0, 1, 2]) * h
    u = field(x)
    slope = (u[3] - u[1]) / (2 * h)
    third = (u[4] - 2 * u[3] + 2 * u[1] - u[0]) / (2 * h ** 3)
    closed = float((readout(m, BRIDGE, gamma2, kappa) * q).sum())
    assert closed == pytest.approx(slope - kappa ** 2 / gamma2 * third, rel=1e-4)


def test_a_linear_string_kernel_reads_the_bridge_force_as_its_torch_twin_does():
    preset = load_preset(find_preset("steel-string-bare"))
    voices = build_voices(preset, FS, 8, np.float64)
    string = preset.string
    gamma2 = string.gamma ** 2
    sav_voice.retune(voices, 0, gamma2, string.kappa, scheme_losses(string.sigma0, string.sigma1),
                     0.0, BRIDGE, 0)  # nu = 0: the linear string
    sav_voice.excite(voices, 0, excitation_record(preset.amplitude, 48.0, PLUCK, 0.2))
    out = np.zeros((1, 8))
    read, modes = [], []
    for _ in range(2000):
        sav_voice.advance(voices, 1, 1, False, out)
        read.append(out[0, 0])
        modes.append(voices.q[:, 0].copy())
    twin = bridge_force(torch.as_tensor(np.array(modes)), gamma2, string.kappa).numpy()
    assert np.abs(twin).max() > 0
    np.testing.assert_allclose(read, twin, rtol=0, atol=1e-12 * np.abs(twin).max())


def nonlinear_bridge_errors(fs):
    """The Kirchhoff-Carrier string struck hard at fs Hz for 1/12 s: the kernel's bridge force
    against its twin's with the extra tension nu^2 S / 2, S = sum beta^2 q^2, on the end's
    slope (the force at the half step, as the SAV step evaluates it), both relative to the
    peak; and the extra tension's share of the force."""
    preset = load_preset(find_preset("piano-string-bare"))
    assert preset.model["potential"] == "kc"
    voices = build_voices(preset, fs, 8, np.float64)
    string = preset.string
    gamma2, nu2 = string.gamma ** 2, string.nu ** 2
    sav_voice.retune(voices, 0, gamma2, string.kappa,
                     scheme_losses(string.sigma0, string.sigma1), nu2, BRIDGE, 0)
    sav_voice.excite(voices, 0, excitation_record(4 * preset.amplitude, 2e-3 * fs, PLUCK, 0.12))
    out = np.zeros((1, 8))
    read, modes = [], []
    for _ in range(fs // 12):
        sav_voice.advance(voices, 1, 1, False, out)
        read.append(out[0, 0])
        modes.append(voices.q[:, 0].copy())
    q = torch.as_tensor(np.array(modes))
    half = 0.5 * (q + torch.cat([torch.zeros_like(q[:1]), q[:-1]]))
    beta2 = (torch.arange(1, q.shape[1] + 1, dtype=q.dtype) * math.pi) ** 2
    forces = -nu2 * 0.5 * (half ** 2 @ beta2)[:, None] * beta2 * half  # -nu^2 grad V
    linear = bridge_force(q, gamma2, string.kappa).numpy()
    twin = bridge_force(q, gamma2, string.kappa, forces).numpy()
    scale = np.abs(twin).max()
    return np.abs(np.array(read) - twin).max() / scale, np.abs(twin - linear).max() / scale


def test_a_nonlinear_strings_bridge_force_carries_its_extra_tension_to_second_order():
    error, share = nonlinear_bridge_errors(FS)
    finer, _ = nonlinear_bridge_errors(2 * FS)
    assert share > 0.1  # struck this hard, the extra tension is a tenth of the force or more
    assert error < 0.01
    assert finer < error / 3  # second order: a quarter at twice the rate


def play(preset, note=64, seconds=0.6, dtype=np.float32, **settings):
    """A fresh engine's output (frames, 2) for one note at velocity 100, with `settings`."""
    engine = Engine(preset, fs=FS, polyphony=2, max_block=256, dtype=dtype)
    for name, value in {"gain": -30.0, **settings}.items():  # far below the limiter
        engine.set_param(name, value)
    engine.process(FS // 4)  # the settings are smoothed in
    engine.note_on(note, 100)
    return engine.process(int(seconds * FS)).astype(np.float64)


def test_the_instrument_is_its_direct_sound_plus_the_body_driven_by_the_bridge_force():
    """Note 64 sits mid-range, so its direct sound is the same in both channels: with
    body_mix 0 that is the bridge force (times the gain); with body_mix 1, the body's twin
    driven by that force; in between, the mix of the two."""
    direct, body, half = (play("nylon-guitar", dtype=np.float64, body_mix=share)
                          for share in (0.0, 1.0, 0.5))
    np.testing.assert_allclose(direct[:, 0], direct[:, 1], rtol=0,
                               atol=1e-5 * np.abs(direct).max())  # float32 output
    preset = load_preset(find_preset("nylon-guitar"))
    twin = BodyTwin(preset.body.frequencies, preset.body.decays, preset.body.gains, FS)
    expected = twin(torch.as_tensor(direct[:, 0])).detach().numpy()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(body, expected, rtol=0, atol=2e-4 * scale)  # float32 output
    np.testing.assert_allclose(half, 0.5 * (direct + body), rtol=0, atol=2e-4 * scale)


def test_the_instrument_is_stereo_and_a_bare_string_is_mono():
    instrument = play("steel-guitar", note=59)
    assert np.corrcoef(instrument[:, 0], instrument[:, 1])[0, 1] < 0.95
    bare = play("steel-string-bare", note=59)
    np.testing.assert_array_equal(bare[:, 0], bare[:, 1])
    assert np.abs(bare).max() > 1e-3


def test_the_direct_sound_is_panned_by_pitch_low_notes_left():
    engine = Engine("piano-wound", fs=FS, polyphony=4)
    engine.note_on(30, 100)
    engine.note_on(100, 100)
    engine.process(128)
    lanes = {int(engine.state.voice_int[NOTE, v]): v for v in range(2)}
    low, high = lanes[30], lanes[100]
    pan = engine.state.voice_f
    assert pan[PAN_LEFT, low] > pan[PAN_RIGHT, low] and pan[PAN_RIGHT, high] > pan[PAN_LEFT, high]
    for v in (low, high):  # constant power: as loud as the centre
        assert pan[PAN_LEFT, v] ** 2 + pan[PAN_RIGHT, v] ** 2 == pytest.approx(2.0)


def test_the_pickup_output_is_the_strings_velocity_at_the_pickup():
    bare, pickup = (play("nylon-guitar", note=55, dtype=np.float64, output=heard)[:, 0]
                    for heard in (params.BARE, params.PICKUP))
    frequency = 440.0 * 2 ** ((55 - 69) / 12)
    # a plucked string starts held deflected: the differentiator starts from its first sample
    velocity = np.diff(bare, prepend=bare[0]) * FS / (2 * math.pi * frequency) \
        * params.PICKUP_LEVEL
    np.testing.assert_allclose(pickup, velocity, rtol=0, atol=1e-5 * np.abs(velocity).max())


def test_body_size_and_damping_move_the_modes_while_notes_ring():
    engine = Engine("nylon-guitar", fs=FS, polyphony=2)
    engine.note_on(55, 100)
    engine.set_param("body_size", 2.0)
    engine.set_param("body_damping", 0.5)
    for _ in range(200):  # 0.5 s: the smoothing has arrived
        engine.process(128)
    body = engine.preset.body
    expected = body_coefficients(body.frequencies / 2.0, body.decays * 0.5, FS)
    np.testing.assert_allclose(engine.state.body_coef, expected, rtol=1e-12, atol=1e-15)
    assert np.isfinite(engine.process(4096)).all()


def test_switching_the_output_mid_note_never_clicks():
    """Acoustic to pickup to bare and back while a note rings: around each switch no step
    between samples is larger than the note's own steps before it."""
    engine = Engine("nylon-guitar", fs=FS, polyphony=2)
    engine.note_on(55, 100)
    parts = [engine.process(FS // 2)]
    for heard in (params.PICKUP, params.BARE, params.ACOUSTIC):
        engine.set_param("output", heard)
        parts.append(engine.process(FS // 2))
    x = np.concatenate(parts)[:, 0].astype(np.float64)
    own = np.abs(np.diff(x[FS // 4:FS // 2])).max()
    for switch in (1, 2, 3):
        around = x[switch * FS // 2 - 64:switch * FS // 2 + 1024]
        assert np.abs(np.diff(around)).max() < 1.5 * own, switch


def test_all_sound_off_spares_the_body_of_a_note_played_with_it():
    """A sequencer's loop sends all sound off and its first note together: the note's body
    sounds in full (as on a fresh engine, but for the old note's last 4 ms)."""
    engine = Engine("piano-wound", fs=FS, polyphony=4)
    engine.note_on(36, 120)
    engine.process(FS // 2)
    engine.all_sound_off()
    engine.note_on(48, 100)
    played = engine.process(FS).astype(np.float64)
    fresh = Engine("piano-wound", fs=FS, polyphony=4)
    fresh.note_on(48, 100)
    alone = fresh.process(FS).astype(np.float64)
    late = slice(FS // 10, FS)
    assert rms(played[late] - alone[late]) < 0.1 * rms(alone[late])


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


@pytest.mark.parametrize("channels", [1, 4])
def test_one_channel_hears_the_mean_and_more_channels_alternate_left_and_right(channels):
    stereo = play("steel-guitar", note=59, seconds=0.2)
    engine = Engine("steel-guitar", fs=FS, polyphony=2, max_block=256, channels=channels)
    engine.set_param("gain", -30.0)
    engine.process(FS // 4)
    engine.note_on(59, 100)
    out = engine.process(FS // 5).astype(np.float64)
    if channels == 1:
        np.testing.assert_allclose(out[:, 0], stereo.mean(axis=1), rtol=0, atol=1e-6)
    else:
        for c in range(channels):
            np.testing.assert_array_equal(out[:, c], stereo[:, c % 2])


@pytest.mark.parametrize("fs, size", [(8000, 1.0), (22050, 0.5)])
def test_body_modes_beyond_the_band_fall_silent_and_the_rest_plays(fs, size):
    engine = Engine("nylon-guitar", fs=fs, polyphony=2)
    engine.set_param("body_size", size)
    engine.process(fs // 2)
    engine.note_on(55, 100)
    out = engine.process(fs)
    body = engine.preset.body
    silent = body.frequencies / size >= 0.45 * fs
    assert silent.any() and not silent.all()
    assert np.all(engine.state.body_coef[silent] == 0.0)
    assert np.isfinite(out).all() and np.abs(out).max() > 0.01


def test_a_preset_without_a_body_heard_as_an_instrument_plays_its_bridge_force_centred():
    out = play("steel-string-bare", note=59, output=params.ACOUSTIC)
    assert np.isfinite(out).all() and np.abs(out).max() > 1e-3
    np.testing.assert_array_equal(out[:, 0], out[:, 1])

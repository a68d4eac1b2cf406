"""The engine, offline: pitch, glide, damper, sustain, bend, voices, live parameters, guards."""

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest
from engine_helpers import cents, fundamental, note_hz, rms

from synth.engine import Engine, events
from synth.engine.block import process_block
from synth.engine.state import RESETS
from synth.errors import ParameterError
from synth.render import Event, demo_events, render, render_events

FS = 48000


@pytest.fixture(scope="module")
def nylon():
    engine = Engine("nylon-guitar", fs=FS, polyphony=8, max_block=128)
    engine.warm_up()
    return engine.preset


def play(preset, timeline, seconds, **kwargs):
    engine = Engine(preset, fs=FS, max_block=128, **kwargs)
    return engine, render_events(engine, timeline, int(seconds * FS))[:, 0]


def test_a_soft_note_sounds_at_its_pitch(nylon):
    for note in (43, 55, 67):
        _, x = play(nylon, [Event(0, events.NOTE_ON, note, 20)], 1.5)
        f = fundamental(x[int(0.2 * FS):], FS, note_hz(note))
        assert abs(cents(f, note_hz(note))) < 1.5, (note, f)


def test_a_hard_note_starts_sharp_and_glides_down():
    _, x = play("slack-steel", [Event(0, events.NOTE_ON, 40, 127)], 2.0)
    early = fundamental(x[int(0.01 * FS):int(0.11 * FS)], FS, note_hz(40), width=0.2)
    late = fundamental(x[int(1.0 * FS):int(2.0 * FS)], FS, note_hz(40), width=0.2)
    assert cents(early, note_hz(40)) > 40.0
    assert abs(cents(late, note_hz(40))) < 8.0
    _, soft = play("slack-steel", [Event(0, events.NOTE_ON, 40, 20)], 0.2)
    assert abs(cents(fundamental(soft[int(0.01 * FS):], FS, note_hz(40), 0.2),
                     note_hz(40))) < 10.0


def test_note_off_engages_the_damper_unless_sustain_holds(nylon):
    on, off = Event(0, events.NOTE_ON, 55, 90), Event(FS // 2, events.NOTE_OFF, 55)
    _, damped = play(nylon, [on, off], 1.5)
    _, free = play(nylon, [on], 1.5)
    pedal = [Event(0, events.CONTROL, 64, 127), on, off]
    _, sustained = play(nylon, pedal, 1.5)
    late = slice(int(1.0 * FS), int(1.5 * FS))
    assert rms(damped[late]) < 1e-3 * rms(free[late])
    assert rms(sustained[late]) == pytest.approx(rms(free[late]), rel=1e-5)
    # Releasing the pedal releases the note.
    _, released = play(nylon, [*pedal, Event(int(0.7 * FS), events.CONTROL, 64, 0)], 1.5)
    assert rms(released[late]) < 1e-3 * rms(free[late])


def test_pitch_bend_moves_the_pitch_by_its_range(nylon):
    timeline = [Event(0, events.NOTE_ON, 55, 40), Event(0, events.PITCH_BEND, 16383)]
    engine, x = play(nylon, timeline, 1.5)
    f = fundamental(x[int(0.3 * FS):], FS, note_hz(57))
    assert cents(f, note_hz(55)) == pytest.approx(200.0, abs=3.0)
    engine.set_param("bend_range", 12)
    engine.pitch_bend(-1.0)
    f = fundamental(engine.process(FS)[int(0.3 * FS):, 0], FS, note_hz(43), 0.1)
    assert cents(f, note_hz(55)) == pytest.approx(-1200.0, abs=8.0)


def test_tension_moves_pitch_with_its_square_root_smoothly(nylon):
    engine, _ = play(nylon, [Event(0, events.NOTE_ON, 55, 40)], 0.3)
    engine.set_param("tension", 4.0)
    x = engine.process(FS)[:, 0]
    f = fundamental(x[int(0.4 * FS):], FS, 2 * note_hz(55))
    assert cents(f, note_hz(55)) == pytest.approx(1200.0, abs=10.0)  # stiffness stays fixed
    jumps = np.abs(np.diff(x))
    assert jumps.max() < 5 * np.percentile(jumps, 99.9)  # a glide, not a click


def test_polyphony_limit_steals_the_oldest_with_a_fade(nylon):
    timeline = [Event(i * 480, events.NOTE_ON, 40 + i, 80) for i in range(12)]
    engine, x = play(nylon, timeline, 0.5, polyphony=4)
    stats = engine.stats()
    assert stats["stolen"] == 8 and stats["voices"] == 4
    assert np.isfinite(x).all()
    jumps = np.abs(np.diff(x))
    assert jumps.max() < 0.2  # stolen voices fade instead of cutting


def test_replaying_a_ringing_note_replucks_its_string(nylon):
    engine, _ = play(nylon, [Event(0, events.NOTE_ON, 55, 80),
                             Event(FS // 4, events.NOTE_ON, 55, 80)], 0.5)
    assert engine.stats()["voices"] == 1


def test_all_sound_off_silences_within_milliseconds(nylon):
    timeline = [Event(0, events.NOTE_ON, n, 100) for n in (48, 52, 55)]
    timeline.append(Event(FS // 2, events.ALL_SOUND_OFF))
    engine, x = play(nylon, timeline, 0.6)
    assert np.abs(x[FS // 2 + int(0.006 * FS):]).max() == 0.0
    assert engine.stats()["voices"] == 0


def test_live_parameters_are_clamped_and_validated(nylon):
    engine = Engine(nylon, fs=FS)
    assert engine.set_param("tension", 100.0) == 4.0
    assert engine.set_param("pickup_position", -3.0) == pytest.approx(0.02)
    with pytest.raises(ParameterError, match="unknown parameter 'tensoin'"):
        engine.set_param("tensoin", 1.0)
    with pytest.raises(ParameterError, match="finite"):
        engine.set_param("gain", float("nan"))
    with pytest.raises(ParameterError, match="note"):
        engine.note_on(128)
    with pytest.raises(ParameterError, match="fixed meaning"):
        engine.assign_cc(64, "gain")


def test_cc_drives_its_assigned_parameter(nylon):
    engine = Engine(nylon, fs=FS)
    engine.assign_cc(20, "decay")
    engine.control_change(20, 127)
    engine.control_change(1, 0)  # CC1 drives the nonlinearity by default
    engine.process(256)
    assert engine.get_param("decay") == 20.0
    assert engine.get_param("nonlinearity") == 0.0


def test_a_parameter_that_pushes_modes_past_nyquist_drops_them(nylon):
    engine, _ = play(nylon, [Event(0, events.NOTE_ON, 96, 127)], 0.1, polyphony=2)
    engine.set_param("tension", 4.0)
    engine.set_param("stiffness", 8.0)
    x = engine.process(FS // 2)
    assert np.isfinite(x).all() and engine.stats()["voice_resets"] == 0


def test_a_voice_that_turns_non_finite_is_silenced_and_reset(nylon):
    engine, _ = play(nylon, [Event(0, events.NOTE_ON, 55, 80),
                             Event(0, events.NOTE_ON, 59, 80)], 0.1)
    engine.voices.q[3, 0] = np.nan
    x = engine.process(4800)
    assert np.isfinite(x).all()
    assert engine.state.telemetry[RESETS] == 1 and engine.stats()["voices"] == 1


def test_the_limiter_keeps_the_output_below_full_scale(nylon):
    timeline = [Event(0, events.NOTE_ON, n, 127) for n in range(40, 72, 2)]
    engine = Engine(nylon, fs=FS, polyphony=16, max_block=128)
    engine.set_param("gain", 12.0)
    x = render_events(engine, timeline, FS // 2)
    assert np.abs(x).max() <= 10 ** (-0.3 / 20) + 1e-6
    assert engine.stats()["limiter_gain"] < 1.0


def test_a_render_is_deterministic(nylon):
    timeline = demo_events(FS)[:40]
    a = render(Engine(nylon, fs=FS, max_block=128), timeline, tail=0.5)
    b = render(Engine(nylon, fs=FS, max_block=128), timeline, tail=0.5)
    assert np.array_equal(a, b)


def test_render_equals_the_engine_processing_the_same_events(nylon):
    timeline = demo_events(FS)[:30]
    frames = 3 * FS
    rendered = render_events(Engine(nylon, fs=FS, max_block=128), timeline, frames)
    engine = Engine(nylon, fs=FS, max_block=128)
    for e in sorted(timeline):  # a live producer stamps events in time order
        engine.queue.push(e.kind, e.sample, e.a, e.b)
    live = np.concatenate([engine.process(128) for _ in range(frames // 128)])
    assert np.array_equal(rendered, live)


def test_the_compiled_callback_produces_what_process_produces(nylon):
    from synth.callback import audio_callback, prepare, run_callback

    timeline = demo_events(FS)[:20]
    reference = Engine(nylon, fs=FS, max_block=128)
    callback_engine = Engine(nylon, fs=FS, max_block=128)
    for engine in (reference, callback_engine):
        for e in sorted(timeline):
            engine.queue.push(e.kind, e.sample, e.a, e.b)
    table = prepare(callback_engine.state)
    slot = np.array([table.ctypes.data, len(table), 2], np.int64)
    out = np.zeros((128, 2), np.float32)
    cfunc = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong,
                             ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p)(
        audio_callback().address)
    for block in range(200):
        expected = reference.process(128)
        if block % 2:  # through the real C entry point
            assert cfunc(None, out.ctypes.data, 128, None, 0, slot.ctypes.data) == 0
        else:
            run_callback(out.ctypes.data, 128, 0, slot)
        assert np.array_equal(out, expected)
    assert callback_engine.stats()["callbacks"] == 200


def test_the_callback_uses_portaudio_constants_without_initialising_portaudio():
    # In a subprocess: initialising PortAudio here would tie this process to whatever JACK
    # server runs now, and PortAudio aborts at exit once that server is gone.
    code = ("import sys\n"
            "import synth.callback as c\n"
            "assert 'sounddevice' not in sys.modules\n"
            "import sounddevice\n"
            "assert c.OUTPUT_UNDERFLOW == sounddevice._lib.paOutputUnderflow\n"
            "assert c.CONTINUE == sounddevice._lib.paContinue\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_loading_a_preset_switches_the_model_and_a_bad_one_changes_nothing(nylon, tmp_path):
    from synth.errors import PresetError

    engine = Engine(nylon, fs=FS)
    engine.set_param("decay", 2.0)
    engine.load_preset("piano-wound")
    assert engine.preset.name == "piano-wound" and engine.get_param("decay") == 2.0
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a preset")
    state = engine.state
    with pytest.raises(PresetError, match=r"broken\.safetensors"):
        engine.load_preset(bad)
    assert engine.state is state and engine.preset.name == "piano-wound"


def test_meters_measure_the_pitch_and_its_glide(nylon):
    engine = Engine("slack-steel", fs=FS, polyphony=4, max_block=128)
    engine.set_param("nonlinearity", 0.0)  # linear: the first mode is exactly at the key
    engine.note_on(40, 100)
    readings = []
    for _ in range(150):
        engine.process(128)
        readings.append(engine.meters()["frequency"])
    assert readings[0] == 0.0  # a new loudest voice: no phase to compare with yet
    assert abs(cents(np.median(readings[20:]), note_hz(40))) < 0.1
    engine.set_param("nonlinearity", 1.0)
    engine.note_on(40, 127)
    glide = []
    for _ in range(750):  # 2 s
        engine.process(128)
        glide.append(engine.meters()["frequency"])
    assert cents(np.median(glide[2:20]), note_hz(40)) > 40.0  # starts sharp
    assert abs(cents(np.median(glide[-50:]), note_hz(40))) < 8.0  # and settles
    engine.all_sound_off()
    engine.process(128 * 40)
    assert engine.meters() is None


def test_the_voice_limit_moves_live_and_survives_a_preset_switch(nylon):
    engine = Engine(nylon, fs=FS, polyphony=8, max_block=128)
    for note in range(50, 58):
        engine.note_on(note, 90)
    engine.process(1280)
    assert engine.stats()["voices"] == 8
    engine.voice_limit = 3
    engine.note_on(70, 90)  # steals down to the limit at once
    engine.process(128 * 10)
    assert engine.stats()["voices"] == 3
    engine.load_preset("steel-guitar")
    assert engine.voice_limit == 3
    for bad in (0, 9, 2.5, True):
        with pytest.raises(ParameterError, match="voice limit"):
            engine.voice_limit = bad


def test_a_preset_brings_its_own_controls_and_the_rest_carry_over(nylon, tmp_path):
    import dataclasses

    from synth.presets import save_preset

    engine = Engine(nylon, fs=FS)
    engine.set_param("decay", 3.0)
    engine.set_param("tension", 2.0)
    mine = dataclasses.replace(nylon, name="mine", controls={"tension": 0.5}, path=None)
    engine.load_preset(save_preset(mine, tmp_path / "mine.safetensors"))
    assert engine.get_param("tension") == 0.5 and engine.default("tension") == 0.5
    assert engine.get_param("decay") == 3.0
    assert engine.default("pluck_position") == pytest.approx(nylon.pluck_position)


def test_the_sample_rate_changes_only_with_no_stream(nylon):
    engine = Engine(nylon, fs=FS)
    engine.set_param("gain", -6.0)
    engine.set_rate(44100)
    assert engine.fs == 44100.0 and engine.get_param("gain") == -6.0
    engine.note_on(55, 20)
    x = engine.process(44100)[:, 0]
    assert abs(cents(fundamental(x[4410:], 44100, note_hz(55)), note_hz(55))) < 1.5
    with pytest.raises(ParameterError, match="sample rate"):
        engine.set_rate(1000)
    engine.on_state_change = lambda state: None  # what a running stream installs
    with pytest.raises(ParameterError, match="stop the audio stream"):
        engine.set_rate(48000)


def test_process_block_runs_without_voices(nylon):
    engine = Engine(nylon, fs=FS)
    out = np.ones((64, 2), np.float32)
    process_block(engine.state, out)
    assert not out.any()


def test_an_audition_plays_beside_the_notes_at_the_master_gain_alone(nylon):
    rate = 44100.0
    t = np.arange(round(0.5 * rate)) / rate
    sound = np.stack([0.2 * np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 660 * t)], 1)
    alone, beside = Engine(nylon, fs=FS), Engine(nylon, fs=FS)
    for engine in (alone, beside):
        engine.set_param("gain", -6.0)
        engine.note_on(55, 40)
        engine.process(FS // 5)  # the gain has settled
    assert beside.audition(sound, rate) == pytest.approx(0.5)
    heard = beside.process(FS)[:, :2].astype(float) - alone.process(FS)[:, :2]
    expected = 10 ** (-6 / 20) * np.stack(
        [0.2 * np.sin(2 * np.pi * 440 * np.arange(FS // 2) / FS),
         0.1 * np.sin(2 * np.pi * 660 * np.arange(FS // 2) / FS)], 1)
    middle = slice(FS // 20, FS // 2 - FS // 20)  # away from the cut ends' ringing
    assert np.abs(heard[middle] - expected[middle]).max() < 2e-3  # float32 output
    assert np.abs(heard[FS // 2 + 100:]).max() < 1e-6  # played once


def test_a_new_audition_replaces_one_playing_which_fades_and_all_sound_off_or_stop_end_it(
        nylon):
    from synth.engine.state import AUDITION_FADE_SECONDS

    fade = round(AUDITION_FADE_SECONDS * FS)
    engine = Engine(nylon, fs=FS)
    engine.audition(np.full(FS, 0.25), FS)
    assert np.allclose(engine.process(1024), 0.25)
    engine.audition(np.full((FS, 2), -0.5), FS)  # another slot, from its start
    crossed = engine.process(1024)[:, 0].astype(np.float64)
    expected = -0.5 + 0.25 * np.clip(1.0 - np.arange(1024) / fade, 0.0, None)
    assert np.abs(crossed - expected).max() < 1e-6  # the first fades out linearly: no click
    engine.all_sound_off()
    assert not engine.process(1024).any()  # at once
    engine.audition(np.full(FS, 0.25), FS)
    engine.process(256)
    engine.stop_audition()
    stopped = engine.process(1024)[:, 0].astype(np.float64)
    assert np.abs(stopped - 0.25 * np.clip(1.0 - np.arange(1024) / fade, 0.0, None)).max() \
        < 1e-6 and not stopped[fade:].any()


def test_only_the_last_audition_asked_for_plays_and_a_stop_drops_one_not_yet_taken(nylon):
    engine = Engine(nylon, fs=FS)
    engine.audition(np.full(FS, 0.25), FS)
    engine.process(256)  # playing its slot while three more are asked for, none taken
    for level in (-0.5, 0.125, 0.375):
        engine.audition(np.full(FS, level), FS)  # never the slot playing nor the one asked
    assert np.allclose(engine.process(2048)[1024:], 0.375)  # once the first has faded out
    engine.audition(np.full(FS, 0.25), FS)
    engine.stop_audition()
    assert not engine.process(2048)[1024:].any()  # 0.375 faded out, 0.25 never played
    engine.audition(np.full(FS, 0.25), FS)
    engine.all_sound_off()
    assert not engine.process(1024).any()


def test_an_audition_must_be_finite_samples_in_one_or_two_channels(nylon):
    engine = Engine(nylon, fs=FS)
    with pytest.raises(ParameterError, match="shape"):
        engine.audition(np.zeros((10, 3)), FS)
    with pytest.raises(ParameterError, match="shape"):
        engine.audition([], FS)
    with pytest.raises(ParameterError, match="finite"):
        engine.audition(np.array([0.0, np.nan]), FS)
    with pytest.raises(ParameterError, match="sample rate"):
        engine.audition(np.zeros(10), 0)
    long = engine.audition(np.zeros(round(10 * FS)), FS)
    assert long == pytest.approx(6.0)  # the first AUDITION_SECONDS


ALLOCATION_SCRIPT = """
import numpy as np
from numba.core.runtime import rtsys
from synth.callback import audio_callback, prepare
from synth.engine import Engine

engine = Engine("{preset}", fs=48000, polyphony=8, max_block=128)
table = prepare(engine.state)
slot = np.array([table.ctypes.data, len(table), 2], np.int64)
out = np.zeros((128, 2), np.float32)
call = audio_callback().ctypes

def blocks(n):
    peak = 0.0
    for _ in range(n):
        call(None, out.ctypes.data, 128, None, 0, slot.ctypes.data)
        peak = max(peak, float(np.abs(out).max()))
    return peak

blocks(10)  # compiled, and the runtime's counters started
before = rtsys.get_allocation_stats().alloc
for note in (48, 52, 55, 60, 64):
    engine.note_on(note, 100)
engine.set_param("body_size", 1.7)
engine.set_param("body_damping", 0.4)
engine.set_param("tension", 1.3)
engine.audition(0.1 * np.sin(np.arange(30000) / 7.0), 44100.0)
played = blocks(100)
engine.audition(0.1 * np.sin(np.arange(30000) / 5.0), 44100.0)  # the first fades out
played = max(played, blocks(100))
engine.stop_audition()
blocks(10)
engine.all_sound_off()
blocks(20)
print(rtsys.get_allocation_stats().alloc - before, played > 0.01)
"""


@pytest.mark.parametrize("preset", ["piano-wound", "stretch-128"])
def test_the_audio_callback_allocates_nothing_while_an_instrument_plays(preset):
    """Through the real callback (a cfunc over the state's pointers, as PortAudio calls it):
    notes, body size and damping moving, a retune, an audition replaced by another (which
    fades out) then stopped, and all sound off, with the body."""
    result = subprocess.run([sys.executable, "-c", ALLOCATION_SCRIPT.format(preset=preset)],
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "NUMBA_NRT_STATS": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "True"]

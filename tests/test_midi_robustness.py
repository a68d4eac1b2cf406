"""MIDI parsing and the engine under hostile input: random bytes, extreme parameter moves."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth import params
from synth.engine import Engine
from synth.midi import MidiParser, dispatch


def test_running_status_realtime_and_sysex():
    parser = MidiParser()
    stream = [0x90, 60, 100, 62, 0xF8, 90,  # running status with a clock byte inside
              0xF0, 1, 2, 3, 0xF7, 64,  # SysEx, then a stray byte (running status cancelled)
              0xB0, 64, 0xFE, 127,  # active sensing inside a controller message
              0xC0, 5, 0xE0, 0, 0x40,  # program change, pitch bend centre
              0xF2, 1, 2, 0x80, 60, 0]  # song position (skipped), note off
    assert parser.feed(stream) == [(0x90, 60, 100), (0x90, 62, 90), (0xB0, 64, 127),
                                   (0xC0, 5, 0), (0xE0, 0, 0x40), (0x80, 60, 0)]
    # A message split across two deliveries still parses.
    assert parser.feed([0x90, 61]) == [] and parser.feed([70]) == [(0x90, 61, 70)]


@given(st.lists(st.integers(0, 255), max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_byte_stream_gives_only_well_formed_messages(data):
    for status, data1, data2 in MidiParser().feed(data):
        assert 0x80 <= status <= 0xEF and 0 <= data1 < 128 and 0 <= data2 < 128


ENGINE = Engine("nylon-guitar", fs=48000, polyphony=8, max_block=128)
ENGINE.warm_up()


@given(data=st.lists(st.integers(0, 255), max_size=300),
       moves=st.lists(st.tuples(st.sampled_from(sorted(params.PARAMS)),
                                st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, 1e300]))),
                      max_size=6))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_midi_and_extreme_parameters_keep_the_engine_playing(data, moves):
    engine = ENGINE
    parser = MidiParser()
    for chunk in range(0, len(data), 30):
        for message in parser.feed(data[chunk:chunk + 30]):
            dispatch(engine, *message)
        for name, value in moves:
            engine.set_param(name, value)
        out = engine.process(256)
        assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
    engine.note_on(60, 127)  # and it still plays
    assert np.isfinite(engine.process(1024)).all()
    engine.all_sound_off()
    for name, p in params.PARAMS.items():
        engine.set_param(name, p.default)
    engine.process(1024)


def test_only_devices_count_as_hardware_inputs():
    from synth.midi_systems import is_hardware

    assert is_hardware("USB Keyboard:USB Keyboard MIDI 1 20:0", "alsa")
    assert not is_hardware("sender:out 130:0", "alsa")
    assert is_hardware("system:midi_capture_1", "jack")
    assert is_hardware("a2j:Keystation [20] (capture): Keystation MIDI 1", "jack")
    assert not is_hardware("ns-sender:out", "jack")

"""MIDI files as `render` meets them: any file gives its events or one line naming the file
and the fault, never a traceback."""

import struct

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.cli import main
from synth.engine import Engine, events
from synth.engine.state import HELD, IDLE, STATUS
from synth.errors import ParameterError
from synth.render import midi_file_events, render

FS = 48000


def saved(path, tracks, kind=1, ticks=96):
    midi = mido.MidiFile(type=kind, ticks_per_beat=ticks)
    midi.tracks.extend(mido.MidiTrack(track) for track in tracks)
    midi.save(path)
    return path


def note(pitch, length):
    return [mido.Message("note_on", note=pitch, velocity=90, time=0),
            mido.Message("note_off", note=pitch, time=length)]


def test_a_type_2_file_plays_its_sequences_one_after_another(tmp_path):
    path = saved(tmp_path / "t2.mid", [note(60, 96), note(64, 96)], kind=2)
    found = [(e.sample, e.kind, e.a) for e in midi_file_events(path, FS)]
    half = FS // 2  # 96 ticks at 120 bpm
    assert found == [(0, events.NOTE_ON, 60), (half, events.NOTE_OFF, 60),
                     (half, events.NOTE_ON, 64), (2 * half, events.NOTE_OFF, 64)]


def patched(path, offset, data):
    raw = bytearray(path.read_bytes())
    raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))
    return path


def with_meta(path, meta: bytes):
    """Put a raw meta event at the start of the first track."""
    raw = bytearray(path.read_bytes())
    at = raw.index(b"MTrk")
    length = struct.unpack(">I", raw[at + 4:at + 8])[0]
    raw[at + 4:at + 8] = struct.pack(">I", length + len(meta))
    raw[at + 8:at + 8] = meta
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("damage, fault", [
    (lambda p: patched(p, 12, b"\0\0"), "division by zero"),  # 0 ticks per beat
    (lambda p: with_meta(p, bytes([0, 0xFF, 0x59, 2, 20, 0])), "20 sharps"),  # key signature
    (lambda p: patched(p, 18, b"\x7f\xff\xff\xff"), "not a readable MIDI file"),  # track length
    (lambda p: p.write_bytes(p.read_bytes()[:30]) and p, "not a readable MIDI file"),
])
def test_a_broken_file_is_one_line_naming_the_file_and_the_fault(tmp_path, capsys, damage,
                                                                  fault):
    path = damage(saved(tmp_path / "song.mid", [note(60, 96)]))
    assert main(["render", str(path), str(tmp_path / "out.wav"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {path}: ") and fault in error and error.count("\n") == 1
    assert not (tmp_path / "out.wav").exists()


MESSAGES = st.one_of(
    st.builds(lambda n, v, t: mido.Message("note_on", note=n, velocity=v, time=t),
              st.integers(0, 127), st.integers(0, 127), st.integers(0, 400)),
    st.builds(lambda n, t: mido.Message("note_off", note=n, time=t), st.integers(0, 127),
              st.integers(0, 400)),
    st.builds(lambda c, v, t: mido.Message("control_change", control=c, value=v, time=t),
              st.integers(0, 127), st.integers(0, 127), st.integers(0, 400)),
    st.builds(lambda p, t: mido.Message("pitchwheel", pitch=p, time=t),
              st.integers(-8192, 8191), st.integers(0, 400)),
    st.builds(lambda t, d: mido.MetaMessage("set_tempo", tempo=t, time=d),
              st.integers(1, 2_000_000), st.integers(0, 400)),
    st.builds(lambda d: mido.Message("sysex", data=[1, 2, 3], time=d), st.integers(0, 400)),
)


@pytest.fixture(scope="module")
def preset():
    return Engine("nylon-guitar", fs=FS, polyphony=4).preset


@given(st.lists(st.lists(MESSAGES, max_size=12), min_size=1, max_size=3),
       st.sampled_from([0, 1, 2]), st.integers(1, 960))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_well_formed_file_renders_its_notes_in_time_order(tmp_path_factory, preset,
                                                              tracks, kind, ticks):
    tracks = tracks[:1] if kind == 0 else tracks
    path = saved(tmp_path_factory.mktemp("midi") / "m.mid", tracks, kind, ticks)
    found = midi_file_events(path, FS)
    notes = sum(1 for t in tracks for m in t if m.type in ("note_on", "note_off"))
    assert sum(e.kind in (events.NOTE_ON, events.NOTE_OFF) for e in found) == notes
    if kind != 2:
        assert [e.sample for e in found] == sorted(e.sample for e in found)
    if found and found[-1].sample < 5 * FS:
        engine = Engine(preset, fs=FS, polyphony=4)
        assert np.isfinite(render(engine, found, tail=0.05)).all()


@given(st.binary(max_size=300) | st.builds(
    lambda cut, flips: (cut, flips), st.integers(14, 200),
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 255)), max_size=6)))
@settings(max_examples=400, deadline=None)
def test_any_bytes_give_events_or_one_parameter_error(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("raw")
    if isinstance(content, tuple):  # a real file, cut and with bits flipped
        cut, flips = content
        data = bytearray(saved(folder / "base.mid", [note(60, 96), note(62, 48)] * 3)
                         .read_bytes()[:cut])
        for position, mask in flips:
            data[position % len(data)] ^= mask
        content = bytes(data)
    path = folder / "x.mid"
    path.write_bytes(content)
    try:
        found = midi_file_events(path, FS)
    except ParameterError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
        return
    assert all(0 <= e.a < 16384 and 0 <= e.b < 128 for e in found)


def test_more_events_at_one_instant_than_the_ring_holds_are_all_played(tmp_path, preset):
    """6,000 controller moves and then a note, all at 0.5 s: none is dropped (those the
    ring and the schedule cannot take at once act a block later) and the note sounds."""
    moves = [mido.Message("control_change", control=74, value=i % 128, time=0)
             for i in range(6000)]
    rest = mido.Message("control_change", control=74, value=64, time=96)  # 0.5 s
    path = saved(tmp_path / "dense.mid", [[rest, *moves, *note(60, 96)]])
    engine = Engine(preset, fs=FS, polyphony=4)
    audio = render(engine, midi_file_events(path, FS), tail=0.2)
    assert engine.stats()["dropped_events"] == 0
    assert np.abs(audio).max() > 0.01


def test_events_at_the_same_instant_keep_the_files_order(tmp_path, preset):
    """A note released and struck again on the same tick sounds: the off, then the on."""
    again = [mido.Message("note_on", note=60, velocity=90, time=0),
             mido.Message("note_off", note=60, time=96), mido.Message("note_on", note=60,
                                                                      velocity=90, time=0)]
    path = saved(tmp_path / "again.mid", [again])
    found = midi_file_events(path, FS)
    assert [e.kind for e in found] == [events.NOTE_ON, events.NOTE_OFF, events.NOTE_ON]
    engine = Engine(preset, fs=FS, polyphony=4)
    render(engine, found, tail=0.1)
    status = engine.state.voice_int[STATUS]
    assert list(status[status != IDLE]) == [HELD]  # its key is down: the damper is off

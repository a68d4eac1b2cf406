"""Reading a recorded note for a fit (synth.recording): the formats a musician's recorder
writes, the fundamental and inharmonicity of rendered notes of every instrument, and a one-line
refusal of each input a fit cannot use."""

import math
import warnings

import numpy as np
import pytest
import soundfile

from synth.engine import events
from synth.engine.engine import Engine
from synth.physics.strings import note_frequency
from synth.presets import find_preset, load_preset
from synth.recording import ClippedWarning, RecordingError, read_note
from synth.render import Event, render_events

FS = 48000


def render(preset_name, notes, seconds=1.0, velocity=90, fs=FS):
    engine = Engine(load_preset(find_preset(preset_name)), fs=fs, polyphony=8)
    timeline = [Event(2400, events.NOTE_ON, n, velocity) for n in notes]
    return render_events(engine, timeline, round(seconds * fs) + 2400).astype(np.float64)


@pytest.fixture(scope="module")
def nylon_g3():
    return render("nylon-guitar", [55])


def cents(f, g):
    return 1200.0 * math.log2(f / g)


@pytest.mark.parametrize("subtype,suffix", [("PCM_16", ".wav"), ("PCM_24", ".wav"),
                                            ("PCM_32", ".wav"), ("FLOAT", ".wav"),
                                            ("PCM_24", ".flac")])
def test_a_note_is_read_from_the_formats_a_recorder_writes(tmp_path, nylon_g3, subtype, suffix):
    path = tmp_path / f"g3{suffix}"
    soundfile.write(path, nylon_g3, FS, subtype=subtype)
    note = read_note(path)
    assert abs(cents(note.f0, note_frequency(55))) < 3.0  # the string's f0, glide and all
    assert 0.0 < note.inharmonicity < 1e-3
    assert note.onset == pytest.approx(2400 / FS, abs=2e-3)
    assert len(note.sha256) == 64 and not note.clipped


def test_a_mono_file_at_another_rate_reads_as_the_same_note(tmp_path):
    path = tmp_path / "mono.wav"
    soundfile.write(path, render("steel-guitar", [59], fs=44100).mean(axis=1), 44100)
    note = read_note(path)
    assert note.fs == 44100 and round(note.note) == 59


@pytest.mark.parametrize("preset_name,notes", [("nylon-guitar", range(40, 80, 6)),
                                               ("steel-guitar", range(41, 80, 6)),
                                               ("piano-wound", range(27, 100, 8))])
def test_the_fundamental_of_every_instruments_notes_is_found(tmp_path, preset_name, notes):
    path = tmp_path / "note.wav"
    for n in notes:
        soundfile.write(path, render(preset_name, [n], seconds=0.6), FS)
        note = read_note(path)
        assert abs(note.note - n) < 0.15, (n, note.note)  # the treble's stretch: its f0


def test_a_note_hint_finds_a_weak_fundamental(tmp_path):
    # A0's first partials hardly radiate from the board: alone, it reads an octave up
    path = tmp_path / "a0.wav"
    soundfile.write(path, render("piano-wound", [21], seconds=0.6), FS)
    assert round(read_note(path, note=21).note) == 21


def test_seconds_keeps_that_much_from_the_onset(tmp_path, nylon_g3):
    path = tmp_path / "g3.wav"
    soundfile.write(path, nylon_g3, FS)
    assert len(read_note(path, seconds=0.5).samples) == FS // 2


def refused(path, **options):
    with pytest.raises(RecordingError) as error:
        read_note(path, **options)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    return message


def test_silence_is_refused(tmp_path):
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros((FS, 2)), FS)
    assert "silence" in refused(path)
    soundfile.write(path, 1e-4 * np.random.default_rng(0).standard_normal(FS), FS)
    assert "silence" in refused(path)


def test_noise_is_refused(tmp_path):
    path = tmp_path / "noise.wav"
    soundfile.write(path, 0.2 * np.random.default_rng(1).standard_normal((FS, 2)), FS)
    assert "no pitched note" in refused(path)


@pytest.mark.parametrize("preset_name,chord", [("piano-wound", (60, 64, 67)),
                                               ("nylon-guitar", (52, 59))])
def test_a_chord_is_refused(tmp_path, preset_name, chord):
    path = tmp_path / "chord.wav"
    soundfile.write(path, render(preset_name, chord), FS)
    assert "several notes" in refused(path)


def test_a_short_recording_is_refused(tmp_path, nylon_g3):
    path = tmp_path / "short.wav"
    soundfile.write(path, nylon_g3[:2400 + round(0.25 * FS)], FS)
    assert "too short" in refused(path)


def test_a_clipped_recording_is_used_after_its_clipping_with_a_warning(tmp_path, nylon_g3):
    path = tmp_path / "clipped.wav"
    loud = np.clip(nylon_g3 * (3.0 / np.abs(nylon_g3).max()), -1.0, 1.0)
    soundfile.write(path, loud, FS, subtype="PCM_16")
    with pytest.warns(ClippedWarning, match="clipped until"):
        note = read_note(path)
    assert note.clipped and note.onset > 2400 / FS and round(note.note) == 55
    clipped_through = np.clip(nylon_g3 * 1e3, -1.0, 1.0)  # clipped all along
    soundfile.write(path, clipped_through, FS, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippedWarning)
        assert "too short" in refused(path)


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_a_low_note_normalised_to_full_scale_is_not_clipped(tmp_path, subtype):
    path = tmp_path / "normalised.wav"
    low_e = render("nylon-guitar", [40])
    soundfile.write(path, low_e * (32767 / 32768 / np.abs(low_e).max()), FS, subtype=subtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClippedWarning)
        assert not read_note(path).clipped


def test_files_that_are_not_readable_audio_are_refused(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    assert "not an audio file" in refused(text)
    aac = tmp_path / "phone.m4a"
    aac.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    assert "not supported" in refused(aac)
    assert "no such file" in refused(tmp_path / "missing.wav")

"""Keyboards (`synth.keyboards`): every note its own string and excitation. The grand piano's
scale (`presets.keyboards`) against published inharmonicity, the engine playing each key's
own string, and keyboards in preset files."""

import dataclasses
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from presets.keyboards import (
    HIGHEST,
    LOWEST,
    grand_piano,
    inharmonicity,
    piano_string,
    young_inharmonicity,
)
from synth import acoustics
from synth.engine.engine import Engine
from synth.engine.events import NOTE_ON
from synth.errors import PresetError
from synth.keyboards import HAMMER_MASS, KAPPA
from synth.physics.strings import note_frequency
from synth.presets import METADATA_KEY, find_preset, load_preset, save_preset
from synth.render import Event, render_events

FS = 48000


def test_the_grand_pianos_plain_strings_follow_youngs_measured_inharmonicity():
    for note in range(48, HIGHEST + 1):
        ratio = inharmonicity(piano_string(note)) / young_inharmonicity(note)
        assert 0.75 < ratio < 1.3, f"note {note}: B is {ratio:.2f} x Young's"


def test_the_grand_piano_has_a_string_and_a_hammer_for_every_key_and_sounds_each_note():
    keyboard = grand_piano()
    for note in range(LOWEST, HIGHEST + 1):
        string = piano_string(note)
        assert string.fundamental == pytest.approx(note_frequency(note), rel=1e-9)
    keys = keyboard.excitation[:, HAMMER_MASS]
    assert (keys > 0).all()
    np.testing.assert_array_equal(keyboard.strings[:LOWEST], np.tile(keyboard.strings[LOWEST],
                                                                     (LOWEST, 1)))
    assert (np.diff(keyboard.strings[LOWEST:HIGHEST + 1, KAPPA]) != 0).any()


@pytest.mark.parametrize("note", [48, 72])
def test_the_engine_plays_each_note_on_its_own_keys_string(note):
    """A note's measured inharmonicity is its key's, not the reference string's retuned."""
    piano = load_preset(find_preset("piano-wound"))
    assert piano.keyboard is not None
    engine = Engine(piano, fs=FS, polyphony=2)
    audio = render_events(engine, [Event(0, NOTE_ON, note, 100)], int(1.2 * FS))
    frequencies = acoustics.partials(acoustics.mono(audio), FS, note_frequency(note))
    _, measured = acoustics.inharmonicity(frequencies)
    assert measured == pytest.approx(inharmonicity(piano_string(note)), rel=0.15)


def test_a_keyboard_survives_saving_and_loading(tmp_path):
    piano = load_preset(find_preset("piano-wound"))
    again = load_preset(save_preset(piano, tmp_path / "p.safetensors"))
    for name, array in piano.keyboard.tensors().items():
        np.testing.assert_array_equal(again.keyboard.tensors()[name], array)
    assert again.keyboard.description() == piano.keyboard.description()


@pytest.mark.parametrize("change, message", [
    (lambda m, t: t.pop("keyboard.strings"), "keyboard: missing tensor(s)"),
    (lambda m, t: t.update({"keyboard.strings": t["keyboard.strings"][:12]}),
     "strings must have shape (128, 5)"),
    (lambda m, t: t["keyboard.strings"].__setitem__((60, 0), -1.0), "gamma > 0"),
    (lambda m, t: t["keyboard.excitation"].__setitem__((60, 0), 1.5), "positions must lie"),
    (lambda m, t: t["keyboard.excitation"].__setitem__((60, 4), 0.5), "felt exponent >= 1"),
    (lambda m, t: t["keyboard.excitation"].__setitem__((60, 1), np.inf), "must be finite"),
    (lambda m, t: m["keyboard"].update(range=[90, 20]), "range must be two MIDI notes"),
    (lambda m, t: m.update(keyboard=[1]), "keyboard must be a JSON object"),
])
def test_a_broken_keyboard_is_refused_in_one_line_naming_the_fault(tmp_path, change, message):
    piano = load_preset(find_preset("piano-wound"))
    meta = piano.metadata()
    tensors = {name: array.copy() for part in (piano.body, piano.keyboard)
               for name, array in part.tensors().items()}
    change(meta, tensors)
    path = tmp_path / "bad.safetensors"
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(meta)})
    with pytest.raises(PresetError) as error:
        load_preset(path)
    assert str(path) in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_preset_without_a_keyboard_plays_every_note_on_its_one_string():
    nylon = load_preset(find_preset("nylon-guitar"))
    assert nylon.keyboard is None
    keys = nylon.keys()
    assert (keys.strings == keys.strings[0]).all() and (keys.excitation ==
                                                       keys.excitation[0]).all()
    assert keys.strings[0, KAPPA] == nylon.string.kappa
    hammered = dataclasses.replace(load_preset(find_preset("piano-string-bare")))
    assert hammered.keys().hammered()

"""Keyboards (`synth.keyboards`): every note its own string and excitation. The grand piano's
scale (`presets.keyboards`) against published inharmonicity, the engine playing each key's
own string, and keyboards in preset files."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from presets.keyboards import (
    GUITAR_FRETS,
    HIGHEST,
    LOWEST,
    grand_piano,
    guitar_string,
    inharmonicity,
    piano_string,
    woodhouse_t60,
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
    nylon = load_preset(find_preset("nylon-string-bare"))
    assert nylon.keyboard is None
    keys = nylon.keys()
    assert (keys.strings == keys.strings[0]).all() and (keys.excitation ==
                                                       keys.excitation[0]).all()
    assert keys.strings[0, KAPPA] == nylon.string.kappa
    assert not keys.hammered()
    assert load_preset(find_preset("piano-string-bare")).keys().hammered()


@pytest.mark.parametrize("set_name", ["nylon", "steel"])
def test_a_guitar_plays_each_note_where_a_guitarist_in_first_position_would(set_name):
    for note, open_note, fret in ((40, 40, 0), (44, 40, 4), (55, 55, 0), (60, 59, 1),
                                  (67, 64, 3), (83, 64, 19)):
        string, found = guitar_string(set_name, note)
        assert found == fret
        assert string.fundamental == pytest.approx(note_frequency(note), rel=3e-3)  # 5 cents
        open_string, _ = guitar_string(set_name, open_note)
        assert string.length == pytest.approx(open_string.length * 2 ** (-fret / 12))
        assert string.tension == open_string.tension
    assert guitar_string(set_name, 90)[1] == GUITAR_FRETS  # held to the neck
    e4 = [inharmonicity(guitar_string(set_name, 64 + fret)[0]) for fret in range(20)]
    assert all(np.diff(e4) > 0)  # B rises up the neck: stiffness grows as 1 / L^2


def test_woodhouses_losses_give_the_nylon_g_strings_published_decay():
    g3, _ = guitar_string("nylon", 55)
    assert woodhouse_t60(g3, 196.0) == pytest.approx(7.4, rel=0.02)
    assert woodhouse_t60(g3, 1970.0) == pytest.approx(2.1, rel=0.03)


def test_the_engine_plays_a_fretted_note_on_its_shortened_string():
    nylon = load_preset(find_preset("nylon-guitar"))
    assert nylon.keyboard is not None and not nylon.keyboard.hammered()
    engine = Engine(nylon, fs=FS, polyphony=2)  # softly: the glide would bend the partials
    audio = render_events(engine, [Event(0, NOTE_ON, 67, 40)], int(1.2 * FS))
    frequencies = acoustics.partials(acoustics.mono(audio), FS, note_frequency(67))
    _, measured = acoustics.inharmonicity(frequencies)
    assert measured == pytest.approx(inharmonicity(guitar_string("nylon", 67)[0]), rel=0.1)

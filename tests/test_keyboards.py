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
    WOODHOUSE_ETA,
    grand_piano,
    guitar_losses,
    guitar_string,
    inharmonicity,
    piano_string,
    pluck_amplitude,
    steel_friction,
    string_alone_losses,
)
from synth import acoustics
from synth.engine.engine import Engine
from synth.engine.events import NOTE_ON
from synth.errors import PresetError
from synth.keyboards import HAMMER_MASS, KAPPA
from synth.physics.losses import L_BRIDGE, L_FRICTION, scheme_losses, t60s
from synth.physics.strings import note_frequency, young_inharmonicity
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


def test_a_keyboard_saved_before_the_losses_and_the_held_pluck_still_loads(tmp_path):
    piano = load_preset(find_preset("piano-wound"))
    meta = piano.metadata()
    tensors = {**piano.body.tensors(),
               "keyboard.strings": piano.keyboard.strings[:, :5].copy(),
               "keyboard.excitation": piano.keyboard.excitation[:, :8].copy()}
    path = tmp_path / "first.safetensors"
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(meta)})
    first = load_preset(path).keyboard
    np.testing.assert_array_equal(first.strings[:, :5], piano.keyboard.strings[:, :5])
    assert (first.strings[:, 5:] == 0).all() and (first.excitation[:, 8:] == 0).all()


def test_a_guitar_saved_before_the_slip_still_loads_plucked_by_its_pulse(tmp_path):
    nylon = load_preset(find_preset("nylon-guitar"))
    tensors = {**nylon.body.tensors(), "keyboard.strings": nylon.keyboard.strings.copy(),
               "keyboard.excitation": nylon.keyboard.excitation[:, :9].copy()}
    path = tmp_path / "before-slip.safetensors"
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(nylon.metadata())})
    keyboard = load_preset(path).keyboard
    assert (keyboard.excitation[:, 8:] == 0).all()  # no held pluck: its pulse plays


@pytest.mark.parametrize("change, message", [
    (lambda m, t: t.pop("keyboard.strings"), "keyboard: missing tensor(s)"),
    (lambda m, t: t.update({"keyboard.strings": t["keyboard.strings"][:12]}),
     "strings must have shape (128, 11)"),
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
    assert g3.t60_low[1] == pytest.approx(7.4, rel=0.02)  # the string alone, 196 Hz
    assert g3.t60_high[1] == pytest.approx(2.1, rel=0.03)  # 1.96 kHz


def test_one_friction_gives_the_steel_b3_string_both_its_decay_times():
    b3, _ = guitar_string("steel", 59)
    assert b3.t60_low[1] == pytest.approx(19.0, rel=0.02)  # 247 Hz, from the 2 kHz fit
    assert 1e-4 < steel_friction() < 3e-4


def test_a_guitar_strings_losses_are_its_own_and_its_bridges():
    g3, _ = guitar_string("nylon", 55)
    losses, alone = guitar_losses("nylon", 55, g3), string_alone_losses("nylon", 55, g3)
    assert alone[L_BRIDGE] == 0 and losses[L_BRIDGE] > 0
    np.testing.assert_array_equal(losses[:L_BRIDGE], alone[:L_BRIDGE])
    normal = g3.to_normalised()
    with_bridge, without = (t60s(record, normal.gamma ** 2, normal.kappa, [1, 20])
                            for record in (losses, alone))
    assert with_bridge[0] < 0.9 * without[0]  # the bridge takes the fundamental's energy
    assert with_bridge[1] == pytest.approx(without[1], rel=0.02)  # hardly the highs'
    assert WOODHOUSE_ETA[0] == losses[L_FRICTION]


def test_a_hard_pluck_leaves_the_energy_of_a_2_mm_static_deflection():
    from synth.kernels import sav_voice
    from synth.kernels.formulas import PLUCK, excitation_record
    from synth.kinds.sav_string import lanes_for
    from synth.physics.potentials import make_potential

    string, _ = guitar_string("steel", 59)
    position, half_width, seconds, depth = 0.15, 0.002, 0.6e-3, 2e-3
    amplitude = pluck_amplitude(string, position, half_width, seconds, depth)
    normal = string.to_normalised()
    n_modes = 200
    voices = lanes_for(make_potential("linear", n_modes), FS * 8, 1, np.float64)
    sav_voice.retune(voices, 0, normal.gamma ** 2, normal.kappa, scheme_losses(0.0, 0.0), 0.0,
                     0.5, 0)
    sav_voice.excite(voices, 0, excitation_record(amplitude, seconds * FS * 8, PLUCK,
                                                  position, width=half_width))
    out = np.zeros((int(2 * seconds * FS * 8), 1))
    sav_voice.advance(voices, len(out), 1, False, out)
    energies = np.zeros(n_modes)
    sav_voice.publish_modes(voices, 0, energies)
    joules = energies.sum() * string.linear_density * string.length ** 3
    x = position * string.length
    stiffness = string.tension * string.length / (x * (string.length - x))
    assert 1000 < stiffness < 2000  # Zollner & Zwicker's range for a pluck 6-10 cm out
    assert joules == pytest.approx(0.5 * stiffness * depth ** 2, rel=0.01)


def test_the_engine_plays_a_fretted_note_on_its_shortened_string():
    nylon = load_preset(find_preset("nylon-guitar"))
    assert nylon.keyboard is not None and not nylon.keyboard.hammered()
    engine = Engine(nylon, fs=FS, polyphony=2)  # softly: the glide would bend the partials
    audio = render_events(engine, [Event(0, NOTE_ON, 67, 40)], int(1.2 * FS))
    frequencies = acoustics.partials(acoustics.mono(audio), FS, note_frequency(67))
    _, measured = acoustics.inharmonicity(frequencies)
    assert measured == pytest.approx(inharmonicity(guitar_string("nylon", 67)[0]), rel=0.1)

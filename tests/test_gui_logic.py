"""The window's logic that needs no Qt: physical units of the controls, the computer keyboard,
and MIDI learn with soft takeover."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gui.keyboard import BASE_NOTE, ComputerKeyboard
from gui.midi_learn import MidiLearn, knob_position, knob_value
from gui.units import describe
from synth.engine.params import PARAMS
from synth.presets import find_preset, load_preset


@pytest.fixture(scope="module")
def nylon():
    return load_preset(find_preset("nylon-guitar"))


@pytest.fixture(scope="module")
def learned():
    return load_preset(find_preset("stretch-128"))


def test_controls_read_in_physical_units(nylon):
    assert describe("tension", 1.0, nylon) == "58.3 N (+0 cents)"
    assert describe("tension", 4.0, nylon) == "233.2 N (+1200 cents)"  # an octave up
    assert describe("stiffness", 2.0, nylon) == "E = 25.2 GPa"  # kappa x2: E x4
    assert describe("pluck_position", 0.17, nylon) == "111 mm from the bridge"
    # the decay control reads the T60 the preset cites at its fundamental (196 Hz)
    t60 = float(describe("decay", 1.0, nylon).split()[1])
    assert t60 == pytest.approx(7.4, rel=0.02)
    doubled = float(describe("decay", 2.0, nylon).split()[1])
    assert doubled == pytest.approx(2 * t60, rel=1e-9)
    high = float(describe("brightness", 1.0, nylon).split()[1])
    brighter = float(describe("brightness", 3.0, nylon).split()[1])
    assert brighter > high and brighter < 3 * high  # sigma0 still damps
    assert describe("gain", -6.0, nylon) == "-6.0 dB"
    assert describe("excitation", 1.0, nylon) == "strike"


def test_every_control_describes_itself_for_learned_presets_too(learned, nylon):
    for preset in (learned, nylon):
        for name, param in PARAMS.items():
            for value in (param.minimum, param.default, param.maximum):
                assert describe(name, value, preset)
    assert describe("tension", 2.0, learned) == "x2.00 (+600 cents)"
    assert describe("pickup_position", 0.5, learned) == "0.50 of the length"


def test_the_two_row_keyboard_plays_chromatically_with_octave_shift():
    keys = ComputerKeyboard()
    assert [keys.note(k) for k in "zsxdcvgbhnjm"] == list(range(BASE_NOTE, BASE_NOTE + 12))
    assert keys.note("Q") == keys.note(",") == BASE_NOTE + 12
    assert keys.note("p") == BASE_NOTE + 28 and keys.note("a") is None
    assert keys.shift(+2) == 2 and keys.note("z") == BASE_NOTE + 24
    assert keys.shift(+10) == 4 and keys.note("p") == 124  # clamped to +4 octaves
    assert keys.shift(-20) == -4 and keys.note("z") == 0


@given(st.sampled_from(sorted(PARAMS)), st.floats(0.0, 127.0))
def test_knob_positions_and_values_are_inverse(name, position):
    param = PARAMS[name]
    value = knob_value(name, position)
    assert param.minimum <= value <= param.maximum * (1 + 1e-12)
    assert knob_position(name, value) == pytest.approx(position, abs=1e-9)


def test_learn_binds_the_next_knob_and_takes_over_softly():
    learn = MidiLearn()
    learn.arm("tension")
    assert learn.control_change(21, 5, current=1.0) is None  # the gesture binds CC 21
    assert learn.bindings == {21: "tension"} and learn.armed is None
    middle = knob_position("tension", 1.0)  # tension 1.0 sits in the knob's middle
    assert middle == pytest.approx(63.5)
    assert learn.control_change(21, 30, current=1.0) is None  # below it: no jump
    name, value = learn.control_change(21, 70, current=1.0)  # passes it: takes over
    assert name == "tension" and value == pytest.approx(knob_value("tension", 70))
    assert learn.control_change(21, 10, current=value)[1] == pytest.approx(
        knob_value("tension", 10))
    learn.release("tension")  # moved in the window (to 2.0, knob 95.25): catch it again
    assert learn.control_change(21, 30, current=2.0) is None
    assert learn.control_change(21, 90, current=2.0) is None
    assert learn.control_change(21, 100, current=2.0)[0] == "tension"
    assert learn.control_change(7, 64, current=0.0) is None  # unbound controller


def test_a_parameter_follows_one_knob_and_a_knob_one_parameter():
    learn = MidiLearn()
    learn.arm("decay")
    learn.control_change(21, 0, current=1.0)
    learn.arm("decay")
    learn.control_change(22, 0, current=1.0)
    assert learn.bindings == {22: "decay"}
    learn.arm("gain")
    learn.control_change(22, 0, current=0.0)
    assert learn.bindings == {22: "gain"} and learn.controller_of("decay") is None
    with pytest.raises(KeyError):
        learn.arm("volume")


def test_settings_persist_and_survive_bad_files(tmp_path):
    from gui.settings import Settings

    path = tmp_path / "settings.json"
    assert Settings.load(path) == Settings()  # first run
    settings = Settings(audio_device="system", sample_rate=44100, block=256,
                        midi_ports=["keyboard"], octave=-1, preset="stretch-128",
                        bindings={"21": "tension"})
    settings.save(path)
    assert Settings.load(path) == settings
    path.write_text("{not json")
    broken = Settings.load(path)
    assert broken == Settings() and "unreadable" in broken.problem
    path.write_text('{"block": "large", "octave": 2, "colour": "red", "polyphony": true}')
    mixed = Settings.load(path)
    assert (mixed.block, mixed.octave, mixed.polyphony, mixed.problem) == (128, 2, 16, None)
    path.write_text("[1, 2]")
    assert "not a JSON object" in Settings.load(path).problem

"""The window's logic that needs no Qt: physical units of the controls, the computer keyboard,
and MIDI learn with soft takeover."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gui.keyboard import BASE_NOTE, ComputerKeyboard
from gui.midi_learn import MidiLearn
from gui.preset_info import summary_html
from gui.units import describe
from synth.params import PARAMS, knob_position, knob_value
from synth.physics.losses import t60s
from synth.physics.pluck import plectrum_release
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
    # the decay control reads the T60 of its key's loss law at its fundamental (196 Hz)
    t60 = float(describe("decay", 1.0, nylon).split()[1])
    key = nylon.keyboard.strings[55]
    assert t60 == pytest.approx(t60s(key[3:], key[0] ** 2, key[1], [1])[0], abs=0.006)
    doubled = float(describe("decay", 2.0, nylon).split()[1])
    assert doubled == pytest.approx(2 * t60, rel=1e-9)
    high = float(describe("brightness", 1.0, nylon).split()[1])
    brighter = float(describe("brightness", 3.0, nylon).split()[1])
    assert brighter > high and brighter < 3 * high  # sigma0 still damps
    assert describe("gain", -6.0, nylon) == "-6.0 dB"
    assert describe("excitation", 1.0, nylon) == "strike"
    assert describe("excitation", 2.0, nylon) == "hammer"
    assert describe("excitation", 0.5, nylon) == "strike"
    assert describe("plectrum_stiffness", 400.0, nylon) == \
        f"400 N/m (lets go in {1e3 * plectrum_release(400.0):.2f} ms)"


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
    from synth.settings import Settings

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
    assert (mixed.block, mixed.octave, mixed.polyphony) == (128, 2, 16)
    assert "block 'large'" in mixed.problem and "polyphony True" in mixed.problem
    path.write_text("[1, 2]")
    assert "not a JSON object" in Settings.load(path).problem


def test_the_spectrum_reads_a_sine_at_its_frequency_and_level():
    from gui.analysis import log_spectrum

    fs, n = 48000.0, 8192
    t = np.arange(n) / fs
    for frequency, amplitude in ((220.0, 0.5), (3000.0, 0.05)):
        x = amplitude * np.sin(2 * np.pi * frequency * t)
        centres, levels = log_spectrum(x, fs, points=300)
        peak = np.argmax(levels)
        assert abs(np.log2(centres[peak] / frequency)) < 0.05  # within the band's width
        # Hann window: within its 1.4 dB scalloping loss of the sine's level
        assert 20 * np.log10(amplitude) - 1.5 < levels[peak] <= 20 * np.log10(amplitude) + 0.01
    assert (log_spectrum(np.zeros(4096), fs)[1] == -120.0).all()


def test_the_scope_triggers_on_a_rising_crossing_and_free_runs_on_silence():
    from gui.analysis import triggered

    x = np.sin(2 * np.pi * np.arange(5000) / 97.0 + 1.0)
    window = triggered(x, 1000)
    assert len(window) == 1000 and window[0] >= 0.0 and window[0] < 0.07 and window[1] > window[0]
    noisy = np.where(np.arange(3000) < 2000, 1e-3 * (-1.0) ** np.arange(3000), 0.0)
    noisy[2500:] = np.sin(np.arange(500) / 5.0)
    assert len(triggered(noisy, 100)) == 100
    silence = np.zeros(3000)
    assert (triggered(silence, 500) == silence[-500:]).all()


def test_pitch_names_and_mode_levels():
    from gui.analysis import mode_levels, pitch_name

    assert pitch_name(440.0) == ("A4", 0.0)
    name, cents = pitch_name(440.0 * 2 ** ((55 - 69) / 12 + 12.0 / 1200))
    assert name == "G3" and cents == pytest.approx(12.0)
    assert pitch_name(27.5)[0] == "A0"
    with pytest.raises(ValueError):
        pitch_name(0.0)
    assert mode_levels(np.array([4.0, 0.4, 0.0])).tolist() == [0.0, -10.0, -120.0]
    assert (mode_levels(np.zeros(3)) == -120.0).all()


def test_this_qt_binding_keeps_its_references():
    """PySide6 6.12.0 (Python 3.11) drops a reference to None on every void method call, so
    a window that redraws soon frees None and the interpreter aborts."""
    import os
    import sys

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication, QLabel

    QApplication.instance() or QApplication([])
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(200):
        label.setText("x")
    assert sys.getrefcount(None) - before > -50


def test_an_instruments_details_show_its_body_and_the_sources_of_its_numbers(nylon):
    page = summary_html(nylon)
    assert "<b>Body</b>" in page and "104 Hz" in page and "Christensen" in page
    assert "<b>Body</b>" not in summary_html(load_preset(find_preset("nylon-string-bare")))
    assert describe("body_mix", 0.95, nylon) == "95 % body, 5 % direct"
    assert describe("body_size", 2.0, nylon).endswith("(lowest mode 52 Hz)")
    bare = load_preset(find_preset("steel-string-bare"))
    assert describe("body_size", 1.0, bare) == "no body in this preset"
    assert describe("output", 1.4, nylon) == "pickup (velocity)"


def test_an_a_b_pair_is_as_loud_as_each_other_under_the_peak_and_faded_out():
    from gui.fit_dialog import COMPARED_PEAK, compared

    fs = 48000
    t = np.arange(fs) / fs
    quiet = 0.01 * np.sin(2 * np.pi * 220 * t)
    spiky = np.concatenate([np.sin(2 * np.pi * 330 * t), np.zeros(fs // 2)])
    spiky[100] = 30.0
    a, b = compared(quiet, spiky, fs)
    assert len(a) == len(b) == fs  # cut to the shorter
    assert np.sqrt(np.mean(a ** 2)) == pytest.approx(np.sqrt(np.mean(b ** 2)), rel=1e-3)
    assert max(np.abs(a).max(), np.abs(b).max()) == pytest.approx(COMPARED_PEAK)
    assert a[-1] == b[-1] == 0.0  # faded out, no click at the cut


def test_an_a_b_pair_under_the_peak_is_at_the_compared_rms():
    from gui.fit_dialog import COMPARED_RMS, compared

    fs = 48000
    t = np.arange(fs) / fs
    a, b = compared(0.001 * np.sin(2 * np.pi * 220 * t), 5.0 * np.sin(2 * np.pi * 330 * t), fs)
    for x in (a, b):  # the fade's last 20 ms aside
        assert np.sqrt(np.mean(x[:-round(0.02 * fs)] ** 2)) == pytest.approx(COMPARED_RMS,
                                                                           rel=0.01)

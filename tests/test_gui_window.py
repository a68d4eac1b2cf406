"""The instrument window against a real engine playing on a JACK dummy server, offscreen.

Audio goes through PortAudio to the JACK server the session fixture runs, MIDI comes from a
second rtmidi client on the same server: nothing here is mocked except the modal dialogs a
user would click away (QMessageBox is replaced so a test can read what it said).
"""

import gc
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import rtmidi

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from conftest import (
    die_with_parent,
    jack_serving,
    skip_or_fail,
    start_jack_server,
    stop_jack_server,
)
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.app import build_engine
from gui.window import MainWindow
from synth.audio import rescan_devices
from synth.presets import find_preset, load_preset, user_directory
from synth.settings import Settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    """User presets and settings in a temporary home."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def dialogs(monkeypatch):
    """What the window's message boxes said, instead of waiting for a click."""
    said = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda parent, title, text: said.append((title, text)))
    return said


@pytest.fixture(scope="module")
def gui_jack():
    """A JACK dummy server for this module alone, PortAudio initialised on it in this process
    and shut down again while the server is healthy: a PortAudio client left idle on a server
    that other tests keep using can hang that server."""
    with jack_serving("ns-gui") as name:
        rescan_devices()  # PortAudio may have looked for devices before this server ran
        yield name


@pytest.fixture
def window(qtbot, gui_jack, home, dialogs):
    settings = Settings(midi_api="jack")
    engine, _ = build_engine(None, settings)
    win = MainWindow(engine, settings, home / "settings.json")
    qtbot.addWidget(win)
    win.show()
    win.start()
    assert win.stream is not None, win.statusBar().currentMessage()
    yield win
    win.close()


def loudness(win, seconds=0.1):
    return float(np.sqrt(np.mean(win.engine.scope(round(seconds * win.engine.fs)) ** 2)))


def key_point(win, note):
    for key, rect, _ in win.piano.key_rects():
        if key == note:
            return QPoint(round(rect.center().x()), round(rect.bottom() - 10))
    raise AssertionError(f"note {note} is not on the keyboard")


def test_clicking_a_key_plays_a_voice_heard_in_the_published_buffer(window, qtbot):
    assert loudness(window) == 0.0
    qtbot.mousePress(window.piano, Qt.MouseButton.LeftButton, pos=key_point(window, 55))
    qtbot.waitUntil(lambda: loudness(window) > 1e-3, timeout=3000)
    assert window.engine.stats()["voices"] == 1 and 55 in window.held
    qtbot.waitUntil(lambda: window.view.pitch is not None, timeout=3000)
    g3 = 440.0 * 2 ** ((55 - 69) / 12)
    assert 0.0 < 1200 * np.log2(window.view.pitch / g3) < 60.0  # a hard note starts sharp
    qtbot.waitUntil(lambda: abs(1200 * np.log2(window.view.pitch / g3)) < 5.0, timeout=5000)
    qtbot.mouseRelease(window.piano, Qt.MouseButton.LeftButton, pos=key_point(window, 55))
    assert 55 not in window.held
    qtbot.waitUntil(lambda: window.engine.stats()["voices"] == 0, timeout=5000)


def test_the_computer_keyboard_plays_and_shifts_octaves(window, qtbot):
    qtbot.keyPress(window.piano, "b")  # G3 at octave 0
    qtbot.waitUntil(lambda: loudness(window) > 1e-3, timeout=3000)
    assert window.held == {55}
    qtbot.keyRelease(window.piano, "b")
    assert window.held == set()
    qtbot.keyClick(window.piano, "=")
    assert window.keyboard.octave == 1 and window.settings.octave == 1
    qtbot.keyPress(window.piano, "z")
    assert window.held == {60}
    qtbot.keyRelease(window.piano, "z")
    typed = window.browser.search
    typed.setFocus()
    qtbot.keyClicks(typed, "zq")  # typing in the search box plays nothing
    assert typed.text() == "zq" and window.held == set()


def search_select_and_load(window, qtbot, search: str, listed: str) -> str:
    """Find a preset in the browser by `search` (the one entry must read `listed`), select
    it, double-click it; returns the details it showed (HTML)."""
    browser = window.browser
    browser.search.setText(search)
    assert browser.visible_names() == [listed]
    item = next(browser.list.item(r) for r in range(browser.list.count())
                if not browser.list.item(r).isHidden())
    browser.list.setCurrentItem(item)
    details = browser.details.toHtml()
    centre = browser.list.visualItemRect(item).center()
    qtbot.mouseClick(browser.list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(browser.list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    return details


def test_loading_a_preset_switches_the_model(window, qtbot):
    details = search_select_and_load(window, qtbot, "stretch",
                                     "stretch-128  [sav-gradnet, shipped]")
    assert "Test metrics" in details
    browser = window.browser
    assert window.engine.preset.kind == "sav-gradnet"
    assert window.engine.preset.name == "stretch-128"
    assert browser.list.currentItem().font().bold()
    window.play_note(57, 100)
    qtbot.waitUntil(lambda: loudness(window) > 1e-3, timeout=3000)
    assert window.stream.problem() is None


def test_a_plugin_kind_is_listed_described_and_played(window, qtbot):
    """The example plugin's preset (examples/kind-plugin), through the unchanged window."""
    from synth.kinds import installed_kinds

    if "learned-modal" not in installed_kinds():
        skip_or_fail("the example plugin is not installed (pip install ./examples/kind-plugin)")
    details = search_select_and_load(window, qtbot, "modal",
                                     "modal-string  [learned-modal, shipped]")
    assert "learned linear modal string" in details and "neural-strings-modal" in details
    assert "Test metrics" in details
    assert window.engine.preset.kind == "learned-modal"
    assert not window.controls.sliders["nonlinearity"].isEnabled()
    assert window.controls.sliders["tension"].isEnabled()
    window.play_note(45, 100)
    qtbot.waitUntil(lambda: loudness(window) > 1e-3, timeout=3000)
    assert window.stream.problem() is None


def test_a_long_message_is_cut_to_fit_beside_the_meters(window):
    text = "audio: " + "a very long explanation of what went wrong " * 20
    window.report(text)
    shown = window.statusBar().currentMessage()
    assert shown.endswith("\u2026") and len(shown) < len(text) // 2
    assert window.statusBar().toolTip() == text and window.voices_label.isVisible()
    assert window.voices_label.geometry().right() <= window.statusBar().width()


def test_a_corrupt_preset_shows_an_error_and_the_old_one_plays_on(window, qtbot, dialogs,
                                                                   home):
    window.play_note(50, 100)
    qtbot.waitUntil(lambda: loudness(window) > 1e-3, timeout=3000)
    bad = home / "broken.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    before = window.engine.preset
    assert not window.load_preset(bad)
    assert dialogs and "broken.safetensors" in dialogs[-1][1]
    assert "keeps playing" in dialogs[-1][1]
    assert window.engine.preset is before
    assert "broken.safetensors" in window.statusBar().currentMessage()
    time.sleep(0.2)
    assert loudness(window, 0.05) > 1e-4  # the note still rings
    assert window.stream.problem() is None


def test_midi_learn_binds_a_knob_from_a_real_midi_port(window, qtbot):
    assert window.midi is not None, window.statusBar().currentMessage()
    sender = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="ns-knobs")
    qtbot.waitUntil(lambda: any("neural-strings:midi_in" in p for p in sender.get_ports()),
                    timeout=5000)
    ports = sender.get_ports()
    sender.open_port(next(i for i, p in enumerate(ports) if "neural-strings:midi_in" in p))
    try:
        slider = window.controls.sliders["decay"]
        # A right-click reaches a widget as a context-menu event (QTest's clicks do not
        # synthesise it), which arms learn.
        where = QPoint(5, 5)
        QApplication.sendEvent(slider, QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, where, slider.mapToGlobal(where)))
        assert window.learn.armed == "decay"
        def bound() -> bool:  # CC 20 binds; resent until the new JACK connection carries it
            sender.send_message([0xB0, 20, 0])
            return window.learn.bindings == {20: "decay"}

        qtbot.waitUntil(bound, timeout=3000)
        for value in range(0, 101, 5):  # sweeps past decay 1.0 (position 63.5): takes over
            sender.send_message([0xB0, 20, value])
            time.sleep(0.01)
        qtbot.waitUntil(lambda: window.engine.get_param("decay") > 5.0, timeout=3000)
        assert window.settings.bindings == {"20": "decay"}
        assert "CC 20" in window.statusBar().currentMessage()
        sender.send_message([0x90, 60, 90])
        qtbot.waitUntil(lambda: 60 in window.held, timeout=3000)
        sender.send_message([0x80, 60, 0])
        qtbot.waitUntil(lambda: 60 not in window.held, timeout=3000)
    finally:
        sender.delete()


def test_saving_a_user_preset_keeps_the_sound_and_settings_persist(window, home):
    window.controls.set("tension", 1.5)
    window.controls.voices.setValue(6)
    assert window.engine.voice_limit == 6
    assert window.save_preset("my nylon")
    path = user_directory() / "my nylon.safetensors"
    assert path.exists() and "my nylon  [sav-physics, user]" in window.browser.visible_names()
    saved = load_preset(path)
    assert saved.controls["tension"] == pytest.approx(1.5)
    assert saved.provenance["saved_from"] == "nylon-guitar"
    assert not window.save_preset("../escape")
    window.shift_octave(-2)
    window.close()
    settings = Settings.load(home / "settings.json")
    assert settings.octave == -2 and settings.polyphony == 6 and settings.midi_api == "jack"


def test_setup_reopens_audio_and_reports_what_the_device_refuses(window, qtbot):
    panel = window.setup_panel
    panel.block.setCurrentIndex(panel.block.findData(256))
    panel._apply()
    assert window.stream is not None and window.stream.blocksize == 256
    window.play_note(62, 100)
    qtbot.waitUntil(lambda: loudness(window) > 1e-3, timeout=3000)
    panel.rate.setCurrentIndex(panel.rate.findData(96000.0))  # JACK runs at 48 kHz
    panel._apply()
    assert window.stream is None
    assert "96000" in window.statusBar().currentMessage()
    panel.rate.setCurrentIndex(panel.rate.findData(48000.0))
    panel._apply()
    assert window.stream is not None and window.engine.fs == 48000.0


def test_the_window_command_saves_a_screenshot_of_a_chord(gui_jack, home):
    picture = home / "window.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", "synth", "window", "--settings", str(home / "s.json"),
         "--screenshot", str(picture), "--settle", "1"], env=env, capture_output=True,
        text=True, timeout=300, preexec_fn=die_with_parent)
    assert done.returncode == 0, done.stderr[-2000:]
    from PySide6.QtGui import QImage

    image = QImage(str(picture))
    assert image.width() >= 1000 and image.height() >= 700
    assert find_preset(None).exists()


def test_a_midi_port_that_goes_away_is_reported_on_the_status_line(window, qtbot):
    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="ns-keys")
    keys.open_virtual_port("out")
    window.settings.midi_ports = ["ns-keys"]
    window.restart()
    qtbot.waitUntil(lambda: "connected" in window.statusBar().currentMessage(), timeout=5000)
    keys.delete()
    qtbot.waitUntil(lambda: "disappeared" in window.statusBar().currentMessage(),
                    timeout=5000)
    assert window.stream is not None and window.stream.problem() is None  # audio plays on


def test_a_sound_server_that_dies_is_reported_and_the_window_still_closes(home):
    server = start_jack_server("ns-gui-lost")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "JACK_DEFAULT_SERVER": "ns-gui-lost"}
    window = subprocess.Popen(
        [sys.executable, "-m", "synth", "window", "--settings", str(home / "s.json")],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        preexec_fn=die_with_parent)
    lines = []
    try:
        for line in window.stderr:
            lines.append(line)
            if "neural-strings: playing" in line:
                break
        assert window.poll() is None, "".join(lines)
        stop_jack_server(server)
        for line in window.stderr:
            lines.append(line)
            if "neural-strings: audio:" in line:
                break
        assert "stopped" in lines[-1] and "Setup" in lines[-1], "".join(lines)
        window.terminate()  # what Ctrl-C does too: close the window
        assert window.wait(timeout=20) in (0, 2)
    finally:
        window.kill()
        stop_jack_server(server)


def test_neural_strings_alone_opens_the_window_or_says_why_it_cannot(home):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "synth"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "no display" in done.stderr and "neural-strings play" in done.stderr


def test_a_bad_settings_file_starts_the_window_and_names_what_it_replaced(qtbot, gui_jack,
                                                                         home, dialogs):
    path = home / "settings.json"
    path.write_text('{"sample_rate": 5, "midi_ports": [1, 2], "midi_api": "jack", '
                    '"bindings": {"1": "bogus", "999": "tension", "21": "decay", '
                    '"5": "sustain"}}')  # sustain: a parameter, but no control to learn
    settings = Settings.load(path)
    engine, _ = build_engine(None, settings)
    win = MainWindow(engine, settings, path)
    qtbot.addWidget(win)
    win.show()
    win.start()
    try:
        said = win.statusBar().toolTip()
        assert "sample_rate 5" in said and "midi_ports [1, 2]" in said and "'999'" in said
        assert "without a control dropped: CC5 sustain" in said
        assert win.stream is not None and engine.fs == 48000
        for position in range(0, 128, 8):  # CC1 keeps its default role; CC21 is learned
            for controller in (1, 5, 21, 999 % 128):  # (soft takeover: it must cross)
                win._midi_message(0xB0, controller, position)
        assert win.learn.bindings == {21: "decay"}
        assert engine.get_param("decay") != engine.default("decay")
    finally:
        win.close()
    assert json.loads(path.read_text())["sample_rate"] is None  # the file is repaired


def test_fit_from_recordings_refuses_a_bad_file_fits_saves_and_plays(window, qtbot, home):
    import soundfile

    from synth.engine import Engine

    piano = Engine("piano-wound", fs=48000, polyphony=2)
    piano.note_on(60, 90)
    recording = home / "c4.wav"
    soundfile.write(recording, piano.process(72000), 48000)
    text = home / "notes.wav"
    text.write_text("not audio")
    dialog = window.open_fit_dialog()
    dialog.add_files([text])
    qtbot.mouseClick(dialog.fit_button, Qt.MouseButton.LeftButton)
    assert "not an audio file" in dialog.status.text() and dialog.worker is None
    dialog.files.clear()
    dialog.add_files([recording])
    dialog.kind.setCurrentText("piano")
    dialog.name.setText("my-piano")
    qtbot.mouseClick(dialog.fit_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)  # stops at a render
    qtbot.waitUntil(lambda: "cancelled" in dialog.status.text(), timeout=60000)
    assert not dialog.save_button.isEnabled()
    assert not list((home / "data").rglob("my-piano.safetensors"))
    assert dialog.learn.isEnabled() and not dialog.learn.isChecked()
    dialog.learn.setChecked(True)  # the piano's Kirchhoff-Carrier string: refused before the
    # fit's work
    qtbot.mouseClick(dialog.fit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "exact geometric string or a GradNet" in dialog.status.text(),
                    timeout=60000)
    assert gc.isenabled() and dialog.fit_button.isEnabled()
    dialog.learn.setChecked(False)
    dialog.refine.setChecked(True)  # and its body refined by gradient
    qtbot.mouseClick(dialog.fit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=300000)
    assert gc.isenabled()  # off while the worker ran
    assert "piano-wound fitted to 1 note" in dialog.report.toPlainText()
    assert "modes then refined by gradient" in dialog.report.toPlainText()
    assert len(dialog.spectrum.getPlotItem().listDataItems()) == 2  # recording and fit
    assert dialog.decays.getPlotItem().listDataItems()  # recorded and fitted T60s
    dialog.grab().save(str(home / "fit-dialog.png"))
    assert window.engine.stats()["voices"] == 0
    for button, what in ((dialog.play_recording, "the recording"), (dialog.play_fit, "the fit")):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # through the stream on JACK
        assert f"playing {what} of c4.wav" in dialog.status.text()
        qtbot.waitUntil(lambda: np.abs(window.engine.scope(4800)).max() > 0.05, timeout=5000)
        window.engine.stop_audition()
        qtbot.waitUntil(lambda: not window.engine.scope(480).any(), timeout=5000)
    assert window.engine.stats()["voices"] == 0  # what played was the audition, no note
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert window.engine.preset.name == "my-piano"  # saved, listed and playing
    assert "my-piano" in " ".join(window.browser.visible_names())
    assert list((home / "data").rglob("my-piano.safetensors"))

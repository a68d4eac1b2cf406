"""The instrument window: presets and set-up on the left, the string's displays and controls
on the right, the keyboard below, and a status bar with voices, CPU load and underruns.

`MainWindow` owns the audio stream and the MIDI input of one `Engine` and talks to the engine
only through its public API. MIDI messages reach the window through a queue that its refresh
timer drains (rtmidi calls from its own thread); the timer also redraws the displays from what
the engine publishes, at REFRESH_HZ, and polls the stream for a lost device.
"""

from __future__ import annotations

import collections
import sys
import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.audio_setup import SetupPanel
from gui.browser import PresetBrowser, snapshot, user_preset_path
from gui.controls import SHOWN, ControlPanel
from gui.displays import StringView
from gui.fit_dialog import FitDialog
from gui.keyboard import ComputerKeyboard
from gui.midi_learn import MidiLearn
from gui.piano import Piano
from synth import params
from synth.audio import AudioStream, choose_device, output_devices, rescan_devices
from synth.engine import Engine
from synth.errors import AudioError, OutputError, ParameterError, PresetError
from synth.midi import CONTROL, NOTE_OFF, NOTE_ON, MidiInput
from synth.presets import find_preset, load_preset, save_preset
from synth.settings import Settings
from synth.warm import cold_parts, mark_ready

REFRESH_HZ = 30
PROBLEM_POLL_SECONDS = 0.5


class MainWindow(QMainWindow):
    """The instrument. `start()` opens audio and MIDI as the settings say; `close()` stops
    them and saves the settings (to `settings_path`, default: the user config file)."""

    def __init__(self, engine: Engine, settings: Settings, settings_path=None) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.settings_path = settings_path
        self.stream: AudioStream | None = None
        self._stream_released = True  # False once a stream would not stop (PortAudio stuck)
        self.midi: MidiInput | None = None
        self.incoming: collections.deque = collections.deque()  # from the MIDI thread
        self.held: set[int] = set()  # notes held by any source, for the keyboard display
        self.learn = MidiLearn()
        unlearnable = [f"CC{c} {n}" for c, n in settings.bindings.items() if n not in SHOWN]
        for controller, name in settings.bindings.items():
            if name in SHOWN:  # a parameter without a control here cannot be learned
                self._bind(int(controller), name)
        self.settings.bindings = {str(c): n for c, n in self.learn.bindings.items()}
        if unlearnable:
            self.settings.problem = "; ".join(filter(None, [
                settings.problem, "MIDI-learn bindings of parameters without a control "
                "dropped: " + ", ".join(unlearnable)]))
        self.keyboard = ComputerKeyboard(settings.octave)
        self.setWindowTitle("neural-strings")

        self.browser = PresetBrowser()
        self.setup_panel = SetupPanel(settings)
        side = QTabWidget()
        side.addTab(self.browser, "Presets")
        side.addTab(self.setup_panel, "Setup")
        self.view = StringView()
        self.controls = ControlPanel(engine, self.learn)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.view)
        right.addWidget(self.controls)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        top = QSplitter()
        top.addWidget(side)
        top.addWidget(right)
        top.setStretchFactor(1, 1)
        top.setSizes([330, 1000])

        self.piano = Piano(self.keyboard)
        self.octave_label = QLabel()
        down, up = QPushButton("octave -"), QPushButton("octave +")
        down.clicked.connect(lambda: self.shift_octave(-1))
        up.clicked.connect(lambda: self.shift_octave(+1))
        octave = QVBoxLayout()
        for widget in (up, self.octave_label, down):
            octave.addWidget(widget)
        bottom = QHBoxLayout()
        bottom.addLayout(octave)
        bottom.addWidget(self.piano, 1)
        central = QWidget()
        column = QVBoxLayout(central)
        column.addWidget(top, 1)
        column.addLayout(bottom)
        self.setCentralWidget(central)

        self.voices_label, self.underruns_label = QLabel(), QLabel()
        self.load_meter = QProgressBar()
        self.load_meter.setRange(0, 100)
        self.load_meter.setFormat("CPU %p%")
        self.load_meter.setMaximumWidth(140)
        self.load_meter.setToolTip("audio callback time as a share of the block period")
        self._meters = (self.voices_label, self.load_meter, self.underruns_label)
        for widget in self._meters:
            self.statusBar().addPermanentWidget(widget)

        self.piano.note_on.connect(self.play_note)
        self.piano.note_off.connect(self.release_note)
        self.browser.load_requested.connect(self.load_preset)
        self.browser.save_requested.connect(self.save_preset)
        self.browser.fit_requested.connect(self.open_fit_dialog)
        self.fit_dialog: FitDialog | None = None
        self.setup_panel.applied.connect(self.restart)
        self._keys = KeyFilter(self)
        QApplication.instance().installEventFilter(self._keys)
        self._next_poll = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(round(1000 / REFRESH_HZ))
        self.timer.timeout.connect(self.refresh)
        self._show_octave()
        self.browser.mark_current(engine.preset.path)
        self.resize(1400, 900)

    # ------------------------------------------------------------ audio and MIDI
    def start(self) -> None:
        """Open the audio output and the MIDI input; problems go to the status line, a bad
        settings file's last (so it is what stays there)."""
        self._start_audio()
        self._start_midi()
        self._offer_choices()
        if self.settings.problem:
            self.report(self.settings.problem)
        self.timer.start()

    def restart(self) -> None:
        """Apply the set-up panel's choices: reopen audio (at a new rate if asked) and MIDI."""
        self._stop_io()
        if not self._stream_released:
            return
        rescan_devices()
        self._start_audio()
        self._start_midi()
        self._offer_choices()
        self.save_settings()

    def _start_audio(self) -> None:
        device = self.settings.audio_device
        try:
            rate = self.settings.sample_rate or choose_device(device)["samplerate"]
            if rate != self.engine.fs:
                self.engine.set_rate(rate)
            self.stream = AudioStream(self.engine, device=device, blocksize=self.settings.block)
            self.stream.start()
        except (AudioError, ParameterError) as error:
            self.stream = None
            self.report(f"audio: {error}; choose another output in Setup")
            return
        self.report(f"playing {self.engine.preset.name!r} on {self.stream.device['name']!r} "
                    f"at {self.engine.fs:g} Hz, {self.settings.block} frames")

    def _start_midi(self) -> None:
        try:
            self.midi = MidiInput(self.engine, api=self.settings.midi_api,
                                  ports=self.settings.midi_ports,
                                  report=lambda text: self.incoming.append(("report", text)),
                                  listener=lambda *message: self.incoming.append(message))
        except (RuntimeError, ValueError) as error:
            self.midi = None
            self.report(f"MIDI: {error}")

    def _stop_io(self) -> None:
        if self.midi is not None:
            self.midi.close()
            self.midi = None
        self._stop_audio()

    def _stop_audio(self) -> None:
        if self.stream is not None:
            self._stream_released = self.stream.stop()
            if not self._stream_released:
                self.report("audio: the device did not let go; restart the program to use "
                            "another")
            self.stream = None

    def _offer_choices(self) -> None:
        try:
            devices = [d["name"] for d in output_devices()]
        except Exception as error:  # PortAudio can fail in many ways on a broken system
            devices = []
            self.report(f"audio: cannot list devices ({error})")
        ports = self.midi.available() if self.midi is not None else []
        self.setup_panel.refresh_choices(devices, ports)

    # ------------------------------------------------------------ playing
    def play_note(self, note: int, velocity: int = 100) -> None:
        self.engine.note_on(note, velocity)
        self.held.add(note)

    def release_note(self, note: int) -> None:
        self.engine.note_off(note)
        self.held.discard(note)

    def shift_octave(self, octaves: int) -> None:
        for note in list(self.held):  # notes held from the computer keys would hang
            self.release_note(note)
        self.settings.octave = self.keyboard.shift(octaves)
        self._show_octave()
        self.piano.update()

    def _show_octave(self) -> None:
        self.octave_label.setText(f"octave {self.keyboard.octave:+d}")
        self.octave_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

    # ------------------------------------------------------------ presets
    def load_preset(self, path) -> bool:
        """Play the preset at `path`; a bad file gets a dialog and the old sound goes on."""
        try:
            preset = load_preset(find_preset(path))
            if cold_parts(preset, self.engine.dtype, real_time=True):
                self.report(f"compiling the {preset.kind} kind (first time only)...")
                QApplication.processEvents()
            preset = self.engine.load_preset(preset)
            mark_ready(preset, self.engine.dtype, real_time=True)
        except PresetError as error:
            self.report(f"preset not loaded: {error}")
            QMessageBox.warning(self, "Cannot load this preset",
                                f"{error}\n\nThe current preset, {self.engine.preset.name!r}, "
                                "keeps playing.")
            return False
        self.controls.refresh()
        self.browser.mark_current(preset.path)
        self.settings.preset = str(preset.path)
        self.report(f"playing {preset.name!r} ({preset.kind}, {preset.n_modes} modes)")
        return True

    def save_preset(self, name: str) -> bool:
        """Save the current sound as user preset `name` (asks before overwriting)."""
        try:
            path = user_preset_path(name)
        except (PresetError, OutputError) as error:
            QMessageBox.warning(self, "Cannot save", str(error))
            return False
        if path.exists() and QMessageBox.question(
                self, "Overwrite?", f"A user preset called {name!r} exists. Replace it?"
        ) != QMessageBox.StandardButton.Yes:
            return False
        try:
            save_preset(snapshot(self.engine, name), path)
        except (OSError, OutputError) as error:
            QMessageBox.warning(self, "Cannot save", str(error))
            return False
        self.browser.rescan()
        self.report(f"saved {name!r} to {path}")
        return True

    def open_fit_dialog(self) -> FitDialog:
        """Show "Fit from recordings..." (one at a time); a preset it saves plays at once."""
        if self.fit_dialog is None:
            self.fit_dialog = FitDialog(self, audition=self.audition)
            self.fit_dialog.saved.connect(self._fitted)
        self.fit_dialog.show()
        self.fit_dialog.raise_()
        return self.fit_dialog

    def audition(self, samples, fs: float) -> bool:
        """Play a sound through the output beside the notes (`Engine.audition`); False when
        no output is open."""
        if self.stream is None:
            return False
        self.engine.audition(samples, fs)
        return True

    def _fitted(self, path) -> None:
        self.browser.rescan()
        self.load_preset(path)

    # ------------------------------------------------------------ the refresh loop
    def refresh(self) -> None:
        """Drain MIDI, redraw the displays, update the meters (REFRESH_HZ times a second)."""
        while self.incoming:
            message = self.incoming.popleft()
            if message[0] == "report":
                self.report(message[1])
            else:
                self._midi_message(*message)
        self.view.refresh(self.engine)
        self.piano.show_held(self.held)
        stats = self.engine.stats()
        self.voices_label.setText(f"voices {stats['voices']}/{self.engine.voice_limit}")
        self.load_meter.setValue(min(100, round(100 * stats["load_avg"])))
        self.underruns_label.setText(f"underruns {stats['underruns']}")
        now = time.monotonic()
        if self.stream is not None and now >= self._next_poll:
            self._next_poll = now + PROBLEM_POLL_SECONDS
            problem = self.stream.problem()
            if problem is not None:
                self.report(f"audio: {problem}; choose an output in Setup and Apply")
                self._stop_audio()

    def _midi_message(self, status: int, data1: int, data2: int) -> None:
        kind = status & 0xF0
        if kind == NOTE_ON and data2 > 0:
            self.held.add(data1)
        elif kind in (NOTE_ON, NOTE_OFF):
            self.held.discard(data1)
        elif kind == CONTROL and data1 not in params.FIXED_CONTROLLERS:
            learning = self.learn.armed is not None
            self.controls.control_change(data1, data2)
            if learning and data1 in self.learn.bindings:
                self._bind(data1, self.learn.bindings[data1])
                self.report(f"MIDI CC {data1} now drives {self.learn.bindings[data1]}")

    def _bind(self, controller: int, name: str) -> None:
        """Let the window alone drive `name` from `controller` (soft takeover)."""
        self.learn.bindings[controller] = name
        self.engine.assign_cc(controller, None)
        self.settings.bindings = {str(c): n for c, n in self.learn.bindings.items()}

    def report(self, text: str) -> None:
        """Show `text` on the status line, cut to fit beside the meters (the whole of it in
        the tooltip), and on stderr, for a terminal or a log."""
        bar = self.statusBar()
        room = bar.width() - sum(w.sizeHint().width() for w in self._meters) - 40
        shown = bar.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(room, 80))
        bar.showMessage(shown)
        bar.setToolTip(text)
        print(f"neural-strings: {text}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------ closing
    def save_settings(self) -> None:
        self.settings.polyphony = self.engine.voice_limit
        try:
            self.settings.save(self.settings_path)
        except OutputError as error:
            self.report(f"settings not saved: {error}")

    @property
    def stuck(self) -> bool:
        """True once an audio stream would not stop: PortAudio then hangs at exit, so the
        process should leave without its clean-up (`os._exit`)."""
        return not self._stream_released

    def closeEvent(self, event) -> None:
        self.timer.stop()
        QApplication.instance().removeEventFilter(self._keys)
        self.save_settings()
        self._stop_io()
        super().closeEvent(event)


class KeyFilter(QObject):
    """Plays the computer keyboard anywhere in the window except in text fields; - and =
    shift octaves. Auto-repeat is ignored, so a held key is one note."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched, event) -> bool:
        if event.type() not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        focus = QApplication.focusWidget()
        if isinstance(focus, QLineEdit | QAbstractSpinBox) or (
                focus is not None and focus.window() is not self.window):
            return False  # typing a name or a number, or in a dialog
        text = event.text()
        if event.isAutoRepeat() or not text:
            return bool(text) and self.window.keyboard.note(text) is not None
        pressed = event.type() == QEvent.Type.KeyPress
        if text in "-=" and pressed:
            self.window.shift_octave(-1 if text == "-" else 1)
            return True
        note = self.window.keyboard.note(text)
        if note is None:
            return False
        if pressed:
            self.window.play_note(note, 100)
        else:
            self.window.release_note(note)
        return True

"""The window's "Fit from recordings...": choose recorded notes, watch the fit's progress, see
what it found beside the recordings, hear both, and save it as a user preset that then plays
(`synth.fit`, `models.refine`, `models.nonlinearity`; docs/design.md, "Fitting a preset to
recordings").

The recordings are read when Fit is pressed: a file a fit cannot use is named, with its
reason, in the dialog, before any work. The fit (and, where torch is installed and the boxes
are ticked, the refinement of its body by gradient and the learning of its string's
nonlinearity) runs in a worker thread; its progress
comes back through a queue that a timer drains, and Cancel stops it at its next render or
gradient step (nothing is saved). When it is done the dialog shows the report, the first
note's spectrum over the recording's (the first 0.5 s) and each note's partial T60s,
recorded and fitted, and plays each recorded note and the fit's same note, as loud as each
other, through the window's output (`Engine.audition`): A/B.

Python's automatic garbage collection is off while the worker runs, and the timer collects
on the GUI thread instead: a collection on the worker could destroy Qt objects there, whose
destructors deadlock with the GUI thread.
"""

from __future__ import annotations

import gc
import importlib.util
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)

from gui.browser import user_preset_path
from models.cli import fit_stages
from synth import acoustics
from synth.engine.state import AUDITION_SECONDS
from synth.errors import OutputError, ParameterError, PresetError, one_line
from synth.fit import (
    KINDS,
    Fit,
    FittedNote,
    choose_base,
    fit_in_stages,
    render,
    report,
)
from synth.presets import save_preset
from synth.recording import read_note

POLL_MS = 100
SIZE = (980, 860)  # pixels: room for the report and both plots
FILES_HEIGHT = 110
SPECTRUM_SECONDS = 0.5
AUDIO_FILES = "Recordings (*.wav *.flac *.ogg *.mp3 *.aif *.aiff);;All files (*)"
COMPARED_RMS = 0.1  # both sounds of an A/B at this RMS (-20 dBFS) ...
COMPARED_PEAK = 0.9  # ... or quieter alike, so neither's peak passes this
FADE_SECONDS = 0.02  # the end of each compared sound fades out over this


def compared(recorded: np.ndarray, fitted: np.ndarray, fs: float) -> tuple[np.ndarray, ...]:
    """A recording and the fit's render of its note (mono, fs Hz, from their onsets) made as
    loud as each other (COMPARED_RMS, COMPARED_PEAK), cut to the shorter and faded out at
    the end, for A/B listening."""
    length = min(len(recorded), len(fitted))
    fade = np.ones(length)
    steps = min(round(FADE_SECONDS * fs), length)
    fade[length - steps:] = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, steps))
    pair = [x[:length] * fade / max(float(np.sqrt(np.mean(x[:length] ** 2))), 1e-12)
            * COMPARED_RMS for x in (recorded, fitted)]
    loudest = max(float(np.abs(x).max()) for x in pair)
    return tuple(x * min(1.0, COMPARED_PEAK / loudest) for x in pair)


class Cancelled(Exception):
    """The user pressed Cancel during a fit."""


class FitDialog(QDialog):
    """Emits `saved(path)` once a fitted preset is saved, for the window to play it.
    `audition(samples, fs)` plays a sound through the window's output and says whether it
    could (False: no output is open)."""

    saved = Signal(Path)

    def __init__(self, parent=None,
                 audition: Callable[[np.ndarray, float], bool] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fit from recordings")
        self.audition = audition
        self.fit: Fit | None = None
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []  # A/B: recording, fit, a note
        self.messages: queue.Queue = queue.Queue()
        self.cancel_requested = threading.Event()
        self.worker: threading.Thread | None = None
        self.done = 0.0  # the share of the fit done
        self.files = QListWidget()
        self.files.setMaximumHeight(FILES_HEIGHT)
        add, remove = QPushButton("Add recordings..."), QPushButton("Remove")
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.kind.setToolTip("the shipped instruments the fit may start from (auto: the "
                             "closest of all)")
        self.name = QLineEdit("my-instrument")
        self.refine = QCheckBox("then refine the body's modes by gradient (about 15 s more "
                                "a note)")
        torch_here = importlib.util.find_spec("torch") is not None  # imported by the worker
        self.refine.setEnabled(torch_here)
        self.refine.setToolTip("as `neural-strings fit --refine`" if torch_here else
                               "needs the training side: pip install 'neural-strings[train]'")
        self.learn = QCheckBox("then learn the string's nonlinearity (exact or GradNet strings; "
                               "about 7 min at 44.1 kHz)")
        self.learn.setEnabled(torch_here)
        self.learn.setToolTip("as `neural-strings fit --learn-nonlinearity`: a GradNet "
                              "potential fine-tuned through the SAV scheme" if torch_here else
                              "needs the training side: pip install 'neural-strings[train]'")
        self.fit_button, self.cancel_button = QPushButton("Fit"), QPushButton("Cancel")
        self.save_button = QPushButton("Save and play")
        self.compared_note = QComboBox()
        self.compared_note.setToolTip("the recorded note to compare with the fit's")
        self.play_recording, self.play_fit = QPushButton("A: recording"), QPushButton("B: fit")
        for button in (self.play_recording, self.play_fit):
            button.setToolTip("play it through the window's output, as loud as the other")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("Add one recorded note a file, each let ring.")
        self.status.setWordWrap(True)
        self.report = QTextBrowser()
        self.spectrum = pyqtgraph.PlotWidget(title="first note, first 0.5 s")
        self.spectrum.setLabel("bottom", "Hz")
        self.spectrum.setLabel("left", "dB")
        self.spectrum.addLegend()
        self.decays = pyqtgraph.PlotWidget(title="partial T60s (s)")
        self.decays.setLabel("bottom", "partial")
        self.decays.addLegend()
        for button in (self.cancel_button, self.save_button, self.play_recording,
                       self.play_fit):
            button.setEnabled(False)

        chooser = QHBoxLayout()
        chooser.addWidget(add)
        chooser.addWidget(remove)
        form = QFormLayout()
        form.addRow("start from", self.kind)
        form.addRow("preset name", self.name)
        form.addRow("", self.refine)
        form.addRow("", self.learn)
        actions = QHBoxLayout()
        for button in (self.fit_button, self.cancel_button, self.save_button):
            actions.addWidget(button)
        listening = QHBoxLayout()
        listening.addWidget(QLabel("compare"))
        listening.addWidget(self.compared_note, 1)
        listening.addWidget(self.play_recording)
        listening.addWidget(self.play_fit)
        plots = QHBoxLayout()
        plots.addWidget(self.spectrum)
        plots.addWidget(self.decays)
        layout = QVBoxLayout(self)
        layout.addWidget(self.files)
        layout.addLayout(chooser)
        layout.addLayout(form)
        layout.addLayout(actions)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.report, 1)
        layout.addLayout(listening)
        layout.addLayout(plots, 3)
        self.resize(*SIZE)

        add.clicked.connect(self._choose)
        remove.clicked.connect(lambda: self.files.takeItem(self.files.currentRow()))
        self.fit_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_requested.set)
        self.save_button.clicked.connect(self.save)
        self.play_recording.clicked.connect(lambda: self.compare(0))
        self.play_fit.clicked.connect(lambda: self.compare(1))
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._drain)

    def add_files(self, paths) -> None:
        for path in paths:
            self.files.addItem(str(path))

    def _choose(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Recorded notes", str(Path.home()),
                                                AUDIO_FILES)
        self.add_files(names)

    def start(self) -> None:
        """Read the recordings (a bad one is named, with why, and nothing starts), then fit
        in a worker thread."""
        paths = [self.files.item(row).text() for row in range(self.files.count())]
        if not paths:
            self.status.setText("Add at least one recording first.")
            return
        try:
            notes = [read_note(path) for path in paths]
        except ParameterError as error:
            self.status.setText(f"Cannot fit: {one_line(str(error))}")
            return
        self.fit, self.pairs = None, []
        self.compared_note.clear()
        self.cancel_requested.clear()
        self.done = 0.0
        self.progress.setValue(0)
        self.report.clear()
        self.status.setText("fitting...")
        for button, enabled in ((self.fit_button, False), (self.cancel_button, True),
                                (self.save_button, False), (self.play_recording, False),
                                (self.play_fit, False)):
            button.setEnabled(enabled)
        name, kind = self.name.text().strip() or "my-instrument", self.kind.currentText()
        self.worker = threading.Thread(
            target=self._work, args=(notes, kind, name, self.refine.isChecked(),
                                     self.learn.isChecked()), daemon=True)
        # A collection on the worker could destroy Qt objects there (a QMenu's destructor
        # waits for a mutex the GUI thread holds, and the GUI thread for the GIL): collect
        # only here, on the GUI thread, until the fit ends (`_drain`).
        gc.collect()
        gc.disable()
        self.worker.start()
        self.timer.start(POLL_MS)

    def _work(self, notes, kind: str, name: str, refine: bool, learn: bool) -> None:
        """The fit, then with `refine` its body refined by gradient and with `learn` its
        string's nonlinearity learned (worker thread): progress (each step's share, divided
        by the stages run), then the result or the failure, as messages."""
        stages = 1 + refine + learn

        def progress(share: float) -> None:
            if self.cancel_requested.is_set():
                raise Cancelled
            self.messages.put(("progress", share / stages))

        try:
            # the command's stages, from the boxes; one bar for all
            fit = fit_in_stages(notes, choose_base(notes, kind), name,
                                fit_stages(refine, learn), lambda title: progress,
                                command="window: Fit from recordings")
            self.messages.put(("done", fit, [_pair(fit, note) for note in fit.notes]))
        except Cancelled:
            self.messages.put(("failed", "cancelled: nothing was saved"))
        except (ParameterError, PresetError) as error:
            self.messages.put(("failed", f"the fit failed: {one_line(str(error))}"))
        except Exception as error:  # a bug: said in the dialog, not lost in the worker
            self.messages.put(("failed", f"the fit failed: {type(error).__name__}: "
                                         f"{one_line(str(error))}"))

    def _drain(self) -> None:
        gc.collect(1)  # the young garbage, on this thread (see `start`)
        while not self.messages.empty():
            message = self.messages.get()
            if message[0] == "progress":  # summed as shares: each is under a bar's step
                self.done = min(self.done + message[1], 1.0)
                self.progress.setValue(round(1000 * self.done))
                continue
            self.timer.stop()
            gc.enable()
            gc.collect()
            self.fit_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            if message[0] == "failed":
                self.status.setText(message[1])
                return
            self.fit, self.pairs = message[1], message[2]
            self.progress.setValue(1000)
            for button in (self.save_button, self.play_recording, self.play_fit):
                button.setEnabled(True)
            self.compared_note.addItems([f"{n.recording.path.name} (key {n.key})"
                                         for n in self.fit.notes])
            self.status.setText("done: compare, then save it to play it")
            self.report.setPlainText(report(self.fit))
            self._draw(self.fit, self.pairs[0])

    def compare(self, which: int) -> bool:
        """Play the chosen note's recording (0) or the fit's (1), as loud as each other."""
        row = self.compared_note.currentIndex()
        if self.fit is None or not 0 <= row < len(self.pairs):
            return False
        if self.audition is None or not self.audition(self.pairs[row][which],
                                                      self.fit.notes[row].recording.fs):
            self.status.setText("no audio output is open: choose one in the window to listen")
            return False
        self.status.setText(f"playing {('the recording', 'the fit')[which]} of "
                            f"{self.compared_note.currentText()}")
        return True

    def _draw(self, fit: Fit, first_pair: tuple[np.ndarray, np.ndarray]) -> None:
        first = fit.notes[0].recording
        self.spectrum.clear()
        for x, pen, label in ((first_pair[0], "w", "recording"), (first_pair[1], "c", "fit")):
            freqs, power = acoustics.spectrum(x, first.fs, 0.0, SPECTRUM_SECONDS)
            shown = (freqs > 20) & (freqs < 8000)
            level = 10 * np.log10(power[shown] / power.max() + 1e-12)
            self.spectrum.plot(freqs[shown], level, pen=pen, name=label)
        self.decays.clear()
        for index, note in enumerate(fit.notes):
            colour = pyqtgraph.intColor(index, hues=max(len(fit.notes), 3))
            partials = np.arange(1, len(note.t60s_recorded) + 1)
            for t60s, symbol, what in ((note.t60s_recorded, "o", "recorded"),
                                       (note.t60s_fitted, "x", "fitted")):
                kept = np.isfinite(t60s)
                self.decays.plot(partials[kept], t60s[kept], pen=None, symbol=symbol,
                                 symbolBrush=colour, symbolPen=colour,
                                 name=f"key {note.key} {what}")

    def save(self) -> Path | None:
        """Save the fitted preset as a user preset (atomically) and emit `saved`."""
        if self.fit is None:
            return None
        try:
            path = save_preset(self.fit.preset, user_preset_path(self.fit.preset.name))
        except (OSError, OutputError, PresetError) as error:
            self.status.setText(f"Cannot save: {one_line(str(error))}")
            return None
        self.status.setText(f"saved {path}")
        self.saved.emit(path)
        return path

    def closeEvent(self, event) -> None:
        self.cancel_requested.set()  # a running fit stops at its next render
        super().closeEvent(event)


def _pair(fit: Fit, note: FittedNote) -> tuple[np.ndarray, np.ndarray]:
    """A recorded note and the fitted preset playing it (`compared`)."""
    recording = note.recording
    seconds = min(len(recording.samples) / recording.fs, AUDITION_SECONDS)
    fitted = render(fit.preset, note.key, note.velocity, recording.fs, seconds)
    return compared(recording.samples, fitted, recording.fs)

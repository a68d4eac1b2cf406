"""The window's "Fit from recordings...": choose recorded notes, watch the fit's progress, see
what it found beside the recordings, and save it as a user preset that then plays
(`synth.fit`; docs/design.md, "Fitting a preset to recordings").

The recordings are read when Fit is pressed: a file a fit cannot use is named, with its
reason, in the dialog, before any work. The fit runs in a worker thread; its progress comes
back through a queue that a timer drains, and Cancel stops it at its next render (nothing is
saved). When it is done the dialog shows the report, the first note's spectrum over the
recording's (the first 0.5 s) and each note's partial T60s, recorded and fitted.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np
import pyqtgraph
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
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
from synth import acoustics
from synth.errors import OutputError, ParameterError, PresetError, one_line
from synth.fit import KINDS, Fit, choose_base, fit_preset, render, report
from synth.presets import save_preset
from synth.recording import read_note

POLL_MS = 100
SIZE = (980, 860)  # pixels: room for the report and both plots
FILES_HEIGHT = 110
SPECTRUM_SECONDS = 0.5
AUDIO_FILES = "Recordings (*.wav *.flac *.ogg *.mp3 *.aif *.aiff);;All files (*)"


class Cancelled(Exception):
    """The user pressed Cancel during a fit."""


class FitDialog(QDialog):
    """Emits `saved(path)` once a fitted preset is saved, for the window to play it."""

    saved = Signal(Path)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fit from recordings")
        self.fit: Fit | None = None
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
        self.fit_button, self.cancel_button = QPushButton("Fit"), QPushButton("Cancel")
        self.save_button = QPushButton("Save and play")
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
        for button in (self.cancel_button, self.save_button):
            button.setEnabled(False)

        chooser = QHBoxLayout()
        chooser.addWidget(add)
        chooser.addWidget(remove)
        form = QFormLayout()
        form.addRow("start from", self.kind)
        form.addRow("preset name", self.name)
        actions = QHBoxLayout()
        for button in (self.fit_button, self.cancel_button, self.save_button):
            actions.addWidget(button)
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
        layout.addLayout(plots, 3)
        self.resize(*SIZE)

        add.clicked.connect(self._choose)
        remove.clicked.connect(lambda: self.files.takeItem(self.files.currentRow()))
        self.fit_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_requested.set)
        self.save_button.clicked.connect(self.save)
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
        self.fit = None
        self.cancel_requested.clear()
        self.done = 0.0
        self.progress.setValue(0)
        self.report.clear()
        self.status.setText("fitting...")
        for button, enabled in ((self.fit_button, False), (self.cancel_button, True),
                                (self.save_button, False)):
            button.setEnabled(enabled)
        name, kind = self.name.text().strip() or "my-instrument", self.kind.currentText()
        self.worker = threading.Thread(target=self._work, args=(notes, kind, name),
                                       daemon=True)
        self.worker.start()
        self.timer.start(POLL_MS)

    def _work(self, notes, kind: str, name: str) -> None:
        """The fit (worker thread): progress, then the result or the failure, as messages."""
        def progress(share: float) -> None:
            if self.cancel_requested.is_set():
                raise Cancelled
            self.messages.put(("progress", share))

        try:
            base = choose_base(notes, kind)
            fit = fit_preset(notes, base, name, progress, command="window: Fit from recordings")
            first = fit.notes[0]
            fitted = render(fit.preset, first.key, first.velocity, first.recording.fs,
                            SPECTRUM_SECONDS)
            self.messages.put(("done", fit, fitted))
        except Cancelled:
            self.messages.put(("failed", "cancelled: nothing was saved"))
        except (ParameterError, PresetError) as error:
            self.messages.put(("failed", f"the fit failed: {one_line(str(error))}"))

    def _drain(self) -> None:
        while not self.messages.empty():
            message = self.messages.get()
            if message[0] == "progress":  # summed as shares: each is under a bar's step
                self.done = min(self.done + message[1], 1.0)
                self.progress.setValue(round(1000 * self.done))
                continue
            self.timer.stop()
            self.fit_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            if message[0] == "failed":
                self.status.setText(message[1])
                return
            self.fit = message[1]
            self.progress.setValue(1000)
            self.save_button.setEnabled(True)
            self.status.setText("done: compare, then save it to play it")
            self.report.setPlainText(report(self.fit))
            self._draw(self.fit, message[2])

    def _draw(self, fit: Fit, fitted: np.ndarray) -> None:
        first = fit.notes[0].recording
        self.spectrum.clear()
        for x, pen, label in ((first.samples, "w", "recording"), (fitted, "c", "fit")):
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

"""Seeing the string: oscilloscope, spectrum, modal energies and pitch, refreshed by the window.

`StringView.refresh(engine)` reads what the engine publishes without locking the audio thread
(the output ring `Engine.scope` and the seqlocked `Engine.meters`) and redraws four plots:
a triggered oscilloscope of the output, its spectrum on a log-frequency axis in dBFS, the
energy of each mode of the loudest voice (dB from its strongest mode, so the nonlinearity
visibly pumps energy into the upper modes), and the loudest voice's pitch (note, cents,
Hz) with a few seconds of history in cents from its key, where a hard note's glide shows.
"""

from __future__ import annotations

import collections
import math
import time

import numpy as np
import pyqtgraph
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.analysis import log_spectrum, mode_levels, pitch_name, triggered
from synth.engine import Engine
from synth.physics.strings import note_frequency

SCOPE_SECONDS = 0.02  # the oscilloscope's time span
SPECTRUM_SAMPLES = 4096
HISTORY_SECONDS = 4.0
LEVEL_RANGE = (-100.0, 0.0)  # dB shown on the spectrum and the mode bars
FREQUENCY_TICKS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)  # Hz
SCOPE_RANGES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # the oscilloscope's vertical zoom steps
ACCENT = (90, 200, 255)
AXIS_WIDTH = 48  # pixels


class StringView(QWidget):
    """Four live plots of the engine's output and its loudest voice."""

    def __init__(self) -> None:
        super().__init__()
        pyqtgraph.setConfigOptions(antialias=False, background="#15171c", foreground="#c8ccd4")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        pen = pyqtgraph.mkPen(ACCENT, width=1)

        self.scope = pyqtgraph.PlotWidget(title="oscilloscope")
        self.scope.setLabel("bottom", "time (ms)")
        self.scope_range = 1.0
        self.scope.setYRange(-1.0, 1.0, padding=0)
        self.scope.setXRange(0.0, 1000.0 * SCOPE_SECONDS, padding=0)
        self.scope.setMouseEnabled(False, False)
        self.scope_curve = self.scope.plot(pen=pen)

        self.spectrum = pyqtgraph.PlotWidget(title="spectrum")
        self.spectrum.setLogMode(x=True, y=False)
        self.spectrum.setLabel("bottom", "frequency (Hz)")
        self.spectrum.getAxis("bottom").setTicks([[
            (math.log10(f), f"{f:g}" if f < 1000 else f"{f / 1000:g}k") for f in FREQUENCY_TICKS]])
        self.spectrum.setLabel("left", "dBFS")
        self.spectrum.setYRange(*LEVEL_RANGE)
        self.spectrum.setXRange(math.log10(20.0), math.log10(20000.0), padding=0)
        self.spectrum.setMouseEnabled(False, False)
        self.spectrum_curve = self.spectrum.plot(pen=pen)

        self.modes = pyqtgraph.PlotWidget(title="modal energy, loudest voice")
        self.modes.setLabel("bottom", "mode")
        self.modes.setLabel("left", "dB")
        self.modes.setYRange(*LEVEL_RANGE)
        self.modes.setMouseEnabled(False, False)
        self.bars = pyqtgraph.BarGraphItem(x=[], height=[], width=0.8, y0=LEVEL_RANGE[0],
                                           brush=ACCENT)
        self.modes.addItem(self.bars)

        self.pitch_label = QLabel("-")
        font = QFont()
        font.setPointSize(20)
        font.setBold(True)
        self.pitch_label.setFont(font)
        self.pitch_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pitch_detail = QLabel("no note")
        self.pitch_detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.glide = pyqtgraph.PlotWidget()
        self.glide.setLabel("left", "cents from key")
        self.glide.setLabel("bottom", "seconds ago")
        self.glide.setXRange(-HISTORY_SECONDS, 0.0, padding=0)
        self.glide.setYRange(-20.0, 60.0)
        self.glide.setMouseEnabled(False, False)
        self.glide_curve = self.glide.plot(pen=pen)
        pitch = QWidget()
        column = QVBoxLayout(pitch)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.pitch_label)
        column.addWidget(self.pitch_detail)
        column.addWidget(self.glide, 1)

        for plot in (self.scope, self.spectrum, self.modes, self.glide):
            plot.getAxis("left").setWidth(AXIS_WIDTH)  # ticks that change never relayout
        for label in (self.pitch_label, self.pitch_detail):  # text changes never relayout
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        grid.addWidget(self.scope, 0, 0)
        grid.addWidget(self.spectrum, 0, 1)
        grid.addWidget(self.modes, 1, 0)
        grid.addWidget(pitch, 1, 1)
        self.history: collections.deque = collections.deque()
        self.pitch: float | None = None  # Hz, the last measured

    def refresh(self, engine: Engine) -> None:
        """Redraw from the engine's latest published data (call 20-30 times a second)."""
        fs = engine.fs
        samples = engine.scope(max(SPECTRUM_SAMPLES, 4 * round(SCOPE_SECONDS * fs)))
        window = triggered(samples, round(SCOPE_SECONDS * fs))
        self.scope_curve.setData(1000.0 * np.arange(len(window)) / fs, window)
        peak = float(np.max(np.abs(window))) if len(window) else 0.0
        top = next((r for r in SCOPE_RANGES if r >= 1.05 * peak), SCOPE_RANGES[-1])
        if top != self.scope_range:  # rescaling redraws the axis: only in steps
            self.scope_range = top
            self.scope.setYRange(-top, top, padding=0)
        frequencies, levels = log_spectrum(samples[-SPECTRUM_SAMPLES:], fs)
        self.spectrum_curve.setData(frequencies, np.maximum(levels, LEVEL_RANGE[0]))
        self._show_voice(engine.meters(), time.monotonic())

    def _show_voice(self, meters: dict | None, now: float) -> None:
        while self.history and self.history[0][0] < now - HISTORY_SECONDS:
            self.history.popleft()
        if meters is None:
            self.bars.setOpts(x=[], height=[])
            self.pitch_label.setText("-")
            self.pitch_detail.setText("no note")
            self.pitch = None
        else:
            levels = np.maximum(mode_levels(meters["energies"]), LEVEL_RANGE[0])
            self.bars.setOpts(x=np.arange(1, len(levels) + 1), height=levels - LEVEL_RANGE[0])
            self.modes.setXRange(0.4, len(levels) + 0.6, padding=0)
            if meters["frequency"] > 0.0:
                self.pitch = meters["frequency"]
                key = note_frequency(meters["note"])
                self.history.append((now, 1200.0 * math.log2(self.pitch / key)))
                name, cents = pitch_name(self.pitch)
                self.pitch_label.setText(f"{name} {cents:+.1f} c")
                self.pitch_detail.setText(f"{self.pitch:.2f} Hz, key {meters['note']} "
                                          f"({pitch_name(key)[0]})")
        if self.history:
            times, cents = np.array(self.history).T
            self.glide_curve.setData(times - now, cents)
            self.glide.setYRange(min(-20.0, cents.min() - 5.0), max(60.0, cents.max() + 5.0))
        else:
            self.glide_curve.setData([], [])

"""The physical controls: one slider per engine parameter, labelled in physical units.

A slider sets the engine's target (the engine smooths it inside the block); double-click
resets it to the preset's value; right-click arms MIDI learn for it, and the next knob
moved is bound to it with soft takeover (`gui.midi_learn`). The panel talks to the engine
only through `Engine.set_param` / `get_param` / `default`, and sets the number of voices
through `Engine.voice_limit`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSlider, QSpinBox, QWidget

from gui.midi_learn import MidiLearn
from gui.units import describe
from synth.engine import Engine
from synth.kinds import find_kind
from synth.params import PARAMS, knob_position, knob_value

STEPS = 1270  # slider resolution: ten steps per MIDI knob step
SHOWN = ("tension", "stiffness", "decay", "brightness", "nonlinearity", "pickup_position",
         "excitation", "plectrum", "plectrum_stiffness", "pluck_position", "excitation_width",
         "velocity_sensitivity", "bend_range", "gain", "output", "body_size", "body_damping",
         "body_mix")
ROWS = 6  # controls per column: the string, how it is played, what is heard
TITLES = {"pluck_position": "pluck position", "pickup_position": "pickup",
          "excitation_width": "excitation width", "velocity_sensitivity": "velocity",
          "bend_range": "bend range", "body_size": "body size", "body_damping": "body damping",
          "body_mix": "body mix", "plectrum_stiffness": "plectrum stiffness"}


class ParamSlider(QSlider):
    """A horizontal slider over one parameter's range (log for multiplicative ones)."""

    reset = Signal()
    learn = Signal()

    def __init__(self, name: str) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.name = name
        self.setRange(0, STEPS)
        self.setToolTip(PARAMS[name].description + "\n(double-click: reset; right-click: "
                                                   "MIDI learn)")

    def value_of_position(self) -> float:
        return knob_value(self.name, 127.0 * self.value() / STEPS)

    def show_value(self, value: float) -> None:
        self.blockSignals(True)
        self.setValue(round(STEPS * knob_position(self.name, value) / 127.0))
        self.blockSignals(False)

    def mouseDoubleClickEvent(self, event) -> None:
        self.reset.emit()

    def contextMenuEvent(self, event) -> None:
        self.learn.emit()


class ControlPanel(QWidget):
    """Sliders and physical readouts for the engine's live parameters."""

    def __init__(self, engine: Engine, learn: MidiLearn | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.learn = learn or MidiLearn()
        self.sliders: dict[str, ParamSlider] = {}
        self.readouts: dict[str, QLabel] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setVerticalSpacing(2)
        for index, name in enumerate(SHOWN):
            row, column = index % ROWS, 3 * (index // ROWS)
            slider = ParamSlider(name)
            readout = QLabel()
            readout.setMinimumWidth(170)
            grid.addWidget(QLabel(TITLES.get(name, name)), row, column)
            grid.addWidget(slider, row, column + 1)
            grid.addWidget(readout, row, column + 2)
            slider.valueChanged.connect(lambda _, n=name: self._moved(n))
            slider.reset.connect(lambda n=name: self.set(n, self.engine.default(n)))
            slider.learn.connect(lambda n=name: self._arm(n))
            self.sliders[name], self.readouts[name] = slider, readout
        self.voices = QSpinBox()
        self.voices.setRange(1, engine.polyphony)
        self.voices.setMaximumWidth(80)
        self.voices.setToolTip("voices that may sound at once; more notes steal the oldest")
        self.voices.valueChanged.connect(self._voices)
        grid.addWidget(QLabel("polyphony"), ROWS, 0)
        grid.addWidget(self.voices, ROWS, 1)
        self.refresh()

    def set(self, name: str, value: float) -> None:
        """Move a parameter (from the window, a reset or a learned knob)."""
        value = self.engine.set_param(name, value)
        self.sliders[name].show_value(value)
        self._label(name)

    def control_change(self, controller: int, position: int) -> bool:
        """Feed a MIDI control change (on the window's thread); True if it moved a control."""
        name = self.learn.bindings.get(controller, self.learn.armed)
        current = self.engine.get_param(name) if name else 0.0
        moved = self.learn.control_change(controller, position, current)
        if name and name in self.sliders:
            self.readouts[name].setToolTip(f"MIDI CC {self.learn.controller_of(name)}")
        if moved is None:
            return False
        self.set(*moved)
        return True

    def refresh(self) -> None:
        """Show the engine's current targets (after a preset load, say); grey out the
        controls the preset's kind ignores."""
        inert = find_kind(self.engine.preset.kind).ignores
        for name in SHOWN:
            self.sliders[name].show_value(self.engine.get_param(name))
            self.sliders[name].setEnabled(name not in inert)
            self._label(name)
        self.voices.blockSignals(True)
        self.voices.setValue(self.engine.voice_limit)
        self.voices.blockSignals(False)

    def _voices(self, voices: int) -> None:
        self.engine.voice_limit = voices

    def _moved(self, name: str) -> None:
        self.engine.set_param(name, self.sliders[name].value_of_position())
        self.learn.release(name)
        self._label(name)

    def _arm(self, name: str) -> None:
        self.learn.arm(name)
        self.readouts[name].setText("move a MIDI knob...")

    def _label(self, name: str) -> None:
        if not self.sliders[name].isEnabled():
            self.readouts[name].setText(f"no effect on a {self.engine.preset.kind} model")
            return
        get = self.engine.get_param
        self.readouts[name].setText(describe(name, get(name), self.engine.preset,
                                             decay=get("decay"),
                                             brightness=get("brightness")))

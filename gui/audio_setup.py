"""The set-up panel: audio device, sample rate, block size and MIDI input.

It only edits a `Settings`; Apply emits `applied`, and the window restarts audio and MIDI with
the new choices (re-scanning the devices first, so a device plugged in since shows up).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from synth.settings import Settings

RATES = (44100.0, 48000.0, 88200.0, 96000.0)
BLOCKS = (32, 64, 128, 256, 512, 1024)
DEFAULT_DEVICE = "system default"
ALL_INPUTS = "every hardware input"


class SetupPanel(QWidget):
    """Choices for audio and MIDI; `refresh_choices(devices, midi_ports)` fills the lists."""

    applied = Signal()

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.device = QComboBox()
        self.rate = QComboBox()
        self.block = QComboBox()
        self.midi = QComboBox()
        self.rate.addItem("device default", None)
        for rate in RATES:
            self.rate.addItem(f"{rate:g} Hz", rate)
        for block in BLOCKS:
            self.block.addItem(f"{block} frames", block)
        self.latency = QLabel()
        apply = QPushButton("Apply")
        apply.setToolTip("restart audio and MIDI with these choices")
        form = QFormLayout(self)
        form.addRow("audio output", self.device)
        form.addRow("sample rate", self.rate)
        form.addRow("block", self.block)
        form.addRow("", self.latency)
        form.addRow("MIDI input", self.midi)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(apply)
        form.addRow(row)
        self.block.currentIndexChanged.connect(self._show_latency)
        self.rate.currentIndexChanged.connect(self._show_latency)
        apply.clicked.connect(self._apply)
        self.refresh_choices([], [])

    def refresh_choices(self, devices: list[str], midi_ports: list[str]) -> None:
        """Offer these audio outputs and MIDI inputs; select what the settings name."""
        _fill(self.device, [DEFAULT_DEVICE, *devices], self.settings.audio_device,
              DEFAULT_DEVICE)
        wanted = self.settings.midi_ports[0] if self.settings.midi_ports else None
        _fill(self.midi, [ALL_INPUTS, *midi_ports], wanted, ALL_INPUTS)
        self.rate.setCurrentIndex(max(0, self.rate.findData(self.settings.sample_rate)))
        self.block.setCurrentIndex(max(0, self.block.findData(self.settings.block)))
        self._show_latency()

    def _show_latency(self) -> None:
        rate = self.rate.currentData() or 48000.0
        block = self.block.currentData() or 128
        self.latency.setText(f"{1000.0 * block / rate:.1f} ms per block")

    def _apply(self) -> None:
        device, midi = self.device.currentText(), self.midi.currentText()
        self.settings.audio_device = None if device == DEFAULT_DEVICE else device
        self.settings.sample_rate = self.rate.currentData()
        self.settings.block = int(self.block.currentData())
        self.settings.midi_ports = None if midi == ALL_INPUTS else [midi]
        self.applied.emit()


def _fill(combo: QComboBox, items: list[str], wanted: str | None, fallback: str) -> None:
    """Replace the combo's items, keeping `wanted` selectable even when it is absent now
    (a device unplugged for the moment stays chosen, marked missing)."""
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(items)
    if wanted is not None and wanted not in items:
        combo.addItem(wanted)
        combo.setItemData(combo.count() - 1, "not found now", Qt.ItemDataRole.ToolTipRole)
    combo.setCurrentText(wanted if wanted is not None else fallback)
    combo.blockSignals(False)

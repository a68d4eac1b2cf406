"""The preset browser: shipped and user presets with search, details, open and save.

The list holds every preset in the shipped directory and the user directory; the search box
filters by name, kind and description. Selecting one shows its kind, string, test metrics
and provenance (`gui.preset_info`); double-click or Load asks the window to play it, Open
file... picks any .safetensors file, and Save as... asks the window to save the current
sound as a user preset; Fit from recordings... asks the window for its fit dialog. Files that
cannot be read stay listed, marked, with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gui.preset_info import summary_html
from synth.engine import Engine
from synth.errors import PresetError
from synth.params import PARAMS
from synth.presets import (
    Preset,
    load_preset,
    shipped_presets,
    user_directory,
    writable_user_directory,
)

PATH_ROLE = Qt.ItemDataRole.UserRole


class PresetBrowser(QWidget):
    """Lists presets; emits `load_requested(path)`, `save_requested(name)` and
    `fit_requested()`."""

    load_requested = Signal(Path)
    save_requested = Signal(str)
    fit_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.presets: dict[Path, Preset | str] = {}  # a preset, or why it cannot be read
        self.current: Path | None = None
        self.search = QLineEdit()
        self.search.setPlaceholderText("search presets")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        load, open_file, save = (QPushButton("Load"), QPushButton("Open file..."),
                                 QPushButton("Save as..."))
        load.setToolTip("play the selected preset (or double-click it)")
        save.setToolTip("save the current sound, with the controls as they stand, as a user "
                        f"preset in {user_directory()}")
        fit = QPushButton("Fit from recordings...")
        fit.setToolTip("make a preset from recorded notes of your own instrument")
        buttons = QHBoxLayout()
        for button in (load, open_file, save):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 2)
        layout.addLayout(buttons)
        layout.addWidget(fit)
        layout.addWidget(self.details, 3)
        self.search.textChanged.connect(self._filter)
        self.list.currentItemChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda item: self._request(item))
        load.clicked.connect(lambda: self._request(self.list.currentItem()))
        open_file.clicked.connect(self._open_file)
        save.clicked.connect(self._ask_name)
        fit.clicked.connect(self.fit_requested.emit)
        self.rescan()

    def rescan(self) -> None:
        """Re-read both directories (after a save, say)."""
        self.list.blockSignals(True)  # no selection changes while the list is rebuilt
        self.list.clear()
        self.presets.clear()
        for path in [*shipped_presets(), *sorted(user_directory().glob("*.safetensors"))]:
            try:
                self.presets[path] = load_preset(path)
            except PresetError as error:
                self.presets[path] = str(error)
            item = QListWidgetItem(self._title(path))
            item.setData(PATH_ROLE, path)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.mark_current(self.current)
        self._show(self.list.currentItem())
        self._filter(self.search.text())

    def mark_current(self, path: Path | None) -> None:
        """Show which preset plays (bold) and select it."""
        self.current = Path(path).resolve() if path is not None else None
        for row in range(self.list.count()):
            item = self.list.item(row)
            playing = item.data(PATH_ROLE).resolve() == self.current
            font = item.font()
            font.setBold(playing)
            item.setFont(font)
            if playing:
                self.list.setCurrentItem(item)

    def visible_names(self) -> list[str]:
        return [self.list.item(r).text() for r in range(self.list.count())
                if not self.list.item(r).isHidden()]

    def _title(self, path: Path) -> str:
        preset = self.presets[path]
        where = "user" if path.parent.resolve() == user_directory().resolve() else "shipped"
        if isinstance(preset, str):
            return f"{path.stem} (unreadable)"
        return f"{preset.name}  [{preset.kind}, {where}]"

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for row in range(self.list.count()):
            item = self.list.item(row)
            preset = self.presets[item.data(PATH_ROLE)]
            haystack = item.text().lower() + " " + (
                preset if isinstance(preset, str) else preset.description).lower()
            item.setHidden(not all(word in haystack for word in words))

    def _show(self, item: QListWidgetItem | None) -> None:
        if item is None:
            self.details.clear()
            return
        preset = self.presets[item.data(PATH_ROLE)]
        if isinstance(preset, str):
            self.details.setPlainText(f"This file cannot be played:\n{preset}")
        else:
            self.details.setHtml(summary_html(preset))

    def _request(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.load_requested.emit(item.data(PATH_ROLE))

    def _open_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open a preset", str(Path.home()),
                                              "Presets (*.safetensors);;All files (*)")
        if name:
            self.load_requested.emit(Path(name))

    def _ask_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save as a user preset", "Preset name:")
        if ok and name.strip():
            self.save_requested.emit(name.strip())


def snapshot(engine: Engine, name: str) -> Preset:
    """The engine's current sound as a preset called `name`: its preset with every live
    control (except the performance ones: pitch bend, sustain) stored as it stands."""
    controls = {p: engine.get_param(p) for p in PARAMS if p not in ("pitch_bend", "sustain")}
    base = engine.preset
    provenance = {**base.provenance, "saved_from": base.name,
                  "saved": datetime.date.today().isoformat()}
    return dataclasses.replace(base, name=name, controls=controls, provenance=provenance,
                               path=None)


def user_preset_path(name: str) -> Path:
    """Where a user preset called `name` is saved (the folder created if missing); refuses
    names that are not plain file names, and a folder where nothing can be saved
    (OutputError)."""
    if not name or name != Path(name).name or name.startswith(".") or "/" in name \
            or "\\" in name:
        raise PresetError(f"a preset name must be a plain file name (no folders), got {name!r}")
    return writable_user_directory() / f"{name}.safetensors"

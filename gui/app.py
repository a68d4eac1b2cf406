"""Starting the instrument window: `neural-strings` with no arguments, or `neural-strings window`.

`run` loads the settings, builds the engine on the preset asked for (else the last one
played, else the default), shows the window, then opens audio and MIDI. With `screenshot`
it plays `chord` and saves a PNG of the window after `settle` seconds, then quits (used for
the README's picture; also a smoke test of the whole window on a real audio device).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from gui.window import MainWindow
from synth.engine import Engine
from synth.errors import OutputError, PresetError
from synth.files import replace_atomically
from synth.settings import Settings
from synth.warm import ready_engine

VOICE_LANES = 32  # the window's engine is built with this many voices; polyphony limits them
MAX_BLOCK = 1024  # the largest block the set-up panel offers


def build_engine(preset: str | None, settings: Settings) -> tuple[Engine, str | None]:
    """The engine on `preset`, else the settings' last preset, else the default; and why a
    remembered preset was passed over, if it was."""
    problem = None
    try:
        engine = _engine(preset or settings.preset, settings)
    except PresetError as error:
        if preset is not None:
            raise
        problem = f"the last preset could not be loaded ({error}); playing the default"
        engine = _engine(None, settings)
    engine.voice_limit = max(1, min(settings.polyphony, VOICE_LANES))
    return engine, problem


def _engine(preset: str | None, settings: Settings) -> Engine:
    return ready_engine(preset, fs=settings.sample_rate or 48000.0, polyphony=VOICE_LANES,
                        max_block=MAX_BLOCK, real_time=True,
                        say=lambda text: print(f"neural-strings: {text}", file=sys.stderr,
                                               flush=True))


def run(preset: str | None = None, settings_path: str | Path | None = None,
        screenshot: str | Path | None = None, chord: tuple[int, ...] = (48, 55, 60, 64),
        settle: float = 2.0) -> int:
    """Open the window and run until it closes; returns the exit status."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("neural-strings")
    settings = Settings.load(settings_path)
    engine, problem = build_engine(preset, settings)
    window = MainWindow(engine, settings, settings_path)
    window.show()
    window.report("starting audio...")
    if problem:
        window.report(problem)
    app.processEvents()
    window.start()
    for number in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C closes the window cleanly;
        signal.signal(number, lambda *_: window.close())  # the refresh timer lets it run
    failure = None  # why the screenshot could not be written
    if screenshot is not None:
        def play() -> None:
            for note in chord:
                window.play_note(note, 100)

        def save() -> None:
            nonlocal failure
            try:
                with replace_atomically(screenshot) as temporary:
                    if not window.grab().save(str(temporary), "PNG"):
                        raise OutputError(f"{screenshot}: Qt could not write the picture")
            except OutputError as error:
                failure = str(error)
            window.close()

        QTimer.singleShot(300, play)
        QTimer.singleShot(round(1000 * (0.3 + settle)), save)
    status = app.exec()
    if window.stuck:  # a dead sound server: PortAudio would wait forever at exit
        os._exit(2)
    if failure is not None:
        print(f"error: {failure}", file=sys.stderr)
        return 2
    return status

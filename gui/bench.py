"""`neural-strings bench window`: underruns with the window open and refreshing, against the
same run without it.

Both runs hold 8 voices of the default preset for `seconds` at 48 kHz with 128-frame blocks
(on a JACK dummy server with --jack), with the MIDI input open as `play` and the window have
it (on JACK every MIDI client is woken each cycle too). The window run shows the whole
window (offscreen when there is no display) with its displays refreshing at REFRESH_HZ, and
reports the refresh rate it kept, the median time one refresh took and the GUI thread's CPU.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from synth.bench.engine import start_jack, stop_jack

CHORD = (43, 47, 50, 55, 59, 62, 67, 71)  # 8 voices: a G major spread over three octaves
BLOCK = 128


def run(seconds: float = 30.0, jack: bool = False, repeats: int = 3) -> dict:
    """Print and return underruns without and with the window, `repeats` runs of each
    (interleaved, so drifting machine load hits both alike), and their medians."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    due = int(seconds * 48000 / BLOCK)
    print(f"bench window: {repeats} x {seconds:g} s each way, 8 voices held (nylon-guitar, "
          f"40 modes), {BLOCK}-frame blocks at 48 kHz, about {due} blocks due per run")
    server = start_jack() if jack else None
    results: dict = {"without": [], "with": []}
    try:
        for _ in range(repeats):
            for name, play in (("without", _without_window), ("with", _with_window)):
                results[name].append(play(seconds))
                _print(name, results[name][-1])
    finally:
        if server is not None:
            stop_jack(server)
    for name in ("without", "with"):
        underruns = [r["underruns"] for r in results[name]]
        print(f"median underruns {name} the window: {np.median(underruns):g} "
              f"(runs: {underruns})")
    return results


def _print(name: str, r: dict) -> None:
    print(f"  {name:7} the window: {r['underruns']:5d} underruns, {r['callbacks']} "
          f"callbacks, load {100 * r['load_avg']:.1f}%" + (
              f"; {r['refresh_hz']:.1f} refreshes/s, median {r['refresh_ms']:.1f} ms "
              f"each (max {r['refresh_max_ms']:.1f}); the GUI thread used "
              f"{100 * r['gui_cpu']:.0f}% of a core" if name == "with" else ""), flush=True)


def _without_window(seconds: float) -> dict:
    """What `neural-strings play` runs: the engine, its stream and the MIDI input."""
    from synth.audio import AudioStream
    from synth.engine import Engine
    from synth.midi import MidiInput

    engine = Engine(None, fs=48000, polyphony=32, max_block=1024)
    stream = AudioStream(engine, blocksize=BLOCK).start()
    try:
        midi = MidiInput(engine, report=lambda text: None)
    except (RuntimeError, ValueError):
        midi = None  # the window run then has none either
    try:
        for note in CHORD:
            engine.note_on(note, 100)
        time.sleep(seconds)
        return _figures(engine.stats())
    finally:
        if midi is not None:
            midi.close()
        stream.stop()


def _with_window(seconds: float) -> dict:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.app import build_engine
    from gui.window import MainWindow
    from synth.settings import Settings

    app = QApplication.instance() or QApplication([])
    settings = Settings(block=BLOCK, sample_rate=48000.0)
    engine, _ = build_engine(None, settings)
    with tempfile.TemporaryDirectory() as directory:
        window = MainWindow(engine, settings, Path(directory) / "settings.json")
        durations = []
        refresh = window.refresh

        def timed_refresh() -> None:
            start = time.perf_counter()
            refresh()
            durations.append(time.perf_counter() - start)

        window.timer.timeout.disconnect()
        window.timer.timeout.connect(timed_refresh)
        window.show()
        window.start()
        for note in CHORD:
            window.play_note(note, 100)
        QTimer.singleShot(round(1000 * seconds), window.close)
        cpu = time.thread_time()
        app.exec()
        cpu = time.thread_time() - cpu
        figures = _figures(engine.stats())
    figures.update(gui_cpu=cpu / seconds, refresh_hz=len(durations) / seconds,
                   refresh_ms=1000 * float(np.median(durations)),
                   refresh_max_ms=1000 * float(np.max(durations)))
    return figures


def _figures(stats: dict) -> dict:
    return {key: stats[key] for key in ("underruns", "callbacks", "load_avg")}

"""`neural-strings bench startup`: how long a user waits, cold (an empty cache: the first run
after installing) and warm, against the naive way (every part compiled in one process),
measured in the same run.

Each start runs the installed `neural-strings` in a fresh temporary home (HOME and the XDG
directories), so nothing compiled before is found; a warm start reuses the home of a cold one.
Measured: `render --demo` to the finished file; `render` of one short note (first audio); and
`play` until its MIDI port is open and the stream plays (the line "playing"), on a JACK
dummy server with --jack, else on the default output, with a second's pause after each (a
start right after another waits about that long for the server to drop the last client).
Medians over the repeats.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import mido

from synth.warm import ONE_PROCESS

DEVICE_TIMEOUT = 300.0
CLIENT_GONE_SECONDS = 1.0  # after a play run: the JACK server takes this long to drop it


def _environment(home: Path, naive: bool) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"),
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"))
    if naive:
        env[ONE_PROCESS] = "1"
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "synth", *args]


def time_render(home: Path, naive: bool, *args: str) -> float:
    """Seconds for `neural-strings render ARGS` to finish."""
    started = time.monotonic()
    result = subprocess.run(_command("render", *args, "--quiet"), capture_output=True,
                            text=True, env=_environment(home, naive), timeout=DEVICE_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"render failed: {result.stderr.strip()}")
    return time.monotonic() - started


def time_play(home: Path, naive: bool) -> float:
    """Seconds until `neural-strings play` says it plays (MIDI port open, stream running)."""
    started = time.monotonic()
    process = subprocess.Popen(_command("play", "--status-every", "60"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env=_environment(home, naive))
    ready = threading.Event()
    lines: list[str] = []

    def watch() -> None:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("playing"):
                ready.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        if not ready.wait(DEVICE_TIMEOUT) or process.poll() is not None:
            raise RuntimeError("play did not start: " + "".join(lines[-5:]))
        return time.monotonic() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        time.sleep(CLIENT_GONE_SECONDS)  # a start right after would wait for it, not for us


def _one_note(path: Path) -> Path:
    """A MIDI file of one short note."""
    song = mido.MidiFile()
    track = mido.MidiTrack()
    track.append(mido.Message("note_on", note=60, velocity=100, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=48))
    song.tracks.append(track)
    song.save(path)
    return path


def measure(repeats: int, play: bool, quick: bool = False
            ) -> dict[str, dict[str, list[float]]]:
    """{measurement: {"cold" | "naive" | "warm": seconds per repeat}}; quick: the one-note
    render alone."""
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="ns-startup-") as scratch:
        scratch = Path(scratch)
        note = _one_note(scratch / "note.mid")
        cases = {"render --demo": lambda home, naive: time_render(
                     home, naive, "--demo", str(home / "demo.wav")),
                 "render, one note": lambda home, naive: time_render(
                     home, naive, str(note), str(home / "note.wav"), "--tail", "0.1")}
        if quick:
            cases = {"render, one note": cases["render, one note"]}
        elif play:
            cases["play, to playing"] = time_play
        for label, run in cases.items():
            times = results[label] = {"cold": [], "naive": [], "warm": []}
            for repeat in range(repeats):
                for naive in (False, True):
                    home = scratch / f"home-{len(list(scratch.iterdir()))}"
                    home.mkdir()
                    times["naive" if naive else "cold"].append(run(home, naive))
                    if not naive:
                        times["warm"].append(run(home, False))
                    shutil.rmtree(home, ignore_errors=True)
                print(f"  {label}: repeat {repeat + 1} of {repeats} done", file=sys.stderr,
                      flush=True)
    return results


def run(repeats: int = 3, jack: bool = False, quick: bool = False) -> dict:
    """Print the startup benchmark and return its figures (quick: one render, a smoke
    test)."""
    from synth.bench.engine import start_jack, stop_jack

    server = start_jack() if jack and not quick else None
    try:
        play = not quick and (jack or _has_output())
        if not play and not quick:
            print("play: skipped (no audio output; use --jack for a JACK dummy server)")
        results = measure(repeats, play, quick)
    finally:
        if server is not None:
            stop_jack(server)
    print(f"bench startup: fresh home and cache per cold start, medians of {repeats}; naive: "
          "every part compiled in one process")
    print(f"{'':20} {'cold':>8} {'naive':>8} {'naive/cold':>10} {'warm':>8}")
    for label, times in results.items():
        cold, naive, warm = (statistics.median(times[k]) for k in ("cold", "naive", "warm"))
        print(f"{label:20} {cold:7.1f}s {naive:7.1f}s {naive / cold:9.2f}x {warm:7.2f}s")
    return results


def _has_output() -> bool:
    from synth.audio import output_devices

    try:
        return bool(output_devices())
    except Exception:  # no PortAudio at all
        return False

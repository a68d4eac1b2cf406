"""Getting the compiled code ready before the first note: `ready_engine` builds an engine and
compiles what its preset needs, saying so on a first run.

What is compiled (and cached, see `synth.__init__`) comes in parts: the engine itself (once
per float type, for every kind), the playing preset's kind (its entry points, once per kind's
voices), and for real time the audio callback. A marker file in the cache records each part
that is ready, so a run knows what it will compile and can say "compiling the sound engine
(first run only, about N s)" first; N comes from how long each part took on this machine
before (a history kept beside the caches, which outlives upgrades), else from the reference
machine's figures. While this process compiles the kind, a second process compiles the
engine and the callback, which do not depend on the kind: a cold start on two cores takes
little more than its longest part.

`python -m synth.warm DTYPE [--callback]` is that second process; with the environment
variable NEURAL_STRINGS_ONE_PROCESS=1 every part compiles in one process (the naive way
`neural-strings bench startup` compares with).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numba import typeof

from synth.engine.block import process_block
from synth.engine.engine import Engine
from synth.engine.pointers import classes
from synth.engine.state import prototype
from synth.errors import OutputError
from synth.files import write_text
from synth.kinds import find_kind
from synth.presets import Preset, find_preset, load_preset

HISTORY = "compile-seconds.json"  # beside the versioned caches: seconds per part, here
# the parts' compile time on the reference machine (2 cores), for a first run anywhere
REFERENCE_SECONDS = {"engine": 4.0, "callback": 3.0, "kind": 12.0}
HELPER_TIMEOUT = 300.0
ONE_PROCESS = "NEURAL_STRINGS_ONE_PROCESS"  # set (to 1): compile in this process alone


def _cache() -> Path | None:
    directory = os.environ.get("NUMBA_CACHE_DIR")
    return Path(directory) if directory else None


def parts(preset: Preset, dtype, real_time: bool) -> dict[str, str]:
    """The compiled parts `preset` needs, as {part: marker name}: "engine", "kind" and, with
    real_time, "callback"."""
    dtype = np.dtype(dtype).name
    voices = find_kind(preset.kind).build_voices(preset, 48000.0, 1, dtype)
    made_of = "+".join(cls.__name__ for cls in classes(voices))
    found = {"engine": f"engine-{dtype}", "kind": f"kind-{preset.kind}-{made_of}-{dtype}"}
    if real_time:
        found["callback"] = "callback-float32"
    return found


def cold_parts(preset: Preset, dtype, real_time: bool) -> dict[str, str]:
    """The parts not compiled yet (all of them when there is no cache directory)."""
    return _not_ready(parts(preset, dtype, real_time))


def _not_ready(needed: dict[str, str]) -> dict[str, str]:
    cache = _cache()
    return {part: marker for part, marker in needed.items()
            if cache is None or not (cache / f"ready-{marker}").exists()}


def _history_path() -> Path | None:
    cache = _cache()
    return cache.parent / HISTORY if cache is not None else None


def _history() -> dict:
    path = _history_path()
    try:
        return json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}


def estimate(cold: dict[str, str]) -> float:
    """Seconds the cold parts will take to compile here, as far as this machine's history
    (else the reference machine) tells; the kind's and the rest's run side by side."""
    history = _history()
    seconds = {part: history.get(marker, history.get(part, REFERENCE_SECONDS[part]))
               for part, marker in cold.items()}
    beside = seconds.get("engine", 0.0) + seconds.get("callback", 0.0)
    return max(seconds.get("kind", 0.0), beside) + 0.1 * min(seconds.get("kind", 0.0), beside)


def _remember(part: str, marker: str, seconds: float | None) -> None:
    cache = _cache()
    if cache is None:
        return
    with contextlib.suppress(OSError, OutputError):
        (cache / f"ready-{marker}").touch()
        if seconds is not None:
            history = {**_history(), marker: round(seconds, 1), part: round(seconds, 1)}
            write_text(_history_path(), json.dumps(history, indent=1))


def mark_ready(preset: Preset, dtype, real_time: bool) -> None:
    """Record that the parts `preset` needs are compiled (after, say, a preset switch)."""
    for part, marker in parts(preset, dtype, real_time).items():
        _remember(part, marker, None)


def ready_engine(preset: Preset | str | os.PathLike | None, fs: float = 48000,
                 polyphony: int = 16, max_block: int = 1024, dtype=np.float32,
                 real_time: bool = False,
                 say: Callable[[str], None] | None = None) -> Engine:
    """An `Engine` whose compiled code is ready: loaded from the cache, or compiled now (in
    two processes) after saying so through `say`."""
    preset = preset if isinstance(preset, Preset) else load_preset(find_preset(preset))
    needed = parts(preset, dtype, real_time)
    cold = _not_ready(needed)
    helper = None
    if cold and say is not None:
        say(f"compiling the sound engine for {preset.kind} (first run only, about "
            f"{estimate(cold):.0f} s)...")
    if "kind" in cold and ("engine" in cold or "callback" in cold) and \
            os.environ.get(ONE_PROCESS, "") in ("", "0"):
        helper = _start_helper(dtype, "callback" in cold)
    started = time.monotonic()
    engine = Engine(preset, fs=fs, polyphony=polyphony, max_block=max_block, dtype=dtype)
    kind_seconds = time.monotonic() - started
    if helper is not None:
        _finish(helper)
    engine.warm_up()
    if real_time:
        from synth.callback import audio_callback, prepare

        prepare(engine.state)
        audio_callback()
    elapsed = time.monotonic() - started
    for part, marker in needed.items():
        timed = kind_seconds if part == "kind" else (None if helper else elapsed - kind_seconds)
        _remember(part, marker, timed if part in cold else None)
    if helper is not None:
        _remember_helper(helper)
    if cold and say is not None:
        say(f"compiled in {elapsed:.1f} s")
    return engine


def _start_helper(dtype, callback: bool) -> subprocess.Popen | None:
    """The second process compiling the engine (and the callback), or None if it cannot
    start (then this process compiles everything)."""
    command = [sys.executable, "-m", "synth.warm", np.dtype(dtype).name]
    try:
        return subprocess.Popen(command + (["--callback"] if callback else []),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return None


def _finish(helper: subprocess.Popen) -> None:
    try:
        helper.wait(timeout=HELPER_TIMEOUT)
    except subprocess.TimeoutExpired:
        helper.kill()


def _remember_helper(helper: subprocess.Popen) -> None:
    """Record the parts the helper compiled and how long each took (its output)."""
    if helper.returncode != 0 or helper.stdout is None:
        return
    for line in helper.stdout.read().splitlines():
        part, marker, seconds = line.split()
        _remember(part, marker, float(seconds))


def compile_engine(dtype, callback: bool) -> dict[str, tuple[str, float]]:
    """Compile the engine (and the callback) for float type `dtype`, no preset needed;
    returns {part: (marker, seconds)}."""
    state = prototype(dtype)
    name = np.dtype(dtype).name
    started = time.monotonic()
    out = np.zeros((1, 2), np.float32)
    process_block.compile((typeof(state), typeof(out)))
    done = {"engine": (f"engine-{name}", time.monotonic() - started)}
    if callback:
        from synth.callback import audio_callback, prepare

        started = time.monotonic()
        prepare(state)
        audio_callback()
        done["callback"] = ("callback-float32", time.monotonic() - started)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="compile the engine for a float type")
    parser.add_argument("dtype", choices=["float32", "float64"])
    parser.add_argument("--callback", action="store_true", help="and the audio callback")
    args = parser.parse_args(argv)
    for part, (marker, seconds) in compile_engine(np.dtype(args.dtype), args.callback).items():
        print(part, marker, f"{seconds:.2f}")


if __name__ == "__main__":
    main()

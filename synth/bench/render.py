"""`neural-strings bench render`: the memory and time of rendering a long piece to a file,
streamed (what `render` does) against the naive way (the whole piece in memory, then
written), measured in the same run.

The piece is a MIDI file of `minutes` (default 120) with a note every 5 seconds. Each way
runs in its own process, and its peak resident memory is the kernel's count for that
process (`wait4`'s ru_maxrss). Medians over the repeats.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido

NOTE_EVERY_SECONDS = 5
NAIVE = """
import sys
from synth.audiofile import write_wav
from synth.engine.engine import Engine
from synth.render import midi_file_events, render
engine = Engine(polyphony=32)
audio = render(engine, midi_file_events(sys.argv[1], engine.fs))
write_wav(sys.argv[2], audio, engine.fs)
"""


def write_piece(path: Path, minutes: float) -> None:
    """A piece of `minutes`: a one-second note every NOTE_EVERY_SECONDS, up an arpeggio."""
    midi = mido.MidiFile(ticks_per_beat=480)  # 120 bpm: 960 ticks a second
    track = mido.MidiTrack()
    midi.tracks.append(track)
    for i in range(round(minutes * 60 / NOTE_EVERY_SECONDS)):
        pitch = (48, 52, 55, 60, 64, 67)[i % 6]
        track.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=960))
        track.append(mido.Message("control_change", control=1, value=i % 128,
                                  time=960 * (NOTE_EVERY_SECONDS - 1)))
    midi.save(path)


def measure(command: list[str]) -> tuple[float, int]:
    """Seconds and peak resident bytes of a command run to completion."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed: {process.stderr.read()!r}")
    return seconds, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def run(minutes: float = 120.0, repeats: int = 1, quick: bool = False) -> None:
    if quick:
        minutes = min(minutes, 5.0)
    with tempfile.TemporaryDirectory(prefix="ns-bench-render-") as folder:
        piece, out = Path(folder) / "piece.mid", Path(folder) / "out.wav"
        write_piece(piece, minutes)
        streamed = [measure([sys.executable, "-m", "synth", "render", str(piece), str(out),
                             "--quiet", "--max-length", str(minutes * 60 + 60)])
                    for _ in range(repeats)]
        size = out.stat().st_size
        naive = [measure([sys.executable, "-c", NAIVE, str(piece), str(out)])
                 for _ in range(repeats)]
    stream_s, stream_b = (statistics.median(x) for x in zip(*streamed, strict=True))
    naive_s, naive_b = (statistics.median(x) for x in zip(*naive, strict=True))
    print(f"render of a {minutes:g}-minute piece (a note every {NOTE_EVERY_SECONDS} s, "
          f"nylon-guitar, 48 kHz stereo, {size / 1e9:.2f} GB of WAV); medians of {repeats}")
    print(f"{'way':<34}{'peak RSS':>12}{'time':>10}")
    print(f"{'streamed to the file (render)':<34}{stream_b / 1e6:>9.0f} MB{stream_s:>9.1f}s")
    print(f"{'naive: all in memory, then written':<34}{naive_b / 1e6:>9.0f} MB{naive_s:>9.1f}s")
    print(f"streamed / naive: memory x{stream_b / naive_b:.3f}, time x{stream_s / naive_s:.2f}")

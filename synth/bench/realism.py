"""`neural-strings bench realism PRESET --reference DIR`: how close a preset sounds to real
instruments, measured the same way on its renders and on reference recordings.

The preset plays its reference note and the octave above at velocities 40, 80 and 120, each
held for `SECONDS`; the references are WAV files in DIR named NOTE-VELOCITY.wav (MIDI note
and velocity, e.g. 55-80.wav). Both are measured with `synth.acoustics` from their onset and
printed side by side; with --figures, spectrograms, the first 60 ms and the first partials'
decays of each are drawn; with --listening, FLAC files of the reference note (render and
reference) are written.

References from a General MIDI soundfont (`make_references`: fluidsynth with reverb and
chorus off) have limits the output states: one sample may serve several notes (an octave up
can be a transposed sample, whose B is the lower note's), velocity layers are often filters
of one recording (a brightness change with velocity says little), and samples are looped (a
decay after the loop point is the soundfont's envelope, not the instrument's).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile

from synth import acoustics
from synth.engine import events
from synth.engine.engine import Engine
from synth.errors import ParameterError
from synth.files import replace_atomically
from synth.physics.strings import note_frequency
from synth.presets import Preset, find_preset, load_preset
from synth.render import Event, render_events

VELOCITIES = (40, 80, 120)
SECONDS = 3.0
FS = 48000
FIGURE_DPI = 60  # spectrograms compress poorly: small enough to keep in docs/
GM_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
LIMITS = (
    "FluidR3 has one sample for several notes of steel guitar and piano: B an octave up "
    "may be a transposed sample's",
    "its velocity layers are largely filters: the centroid's change with velocity is weak "
    "evidence",
    "its samples are looped: a T60 past the loop point is the soundfont's envelope",
)


def notes_of(preset: Preset) -> tuple[int, int]:
    """The preset's reference note and the octave above."""
    note = round(preset.reference_note)
    return note, note + 12


def render_note(preset: Preset, note: int, velocity: int) -> np.ndarray:
    """(N, 2) float32: `note` held for SECONDS."""
    engine = Engine(preset, fs=FS, polyphony=4)
    timeline = [Event(0, events.NOTE_ON, note, velocity),
                Event(round((SECONDS - 0.05) * FS), events.NOTE_OFF, note)]
    return render_events(engine, timeline, round(SECONDS * FS))


def measure(audio: np.ndarray, fs: float, note: int) -> dict[str, float]:
    """The realism figures of one note (see `synth.acoustics`)."""
    f0 = note_frequency(note)
    x = acoustics.from_onset(np.asarray(audio, dtype=np.float64), fs)
    found = acoustics.partials(x, fs, f0, count=10)
    fitted_f0, b = acoustics.inharmonicity(found)
    figures = {"f0 (Hz)": fitted_f0, "B": b}
    for n in (1, 2, 5, 10):
        figures[f"T60 partial {n} (s)"] = (acoustics.partial_t60(x, fs, found[n - 1])
                                           if n <= len(found) else math.nan)
    figures["T60 overall (s)"] = acoustics.overall_t60(x, fs)
    for start, stop in ((0.0, 0.05), (0.05, 0.3), (0.3, 1.0)):
        figures[f"centroid {start:g}-{stop:g} s (Hz)"] = acoustics.centroid(x, fs, start, stop)
    figures["glide 30-100 ms (cents)"] = acoustics.glide_cents(x, fs, fitted_f0)
    figures["below f0, 0-150 ms (dB)"] = acoustics.energy_below_f0(x, fs, fitted_f0)
    figures["inharmonic, 0-150 ms (dB)"] = acoustics.inharmonic_energy(x, fs, found)
    figures["L/R correlation"] = acoustics.stereo_correlation(x)
    return figures


def reference_path(directory: Path, note: int, velocity: int) -> Path:
    return Path(directory) / f"{note}-{velocity}.wav"


def read_reference(path: Path) -> tuple[np.ndarray, float]:
    """A reference recording and its rate; ParameterError naming a file that is not audio
    or too short to measure (under a second)."""
    try:
        audio, fs = soundfile.read(path, dtype="float64")
    except (soundfile.SoundFileError, RuntimeError) as error:
        raise ParameterError(f"{path}: not a readable audio file ({error})") from None
    if len(audio) < fs or not np.isfinite(audio).all():
        raise ParameterError(f"{path}: a reference must be a finite recording of at least "
                             "a second")
    return audio, float(fs)


def make_references(directory: Path, program: int, notes: tuple[int, ...],
                    soundfont: Path = GM_SOUNDFONT) -> None:
    """Render NOTE-VELOCITY.wav for every note and VELOCITIES with fluidsynth from a General
    MIDI soundfont, dry (reverb and chorus off), GM `program` (0-based: 0 piano, 24 nylon
    guitar, 25 steel guitar)."""
    fluidsynth = shutil.which("fluidsynth")
    if fluidsynth is None:
        raise ParameterError("making references needs fluidsynth (Debian: apt-get install "
                             "fluidsynth fluid-soundfont-gm)")
    if not Path(soundfont).is_file():
        raise ParameterError(f"no soundfont at {soundfont}"
                             + (" (Debian: fluid-soundfont-gm)" * (soundfont == GM_SOUNDFONT)))
    Path(directory).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for note in notes:
            for velocity in VELOCITIES:
                midi = mido.MidiFile(ticks_per_beat=480)  # 120 bpm: 960 ticks a second
                midi.tracks.append(mido.MidiTrack([
                    mido.Message("program_change", program=program, time=0),
                    mido.Message("note_on", note=note, velocity=velocity, time=0),
                    mido.Message("note_off", note=note, time=round((SECONDS - 0.05) * 960)),
                    mido.MetaMessage("end_of_track", time=960)]))
                source = Path(scratch) / "note.mid"
                midi.save(source)
                made = subprocess.run(
                    [fluidsynth, "-ni", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(FS), "-F",
                     str(reference_path(directory, note, velocity)), str(soundfont),
                     str(source)], capture_output=True, text=True)
                if made.returncode != 0:
                    reason = (made.stderr.strip().splitlines() or ["no message"])[-1]
                    raise ParameterError(f"fluidsynth failed on note {note}, velocity "
                                         f"{velocity}: {reason}")


def compare(preset: Preset, reference: Path | None) -> list[tuple[int, int, dict, dict | None]]:
    """(note, velocity, the render's figures, the reference's or None) for every note."""
    rows = []
    for note in notes_of(preset):
        for velocity in VELOCITIES:
            ours = measure(render_note(preset, note, velocity), FS, note)
            theirs = None
            path = reference_path(reference, note, velocity) if reference else None
            if path is not None and path.is_file():
                theirs = measure(*read_reference(path), note)
            rows.append((note, velocity, ours, theirs))
    return rows


def print_table(preset: Preset, rows: list) -> None:
    print(f"realism of {preset.name!r} ({preset.kind}) at {FS} Hz, notes held {SECONDS:g} s; "
          "render | reference")
    for note in sorted({row[0] for row in rows}):
        chosen = [row for row in rows if row[0] == note]
        print(f"\nnote {note}: velocities " + " ".join(f"{v:>9}" for _, v, _, _ in chosen)
              + "   |" + " ".join(f"{v:>9}" for _, v, _, _ in chosen))
        for key in chosen[0][2]:
            ours = " ".join(_cell(key, row[2][key]) for row in chosen)
            theirs = " ".join(_cell(key, row[3][key]) if row[3] else f"{'-':>9}"
                              for row in chosen)
            print(f"  {key:<28} {ours}   | {theirs}")
    print("\nwhat a soundfont reference cannot support:")
    for limit in LIMITS:
        print(f"  - {limit}")


def _cell(key: str, value: float) -> str:
    if not math.isfinite(value):
        return f"{'inf' if value > 0 else '-':>9}"
    return f"{value:>9.2e}" if key == "B" else f"{value:>9.3g}"


def _side_by_side(preset: Preset, reference: Path | None, note: int) -> list:
    """[(name, audio, fs)]: `note` at velocity 80 rendered, and the reference if there is
    one."""
    sources = [("render", render_note(preset, note, 80), FS)]
    path = reference_path(reference, note, 80) if reference else None
    if path is not None and path.is_file():
        sources.append(("reference", *read_reference(path)))
    return sources


def _partial_envelopes(axis, x: np.ndarray, fs: float, note: int, count: int = 4) -> None:
    """The levels (dB from the loudest) of the first `count` partials of x over time."""
    found = acoustics.partials(x, fs, note_frequency(note), count=count)
    for n, frequency in enumerate(found, start=1):
        times, level = acoustics.envelope_db(x, fs, frequency, width=fs / acoustics.FRAME)
        axis.plot(times, level - level.max(), lw=0.9, label=f"partial {n}")
    axis.set(xlim=(0, SECONDS), ylim=(-60, 3), xlabel="s", ylabel="dB")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower left")


def draw(preset: Preset, reference: Path | None, out: Path) -> Path:
    """Spectrograms, the first 60 ms and the first partials' decays of each render beside
    its reference, velocity 80."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synth.files import save_figure

    notes = notes_of(preset)
    figure, axes = plt.subplots(len(notes), 6, figsize=(24, 3.6 * len(notes)), squeeze=False)
    for row, note in enumerate(notes):
        for column, (name, audio, fs) in enumerate(_side_by_side(preset, reference, note)):
            x = acoustics.mono(acoustics.from_onset(np.asarray(audio, dtype=np.float64), fs))
            axes[row, column].specgram(x[:round(2 * fs)], NFFT=2048, Fs=fs, noverlap=1536,
                                       cmap="magma", vmin=-140)
            axes[row, column].set(ylim=(0, 5000), title=f"{name}, note {note}, velocity 80",
                                  xlabel="s", ylabel="Hz")
            start = x[:round(0.06 * fs)]
            axes[row, 2 + column].plot(np.arange(len(start)) / fs * 1000, start, lw=0.7)
            axes[row, 2 + column].set(title=f"{name}: first 60 ms", xlabel="ms")
            _partial_envelopes(axes[row, 4 + column], x, fs, note)
            axes[row, 4 + column].set(title=f"{name}: partials 1-4")
    figure.tight_layout()
    path = Path(out) / f"realism-{preset.name}.png"
    save_figure(figure, path, dpi=FIGURE_DPI)
    plt.close(figure)
    return path


LISTEN_SECONDS, LISTEN_PEAK = 2.5, 10 ** (-3 / 20)


def write_listening(preset: Preset, reference: Path | None, out: Path,
                    prefix: str = "") -> list[Path]:
    """FLAC files to listen to: the reference note at velocity 80, rendered and (where there
    is one) the reference, LISTEN_SECONDS from the onset, each at -3 dBFS peak."""
    note = notes_of(preset)[0]
    written = []
    for name, audio, fs in _side_by_side(preset, reference, note):
        written.append(write_flac(acoustics.from_onset(np.asarray(audio, dtype=np.float64), fs),
                                  fs, Path(out) / f"{prefix}{preset.name}-{note}-{name}.flac"))
    return written


def write_flac(x: np.ndarray, fs: float, target: Path) -> Path:
    """x's first LISTEN_SECONDS at -3 dBFS peak, as a 16-bit FLAC file at `target`
    (atomically)."""
    x = x[:round(LISTEN_SECONDS * fs)]
    x = x * (LISTEN_PEAK / max(np.abs(x).max(), 1e-12))
    with replace_atomically(target) as temporary:
        soundfile.write(temporary, x, round(fs), subtype="PCM_16", format="FLAC")
    return target


def run(preset_name: str | None, reference: str | None, figures: str | None = None,
        make: int | None = None, listening: str | None = None, prefix: str = "",
        soundfont: str | None = None) -> list:
    preset = load_preset(find_preset(preset_name))
    reference_dir = Path(reference) if reference else None
    if make is not None:
        if reference_dir is None:
            raise ParameterError("--make-reference needs --reference DIR to write into")
        make_references(reference_dir, make, notes_of(preset),
                        Path(soundfont) if soundfont else GM_SOUNDFONT)
    if reference_dir is not None and not reference_dir.is_dir():
        raise ParameterError(f"{reference_dir}: no such folder of references (make them with "
                             "--make-reference PROGRAM)")
    rows = compare(preset, reference_dir)
    print_table(preset, rows)
    if figures:
        Path(figures).mkdir(parents=True, exist_ok=True)
        print(f"wrote {draw(preset, reference_dir, Path(figures))}")
    if listening:
        Path(listening).mkdir(parents=True, exist_ok=True)
        for path in write_listening(preset, reference_dir, Path(listening), prefix):
            print(f"wrote {path}")
    return rows

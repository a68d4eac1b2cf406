"""`neural-strings bench fit DIR`: how well a preset fitted to some recorded notes of an
instrument plays its other notes.

DIR holds recordings named NOTE-VELOCITY.wav (as `bench realism` makes them). The notes
`--fit` are fitted (`synth.fit`, velocity-80 files); each note `--held-out` is then played by
the fitted preset and by the shipped preset the fit started from (the closest to the
recordings), at the velocity the fit matched (the median over the fitted notes), and each is
compared with that note's recording: the multi-resolution log-spectral distance
(`acoustics.log_spectral_distance`), f0, B and the T60 of partials 1, 2, 5 and 10, measured
the same way on both. With --make-reference, the recordings are first made from FluidR3 (or
--soundfont's samples) with fluidsynth (`bench realism`'s `make_references`), a stand-in for
a user's recordings with the limits that bench prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synth import acoustics
from synth.bench.realism import (
    FIGURE_DPI,
    GM_SOUNDFONT,
    LIMITS,
    make_references,
    reference_path,
    write_flac,
)
from synth.errors import ParameterError
from synth.fit import (
    REPORTED_PARTIALS,
    Stage,
    choose_base,
    fit_in_stages,
    key_of,
    render,
    report,
    seconds_of,
    t60s_of,
)
from synth.physics.strings import note_frequency
from synth.progress import Bars
from synth.recording import measure_partials, read_note

VELOCITY = 80
DEFAULT_NOTES = {  # (fitted, held out): held-out notes between and beside the fitted ones
    "guitar": ((45, 55, 64), (50, 59, 69)),
    "piano": ((36, 55, 72), (43, 60, 79))}
TARGETS = "distance at least 30 % below the base's; T60s and B within 25 %; f0 within 3 cents"


def held_out_figures(preset, note, velocity: int) -> dict:
    """The figures of `preset` playing the recorded `note` (a RecordedNote) at `velocity`,
    and its render ("audio", mono)."""
    key = key_of(note)
    x = render(preset, key, velocity, note.fs, seconds_of(note))
    f0, b, partials = measure_partials(x, note.fs, note_frequency(key))
    return {"distance": acoustics.log_spectral_distance(x, note.samples, note.fs),
            "f0": f0, "b": b, "t60s": t60s_of(x, note.fs, partials), "audio": x}


def run(directory: str, kind: str = "guitar", fitted: list[int] | None = None,
        held_out: list[int] | None = None, program: int | None = None,
        figures: str | None = None, listening: str | None = None,
        stages: Sequence[Stage] = (), soundfont: str | None = None) -> list[dict]:
    """Fit (then take it through each of `stages`, `synth.fit.fit_in_stages`: as
    `models.refine.refine_body` and `models.nonlinearity.learn_nonlinearity`), play
    the held-out notes, print the table, and with `figures` draw DIR/fit-KIND.png, with
    `listening` write FLAC files of the first fitted and the first held-out note (recording
    and fit); returns a row a held-out note."""
    if kind not in DEFAULT_NOTES:
        raise ParameterError(f"bench fit: --kind must be guitar or piano, got {kind!r}")
    fitted = fitted or list(DEFAULT_NOTES[kind][0])
    held_out = held_out or list(DEFAULT_NOTES[kind][1])
    folder = Path(directory)
    if program is not None:
        make_references(folder, program, tuple(sorted({*fitted, *held_out})),
                        Path(soundfont) if soundfont else GM_SOUNDFONT)
    paths = [reference_path(folder, n, VELOCITY) for n in [*fitted, *held_out]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ParameterError(f"bench fit: missing recordings {', '.join(missing)} (make them "
                             "with --make-reference PROGRAM)")
    notes = [read_note(p, note=n) for p, n in zip(paths, [*fitted, *held_out], strict=True)]
    training, testing = notes[:len(fitted)], notes[len(fitted):]
    base = choose_base(training, kind)
    bars = Bars()
    try:
        fit = fit_in_stages(training, base, f"fitted-{kind}", stages, bars,
                            command=" ".join([f"neural-strings bench fit {directory} "
                                              f"--kind {kind}", *(s.flag for s in stages)]))
    finally:
        bars.close()
    print(report(fit))
    velocity = int(np.median([n.velocity for n in fit.notes]))
    rows = []
    for note in testing:
        ours, theirs = (held_out_figures(p, note, velocity) for p in (fit.preset, base))
        recorded_t60s = t60s_of(note.samples, note.fs, note.partials)
        rows.append({"note": round(note.note), "fit": ours, "base": theirs,
                     "recorded": {"f0": note.f0, "b": note.inharmonicity,
                                  "t60s": recorded_t60s}})
    print_table(rows, base.name, velocity)
    first = training[0]
    shown = [(f"{round(first.note)} (fitted)", first.samples, first.fs,
              held_out_figures(fit.preset, first, velocity)["audio"],
              held_out_figures(base, first, velocity)["audio"]),
             (f"{rows[0]['note']} (held out)", testing[0].samples, testing[0].fs,
              rows[0]["fit"]["audio"], rows[0]["base"]["audio"])]
    if figures:
        Path(figures).mkdir(parents=True, exist_ok=True)
        print(f"wrote {draw(shown, base.name, Path(figures) / f'fit-{kind}.png')}")
    if listening:
        Path(listening).mkdir(parents=True, exist_ok=True)
        for label, recorded, fs, ours, _ in shown:
            for name, x in (("recording", recorded), ("fit", ours)):
                target = Path(listening) / f"fit-{kind}-{label.split()[0]}-{name}.flac"
                print(f"wrote {write_flac(x, fs, target)}")
    return rows


def draw(shown: list, base: str, path: Path) -> Path:
    """Spectrograms of each shown note's recording, fit and base, and the recording's and
    the fit's waveforms over each other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synth.files import save_figure

    figure, axes = plt.subplots(len(shown), 4, figsize=(20, 3.6 * len(shown)), squeeze=False)
    for row, (label, recorded, fs, ours, theirs) in enumerate(shown):
        for column, (name, x) in enumerate((("recording", recorded), ("fit", ours),
                                            (base, theirs))):
            axes[row, column].specgram(x[:round(2 * fs)], NFFT=2048, Fs=fs, noverlap=1536,
                                       cmap="magma", vmin=-140)
            axes[row, column].set(ylim=(0, 5000), title=f"note {label}: {name}", xlabel="s",
                                  ylabel="Hz")
        for name, x, colour in (("recording", recorded, "0.4"), ("fit", ours, "C1")):
            shown_x = x[:round(2 * fs)] / max(np.abs(x[:round(2 * fs)]).max(), 1e-12)
            axes[row, 3].plot(np.arange(len(shown_x)) / fs, shown_x, lw=0.4, color=colour,
                              label=name, alpha=0.8)
        axes[row, 3].set(title=f"note {label}: waveforms (peak 1)", xlabel="s")
        axes[row, 3].legend(loc="upper right")
    figure.tight_layout()
    save_figure(figure, path, dpi=FIGURE_DPI)
    plt.close(figure)
    return path


def _ratio(value: float, reference: float) -> str:
    if not (math.isfinite(value) and math.isfinite(reference) and reference > 0):
        return "-"
    return f"{100 * (value / reference - 1):+.0f} %"


def print_table(rows: list[dict], base: str, velocity: int) -> None:
    print(f"\nheld-out notes at velocity {velocity} (targets: {TARGETS})")
    partials = "  ".join(f"T60 p{m} fit / {base}" for m in REPORTED_PARTIALS)
    print(f"note  distance fit / {base} (dB)  f0 fit (cents)  B fit / {base}  {partials}")
    for row in rows:
        fit, base_row, recorded = row["fit"], row["base"], row["recorded"]
        cents = 1200 * math.log2(fit["f0"] / recorded["f0"])
        t60 = "  ".join(f"{_ratio(fit['t60s'][m - 1], recorded['t60s'][m - 1])} / "
                        f"{_ratio(base_row['t60s'][m - 1], recorded['t60s'][m - 1])}"
                        for m in REPORTED_PARTIALS)
        print(f"{row['note']:4d}  {fit['distance']:.2f} / {base_row['distance']:.2f} "
              f"({_ratio(fit['distance'], base_row['distance'])})  {cents:+.1f}  "
              f"{_ratio(fit['b'], recorded['b'])} / {_ratio(base_row['b'], recorded['b'])}  "
              f"{t60}")
    print("limits of soundfont samples as a stand-in (as found in FluidR3): " + "; ".join(LIMITS))

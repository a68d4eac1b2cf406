"""A recorded note, read and checked before any long work: the first step of fitting an
instrument to recordings (docs/design.md, "Fitting a preset to recordings").

`read_note` takes a WAV, FLAC, OGG, MP3 or AIFF file (mono or stereo, any rate, 16/24/32-bit
or float), and returns the note from its onset on, its fundamental, its inharmonicity and its
partials. It refuses, with a one-line RecordingError, what a fit cannot use:

- a path that is not a file, a file that is not audio, a format libsndfile cannot read;
- a recording shorter than MIN_SECONDS from its onset;
- silence: a peak below SILENCE_DBFS;
- noise: too little of the spectrum in the partials of any fundamental (HARMONIC_SHARE);
- a chord: a second harmonic series above half the first's fundamental, of at least
  MIN_CHORD_PARTIALS partials and CHORD_LEVEL of the first's power (a note an octave or a
  twelfth above the first hides in its partials and is not found).

A clipped recording (CLIP_RUN samples in a row held at a full-scale peak) is kept from its
last clipped sample on, with a warning; refused if what is left is too short.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from synth import acoustics
from synth.errors import ParameterError
from synth.physics.strings import frequency_note, note_frequency, young_inharmonicity

MIN_SECONDS = 0.3  # from the onset
SILENCE_DBFS = -60.0  # a peak below this is silence
CLIP_LEVEL = 0.999  # of the format's full scale
CLIP_RUN = 4  # samples in a row held at a full-scale peak: clipped
WINDOW = (0.03, 0.33)  # s from the onset: where the fundamental is looked for
LOWEST, HIGHEST = 26.0, 4300.0  # Hz: the fundamentals looked for (A0 to C8, with room)
SEARCH_TOP = 5000.0  # Hz: the partials that count in the search
PEAK_RANGE = 1e-5  # peaks within 50 dB of the strongest
MAX_PEAKS = 40
MAX_ORDER = 12  # fundamentals are looked for at each peak over n = 1..MAX_ORDER
PITCH_TOLERANCE = 0.02  # a partial within 2 % (35 cents) of n f0, before the stretch
HARMONIC_SHARE = 0.7  # of the power up to SEARCH_TOP in the partials: a pitched note
CHORD_LEVEL = 0.03  # a second series this strong (in power, -15 dB) is a second note
MIN_CHORD_PARTIALS = 3  # ... with at least this many partials
N_PARTIALS = 10  # partials a note's decays are measured on
B_PARTIALS = 20  # partials its f0 and B are fitted to
SETTLED = 0.3  # s from the onset: where they are measured, in a recording long enough
UNSUPPORTED = {".m4a", ".aac", ".mp4", ".wma", ".ape", ".alac", ".amr", ".ra"}


class RecordingError(ParameterError):
    """A recording that a fit cannot use, and why (one line)."""


class ClippedWarning(UserWarning):
    """A clipped recording, used from its last clipped sample on."""


@dataclass(frozen=True)
class RecordedNote:
    """One note as recorded: samples (N,) mono float64 from the onset at fs Hz; where the
    onset was in the file (s); the fundamental f0 (Hz) and inharmonicity B of
    f_n = n f0 sqrt(1 + B n^2); the partials' frequencies (Hz); the file's SHA-256; whether
    it was clipped (then used from its last clipped sample on)."""

    path: Path
    samples: np.ndarray
    fs: float
    onset: float
    f0: float
    inharmonicity: float
    partials: np.ndarray
    sha256: str
    clipped: bool = False

    @property
    def note(self) -> float:
        """The fundamental as a MIDI note number (A4 = 69 at 440 Hz)."""
        return frequency_note(self.f0)


def read_note(path, note: float | None = None, seconds: float | None = None) -> RecordedNote:
    """The note recorded in the audio file at `path` (the module docstring); `note` (MIDI)
    narrows the search for its fundamental to a semitone either side; `seconds` keeps that
    much from the onset."""
    path = Path(path)
    audio, fs = _read(path)
    x = acoustics.mono(audio) / (audio.shape[1] if audio.ndim == 2 else 1)
    peak = float(np.abs(x).max(initial=0.0))
    if peak == 0.0 or 20.0 * math.log10(peak) < SILENCE_DBFS:
        raise RecordingError(f"{path}: silence (peak below {SILENCE_DBFS:g} dBFS)")
    clipped_until = _clipped_until(audio)
    start = acoustics.onset(x, fs)
    if clipped_until is not None:
        warnings.warn(f"{path}: clipped until {clipped_until / fs:.2f} s; using the note "
                      "from there on", ClippedWarning, stacklevel=2)
        start = max(start, clipped_until)
    x = x[start:]
    if seconds is not None:
        if not seconds > 0:
            raise RecordingError(f"seconds must be > 0, got {seconds!r}")
        x = x[:round(seconds * fs)]
    if len(x) < MIN_SECONDS * fs:
        what = "after its clipping" if clipped_until is not None else "from its onset"
        raise RecordingError(f"{path}: too short: {len(x) / fs:.2f} s {what}, a fit needs "
                             f"at least {MIN_SECONDS:g} s")
    fitted, b, found = measure_partials(x, fs, _fundamental(path, x, fs, note))
    return RecordedNote(path, x, float(fs), start / fs, fitted, b, found,
                        hashlib.sha256(path.read_bytes()).hexdigest(),
                        clipped_until is not None)


def measure_partials(x: np.ndarray, fs: float, f0: float) -> tuple[float, float, np.ndarray]:
    """(f0 in Hz, B, the frequencies of partials 1..N_PARTIALS in Hz) of a note x (N,) from its
    onset, whose fundamental is near f0 Hz: partials 1..B_PARTIALS followed up from f0 over
    a second from SETTLED (or WINDOW[0], in a shorter recording), f_n = n f0 sqrt(1 + B n^2)
    fitted to those not too weak to find (`acoustics.WEAK_PARTIAL`; B >= 0), and a weak
    one's frequency the fit's. From SETTLED on, the body's own ringing has died away: a
    partial heard through the body then has the string's frequency, where, beside the
    body's ringing, its peak is pulled toward a body mode."""
    start = SETTLED if len(x) / fs >= SETTLED + 1.0 else WINDOW[0]
    found, levels = acoustics.partial_peaks(x, fs, f0, count=B_PARTIALS, start=start,
                                            stop=min(len(x) / fs, start + 1.0))
    orders = np.arange(1, len(found) + 1)
    strong = levels > levels.max(initial=0.0) - acoustics.WEAK_PARTIAL
    if strong.sum() < 3:
        return f0, 0.0, found[:N_PARTIALS]
    fitted, b = acoustics.inharmonicity(found[strong], orders[strong])
    b = max(b, 0.0)
    found = np.where(strong, found, orders * fitted * np.sqrt(1.0 + b * orders ** 2))
    return fitted, b, found[:N_PARTIALS]


def _read(path: Path) -> tuple[np.ndarray, float]:
    """The file's samples (N,) or (N, channels) float64 and rate; RecordingError if it is not
    a readable audio file."""
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    try:
        audio, fs = soundfile.read(path, dtype="float64", always_2d=False)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        if path.suffix.lower() in UNSUPPORTED:
            raise RecordingError(f"{path}: {path.suffix} is not supported; convert it to WAV "
                                 "or FLAC") from None
        raise RecordingError(f"{path}: not an audio file this can read (WAV, FLAC, OGG, MP3, "
                             f"AIFF): {str(error).splitlines()[0]}") from None
    if audio.size == 0 or not np.isfinite(audio).all():
        raise RecordingError(f"{path}: no finite samples")
    return audio, float(fs)


def _clipped_until(audio: np.ndarray) -> int | None:
    """The index after the last run of CLIP_RUN samples held at the recording's peak, where
    that peak is at full scale (CLIP_LEVEL of 1.0), in any channel; None if it never
    clips. (A peak reached by the waveform itself lasts a sample or two at any pitch; a
    clipped one stays.)"""
    level = np.abs(audio if audio.ndim == 2 else audio[:, None])
    top = level.max()
    if top < CLIP_LEVEL:
        return None
    at_top = (level >= top * (1.0 - 1e-9)).any(axis=1).astype(np.int8)
    runs = np.convolve(at_top, np.ones(CLIP_RUN, dtype=np.int8), mode="valid") == CLIP_RUN
    if not runs.any():
        return None
    return int(np.flatnonzero(runs)[-1]) + CLIP_RUN


def _peaks(freqs: np.ndarray, power: np.ndarray, lobe: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, powers) of the spectrum's peaks up to SEARCH_TOP within PEAK_RANGE of the
    strongest, strongest first, at most MAX_PEAKS; a peak's power is summed over the window's
    main lobe (`lobe` bins)."""
    summed = np.convolve(power, np.ones(lobe), mode="same")
    top = int(np.searchsorted(freqs, SEARCH_TOP))
    s = summed[:top]
    local = np.flatnonzero((s[1:-1] > s[:-2]) & (s[1:-1] >= s[2:])) + 1
    local = local[s[local] >= s[local].max(initial=0.0) * PEAK_RANGE]
    local = local[np.argsort(s[local])[::-1][:MAX_PEAKS]]
    return freqs[local], s[local]


def _explained(peak_f: np.ndarray, f0: float) -> np.ndarray:
    """Which peaks are partials of f0: f / (n f0) within PITCH_TOLERANCE, and the stretch up
    to sqrt(1 + B n^2) that a stiff string of that pitch may have (`max_inharmonicity`)."""
    order = np.maximum(np.round(peak_f / f0), 1.0)
    ratio = peak_f / (order * f0)
    stretch = np.sqrt(1.0 + max_inharmonicity(f0) * order ** 2)
    return (ratio > 1.0 - PITCH_TOLERANCE) & (ratio < (1.0 + PITCH_TOLERANCE) * stretch)


def max_inharmonicity(f0: float) -> float:
    """The most inharmonic string expected at f0 Hz: four times Young's plain piano strings
    (`strings.young_inharmonicity`), at least 1e-3, at most 0.03."""
    return min(max(4.0 * young_inharmonicity(frequency_note(f0)), 1e-3), 0.03)


def _series(peak_f: np.ndarray, peak_p: np.ndarray, low: float,
            high: float) -> tuple[float, np.ndarray]:
    """(f0, which peaks are its partials) of the fundamental in [low, high], among each peak
    over n = 1..MAX_ORDER, that scores best: the peaks' power its partials explain, times
    the share of its partials up to the highest explained that are there (a subharmonic
    explains as much with most missing), times the fourth root of their number (one strong
    partial is not a note)."""
    candidates = np.unique(np.concatenate([peak_f / n for n in range(1, MAX_ORDER + 1)]))
    candidates = candidates[(candidates >= low) & (candidates <= high)]
    scores = np.zeros(len(candidates))
    for i, f0 in enumerate(candidates):
        matched = _explained(peak_f, f0)
        if matched.any():
            orders = np.unique(np.round(peak_f[matched] / f0))
            scores[i] = peak_p[matched].sum() * len(orders) ** 1.25 / orders.max()
    if not scores.any():
        return math.nan, np.zeros(len(peak_f), dtype=bool)
    best = candidates[int(np.argmax(scores))]
    matched = _explained(peak_f, best)
    lowest = peak_f[matched & (np.round(peak_f / best) == 1)]
    return float(lowest[0] if len(lowest) else best), matched


def _fundamental(path: Path, x: np.ndarray, fs: float, note: float | None) -> float:
    """The note's fundamental (Hz), found in WINDOW; RecordingError for noise or a chord."""
    stop = min(WINDOW[1], len(x) / fs)
    freqs, power = acoustics.spectrum(x, fs, WINDOW[0], stop, deep=True)
    total = float(power[freqs <= SEARCH_TOP].sum())
    lobe = max(round(8.0 / (stop - WINDOW[0]) / (freqs[1] - freqs[0])), 1)
    peak_f, peak_p = _peaks(freqs, power, lobe)
    if note is not None:
        hint = note_frequency(note)
        low, high = hint * 2 ** (-1 / 12), hint * 2 ** (1 / 12)
    else:
        low, high = LOWEST, HIGHEST
    f0, matched = _series(peak_f, peak_p, low, high)
    share = float(peak_p[matched].sum()) / total if total > 0 else 0.0
    if not math.isfinite(f0) or share < HARMONIC_SHARE:
        raise RecordingError(f"{path}: no pitched note found (noise?): the partials of its "
                             f"likeliest fundamental hold {100 * share:.0f} % of the spectrum")
    # what the series leaves: a second note's partials (a body's knock, far below the
    # note, is left out)
    rest = ~matched & (peak_f >= 0.5 * f0)
    rest_f, rest_p = peak_f[rest], peak_p[rest]
    second_f0, second = _series(rest_f, rest_p, LOWEST, HIGHEST)
    if math.isfinite(second_f0) and second.sum() >= MIN_CHORD_PARTIALS \
            and rest_p[second].sum() >= CHORD_LEVEL * peak_p[matched].sum():
        raise RecordingError(f"{path}: several notes at once (a chord?): {f0:.1f} Hz and "
                             f"{second_f0:.1f} Hz; record one note a file")
    return f0

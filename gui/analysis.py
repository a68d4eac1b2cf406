"""What the window's displays compute from the engine's published data (NumPy, no Qt).

`triggered` picks a stable oscilloscope window out of the output ring, `log_spectrum` turns the
latest output into a dB spectrum on log-spaced frequencies, `mode_levels` turns the loudest
voice's modal energies into dB bars, and `pitch_name` names a frequency as a note and cents.
"""

from __future__ import annotations

import math

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLOOR_DB = -120.0  # levels below this show as this


def triggered(samples: np.ndarray, length: int, hysteresis: float = 0.1) -> np.ndarray:
    """The `length` samples after the latest rising zero crossing that leaves room for them.

    samples: (N,) oldest first. A crossing counts only after the signal went below
    -hysteresis x its peak, so noise around zero does not retrigger. Without a crossing (a
    silent or DC signal) the latest `length` samples are returned, free-running.
    """
    samples = np.asarray(samples, np.float64)
    if len(samples) <= length:
        return samples[-length:]
    search = samples[:len(samples) - length + 1]
    low = -hysteresis * float(np.max(np.abs(samples))) if samples.any() else 0.0
    rising = np.flatnonzero((search[:-1] < 0.0) & (search[1:] >= 0.0)) + 1
    armed = np.maximum.accumulate(np.where(search < low, np.arange(len(search)), -1))
    valid = rising[armed[rising - 1] >= 0] if len(rising) and low < 0.0 else rising[:0]
    start = int(valid[-1]) if len(valid) else len(samples) - length
    return samples[start:start + length]


def log_spectrum(samples: np.ndarray, fs: float, points: int = 400,
                 lowest: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, levels in dBFS), both (points,), of the latest samples.

    Hann window; 0 dB is a full-scale sine. The FFT bins are pooled (maximum) into `points`
    log-spaced bands from `lowest` to fs/2, so a partial keeps its peak level at any zoom;
    bands narrower than a bin take the nearest bin.
    """
    samples = np.asarray(samples, np.float64)
    window = np.hanning(len(samples))
    amplitude = np.abs(np.fft.rfft(samples * window)) * 2.0 / window.sum()
    bins = np.fft.rfftfreq(len(samples), 1.0 / fs)
    edges = np.geomspace(lowest, fs / 2.0, points + 1)
    index = np.clip(np.searchsorted(bins, edges[:-1]), 1, len(bins) - 1)
    # The maximum over bins [index_i, index_i+1), or bin index_i alone where that is empty.
    level = np.maximum.reduceat(amplitude, index)
    centres = np.sqrt(edges[1:] * edges[:-1])
    return centres, to_db(level)


def mode_levels(energies: np.ndarray) -> np.ndarray:
    """Modal energies (M,) in dB relative to the strongest mode (0 dB), floored."""
    energies = np.asarray(energies, np.float64)
    top = float(energies.max()) if energies.size else 0.0
    if top <= 0.0:
        return np.full(energies.shape, FLOOR_DB)
    return np.maximum(10.0 * np.log10(np.maximum(energies / top, 1e-30)), FLOOR_DB)


def to_db(amplitude: np.ndarray) -> np.ndarray:
    """20 log10 of an amplitude, floored at FLOOR_DB."""
    return np.maximum(20.0 * np.log10(np.maximum(amplitude, 1e-30)), FLOOR_DB)


def pitch_name(frequency: float) -> tuple[str, float]:
    """The nearest equal-tempered note (A4 = 440 Hz), e.g. "A3", and the cents from it."""
    if not (math.isfinite(frequency) and frequency > 0.0):
        raise ValueError(f"a pitch needs a positive frequency, got {frequency!r}")
    midi = 69.0 + 12.0 * math.log2(frequency / 440.0)
    nearest = round(midi)
    return f"{NOTE_NAMES[nearest % 12]}{nearest // 12 - 1}", 100.0 * (midi - nearest)

"""Measurements on rendered audio shared by the engine tests."""

import numpy as np


def fundamental(x: np.ndarray, fs: float, near: float, width: float = 0.06) -> float:
    """The frequency (Hz) of the strongest spectral peak within +-width (relative) of
    `near`, by zero-padded FFT with parabolic interpolation of the log magnitude."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    n = 1 << int(np.ceil(np.log2(len(x) * 8)))
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n)) + 1e-30
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    band = np.flatnonzero((freqs > near * (1 - width)) & (freqs < near * (1 + width)))
    i = band[np.argmax(spectrum[band])]
    a, b, c = np.log(spectrum[i - 1:i + 2])
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return float(freqs[i] + offset * (freqs[1] - freqs[0]))


def cents(f: float, reference: float) -> float:
    return float(1200.0 * np.log2(f / reference))


def note_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64)))))


def robust_fundamental(x: np.ndarray, fs: float, near: float, parts: int = 5,
                       width: float = 0.06) -> float:
    """The median of `fundamental` over `parts` consecutive windows: one glitch (an xrun on
    a loaded machine) can spoil one window, not the answer."""
    pieces = np.array_split(np.asarray(x), parts)
    return float(np.median([fundamental(piece, fs, near, width) for piece in pieces]))

"""Writing audio files (WAV via soundfile / libsndfile)."""

from __future__ import annotations

import numpy as np
import soundfile

from synth.errors import ParameterError

PEAK = 10 ** (-1 / 20)  # normalise to -1 dBFS


def write_wav(path, audio: np.ndarray, fs: float) -> None:
    """Write mono (N,) or (N, channels) audio in [-1, 1] as 24-bit WAV at round(fs) Hz."""
    rate = round(fs)
    if rate < 1:
        raise ParameterError(f"cannot write a WAV file at {fs!r} Hz")
    audio = np.asarray(audio, dtype=np.float64)
    if not np.isfinite(audio).all():
        raise ParameterError("refusing to write a WAV file from non-finite samples")
    soundfile.write(path, audio, rate, subtype="PCM_24")


def write_normalised_wav(path, signal: np.ndarray, fs: float) -> None:
    """Write a signal scaled so its peak is -1 dBFS (a silent signal stays silent)."""
    signal = np.asarray(signal, dtype=np.float64)
    peak = np.max(np.abs(signal)) if signal.size else 0.0
    write_wav(path, signal * (PEAK / peak) if peak > 0 else signal, fs)

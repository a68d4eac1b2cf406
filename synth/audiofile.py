"""Writing audio files (WAV via soundfile / libsndfile)."""

from __future__ import annotations

import numpy as np
import soundfile

from synth.errors import ParameterError

PEAK = 10 ** (-1 / 20)  # normalise to -1 dBFS


def write_normalised_wav(path, signal: np.ndarray, fs: float) -> None:
    """Write a mono or (N, channels) signal as 24-bit WAV, scaled so its peak is -1 dBFS.

    fs (Hz) is rounded to an integer rate, as WAV requires. A silent signal stays silent.
    """
    rate = round(fs)
    if rate < 1:
        raise ParameterError(f"cannot write a WAV file at {fs!r} Hz")
    signal = np.asarray(signal, dtype=np.float64)
    if not np.isfinite(signal).all():
        raise ParameterError("refusing to write a WAV file from non-finite samples")
    peak = np.max(np.abs(signal)) if signal.size else 0.0
    scaled = signal * (PEAK / peak) if peak > 0 else signal
    soundfile.write(path, scaled, rate, subtype="PCM_24")

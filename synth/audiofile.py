"""Writing audio files (WAV via soundfile / libsndfile), safely: to a temporary file that
becomes the named one only once complete (`synth.files`)."""

from __future__ import annotations

import numpy as np
import soundfile

from synth.errors import OutputError, ParameterError
from synth.files import replace_atomically

PEAK = 10 ** (-1 / 20)  # normalise to -1 dBFS
SUFFIXES = (".wav",)


def write_wav(path, audio: np.ndarray, fs: float) -> None:
    """Write mono (N,) or (N, channels) audio in [-1, 1] as 24-bit WAV at round(fs) Hz;
    OutputError if it cannot be written (a full disk included), and then no file appears."""
    rate = round(fs)
    if rate < 1:
        raise ParameterError(f"cannot write a WAV file at {fs!r} Hz")
    audio = np.asarray(audio, dtype=np.float64)
    if not np.isfinite(audio).all():
        raise ParameterError("refusing to write a WAV file from non-finite samples")
    with replace_atomically(path) as temporary:
        try:
            soundfile.write(temporary, audio, rate, subtype="PCM_24", format="WAV")
        except soundfile.SoundFileRuntimeError as error:  # libsndfile's own failures
            raise OutputError(f"{path}: cannot write ({error})") from None


def write_normalised_wav(path, signal: np.ndarray, fs: float) -> None:
    """Write a signal scaled so its peak is -1 dBFS (a silent signal stays silent)."""
    signal = np.asarray(signal, dtype=np.float64)
    peak = np.max(np.abs(signal)) if signal.size else 0.0
    write_wav(path, signal * (PEAK / peak) if peak > 0 else signal, fs)

"""Writing audio files (WAV via soundfile / libsndfile), safely: to a temporary file that
becomes the named one only once complete (`synth.files`), whole or block by block."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import soundfile

from synth.errors import OutputError, ParameterError
from synth.files import disk_full_message, replace_atomically

PEAK = 10 ** (-1 / 20)  # normalise to -1 dBFS
SUFFIXES = (".wav",)
BYTES_PER_SAMPLE = 3  # 24-bit PCM


@contextlib.contextmanager
def wav_writer(path, fs: float, channels: int) -> Iterator[Callable[[np.ndarray], None]]:
    """Write a 24-bit WAV at round(fs) Hz block by block: yields `write(block)`, block
    (frames,) or (frames, channels) in [-1, 1]. The file appears at `path` only when the
    `with` block ends normally; on any failure (a full disk included: OutputError) there is
    no new file and an old one of that name is untouched."""
    rate = round(fs)
    if rate < 1:
        raise ParameterError(f"cannot write a WAV file at {fs!r} Hz")
    with replace_atomically(path) as temporary:
        try:
            with soundfile.SoundFile(temporary, "w", rate, channels, "PCM_24",
                                     format="WAV") as file:

                def write(block: np.ndarray) -> None:
                    block = np.asarray(block, dtype=np.float64)
                    if not np.isfinite(block).all():
                        raise ParameterError("refusing to write a WAV file from non-finite "
                                             "samples")
                    file.write(block)

                yield write
        except soundfile.SoundFileRuntimeError as error:  # libsndfile's own failures
            raise OutputError(disk_full_message(path) or f"{path}: cannot write ({error})") \
                from None


def write_wav(path, audio: np.ndarray, fs: float) -> None:
    """Write mono (N,) or (N, channels) audio in [-1, 1] as 24-bit WAV at round(fs) Hz;
    OutputError if it cannot be written (a full disk included), and then no file appears."""
    audio = np.asarray(audio, dtype=np.float64)
    with wav_writer(path, fs, 1 if audio.ndim == 1 else audio.shape[1]) as write:
        write(audio)


def write_normalised_wav(path, signal: np.ndarray, fs: float) -> None:
    """Write a signal scaled so its peak is -1 dBFS (a silent signal stays silent)."""
    signal = np.asarray(signal, dtype=np.float64)
    peak = np.max(np.abs(signal)) if signal.size else 0.0
    write_wav(path, signal * (PEAK / peak) if peak > 0 else signal, fs)

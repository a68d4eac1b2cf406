"""Quieting the sound libraries: ALSA and JACK print to stderr from C whenever something they
probe for is absent ("ALSA lib seq_hw.c: ... open /dev/snd/seq failed", "Cannot connect to
server socket"), which is normal on a machine without a MIDI sequencer or a JACK server, and
alarming to read. `silence()` gives both libraries a handler that drops their messages; the
command line calls it unless asked to be verbose, before PortAudio and rtmidi start.

Handled: the system's libasound and libjack (PortAudio's and rtmidi's ALSA), and the copy of
libjack that python-rtmidi's wheels carry. What the program itself has to say is unaffected.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
from pathlib import Path

# void handler(const char *file, int line, const char *function, int err, const char *fmt, ...)
_ALSA_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                 ctypes.c_int, ctypes.c_char_p)
_JACK_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p)  # void handler(const char *message)
_kept: list = []  # the handlers must outlive every call into the libraries


def _library(path: str | None):
    try:
        return ctypes.CDLL(path) if path else None
    except OSError:
        return None


def _jack_libraries() -> list[str]:
    """The system's libjack and the one bundled with python-rtmidi, where present."""
    found = [ctypes.util.find_library("jack")]
    spec = importlib.util.find_spec("rtmidi")
    if spec is not None and spec.origin is not None:  # auditwheel's folder beside rtmidi
        site = Path(spec.origin).parent.parent
        found += [str(path) for path in sorted(site.glob("python_rtmidi*/libjack*.so*"))]
    return [path for path in found if path]


def silence() -> None:
    """Drop ALSA's and JACK's own messages from now on (idempotent)."""
    if _kept:
        return
    alsa = _library(ctypes.util.find_library("asound"))
    if alsa is not None:
        handler = _ALSA_HANDLER(lambda *message: None)
        alsa.snd_lib_error_set_handler(handler)
        _kept.append(handler)
    handler = _JACK_HANDLER(lambda message: None)
    _kept.append(handler)
    for path in _jack_libraries():
        jack = _library(path)
        if jack is not None:
            jack.jack_set_error_function(handler)
            jack.jack_set_info_function(handler)

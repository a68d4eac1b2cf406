"""The PortAudio calls of the native audio path, through sounddevice's CFFI handles.

sounddevice (>= 0.4.6, < 0.6, see pyproject.toml) keeps its compiled PortAudio binding in the
private attributes `_lib` and `_ffi`. They let us hand PortAudio a compiled callback that
never touches Python; this module is the only place that uses them, so a change in
sounddevice is contained here.
"""

from __future__ import annotations

import sounddevice

from synth.errors import AudioError

_lib = sounddevice._lib
_ffi = sounddevice._ffi


def _check(code: int, what: str) -> None:
    if code < 0:
        message = _ffi.string(_lib.Pa_GetErrorText(code)).decode(errors="replace")
        raise AudioError(f"{what} failed: {message}")


def open_output(device: int, channels: int, samplerate: float, blocksize: int,
                latency: float, callback_address: int, user_data_address: int):
    """Open an output stream whose callback is the compiled function at callback_address,
    called with user_data_address; returns the stream handle."""
    parameters = _ffi.new("PaStreamParameters*")
    parameters.device = device
    parameters.channelCount = channels
    parameters.sampleFormat = _lib.paFloat32
    parameters.suggestedLatency = latency
    parameters.hostApiSpecificStreamInfo = _ffi.NULL
    handle = _ffi.new("PaStream**")
    callback = _ffi.cast("PaStreamCallback*", callback_address)
    _check(_lib.Pa_OpenStream(handle, _ffi.NULL, parameters, samplerate, blocksize,
                              _lib.paClipOff | _lib.paDitherOff, callback,
                              _ffi.cast("void*", user_data_address)), "opening the stream")
    return handle[0]


def start(stream) -> None:
    _check(_lib.Pa_StartStream(stream), "starting the stream")


def stop(stream) -> None:
    """Stop and close the stream (errors are ignored: the device may already be gone)."""
    _lib.Pa_StopStream(stream)
    _lib.Pa_CloseStream(stream)


def is_active(stream) -> bool:
    return _lib.Pa_IsStreamActive(stream) == 1


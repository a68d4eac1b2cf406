"""Playing the engine on an audio device through PortAudio (sounddevice).

`AudioStream(engine, device, blocksize)` opens an output stream at the engine's rate and
plays it until stopped. The default callback is compiled (`synth.callback`): PortAudio calls
it on its own thread, it never takes the GIL and never allocates, so a busy Python thread
(a GUI) cannot starve the audio. `callback="python"` uses a sounddevice Python callback
instead, a fallback that needs no private sounddevice handles but competes for the GIL.

Control events from other threads are stamped one block ahead of the audio clock, estimated
from the cycle counter, so they land sample-accurately with a constant latency.
"""

from __future__ import annotations

import functools
import threading
import time

import numpy as np
import sounddevice

from synth.engine.block import process_block
from synth.engine.engine import Engine
from synth.engine.state import (
    CALLBACKS,
    CLOCK,
    CLOCK_AT_CALLBACK,
    FS,
    LATE,
    LOAD_AVG,
    LOAD_LAST,
    LOAD_MAX,
    TSC_AT_CALLBACK,
    TSC_HZ,
    UNDERRUNS,
    EngineState,
)
from synth.errors import AudioError
from synth.native import cycles

CALLBACKS_KINDS = ("native", "python")
STALL_SECONDS = 1.0  # no callback for this long (and 20 blocks): the device is gone


def output_devices() -> list[dict]:
    """The output devices PortAudio sees: index, name, host API, channels, default rate."""
    apis = sounddevice.query_hostapis()
    return [{"index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
             "channels": d["max_output_channels"], "samplerate": d["default_samplerate"]}
            for i, d in enumerate(sounddevice.query_devices()) if d["max_output_channels"] > 0]


def rescan_devices() -> None:
    """Let PortAudio look for devices again (one plugged in or a sound server started since).
    Call it only while no stream is open: it restarts PortAudio."""
    sounddevice._terminate()
    sounddevice._initialize()


def choose_device(device: int | str | None) -> dict:
    """The output device with this index or name substring, or the default one."""
    devices = output_devices()
    if not devices:
        raise AudioError(
            "no audio output device found. On Linux install libportaudio2 and run a sound "
            "server (PipeWire, PulseAudio or JACK, e.g. `jackd -d dummy` headless); or "
            "render offline with `neural-strings render`")
    if device is None:
        default = sounddevice.default.device[1]
        if default is None or default < 0:
            try:
                default = sounddevice.query_devices(kind="output")["index"]
            except sounddevice.PortAudioError:
                default = devices[0]["index"]
        device = default
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        matches = [d for d in devices if d["index"] == int(device)]
    else:
        matches = [d for d in devices if device.lower() in d["name"].lower()]
    if not matches:
        names = "; ".join(f"{d['index']}: {d['name']}" for d in devices)
        raise AudioError(f"no output device matches {device!r}; available: {names}")
    return matches[0]


class AudioStream:
    """Plays `engine` on an output device until stopped (also a context manager).

    device: index, name substring or None (default device); blocksize: frames per callback
    (at most engine.max_block); callback: "native" (compiled, GIL-free) or "python"; latency:
    the suggested output latency in seconds (None: the device's low latency).
    """

    def __init__(self, engine: Engine, device: int | str | None = None, blocksize: int = 128,
                 callback: str = "native", latency: float | None = None) -> None:
        if callback not in CALLBACKS_KINDS:
            raise AudioError(f"callback must be one of {CALLBACKS_KINDS}, got {callback!r}")
        if not 16 <= blocksize <= engine.max_block:
            raise AudioError(f"blocksize must be from 16 to the engine's max_block "
                             f"({engine.max_block}), got {blocksize}")
        self.engine = engine
        self.device = choose_device(device)
        self.blocksize = blocksize
        self.callback = callback
        self.channels = min(2, self.device["channels"])
        self.latency = latency
        self._stream = None
        self._slot = np.zeros(3, np.int64)  # the state's pointer table: address, rows; channels
        self._installed = None  # what the callback reads: pointer table, state, voices
        self._retired: list = []  # installs swapped out, alive until the callback moves on
        self._abandoned = None  # a stream that would not stop, and what its callback reads
        self._lock = threading.Lock()
        self._progress = (0.0, 0.0)  # (callback count, monotonic time it was last seen to move)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> AudioStream:
        engine = self.engine
        engine.warm_up()
        engine.event_time = self._event_time
        engine.on_state_change = self._swap
        try:
            if self.callback == "native":
                self._start_native()
            else:
                self._start_python()
            self._progress = (self.engine.state.telemetry[CALLBACKS], time.monotonic())
        except (sounddevice.PortAudioError, AudioError) as error:
            engine.on_state_change = None
            raise AudioError(f"cannot play on {self.device['name']!r} at {engine.fs:g} Hz, "
                             f"{self.blocksize} frames: {error}") from None
        return self

    def _start_native(self) -> None:
        from synth import portaudio
        from synth.callback import audio_callback

        self._install(self.engine.state)
        latency = self.latency if self.latency is not None else \
            sounddevice.query_devices(self.device["index"])["default_low_output_latency"]
        self._stream = portaudio.open_output(
            self.device["index"], self.channels, self.engine.fs, self.blocksize, latency,
            audio_callback().address, self._slot.ctypes.data)
        portaudio.start(self._stream)

    def _start_python(self) -> None:
        self._stream = sounddevice.OutputStream(
            samplerate=self.engine.fs, blocksize=self.blocksize, device=self.device["index"],
            channels=self.channels, dtype="float32", latency=self.latency or "low",
            callback=self._python_callback)
        self._stream.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop and close the stream; the engine keeps its state. Returns False if the device
        did not let go within timeout seconds (a sound server that died can leave PortAudio
        waiting forever): the stream is then abandoned, and the process should exit without
        PortAudio's own clean-up (which would wait for it too)."""
        if self._stream is None:
            return True
        stream, self._stream = self._stream, None
        if self.callback == "native":
            from synth import portaudio

            close = functools.partial(portaudio.stop, stream)
        else:
            def close() -> None:
                stream.stop()
                stream.close()
        closer = threading.Thread(target=close, name="audio-stop", daemon=True)
        closer.start()
        closer.join(timeout)
        self.engine.on_state_change = None
        if closer.is_alive():
            self._abandoned = (stream, self._installed, self._retired)  # the callback may run
            return False
        self._retired.clear()
        return True

    def __enter__(self) -> AudioStream:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def active(self) -> bool:
        """False once the stream stopped or its device went away."""
        if self._stream is None:
            return False
        if self.callback == "native":
            from synth import portaudio

            return portaudio.is_active(self._stream)
        return bool(self._stream.active)

    def problem(self) -> str | None:
        """Why the stream no longer plays, or None while it does: stopped by the device, or
        no callback for STALL_SECONDS (and 20 blocks), as when the sound server died. Poll it
        from a control thread a few times a second."""
        if self._stream is None:
            return "the stream is not running"
        if not self.active:
            return f"the audio device {self.device['name']!r} stopped or went away"
        count, since = self._progress
        now = time.monotonic()
        current = self.engine.state.telemetry[CALLBACKS]
        if current != count:
            self._progress = (current, now)
            return None
        silence = now - since
        if silence > max(STALL_SECONDS, 20 * self.blocksize / self.engine.fs):
            return (f"the audio device {self.device['name']!r} stopped calling back "
                    f"{silence:.1f} s ago (did its sound server stop?)")
        return None

    # ------------------------------------------------------------------ state handling
    def _install(self, state: EngineState) -> None:
        """Point the callback at `state` (the engine's, with its voices)."""
        from synth.callback import CHANNELS, ROWS, TABLE, prepare

        table = prepare(state)
        if self._installed is not None:
            self._retired.append(self._installed)  # the callback may still be reading it
        self._installed = (table, state, self.engine.voices)
        if self._slot[ROWS] != len(table):  # never true across a swap: states have one layout
            self._slot[ROWS] = len(table)
        self._slot[CHANNELS] = self.channels
        self._slot[TABLE] = table.ctypes.data  # one aligned 8-byte store: the switch

    def _swap(self, state: EngineState) -> None:
        """Called by Engine.load_preset: hand the new state to the running callback."""
        with self._lock:
            if self.callback == "native":
                callbacks = self.engine.state.telemetry[CALLBACKS]
                self._install(state)
                deadline = time.monotonic() + 0.5
                while (state.telemetry[CALLBACKS] < callbacks + 2 and self.active
                       and time.monotonic() < deadline):
                    time.sleep(0.002)  # wait until the callback has moved to the new state
                self._retired = self._retired[-1:]

    # ------------------------------------------------------------------ timing
    def _event_time(self) -> int:
        """The sample at which a control event arriving now should sound: one block after
        the estimated current position of the audio clock."""
        t = self.engine.state.telemetry
        if t[CALLBACKS] == 0:
            return int(t[CLOCK])
        elapsed = (cycles() - t[TSC_AT_CALLBACK]) / self.engine.state.constants[TSC_HZ]
        # The audio clock only moves with callbacks: if they stalled, wall time ran ahead of
        # it, so never reach further than two blocks past the last one.
        ahead = min(max(elapsed * self.engine.fs, 0.0), 2.0 * self.blocksize)
        return max(int(t[CLOCK_AT_CALLBACK] + ahead) + self.blocksize, int(t[CLOCK]))

    def _python_callback(self, outdata, frames, time_info, status) -> None:
        state = self.engine.state
        t = state.telemetry
        start = cycles()
        t[CALLBACKS] += 1.0
        if status.output_underflow:
            t[UNDERRUNS] += 1.0
        t[TSC_AT_CALLBACK] = start
        t[CLOCK_AT_CALLBACK] = t[CLOCK]
        for first in range(0, frames, self.engine.max_block):
            process_block(state, outdata[first:first + self.engine.max_block])
        load = (cycles() - start) / (state.constants[TSC_HZ] * frames / state.constants[FS])
        t[LOAD_LAST] = load
        t[LOAD_AVG] += 0.01 * (load - t[LOAD_AVG])
        t[LOAD_MAX] = max(t[LOAD_MAX], load)
        if load > 1.0:
            t[LATE] += 1.0

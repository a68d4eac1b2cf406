"""MIDI input: a robust byte parser and live ports.

`MidiParser` turns any byte stream into channel messages: it keeps running status, drops
real-time bytes wherever they fall (even inside another message), skips SysEx and system
common messages, and discards data bytes that belong to nothing. `dispatch` sends a channel
message to the engine. `MidiInput` opens an input port on the first MIDI system that
works (ALSA, else JACK, so it also runs where only a JACK server exists;
`synth.midi_systems`), connects to the hardware inputs, and keeps watching: a port that
disappears is reported, a new one is connected. Every byte a source sends reaches the
parser, SysEx included, so no message, however broken, can stop the ones after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from synth.engine.engine import Engine
from synth.midi_systems import SYSTEMS, MidiSystemError, is_hardware

NOTE_OFF, NOTE_ON, POLY_PRESSURE, CONTROL, PROGRAM, CHANNEL_PRESSURE, PITCH_BEND = \
    0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0
SYSEX, SYSEX_END = 0xF0, 0xF7
_DATA_LENGTH = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_SYSTEM_COMMON_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}


class MidiParser:
    """Incremental MIDI byte parser; `feed(bytes)` returns complete channel messages as
    (status, data1, data2) tuples (data2 is 0 for one-byte messages)."""

    def __init__(self) -> None:
        self._status = 0  # running status (a channel status byte) or 0
        self._needed = 0
        self._data: list[int] = []
        self._skipping = 0  # data bytes of a system common message still to skip
        self._in_sysex = False

    def feed(self, data) -> list[tuple[int, int, int]]:
        messages = []
        for byte in data:
            byte = int(byte) & 0xFF
            if byte >= 0xF8:  # real time: transparent, even mid-message
                continue
            if byte >= 0x80:
                self._data = []
                self._skipping = 0
                if byte == SYSEX:
                    self._in_sysex, self._status = True, 0
                elif byte == SYSEX_END:
                    self._in_sysex = False
                elif byte >= 0xF0:  # system common cancels running status
                    self._in_sysex, self._status = False, 0
                    self._skipping = _SYSTEM_COMMON_LENGTH.get(byte, 0)
                else:
                    self._in_sysex = False
                    self._status = byte
                    self._needed = _DATA_LENGTH[byte & 0xF0]
                continue
            if self._in_sysex:
                continue
            if self._skipping:
                self._skipping -= 1
                continue
            if not self._status:
                continue  # a stray data byte
            self._data.append(byte)
            if len(self._data) == self._needed:
                data2 = self._data[1] if self._needed == 2 else 0
                messages.append((self._status, self._data[0], data2))
                self._data = []
        return messages


def dispatch(engine: Engine, status: int, data1: int, data2: int) -> None:
    """Play one channel message on the engine (all channels; unknown messages are ignored)."""
    kind = status & 0xF0
    if kind == NOTE_ON:
        engine.note_on(data1, data2) if data2 else engine.note_off(data1)
    elif kind == NOTE_OFF:
        engine.note_off(data1)
    elif kind == CONTROL:
        engine.control_change(data1, data2)
    elif kind == PITCH_BEND:
        engine.pitch_bend(((data2 << 7 | data1) - 8192) / 8192.0)


class MidiInput:
    """Live MIDI into `engine`: our input port plus connections to other ports.

    api: "alsa", "jack" or "auto" (ALSA, else JACK); ports: names (substrings) of the ports
    to connect (hardware or not), or None for every hardware input (`is_hardware`); virtual:
    whether other programs may connect to our port (ALSA; a JACK port always can); report:
    called with a sentence whenever a port is connected, lost or fails; listener: called
    with (status, data1, data2) for every channel message after the engine has it (from the
    MIDI thread: a window marshals it to its own thread), for MIDI learn and activity
    displays. Call `close` to stop.
    """

    WATCH_SECONDS = 1.0

    def __init__(self, engine: Engine, api: str = "auto", ports: list[str] | None = None,
                 virtual: bool = True, report: Callable[[str], None] = print,
                 listener: Callable[[int, int, int], None] | None = None) -> None:
        self.engine = engine
        self.listener = listener
        self.wanted = ports
        self.report = report
        self._system = _open_system(api, self._new_receiver, virtual)
        self.api_name = self._system.name
        self._connected: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.scan()
        self._watcher = threading.Thread(target=self._watch, name="midi-watch", daemon=True)
        self._watcher.start()

    def _new_receiver(self) -> Callable[[bytes], None]:
        """A function that plays raw MIDI bytes from one source (with its own parser)."""
        parser = MidiParser()

        def received(data) -> None:
            for status, data1, data2 in parser.feed(data):
                try:
                    dispatch(self.engine, status, data1, data2)
                except Exception as error:  # nothing may stop the MIDI thread
                    self.report(f"MIDI message {status:02X} {data1:02X} {data2:02X} could not "
                                f"be played ({error!r})")
                if self.listener is not None:
                    try:
                        self.listener(status, data1, data2)
                    except Exception as error:  # a listener's bug must not stop the MIDI
                        self.listener = None
                        self.report(f"MIDI listener failed and was removed ({error!r})")

        return received

    @property
    def port_name(self) -> str:
        """Our input port as other clients see it."""
        return self._system.port_name

    def available(self) -> list[str]:
        """Ports that could be connected (not ours, not loop-backs)."""
        return self._system.sources()

    def scan(self) -> None:
        """Connect to new matching ports; report and drop ports that disappeared."""
        try:
            names = self.available()
        except MidiSystemError as error:
            self.report(f"MIDI: {error}")
            return
        with self._lock:
            for name in sorted(self._connected - set(names)):
                self._connected.discard(name)
                self._system.disconnect(name)
                self.report(f"MIDI port {name!r} disappeared")
            for name in names:
                if name in self._connected or not self._wants(name):
                    continue
                try:
                    self._system.connect(name)
                except MidiSystemError as error:
                    self.report(f"MIDI port {name!r} could not be opened ({error})")
                    continue
                self._connected.add(name)
                self.report(f"MIDI port {name!r} connected")

    def _wants(self, name: str) -> bool:
        if self.wanted is None:
            return is_hardware(name, self.api_name)
        return any(w.lower() in name.lower() for w in self.wanted)

    def _watch(self) -> None:
        while not self._stop.wait(self.WATCH_SECONDS):
            self.scan()

    @property
    def connected(self) -> list[str]:
        with self._lock:
            return sorted(self._connected)

    def close(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=2 * self.WATCH_SECONDS)
        with self._lock:
            self._connected.clear()
            self._system.close()


def _open_system(api: str, new_receiver, virtual: bool):
    """The first MIDI system of `api` ("auto": ALSA, else JACK) that opens."""
    if api not in ("auto", *SYSTEMS):
        raise ValueError(f"MIDI API must be 'auto', 'alsa' or 'jack', got {api!r}")
    errors = []
    for name in ("alsa", "jack") if api == "auto" else (api,):
        try:
            return SYSTEMS[name](new_receiver, virtual)
        except MidiSystemError as error:
            errors.append(str(error))
    raise RuntimeError("no MIDI API works here (" + "; ".join(errors) + "); start a JACK "
                       "server or load the ALSA sequencer (snd-seq)")

"""MIDI input: a robust byte parser and live ports through python-rtmidi.

`MidiParser` turns any byte stream into channel messages: it keeps running status, drops
real-time bytes wherever they fall (even inside another message), skips SysEx and system
common messages, and discards data bytes that belong to nothing. `dispatch` sends a channel
message to the engine. `MidiInput` opens a virtual input port on the first API that works
(ALSA, else JACK, so it also runs where only a JACK server exists), connects to the hardware
inputs, and keeps watching: a port that disappears is reported, a new one is connected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import rtmidi

from synth.engine.engine import Engine

NOTE_OFF, NOTE_ON, POLY_PRESSURE, CONTROL, PROGRAM, CHANNEL_PRESSURE, PITCH_BEND = \
    0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0
SYSEX, SYSEX_END = 0xF0, 0xF7
_DATA_LENGTH = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_SYSTEM_COMMON_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}
APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}
CLIENT_NAME = "neural-strings"


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
    """Live MIDI into `engine`: a virtual port plus connections to input ports.

    api: "alsa", "jack" or "auto" (ALSA, else JACK); ports: names (substrings) of the ports
    to connect (hardware or not), or None for every hardware input (`is_hardware`); report:
    called with a sentence whenever a port is connected, lost or fails; listener: called with
    (status, data1, data2) for every channel message after the engine has it (from the MIDI
    thread: a window marshals it to its own thread), for MIDI learn and activity displays.
    Call `close` to stop.
    """

    WATCH_SECONDS = 1.0

    def __init__(self, engine: Engine, api: str = "auto", ports: list[str] | None = None,
                 virtual: bool = True, report: Callable[[str], None] = print,
                 listener: Callable[[int, int, int], None] | None = None) -> None:
        self.engine = engine
        self.listener = listener
        self.wanted = ports
        self.report = report
        self.api_name, self._api = self._choose_api(api)
        self._inputs: dict[str, rtmidi.MidiIn] = {}
        self._virtual = None
        # One client for listing ports, kept for the whole run: opening a client takes the
        # GIL for milliseconds, which would stall rtmidi's MIDI thread (it calls into Python
        # to deliver each message) and lose messages.
        self._probe = rtmidi.MidiIn(self._api, name=CLIENT_NAME + "-probe")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if virtual:
            self._virtual = self._new_input()
            self._virtual.open_virtual_port("midi_in")
        self.scan()
        self._watcher = threading.Thread(target=self._watch, name="midi-watch", daemon=True)
        self._watcher.start()

    @staticmethod
    def _choose_api(api: str) -> tuple[str, int]:
        order = ["alsa", "jack"] if api == "auto" else [api]
        errors = []
        for name in order:
            if name not in APIS:
                raise ValueError(f"MIDI API must be 'auto', 'alsa' or 'jack', got {api!r}")
            if APIS[name] not in rtmidi.get_compiled_api():
                errors.append(f"{name}: not compiled into python-rtmidi")
                continue
            try:
                rtmidi.MidiIn(APIS[name], name=CLIENT_NAME).delete()
                return name, APIS[name]
            except rtmidi.RtMidiError as error:
                errors.append(f"{name}: {error}")
        raise RuntimeError("no MIDI API works here (" + "; ".join(errors) + "); start a JACK "
                           "server or load the ALSA sequencer (snd-seq)")

    def _new_input(self) -> rtmidi.MidiIn:
        midi_in = rtmidi.MidiIn(self._api, name=CLIENT_NAME)
        parser = MidiParser()

        def received(event, _data=None):
            for status, data1, data2 in parser.feed(event[0]):
                dispatch(self.engine, status, data1, data2)
                if self.listener is not None:
                    try:
                        self.listener(status, data1, data2)
                    except Exception as error:  # a listener's bug must not stop the MIDI
                        self.listener = None
                        self.report(f"MIDI listener failed and was removed ({error!r})")

        midi_in.set_callback(received)
        return midi_in

    @property
    def port_name(self) -> str:
        """Our virtual input port as other clients see it."""
        return f"{CLIENT_NAME}:midi_in"

    def available(self) -> list[str]:
        """Input ports that could be connected (not ours, not loop-backs)."""
        names = self._probe.get_ports()
        return [n for n in names if CLIENT_NAME not in n and "Through" not in n]

    def scan(self) -> None:
        """Connect to new matching ports; report and drop ports that disappeared."""
        try:
            names = self.available()
        except rtmidi.RtMidiError as error:
            self.report(f"MIDI: cannot list ports ({error})")
            return
        with self._lock:
            for name in list(self._inputs):
                if name not in names:
                    self._inputs.pop(name).delete()
                    self.report(f"MIDI port {name!r} disappeared")
            for index, name in enumerate(names):
                if name in self._inputs or not self._wants(name):
                    continue
                try:
                    midi_in = self._new_input()
                    midi_in.open_port(index)
                except rtmidi.RtMidiError as error:
                    self.report(f"MIDI port {name!r} could not be opened ({error})")
                    continue
                self._inputs[name] = midi_in
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
            return list(self._inputs)

    def close(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=2 * self.WATCH_SECONDS)
        with self._lock:
            for midi_in in self._inputs.values():
                midi_in.delete()
            self._inputs.clear()
        if self._virtual is not None:
            self._virtual.delete()
            self._virtual = None
        self._probe.delete()


def is_hardware(name: str, api: str) -> bool:
    """Whether an rtmidi port name is a device rather than another program. Programs that
    send to us connect to our virtual port themselves; connecting to them too would double
    every message. ALSA names end in "client:port", kernel (device) clients being < 128;
    JACK's physical MIDI ports live on "system" (or the "a2j" bridge)."""
    if api == "alsa":
        tail = name.rsplit(" ", 1)[-1]
        client = tail.split(":", 1)[0]
        return client.isdigit() and int(client) < 128
    return name.startswith(("system:", "a2j:"))


def input_ports() -> dict[str, list[str] | str]:
    """For `devices`: the MIDI input ports each API sees, or why it cannot."""
    listing: dict[str, list[str] | str] = {}
    for name, api in APIS.items():
        if api not in rtmidi.get_compiled_api():
            listing[name] = "not compiled into python-rtmidi"
            continue
        try:
            probe = rtmidi.MidiIn(api, name=CLIENT_NAME + "-probe")
            listing[name] = probe.get_ports()
            probe.delete()
        except rtmidi.RtMidiError as error:
            listing[name] = f"unavailable ({error})"
    return listing

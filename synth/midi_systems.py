"""The operating system's MIDI: where `synth.midi.MidiInput` gets its bytes.

Two systems, one small interface (`sources`, `connect`, `port_name`, `close`):

- **ALSA** through python-rtmidi: one rtmidi input per connected port, each with its own
  receiver (its own parser), SysEx received rather than ignored so that rtmidi never holds
  bytes back on the parser's behalf.
- **JACK** through JACK-Client: one client with one MIDI input port that every source is
  connected to. rtmidi's JACK input is not used: it treats everything after an unterminated
  SysEx (F0 without F7) as continuation and drops it until some event ends in F7, which left
  the instrument deaf. Here every JACK event's bytes go to the parser, which resynchronises
  on the next status byte.

Each system calls `receive(data)` with raw MIDI bytes from its own thread (rtmidi's MIDI
thread, or the JACK client's process thread, as rtmidi's JACK input did).
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import rtmidi

CLIENT_NAME = "neural-strings"
PORT = "midi_in"
Receiver = Callable[[bytes], None]


class MidiSystemError(RuntimeError):
    """A MIDI system cannot be opened, or a port cannot be connected."""


def is_hardware(name: str, api: str) -> bool:
    """Whether a port name is a device rather than another program. Programs that send to
    us connect to our port themselves; connecting to them too would double every message.
    ALSA names end in "client:port", kernel (device) clients being < 128; JACK's physical
    MIDI ports live on "system" (or the "a2j" bridge)."""
    if api == "alsa":
        tail = name.rsplit(" ", 1)[-1]
        client = tail.split(":", 1)[0]
        return client.isdigit() and int(client) < 128
    return name.startswith(("system:", "a2j:"))


class AlsaMidi:
    """ALSA sequencer input through python-rtmidi."""

    name = "alsa"

    def __init__(self, new_receiver: Callable[[], Receiver], virtual: bool) -> None:
        self._new_receiver = new_receiver
        if rtmidi.API_LINUX_ALSA not in rtmidi.get_compiled_api():
            raise MidiSystemError("alsa: not compiled into python-rtmidi")
        try:
            # One client for listing ports, kept for the whole run: opening a client takes
            # the GIL for milliseconds, which would stall the MIDI threads of the others.
            self._probe = rtmidi.MidiIn(rtmidi.API_LINUX_ALSA, name=CLIENT_NAME + "-probe")
        except rtmidi.RtMidiError as error:
            raise MidiSystemError(f"alsa: {error}") from None
        self._inputs: dict[str, rtmidi.MidiIn] = {}
        self._virtual = None
        if virtual:
            try:
                self._virtual = self._new_input()
                self._virtual.open_virtual_port(PORT)
            except rtmidi.RtMidiError as error:
                self.close()
                raise MidiSystemError(f"alsa: cannot open our port ({error})") from None

    @property
    def port_name(self) -> str:
        return f"{CLIENT_NAME}:{PORT}"

    def _new_input(self) -> rtmidi.MidiIn:
        midi_in = rtmidi.MidiIn(rtmidi.API_LINUX_ALSA, name=CLIENT_NAME)
        midi_in.ignore_types(sysex=False)  # the parser drops SysEx itself
        receive = self._new_receiver()
        midi_in.set_callback(lambda event, _data=None: receive(event[0]))
        return midi_in

    def sources(self) -> list[str]:
        try:
            names = self._probe.get_ports()
        except rtmidi.RtMidiError as error:
            raise MidiSystemError(f"cannot list ports ({error})") from None
        return [n for n in names if CLIENT_NAME not in n and "Through" not in n]

    def connect(self, name: str) -> None:
        midi_in = None
        try:
            midi_in = self._new_input()
            midi_in.open_port(self._probe.get_ports().index(name))  # rtmidi's own numbering
        except (rtmidi.RtMidiError, ValueError) as error:
            if midi_in is not None:
                midi_in.delete()
            raise MidiSystemError(str(error)) from None
        self._inputs[name] = midi_in

    def disconnect(self, name: str) -> None:
        midi_in = self._inputs.pop(name, None)
        if midi_in is not None:
            midi_in.delete()

    def close(self) -> None:
        for name in list(self._inputs):
            self.disconnect(name)
        if self._virtual is not None:
            self._virtual.delete()
            self._virtual = None
        self._probe.delete()


class JackMidi:
    """JACK MIDI input through JACK-Client: one port, sources connected to it."""

    name = "jack"

    def __init__(self, new_receiver: Callable[[], Receiver], virtual: bool) -> None:
        jack = _jack()
        try:
            self._client = jack.Client(CLIENT_NAME, no_start_server=True)
        except jack.JackError as error:
            raise MidiSystemError(f"jack: no JACK server ({error})") from None
        try:
            self._port = self._client.midi_inports.register(PORT)
            receive, port = new_receiver(), self._port

            def process(frames: int) -> None:
                # JACK-Client stops calling a callback that raised once: nothing may escape
                for _offset, data in port.incoming_midi_events():
                    try:
                        receive(bytes(data))
                    except Exception:  # the receiver reports its own faults; skip this one
                        continue

            self._client.set_process_callback(process)
            self._client.activate()
        except jack.JackError as error:
            self._client.close()
            raise MidiSystemError(f"jack: cannot open our port ({error})") from None

    @property
    def port_name(self) -> str:
        return self._port.name

    def sources(self) -> list[str]:
        ours = self._client.name + ":"
        return [p.name for p in self._client.get_ports(is_midi=True, is_output=True)
                if not p.name.startswith(ours)]

    def connect(self, name: str) -> None:
        jack = _jack()
        try:
            self._client.connect(name, self._port)
        except jack.JackErrorCode as error:
            if error.code != errno.EEXIST:  # connected already (by hand, or a patchbay)
                raise MidiSystemError(str(error)) from None
        except jack.JackError as error:
            raise MidiSystemError(str(error)) from None

    def disconnect(self, name: str) -> None:
        try:
            self._client.disconnect(name, self._port)
        except _jack().JackError:
            pass  # the port is gone, and its connection with it

    def close(self) -> None:
        self._client.deactivate()
        self._client.close()


def _jack():
    """The JACK-Client module; MidiSystemError where libjack cannot be loaded."""
    try:
        import jack
    except OSError as error:
        raise MidiSystemError(f"jack: the JACK library cannot be loaded ({error})") from None
    return jack


SYSTEMS = {"alsa": AlsaMidi, "jack": JackMidi}


def input_ports() -> dict[str, list[str] | str]:
    """For `devices`: the MIDI sources each system sees, or why it cannot."""
    listing: dict[str, list[str] | str] = {}
    for name, system in SYSTEMS.items():
        try:
            opened = system(lambda: (lambda data: None), virtual=False)
        except MidiSystemError as error:
            listing[name] = f"unavailable ({error})"
            continue
        try:
            listing[name] = opened.sources()
        except MidiSystemError as error:
            listing[name] = f"unavailable ({error})"
        finally:
            opened.close()
    return listing

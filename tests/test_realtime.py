"""End to end on real ports: `neural-strings play` on a JACK dummy server, played from a
second MIDI client and recorded through JACK by jack_rec (no mocks anywhere on the path)."""

import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time

import jack
import numpy as np
import pytest
import soundfile
from conftest import JACK_RATE, die_with_parent, start_jack_server, stop_jack_server
from engine_helpers import cents, fundamental, note_hz, rms, robust_fundamental

rtmidi = pytest.importorskip("rtmidi")


@contextlib.contextmanager
def started_rig(preset: str, directory, jack_server):
    """`play --preset PRESET` running and a MIDI sender connected to it, as a context."""
    engine = subprocess.Popen(
        [sys.executable, "-m", "synth", "play", "--preset", preset, "--midi-api",
         "jack", "--block", "128", "--polyphony", "8", "--status-every", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(directory / "config")},
        preexec_fn=die_with_parent)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(engine.stdout.readline, "")),
                     daemon=True).start()
    deadline = time.monotonic() + 120
    while not any("playing" in line for line in lines):
        if engine.poll() is not None or time.monotonic() > deadline:
            engine.kill()
            pytest.fail("the engine did not start:\n" + "".join(lines))
        time.sleep(0.1)
    probe = jack.Client("ns-probe", no_start_server=True, servername=jack_server)
    outputs = [p.name for p in probe.get_ports(is_audio=True, is_output=True)
               if not p.name.startswith("system:")]
    probe.close()
    assert outputs, "the engine registered no JACK audio output"
    sender = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="ns-sender")
    ports = sender.get_ports()
    target = [i for i, name in enumerate(ports) if "neural-strings:midi_in" in name]
    assert target, f"no neural-strings MIDI port among {ports}"
    sender.open_port(target[0])
    try:
        yield {"engine": engine, "lines": lines, "midi": sender, "output": outputs[0],
               "directory": directory}
    finally:
        sender.delete()
        engine.terminate()
        engine.wait(timeout=20)


@pytest.fixture(scope="module")
def rig(jack_server, tmp_path_factory):
    """The engine (a `play` subprocess) on the default preset and a MIDI sender."""
    with started_rig("nylon-guitar", tmp_path_factory.mktemp("takes"), jack_server) as started:
        yield started


def take(rig, script, seconds):
    """Record the engine's output with jack_rec (a C client: no Python in the JACK cycle)
    while sending `script`, a list of (delay s, MIDI bytes) whose first message is a
    note-on. Returns the recording and the sample of each message, aligned on the first
    note's onset in the audio."""
    path = rig["directory"] / f"take-{time.monotonic_ns()}.wav"
    recorder = subprocess.Popen(["jack_rec", "-f", str(path), "-d", str(math.ceil(seconds)),
                                 "-b", "32", rig["output"]], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    time.sleep(0.5)  # connected and recording
    sent, start = [], time.perf_counter()
    for delay, message in script:
        time.sleep(delay)
        sent.append(time.perf_counter() - start)
        rig["midi"].send_message(message)
    recorder.wait(timeout=seconds + 30)
    audio, fs = soundfile.read(path, dtype="float64")
    assert fs == JACK_RATE
    audio = audio[:, 0] if audio.ndim == 2 else audio
    peak = np.abs(audio).max()
    assert peak > 1e-3, "nothing was recorded"
    onset = int(np.flatnonzero(np.abs(audio) > 0.1 * peak)[0])  # not a previous note's tail
    return audio, [onset + round((t - sent[0]) * fs) for t in sent]


def span(audio, mark, start, stop):
    """Samples from `start` to `stop` seconds after sample `mark`."""
    return audio[mark + int(start * JACK_RATE):mark + int(stop * JACK_RATE)]


def assert_at_pitch(audio, mark, note, start, stop):
    """The take is finite and sounds `note` from `start` to `stop` s after `mark`."""
    assert np.isfinite(audio).all()
    x = span(audio, mark, start, stop)
    assert abs(cents(robust_fundamental(x, JACK_RATE, note_hz(note)), note_hz(note))) < 5.0


def assert_clean_status(rig):
    """The engine's last status line: no voice was ever reset, no sample non-finite."""
    time.sleep(1.2)  # let a status line report the whole take
    status = [line for line in rig["lines"] if line.startswith("voices")]
    assert status and "resets 0" in status[-1] and "non-finite 0" in status[-1]


def test_a_soft_note_sounds_at_its_pitch(rig):
    audio, (on, _) = take(rig, [(0.0, [0x90, 55, 25]), (1.4, [0x80, 55, 0])], 2.5)
    x = span(audio, on, 0.25, 1.25)
    assert abs(cents(robust_fundamental(x, JACK_RATE, note_hz(55)), note_hz(55))) < 3.0


def test_a_hard_note_starts_sharp_and_glides_down(rig):
    """As a real classical guitar's: the hardest pluck holds the string 4 mm deflected, which
    bends its pitch about 6 cents at first (FluidR3's nylon G3 glides 3 to 6)."""
    audio, (on, _) = take(rig, [(0.0, [0x90, 55, 127]), (1.7, [0x80, 55, 0])], 2.5)
    f_early = fundamental(span(audio, on, 0.01, 0.11), JACK_RATE, note_hz(55), width=0.1)
    f_late = robust_fundamental(span(audio, on, 0.8, 1.6), JACK_RATE, note_hz(55), width=0.1)
    assert cents(f_early, note_hz(55)) - cents(f_late, note_hz(55)) > 3.0
    assert abs(cents(f_late, note_hz(55))) < 10.0


def test_note_off_decays(rig):
    audio, (_, off) = take(rig, [(0.0, [0x90, 59, 90]), (0.6, [0x80, 59, 0])], 2.0)
    before = span(audio, off, -0.15, -0.05)
    assert rms(span(audio, off, 0.5, 0.6)) < 10 ** (-40 / 20) * rms(before)


def test_sustain_holds_until_the_pedal_lifts(rig):
    script = [(0.0, [0x90, 59, 90]), (0.0, [0xB0, 64, 127]), (0.6, [0x80, 59, 0]),
              (0.8, [0xB0, 64, 0])]
    audio, (_, _, off, up) = take(rig, script, 2.6)
    before = span(audio, off, -0.15, -0.05)
    held = span(audio, off, 0.5, 0.6)
    assert rms(held) > 10 ** (-12 / 20) * rms(before)  # only the string's own decay
    assert rms(span(audio, up, 0.5, 0.6)) < 10 ** (-40 / 20) * rms(held)


def test_pitch_bend_moves_the_pitch(rig):
    script = [(0.0, [0x90, 52, 30]), (0.1, [0xE0, 0x7F, 0x7F]), (1.5, [0xE0, 0x00, 0x40]),
              (0.0, [0x80, 52, 0])]
    audio, (_, bend, _, _) = take(rig, script, 2.5)
    f = robust_fundamental(span(audio, bend, 0.3, 1.3), JACK_RATE, note_hz(54))
    assert cents(f, note_hz(52)) == pytest.approx(200.0, abs=3.0)


class JackSender:
    """A MIDI keyboard made with JACK-Client (not rtmidi, the library the engine's ALSA
    input uses): sends each message, bytes as given, in its next JACK cycle."""

    def __init__(self, server: str, destination: str) -> None:
        self.client = jack.Client("ns-jack-keyboard", no_start_server=True, servername=server)
        self.port = self.client.midi_outports.register("out")
        self.waiting: list[bytes] = []
        self.lock = threading.Lock()

        @self.client.set_process_callback
        def process(frames):
            self.port.clear_buffer()
            with self.lock:  # at most 64 events a cycle: a JACK MIDI buffer is small
                for offset, message in enumerate(self.waiting[:64]):
                    self.port.write_midi_event(offset, message)
                del self.waiting[:64]

        self.client.activate()
        self.client.connect(self.port, destination)

    def send_message(self, message) -> None:
        with self.lock:
            self.waiting.append(bytes(message))

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def test_an_unterminated_sysex_does_not_make_play_deaf(rig, jack_server):
    """A keyboard sends a note, then SysEx without its F7, then all sound off, then another
    note: the first note stops and the second one sounds (it used to ring on, deaf)."""
    keyboard = JackSender(jack_server, "neural-strings:midi_in")
    try:
        script = [(0.0, [0x90, 60, 127]), (0.6, [0xF0, 0x7E, 0x7F]), (0.05, [0xB0, 120, 0]),
                  (0.6, [0x90, 67, 60]), (1.0, [0xB0, 123, 0])]
        audio, (on, _, off, again, _) = take({**rig, "midi": keyboard}, script, 2.8)
    finally:
        keyboard.close()
    assert rms(span(audio, off, 0.1, 0.5)) < 1e-3 * rms(span(audio, on, 0.1, 0.5))
    assert rms(span(audio, again, 0.2, 0.95)) > 0.1 * rms(span(audio, on, 0.1, 0.5))
    assert_at_pitch(audio, again, 67, 0.2, 0.95)


def test_random_bytes_from_a_jack_keyboard_never_stop_play(rig, jack_server):
    """3,000 events of random bytes (broken SysEx, stray data, every status), then a note:
    it sounds, at its pitch, and nothing was ever non-finite."""
    rng = np.random.default_rng(15)
    keyboard = JackSender(jack_server, "neural-strings:midi_in")
    try:
        for _ in range(3000):
            keyboard.send_message(rng.integers(0, 256, rng.integers(1, 9)).astype(np.uint8))
        time.sleep(1.5)
        reset = [(0.0, [0xB0, 121, 0]), (0.0, [0xB0, 123, 0]), (0.0, [0xB0, 120, 0]),
                 (0.0, [0xE0, 0, 64]), (0.0, [0xB0, 1, 32]), (0.0, [0xB0, 74, 64])]
        for _, message in reset:
            keyboard.send_message(message)
        time.sleep(2.0)  # the flood's notes die away
        audio, (on, _) = take({**rig, "midi": keyboard},
                              [(0.0, [0x90, 57, 50]), (1.2, [0x80, 57, 0])], 2.0)
    finally:
        keyboard.close()
    assert_at_pitch(audio, on, 57, 0.25, 1.0)
    assert_clean_status(rig)


def test_nothing_is_ever_non_finite(rig):
    script = [(0.05, [0x90, n, 127]) for n in (40, 47, 52, 55, 59, 64, 67, 71, 76, 79)]
    audio, _ = take(rig, [*script, (0.3, [0xB0, 123, 0])], 2.0)
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert_clean_status(rig)


@pytest.mark.parametrize("preset", ["stretch-128", "koopman-40", "ssm-40", "modal-string"])
def test_the_learned_string_plays_from_midi_at_its_pitch(preset, jack_server, tmp_path):
    """The shipped learned presets (sav-gradnet, koopman, ssm) and the example plugin's
    (learned-modal, examples/kind-plugin) through the same real-time path."""
    with started_rig(preset, tmp_path, jack_server) as learned:
        audio, (on, _) = take(learned, [(0.0, [0x90, 45, 40]), (1.4, [0x80, 45, 0])], 2.5)
        assert_at_pitch(audio, on, 45, 0.25, 1.25)
        assert_clean_status(learned)
    remembered = json.loads((tmp_path / "config" / "neural-strings" / "settings.json")
                            .read_text())["preset"]  # what bare `neural-strings` opens next
    assert remembered.endswith(f"{preset}.safetensors")


def test_a_preset_fitted_to_a_recording_plays_from_midi(jack_server, tmp_path,
                                                       fitted_by_command):
    """The preset `neural-strings fit` made of a recorded note (its body refined by
    gradient and its string's nonlinearity learned, so a sav-gradnet) through `play` on
    JACK: the recorded key (B3) and one it was not fitted on sound at their pitch."""
    _, fitted = fitted_by_command
    with started_rig(str(fitted), tmp_path, jack_server) as rig:
        for note in (59, 64):
            audio, (on, _) = take(rig, [(0.0, [0x90, note, 90]), (1.4, [0x80, note, 0])], 2.5)
            assert_at_pitch(audio, on, note, 0.25, 1.25)
        assert_clean_status(rig)


def test_a_midi_port_that_disappears_is_reported_not_fatal(jack_server):
    from synth.engine import Engine
    from synth.midi import MidiInput

    engine = Engine("nylon-guitar", polyphony=2)
    reports: list[str] = []
    keyboard = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="ns-keyboard")
    keyboard.open_virtual_port("out")
    midi = MidiInput(engine, api="jack", ports=["ns-keyboard"], virtual=False,
                     report=reports.append)
    try:
        assert any("connected" in r and "ns-keyboard" in r for r in reports)
        keyboard.send_message([0x90, 60, 100])
        deadline = time.monotonic() + 2
        while engine.queue.pending() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.queue.pending() == 1
        keyboard.delete()  # the "keyboard" is unplugged
        deadline = time.monotonic() + 5
        while not any("disappeared" in r for r in reports) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("disappeared" in r and "ns-keyboard" in r for r in reports)
        assert midi.connected == []
        engine.note_on(62, 90)  # everything else goes on
        assert np.isfinite(engine.process(256)).all()
    finally:
        midi.close()


def test_play_reports_a_sound_server_that_dies_and_exits():
    """The JACK server under `play` stops: a clear message and an exit, not a hang."""
    server = start_jack_server("ns-lost")
    environment = {**os.environ, "JACK_DEFAULT_SERVER": "ns-lost", "JACK_NO_START_SERVER": "1"}
    engine = subprocess.Popen(
        [sys.executable, "-m", "synth", "play", "--midi-api", "jack", "--polyphony", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
        preexec_fn=die_with_parent)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(engine.stdout.readline, "")),
                     daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not any("playing" in line for line in lines):
            assert engine.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        time.sleep(1.0)
        stop_jack_server(server)
        code = engine.wait(timeout=30)
    finally:
        if engine.poll() is None:
            engine.kill()
        stop_jack_server(server)
    time.sleep(0.2)
    output = "".join(lines)
    assert code == 2, output
    assert "error: the audio device 'system'" in output, output
    assert "stopped" in output, output


def test_a_listener_sees_every_channel_message_after_the_engine(jack_server):
    from synth.engine import Engine
    from synth.midi import MidiInput

    engine = Engine("nylon-guitar", polyphony=2)
    heard: list[tuple[int, int, int]] = []
    reports: list[str] = []
    knob = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="ns-knob")
    knob.open_virtual_port("out")
    midi = MidiInput(engine, api="jack", ports=["ns-knob"], virtual=False,
                     report=reports.append, listener=lambda *m: heard.append(m))
    try:
        for message in ([0xB0, 21, 64], [0xF8], [0x91, 60, 100]):  # clock bytes are ignored
            knob.send_message(message)
        deadline = time.monotonic() + 2
        while len(heard) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert heard == [(0xB0, 21, 64), (0x91, 60, 100)]
        assert engine.queue.pending() == 2  # the engine got them too

        def broken(*message):
            raise ValueError("listener bug")

        midi.listener = broken
        knob.send_message([0xB0, 21, 65])
        deadline = time.monotonic() + 2
        while not reports[1:] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert any("listener failed" in r for r in reports) and midi.listener is None
        assert engine.queue.pending() == 3  # and MIDI still plays
    finally:
        midi.close()
        knob.delete()


@pytest.mark.skipif(not os.path.exists("/dev/snd/seq"),
                    reason="no ALSA sequencer on this machine (/dev/snd/seq: the kernel's "
                           "snd-seq module, which a test cannot load)")
def test_an_unterminated_sysex_does_not_make_the_alsa_input_deaf():
    from synth.engine import Engine
    from synth.midi import MidiInput

    engine = Engine("nylon-guitar", polyphony=2)
    heard: list[tuple[int, int, int]] = []
    keyboard = rtmidi.MidiOut(rtmidi.API_LINUX_ALSA, name="ns-alsa-keyboard")
    keyboard.open_virtual_port("out")
    midi = MidiInput(engine, api="alsa", ports=["ns-alsa-keyboard"], virtual=False,
                     report=lambda text: None, listener=lambda *m: heard.append(m))
    try:
        for message in ([0x90, 60, 127], [0xF0, 0x7E, 0x7F], [0xB0, 120, 0], [0x90, 67, 60]):
            keyboard.send_message(message)
        deadline = time.monotonic() + 2
        while len(heard) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert heard == [(0x90, 60, 127), (0xB0, 120, 0), (0x90, 67, 60)]
    finally:
        midi.close()
        keyboard.delete()


def test_a_source_already_connected_by_hand_counts_as_connected(jack_server):
    from synth.engine import Engine
    from synth.midi import MidiInput

    engine = Engine("nylon-guitar", polyphony=2)
    reports: list[str] = []
    midi = MidiInput(engine, api="jack", ports=["nothing yet"], virtual=False,
                     report=reports.append)
    patched = JackSender(jack_server, midi.port_name)  # a patchbay connected it already
    try:
        midi.wanted = ["ns-jack-keyboard"]
        midi.scan()
        assert reports == ["MIDI port 'ns-jack-keyboard:out' connected"]
        patched.send_message([0x90, 60, 100])
        deadline = time.monotonic() + 10  # a loaded machine's JACK cycles can lag
        while engine.queue.pending() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.queue.pending() == 1  # once: one connection, not two
    finally:
        patched.close()
        midi.close()

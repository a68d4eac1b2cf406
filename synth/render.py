"""Offline rendering: MIDI files (or a built-in phrase) to audio with the real-time engine.

Events are scheduled at their exact sample and the engine runs block by block through the
very `process_block` the audio callback uses, so a render is what real time would play, and
the same input always gives the same samples. A render to a file streams: blocks go to the
file as they come, so a piece of any length renders in the same memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import mido
import numpy as np

from synth.audiofile import wav_writer
from synth.engine import events
from synth.engine.engine import Engine
from synth.engine.schedule import SCHEDULE_SIZE
from synth.engine.state import SCHEDULED
from synth.errors import ParameterError, one_line
from synth.progress import Progress

LOOKAHEAD_BLOCKS = 8  # events are queued this far ahead of the block being rendered


@dataclass(frozen=True, order=True)
class Event:
    """An engine event at `sample` (see `synth.engine.events` for kinds and a, b)."""

    sample: int
    kind: int
    a: int = 0
    b: int = 0


def midi_file_events(path: str | os.PathLike, fs: float) -> list[Event]:
    """The channel events of a MIDI file (all tracks and channels) at their samples. A type 2
    file's tracks (independent sequences) play one after another. Any fault in the file is
    a ParameterError of one line that names the file."""
    try:
        midi = mido.MidiFile(path)
        if midi.type == 2:  # merging would be wrong: one sequence after another
            sequences = [mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat,
                                       tracks=[track]) for track in midi.tracks]
        else:
            sequences = [midi]
        found, seconds = [], 0.0
        for sequence in sequences:
            for message in sequence:  # merged tracks, delta times in seconds (tempo applied)
                seconds += message.time
                _collect(found, message, round(seconds * fs))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise ParameterError(f"{path}: cannot open ({error.strerror})") from None
    except Exception as error:  # anything the parser meets in a broken file
        reason = str(error) or type(error).__name__
        raise ParameterError(one_line(f"{path}: not a readable MIDI file ({reason})")) \
            from None
    return found


def _collect(found: list[Event], message: mido.Message, sample: int) -> None:
    """Append the engine event of a MIDI message at `sample` (others are ignored)."""
    if message.type == "note_on":
        kind = events.NOTE_ON if message.velocity > 0 else events.NOTE_OFF
        found.append(Event(sample, kind, message.note, message.velocity))
    elif message.type == "note_off":
        found.append(Event(sample, events.NOTE_OFF, message.note))
    elif message.type == "control_change":
        found.append(Event(sample, events.CONTROL, message.control, message.value))
    elif message.type == "pitchwheel":
        found.append(Event(sample, events.PITCH_BEND, message.pitch + 8192))


def notes_in(timeline: list[Event]) -> int:
    """How many notes a timeline starts."""
    return sum(1 for event in timeline if event.kind == events.NOTE_ON and event.b > 0)


def demo_events(fs: float) -> list[Event]:
    """A short phrase that shows the instrument: an arpeggio, a soft note and a hard one
    (the hard one starts sharp and glides), a chord held by the sustain pedal, a bend and a
    sweep of the modulation wheel (nonlinearity)."""
    phrase: list[tuple[float, int, int, int]] = []

    def note(start, length, pitch, velocity):
        phrase.append((start, events.NOTE_ON, pitch, velocity))
        phrase.append((start + length, events.NOTE_OFF, pitch, 0))

    for i, pitch in enumerate((48, 55, 60, 64, 67, 72)):
        note(0.25 * i, 0.4, pitch, 70 + 5 * i)
    note(2.0, 1.2, 43, 40)
    note(3.4, 1.8, 43, 127)
    phrase.append((5.5, events.CONTROL, 64, 127))
    for pitch in (52, 59, 64, 68):
        note(5.6, 0.3, pitch, 90)
    phrase.append((7.5, events.CONTROL, 64, 0))
    note(8.0, 2.0, 57, 110)
    for step in range(21):  # bend up a whole tone and back
        phrase.append((8.4 + 0.05 * step, events.PITCH_BEND, 8192 + round(8191 * step / 20), 0))
    phrase.append((9.5, events.PITCH_BEND, 8192, 0))
    note(10.5, 2.5, 50, 115)
    for step in range(26):  # mod wheel: more nonlinearity while the note rings
        phrase.append((10.6 + 0.06 * step, events.CONTROL, 1, round(127 * step / 25)))
    phrase.append((13.2, events.CONTROL, 1, 32))
    return [Event(round(t * fs), kind, a, b) for t, kind, a, b in phrase]


def render_blocks(engine: Engine, timeline: list[Event], frames: int,
                  block: int = 128) -> Iterator[np.ndarray]:
    """Play `timeline` (samples counted from the engine's current clock) for `frames`
    samples, `block` at a time; yields each block, (block, channels) float32, as it is
    rendered, so memory does not grow with the length of the piece. Events are queued
    LOOKAHEAD_BLOCKS ahead, in the timeline's order at equal samples; when more than the
    ring and the schedule hold fall that close together, the rest wait for the next block
    (and act at its start) rather than being dropped."""
    if not 1 <= block <= engine.max_block:
        raise ParameterError(f"block must be from 1 to {engine.max_block}, got {block}")
    start = engine.clock
    pending = sorted(timeline, key=lambda event: event.sample)  # stable: the file's order
    next_event = 0
    for first in range(0, frames, block):
        horizon = first + LOOKAHEAD_BLOCKS * block
        waiting = engine.queue.pending()  # in the ring, and in the schedule after it
        room = min(events.RING_SIZE - waiting,
                   SCHEDULE_SIZE - int(engine.state.config[SCHEDULED]) - waiting)
        while next_event < len(pending) and pending[next_event].sample < horizon and room:
            e = pending[next_event]  # more than the ring holds at once wait a block (late,
            engine.queue.push(e.kind, start + e.sample, e.a, e.b)  # not dropped)
            next_event += 1
            room -= 1
        yield engine.process(min(block, frames - first))


def render_events(engine: Engine, timeline: list[Event], frames: int, block: int = 128,
                  progress: bool = False) -> np.ndarray:
    """`render_blocks` gathered: returns (frames, channels) float32."""
    out = np.empty((frames, engine.channels), np.float32)
    bar = Progress(frames / engine.fs, "render", unit=" s", enabled=progress)
    first = 0
    for audio in render_blocks(engine, timeline, frames, block):
        out[first:first + len(audio)] = audio
        first += len(audio)
        bar.update(len(audio) / engine.fs)
    bar.close()
    return out


def length(timeline: list[Event], fs: float, tail: float = 3.0) -> int:
    """Samples in a render of the whole timeline plus `tail` seconds after its last event."""
    return max((e.sample for e in timeline), default=0) + round(tail * fs)


def render(engine: Engine, timeline: list[Event], tail: float = 3.0, block: int = 128,
           progress: bool = False) -> np.ndarray:
    """Render the whole timeline plus `tail` seconds after its last event, in memory."""
    return render_events(engine, timeline, length(timeline, engine.fs, tail), block, progress)


def render_to_file(engine: Engine, timeline: list[Event], path, frames: int,
                   block: int = 128, progress: bool = False) -> float:
    """Render `frames` samples of the timeline straight into a WAV file, a second at a time
    (memory stays flat however long the piece); returns the peak sample. The file appears
    only once complete (`synth.audiofile.wav_writer`)."""
    chunk = np.empty((max(block, round(engine.fs)), engine.channels), np.float32)
    filled, peak = 0, 0.0
    bar = Progress(frames / engine.fs, "render", unit=" s", enabled=progress)
    with wav_writer(path, engine.fs, engine.channels) as write:
        for audio in render_blocks(engine, timeline, frames, block):
            if filled + len(audio) > len(chunk):
                write(chunk[:filled])
                filled = 0
            chunk[filled:filled + len(audio)] = audio
            filled += len(audio)
            peak = max(peak, float(np.abs(audio).max(initial=0.0)))
            bar.update(len(audio) / engine.fs)
        write(chunk[:filled])
    bar.close()
    return peak

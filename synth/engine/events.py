"""Note and controller events crossing from the control threads into the audio thread.

A preallocated ring of int64 records (type, time, a, b), with monotonic write and read
counters: the control side (API, MIDI, GUI, several threads behind one lock) is the single
producer and the audio thread the single consumer, which never blocks or allocates. `time`
is the absolute sample at which the event takes effect, so it lands sample-accurately inside
a block; events due before the current block apply at its start. The audio thread takes
every event out of the ring at the start of a block and keeps it in time order
(`synth.engine.schedule`), so the ring's order is only the order of sending.
"""

from __future__ import annotations

import threading

import numpy as np

NOTE_ON, NOTE_OFF, CONTROL, PITCH_BEND, ALL_NOTES_OFF, ALL_SOUND_OFF = 1, 2, 3, 4, 5, 6
TYPE, TIME, A, B = 0, 1, 2, 3
WRITE, READ = 0, 1
RING_SIZE = 4096


class EventQueue:
    """The producer side of the ring: thread-safe among control threads, wait-free for audio.

    ring: (RING_SIZE, 4) int64 records; index: int64 [write, read] counters, shared with the
    audio thread. A full ring drops the event and counts it in `dropped`.
    """

    def __init__(self, ring: np.ndarray, index: np.ndarray) -> None:
        self.ring = ring
        self.index = index
        self.dropped = 0
        self._lock = threading.Lock()

    def push(self, kind: int, time: int, a: int = 0, b: int = 0) -> bool:
        with self._lock:
            write = int(self.index[WRITE])
            if write - int(self.index[READ]) >= len(self.ring):
                self.dropped += 1
                return False
            row = self.ring[write % len(self.ring)]
            row[TYPE], row[TIME], row[A], row[B] = kind, time, a, b
            self.index[WRITE] = write + 1  # publish after the record is complete
            return True

    def pending(self) -> int:
        return int(self.index[WRITE] - self.index[READ])

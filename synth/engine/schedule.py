"""The audio thread's schedule: events waiting for their sample, earliest first.

The ring (`synth.engine.events`) carries events from the control threads in the order they
were sent; at the start of every block the audio thread moves all of them into this
schedule, a binary min-heap ordered by (time, arrival), and applies each one when its sample
comes. So an event far in the future never holds back the ones sent after it, and events at
the same sample apply in the order they were sent. The heap is a fixed (SCHEDULE_SIZE, 5)
int64 array and its length lives in the caller's counter; when it is full, the event due
last is dropped and counted, so nothing near is ever held back. Compiled, allocation-free
and lock-free.
"""

import numpy as np
from numba import njit

from synth.engine import events
from synth.kernels.options import INTERNAL

SCHEDULE_SIZE = 4096
SCANS_PER_BLOCK = 16  # searches for the event due last, when full (each ~2048 compares)
TYPE, TIME, A, B, ARRIVAL = 0, 1, 2, 3, 4  # columns of a scheduled event
COLUMNS = 5


def empty_schedule() -> np.ndarray:
    return np.zeros((SCHEDULE_SIZE, COLUMNS), np.int64)


@njit(**INTERNAL)
def _earlier(heap, i, j):
    """Whether entry i is due before entry j: earlier time, or the same time sent first."""
    if heap[i, TIME] != heap[j, TIME]:
        return heap[i, TIME] < heap[j, TIME]
    return heap[i, ARRIVAL] < heap[j, ARRIVAL]


@njit(**INTERNAL)
def _swap(heap, i, j):
    for column in range(COLUMNS):
        heap[i, column], heap[j, column] = heap[j, column], heap[i, column]


@njit(**INTERNAL)
def _latest_leaf(heap, length):
    """The index of the entry due last (always a leaf of the heap)."""
    latest = length // 2
    for i in range(latest + 1, length):
        if _earlier(heap, latest, i):
            latest = i
    return latest


@njit(**INTERNAL)
def take_arrivals(ring, index, heap, length):
    """Move every event from the ring into the heap of `length` entries; returns the new
    length and how many events were dropped. When the heap is full, the event due last
    (a waiting one, or the one arriving) is the one dropped. Finding the waiting one due
    last is a scan of the leaves, done at most SCANS_PER_BLOCK times a call (a flood of
    events each earlier than the last: beyond that, the arriving ones are dropped), so the
    audio thread's time stays bounded."""
    dropped = 0
    size = ring.shape[0]
    latest, scans = -1, 0  # the waiting entry due last, while still valid; scans made
    while index[events.READ] < index[events.WRITE]:
        arrival = index[events.READ]
        index[events.READ] = arrival + 1
        record = ring[arrival % size]
        slot = length
        if length == heap.shape[0]:
            dropped += 1
            if latest < 0:
                if scans == SCANS_PER_BLOCK:
                    continue
                latest, scans = _latest_leaf(heap, length), scans + 1
            if record[events.TIME] >= heap[latest, TIME]:
                continue  # the arriving event is due last: it is the one dropped
            slot, latest = latest, -1  # it takes the place of the one due last
        else:
            length += 1
        heap[slot, TYPE], heap[slot, TIME] = record[events.TYPE], record[events.TIME]
        heap[slot, A], heap[slot, B] = record[events.A], record[events.B]
        heap[slot, ARRIVAL] = arrival
        while slot > 0:  # sift up
            parent = (slot - 1) // 2
            if not _earlier(heap, slot, parent):
                break
            _swap(heap, slot, parent)
            slot = parent
    return length, dropped


@njit(**INTERNAL)
def remove_first(heap, length):
    """Remove the earliest entry (heap[0]) from a heap of `length` > 0; returns the new
    length."""
    length -= 1
    for column in range(COLUMNS):
        heap[0, column] = heap[length, column]
    parent = 0
    while True:  # sift down
        first = parent
        for child in (2 * parent + 1, 2 * parent + 2):
            if child < length and _earlier(heap, child, first):
                first = child
        if first == parent:
            return length
        _swap(heap, parent, first)
        parent = first

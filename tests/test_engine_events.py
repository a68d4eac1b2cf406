"""The engine's event API under any times and any order: events act in time order, a far
future event never holds back the others, and every bad argument is a ParameterError."""

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from synth.engine import Engine, events, schedule
from synth.engine.engine import HORIZON_SECONDS
from synth.engine.schedule import SCHEDULE_SIZE
from synth.errors import ParameterError, PresetError

FS = 48000
BLOCK = 128


@pytest.fixture(scope="module")
def preset():
    return Engine("nylon-guitar", fs=FS, polyphony=4, max_block=BLOCK).preset


def test_a_far_future_event_does_not_hold_back_the_events_sent_after_it(preset):
    engine = Engine(preset, fs=FS, max_block=BLOCK)
    engine.note_on(60, 100, time=round(HORIZON_SECONDS * FS))  # an hour ahead: allowed
    engine.note_on(64, 100)
    assert np.abs(engine.process(FS)).max() > 0.01
    assert engine.stats()["voices"] == 1


@pytest.mark.parametrize("time", [10**12, 2**70, float("nan"), float("inf"), "soon", True])
def test_an_event_time_that_cannot_be_scheduled_is_a_parameter_error(preset, time):
    engine = Engine(preset, fs=FS, max_block=BLOCK)
    with pytest.raises(ParameterError, match="time"):
        engine.note_on(60, 100, time=time)
    assert engine.queue.pending() == 0


def test_a_time_long_past_means_now(preset):
    engine = Engine(preset, fs=FS, max_block=BLOCK)
    engine.process(1000)
    engine.note_on(60, 100, time=-2**70)
    assert np.abs(engine.process(BLOCK)).max() > 0


@pytest.mark.parametrize("call, match", [
    (lambda e: e.process(-1), "frames"),
    (lambda e: e.process(10**13), "frames"),
    (lambda e: e.process(1.5), "frames"),
    (lambda e: e.set_param("tension", "high"), "tension"),
    (lambda e: e.set_param("tension", 10**400), "tension"),
    (lambda e: e.set_param("tension", float("nan")), "tension"),
    (lambda e: e.pitch_bend(None), "pitch bend"),
    (lambda e: e.note_on(128, 1), "note"),
    (lambda e: e.control_change(1, -1), "value"),
])
def test_every_bad_argument_is_a_parameter_error(preset, call, match):
    with pytest.raises(ParameterError, match=match):
        call(Engine(preset, fs=FS, max_block=BLOCK))


@pytest.mark.parametrize("dtype", [np.float16, np.int32, "complex64", "nonsense"])
def test_an_engine_of_another_number_type_is_refused(preset, dtype):
    with pytest.raises(ParameterError, match="dtype"):
        Engine(preset, dtype=dtype)


def test_a_huge_value_is_clamped_to_the_parameters_range(preset):
    engine = Engine(preset, fs=FS, max_block=BLOCK)
    assert engine.set_param("tension", 1e40) == engine.set_param("tension", 1e9)


def test_a_full_schedule_drops_the_events_due_last_and_counts_them(preset):
    engine = Engine(preset, fs=FS, max_block=BLOCK)
    later = engine.clock + FS * 60
    for _ in range(SCHEDULE_SIZE):
        engine.control_change(1, 64, time=later)
    engine.process(BLOCK)  # the schedule is now full of events a minute ahead
    engine.control_change(1, 10, time=later)
    engine.note_on(60, 100)
    assert np.abs(engine.process(FS // 10)).max() > 0.01  # the note plays, it is not stuck
    assert engine.stats()["dropped_events"] == 2


SEND = {
    "on": lambda e, a, t: e.note_on(40 + a % 40, 1 + a % 127, time=t),
    "off": lambda e, a, t: e.note_off(40 + a % 40, time=t),
    "cc": lambda e, a, t: e.control_change((1, 64, 74, 120, 123)[a % 5], a % 128, time=t),
    "bend": lambda e, a, t: e.pitch_bend((a % 201 - 100) / 100, time=t),
}
sent_events = st.lists(st.tuples(st.sampled_from(sorted(SEND)), st.integers(0, 10**6),
                                 st.integers(-5000, 12000)), max_size=40)


@given(sent_events)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_events_sent_in_any_order_play_as_if_each_came_at_its_sample(preset, sent):
    """The reference: the same events sent one block ahead of their sample, sorted by
    (sample, sending order), with a past sample counted as the clock at sending."""
    frames = 12 * 1024
    engine = Engine(preset, fs=FS, polyphony=4, max_block=BLOCK, dtype=np.float64)
    engine.process(2 * BLOCK)
    clock = engine.clock
    for kind, a, t in sent:
        SEND[kind](engine, a, clock + t)
    played = np.concatenate([engine.process(BLOCK) for _ in range(frames // BLOCK)])

    reference = Engine(preset, fs=FS, polyphony=4, max_block=BLOCK, dtype=np.float64)
    reference.process(2 * BLOCK)
    due = sorted((max(t, 0), order, kind, a) for order, (kind, a, t) in enumerate(sent))
    blocks = []
    for first in range(0, frames, BLOCK):
        while due and due[0][0] < first + BLOCK:
            t, _, kind, a = due.pop(0)
            SEND[kind](reference, a, clock + t)
        blocks.append(reference.process(BLOCK))
    np.testing.assert_array_equal(played, np.concatenate(blocks))
    assert engine.stats()["dropped_events"] == 0


ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
    st.sampled_from(["tension", "decay", "nylon-guitar", "no-such-preset", b"x", [], {},
                     (1,), np.int64(5), np.float32(0.3), np.uint8(200), np.array([1, 2]),
                     object(), 1j, 2**70, 10**400]))
CALLS = {
    "note_on": lambda e, a, b, c: e.note_on(a, b, c),
    "note_off": lambda e, a, b, c: e.note_off(a, b),
    "control_change": lambda e, a, b, c: e.control_change(a, b, c),
    "pitch_bend": lambda e, a, b, c: e.pitch_bend(a, b),
    "set_param": lambda e, a, b, c: e.set_param(a, b),
    "get_param": lambda e, a, b, c: e.get_param(a, b),
    "assign_cc": lambda e, a, b, c: e.assign_cc(a, b),
    "voice_limit": lambda e, a, b, c: setattr(e, "voice_limit", a),
    "process": lambda e, a, b, c: e.process(a if not isinstance(a, int) or a < 10**5 else -1),
    "scope": lambda e, a, b, c: e.scope(a),
    "default": lambda e, a, b, c: e.default(a),
    "all_notes_off": lambda e, a, b, c: e.all_notes_off(a),
    "load_preset": lambda e, a, b, c: e.load_preset(a),
    "set_rate": lambda e, a, b, c: e.set_rate(a),
    "Engine": lambda e, a, b, c: Engine(a, fs=b, polyphony=c),
}


@given(st.lists(st.tuples(st.sampled_from(sorted(CALLS)), ANYTHING, ANYTHING, ANYTHING),
                max_size=30))
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_call_with_any_arguments_works_or_is_a_parameter_or_preset_error(preset, calls):
    engine = Engine(preset, fs=FS, polyphony=2, max_block=BLOCK)
    for name, a, b, c in calls:
        try:
            CALLS[name](engine, a, b, c)
        except (ParameterError, PresetError):
            pass
        assert np.isfinite(engine.process(64)).all()


def test_the_scope_returns_exactly_the_samples_asked_for(preset):
    engine = Engine(preset, fs=FS, max_block=BLOCK)
    engine.note_on(60, 100)
    played = engine.process(1000).astype(np.float64).mean(axis=1)  # the scope shows the mid
    assert engine.scope(0).shape == (0,)
    np.testing.assert_allclose(engine.scope(np.uint8(200)), played[-200:], rtol=0, atol=1e-7)


@functools.cache
def callable_schedule():
    """The schedule's two operations, compiled with Python wrappers (the engine's own are
    internal: callable only from compiled code)."""
    return njit(schedule.take_arrivals.py_func), njit(schedule.remove_first.py_func)


@given(st.lists(st.tuples(st.lists(st.integers(0, 20), max_size=12), st.integers(0, 6)),
                max_size=12))
@settings(max_examples=300, deadline=None)
def test_the_schedule_keeps_the_events_due_first_and_gives_them_in_order(batches):
    """A schedule of 8 against a sorted list: events come out by (time, arrival); when it is
    full, the one due last (waiting or arriving) is dropped."""
    take_arrivals, remove_first = callable_schedule()
    ring, index = np.zeros((16, 4), np.int64), np.zeros(2, np.int64)
    heap, length = np.zeros((8, schedule.COLUMNS), np.int64), 0
    waiting, arrival, dropped_here, dropped_there = [], 0, 0, 0
    for times, pops in batches:
        for time in times:
            ring[index[events.WRITE] % 16] = (events.CONTROL, time, 1, 0)
            index[events.WRITE] += 1
            waiting.append((time, arrival))
            arrival += 1
            if len(waiting) > 8:
                waiting.remove(max(waiting))
                dropped_there += 1
        length, dropped = take_arrivals(ring, index, heap, length)
        dropped_here += dropped
        assert length == len(waiting)
        for _ in range(min(pops, length)):
            assert (heap[0, schedule.TIME], heap[0, schedule.ARRIVAL]) == min(waiting)
            waiting.remove(min(waiting))
            length = remove_first(heap, length)
    assert dropped_here == dropped_there

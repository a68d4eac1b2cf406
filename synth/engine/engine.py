"""The engine's public API: play notes, move parameters, get audio and telemetry.

`Engine` owns an `EngineState` and is what the audio stream, MIDI input, offline renderer and
GUI talk to. Control calls (notes, controllers, parameters) may come from any thread: they
only write targets and push events. Audio comes from `process` (offline) or from the
real-time callback that `synth.audio` attaches; both run `block.process_block`.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable

import numpy as np

from synth import acoustics, params
from synth.engine import events
from synth.engine.block import process_block
from synth.engine.events import EventQueue
from synth.engine.state import (
    ACTIVE,
    AUDITION_FADING,
    AUDITION_NEXT,
    AUDITION_REQUEST,
    AUDITION_SECONDS,
    AUDITION_SLOT,
    AUDITION_SLOTS,
    BLOCKS,
    CALLBACKS,
    CLOCK,
    CURRENT,
    LATE,
    LOAD_AVG,
    LOAD_LAST,
    LOAD_MAX,
    LOUD_FREQ,
    LOUD_LANE,
    LOUD_NOTE,
    LOUD_OMEGA1,
    LOUD_P1,
    LOUD_PEAK,
    LOUD_Q1,
    METER_HEAD,
    NONFINITE,
    PEAK,
    POLYPHONY,
    REDUCTION,
    RESETS,
    SCOPE_WRITE,
    SEQ,
    STOLEN,
    TARGET,
    UNDERRUNS,
    UNSCHEDULED,
    EngineState,
    build_state,
    preset_default,
    preset_sets,
)
from synth.errors import ParameterError, PresetError
from synth.presets import Preset, find_preset, load_preset

CHANNELS = 2  # output channels unless asked otherwise
HORIZON_SECONDS = 3600.0  # an event may be scheduled at most this far ahead of the clock
MAX_PROCESS_SECONDS = 600.0  # the most audio one `process` call returns
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Engine:
    """A polyphonic player of one preset at sample rate fs.

    preset: a Preset, a path, a preset name, or None for the default. polyphony: voices that
    may sound at once (more notes steal the oldest). max_block: the largest block `process`
    or a stream may ask for. dtype: float32 (real time) or float64 (reference).

    Events (notes, controllers, bends) take an optional `time`, the engine sample at which
    they act (default: now). They act in time order, whatever order they were sent in, and
    in sending order at the same sample; a time already past means now. A time more than
    HORIZON_SECONDS ahead of the clock, or not a finite number, is a ParameterError. At most
    `events.RING_SIZE` events wait between two blocks and `schedule.SCHEDULE_SIZE` wait for
    their time; beyond that the events due last are dropped and counted
    (`stats()["dropped_events"]`).
    """

    def __init__(self, preset: Preset | str | os.PathLike | None = None, fs: float = 48000,
                 polyphony: int = 16, max_block: int = 1024, channels: int = CHANNELS,
                 dtype=np.float32) -> None:
        if not (_whole(polyphony) and 1 <= polyphony <= params.MAX_POLYPHONY):
            raise ParameterError(f"polyphony must be a whole number from 1 to "
                                 f"{params.MAX_POLYPHONY}, "
                                 f"got {polyphony!r}")
        if not (_whole(max_block) and 1 <= max_block <= 1 << 16):
            raise ParameterError(f"max_block must be a whole number from 1 to 65536, got "
                                 f"{max_block!r}")
        self.fs = params.check_rate(fs)
        self.polyphony = polyphony
        self.max_block = max_block
        if not (_whole(channels) and 1 <= channels <= 64):
            raise ParameterError(f"channels must be a whole number from 1 to 64, got "
                                 f"{channels!r}")
        self.channels = channels
        self.dtype = _check_dtype(dtype)
        self.preset = _resolve(preset)
        # the kind's voice arrays, which the state points to: they live as long as it
        self.state, self.voices = build_state(self.preset, self.fs, max_block, polyphony,
                                              self.dtype)
        self.queue = EventQueue(self.state.ring, self.state.ring_index)
        self._buffer = np.zeros((max_block, channels), np.float32)
        self._swap_lock = threading.Lock()
        # When a real-time stream runs, it supplies the sample at which a control event that
        # arrives now should take effect; offline, events land at the start of the next block.
        self.event_time: Callable[[], int] = lambda: int(self.state.telemetry[CLOCK])
        self.on_state_change: Callable[[EngineState], None] | None = None

    # ------------------------------------------------------------ notes and controllers
    def note_on(self, note: int, velocity: int = 100, time: int | None = None) -> bool:
        """Start (or re-pluck) MIDI note 0..127 with velocity 1..127; False if the queue
        was full."""
        return self._push(events.NOTE_ON, time, _midi("note", note), _midi("velocity", velocity))

    def note_off(self, note: int, time: int | None = None) -> bool:
        return self._push(events.NOTE_OFF, time, _midi("note", note))

    def control_change(self, number: int, value: int, time: int | None = None) -> bool:
        """A MIDI controller: 64 sustain, 120 all sound off, 121 reset, 123 all notes off,
        and any number assigned to a parameter (CC1 and CC74 by default)."""
        return self._push(events.CONTROL, time, _midi("controller", number),
                          _midi("value", value))

    def pitch_bend(self, value: float, time: int | None = None) -> bool:
        """Bend by value in [-1, 1] times the bend range."""
        value = min(max(params.check_value("pitch bend", value), -1.0), 1.0)
        return self._push(events.PITCH_BEND, time, min(round(8192 + value * 8192), 16383))

    def all_notes_off(self, time: int | None = None) -> bool:
        return self._push(events.ALL_NOTES_OFF, time)

    def all_sound_off(self, time: int | None = None) -> bool:
        return self._push(events.ALL_SOUND_OFF, time)

    def _push(self, kind: int, time, a: int = 0, b: int = 0) -> bool:
        return self.queue.push(kind, self.event_time() if time is None else self._at(time),
                               a, b)

    def _at(self, time) -> int:
        """An event's `time` as a sample the engine can schedule (see the class)."""
        if _whole(time):
            sample = int(time)
        elif isinstance(time, float | np.floating) and math.isfinite(time):
            sample = round(time)
        else:
            raise ParameterError(f"an event's time must be a finite sample number, got "
                                 f"{time!r}")
        clock = self.clock
        horizon = clock + round(HORIZON_SECONDS * self.fs)
        if sample > horizon:
            raise ParameterError(f"an event's time may be at most {HORIZON_SECONDS:g} s "
                                 f"ahead of the engine clock (sample {horizon}), got {time!r}")
        return max(sample, clock)

    # ------------------------------------------------------------ parameters
    def set_param(self, name: str, value: float) -> float:
        """Set a live parameter's target (smoothed by the engine); returns the value used
        after clamping to the parameter's range."""
        p = params.param(name)
        value = p.clamp(params.check_value(name, value))
        self.state.params[TARGET, p.id] = value
        return value

    def get_param(self, name: str, smoothed: bool = False) -> float:
        """A parameter's target, or with smoothed=True the value the audio thread uses now."""
        p = params.param(name)
        if not isinstance(smoothed, bool | np.bool_):
            raise ParameterError(f"smoothed must be True or False, got {smoothed!r}")
        return float(self.state.params[CURRENT if smoothed else TARGET, p.id])

    def assign_cc(self, number: int, name: str | None) -> None:
        """Let MIDI controller `number` drive parameter `name` over its range (None: free)."""
        number = _midi("controller", number)
        if number in params.FIXED_CONTROLLERS:
            raise ParameterError(f"CC{number} has a fixed meaning and cannot be reassigned")
        if name is None:
            self.state.cc_map[number] = -1
            return
        if not isinstance(name, str) or name not in params.ASSIGNABLE:
            raise ParameterError(f"{name!r} cannot be driven by a controller; choose one of "
                                 f"{', '.join(params.ASSIGNABLE)}")
        self.state.cc_map[number] = params.param(name).id

    @property
    def voice_limit(self) -> int:
        """How many voices may sound at once now (1..polyphony); more notes steal."""
        return int(self.state.config[POLYPHONY])

    @voice_limit.setter
    def voice_limit(self, voices: int) -> None:
        """Lower or raise the limit live, up to the lanes built (`polyphony`). Notes already
        sounding ring on; new notes steal until the limit holds."""
        if not _whole(voices) or not 1 <= voices <= self.polyphony:
            raise ParameterError(f"the voice limit must be a whole number from 1 to "
                                 f"{self.polyphony} (the engine's polyphony), got {voices!r}")
        self.state.config[POLYPHONY] = voices

    # ------------------------------------------------------------ audio
    def process(self, frames: int) -> np.ndarray:
        """Render the next `frames` samples offline (0 to MAX_PROCESS_SECONDS of audio);
        returns (frames, channels) float32."""
        limit = round(MAX_PROCESS_SECONDS * self.fs)
        if not _whole(frames) or not 0 <= frames <= limit:
            raise ParameterError(f"process renders a whole number of frames from 0 to {limit} "
                                 f"({MAX_PROCESS_SECONDS:g} s) at a time, got {frames!r}")
        out = np.empty((frames, self.channels), np.float32)
        for start in range(0, frames, self.max_block):
            block = out[start:start + self.max_block]
            process_block(self.state, block)
        return out

    def audition(self, samples, fs: float) -> float:
        """Play a sound once through the output, beside the notes: (N,) mono or (N, 2)
        stereo samples at fs Hz (the first AUDITION_SECONDS, resampled to the engine's
        rate), at the master gain but not the preset's level, to compare a recording with
        the instrument. It replaces an audition still playing, which fades out over
        AUDITION_FADE_SECONDS, as `stop_audition` fades it; all-sound-off, loading a preset
        and changing the rate stop it at once.
        Never waits for the audio thread. Returns the seconds it plays."""
        x = np.asarray(samples, dtype=np.float64)
        if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] in (1, 2))) or len(x) == 0:
            raise ParameterError(f"an audition is (N,) or (N, 2) samples, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ParameterError("an audition's samples must be finite")
        fs = params.check_rate(fs)
        x = x[:math.ceil(AUDITION_SECONDS * fs)]
        with self._swap_lock:
            state = self.state
            x = acoustics.resampled(x, fs, self.fs)
            stereo = np.repeat(x[:, None], 2, axis=1) if x.ndim == 1 else x[:, [0, -1]]
            frames = min(len(stereo), state.audition.shape[1])
            config = state.config
            # neither the slot playing, nor the one fading out, nor the one last asked for
            # (which may start any time, and then the one playing fades)
            busy = {int(config[AUDITION_SLOT]), int(config[AUDITION_FADING]),
                    int(config[AUDITION_NEXT]) % AUDITION_SLOTS}
            slot = min(set(range(AUDITION_SLOTS)) - busy)
            state.audition[slot, :frames] = stereo[:frames]
            config[AUDITION_NEXT] = frames * AUDITION_SLOTS + slot
            config[AUDITION_REQUEST] += 1
            return frames / self.fs

    def stop_audition(self) -> None:
        """Fade an audition out (from the next block's output, over AUDITION_FADE_SECONDS),
        and drop one asked for."""
        with self._swap_lock:
            config = self.state.config
            config[AUDITION_NEXT] = int(config[AUDITION_NEXT]) % AUDITION_SLOTS  # length 0
            config[AUDITION_REQUEST] += 1

    def warm_up(self) -> None:
        """Compile every kernel now (first call ~seconds, later from cache) on a throwaway
        state, so the first real block is on time; refuses an unplayable preset
        (`_play_test_note`)."""
        _play_test_note(self.preset, self.fs, self.max_block, self.polyphony, self.dtype,
                        self.channels)

    def default(self, name: str) -> float:
        """Parameter `name`'s value as the current preset sets it (what a reset returns to)."""
        return preset_default(self.preset, name)

    def load_preset(self, preset: Preset | str | os.PathLike) -> Preset:
        """Switch to another preset. Live parameters the preset sets (its controls, and its
        excitation and pickup) take its values; the others carry over. On a bad file this
        raises PresetError (so does a model whose test note turns non-finite) and whatever
        was playing continues untouched."""
        preset = _resolve(preset)
        _play_test_note(preset, self.fs, self.max_block, self.polyphony, self.dtype,
                        self.channels)
        self._rebuild(preset, self.fs, keep=lambda name: not preset_sets(preset, name))
        return preset

    def set_rate(self, fs: float) -> None:
        """Run at another sample rate (with no stream playing: open a new one after). Voices
        stop; every live parameter carries over."""
        if self.on_state_change is not None:
            raise ParameterError("stop the audio stream before changing the sample rate")
        self._rebuild(self.preset, params.check_rate(fs), keep=lambda name: True)

    def _rebuild(self, preset: Preset, fs: float, keep: Callable[[str], bool]) -> None:
        state, voices = build_state(preset, fs, self.max_block, self.polyphony, self.dtype)
        previous = self.state
        for p in params.PARAMS.values():
            if keep(p.name):
                state.params[:2, p.id] = previous.params[:2, p.id]
        state.cc_map[:] = previous.cc_map
        state.config[POLYPHONY] = previous.config[POLYPHONY]
        state.telemetry[:] = previous.telemetry
        with self._swap_lock:
            self.preset, self.fs = preset, float(fs)
            self.state, self.voices = state, voices
            self.queue = EventQueue(state.ring, state.ring_index)
            if self.on_state_change is not None:
                self.on_state_change(state)

    # ------------------------------------------------------------ telemetry
    @property
    def clock(self) -> int:
        """Samples rendered so far."""
        return int(self.state.telemetry[CLOCK])

    def stats(self) -> dict:
        """Counters the audio thread keeps: voices, load (fraction of the block period),
        underruns, resets of non-finite voices, steals, dropped events."""
        t = self.state.telemetry
        return {"voices": int(t[ACTIVE]), "blocks": int(t[BLOCKS]), "callbacks": int(t[CALLBACKS]),
                "underruns": int(t[UNDERRUNS]), "late_callbacks": int(t[LATE]),
                "load": float(t[LOAD_LAST]), "load_avg": float(t[LOAD_AVG]),
                "load_max": float(t[LOAD_MAX]), "voice_resets": int(t[RESETS]),
                "nonfinite_samples": int(t[NONFINITE]), "stolen": int(t[STOLEN]),
                "peak": float(t[PEAK]), "limiter_gain": float(t[REDUCTION]),
                "dropped_events": self.queue.dropped + int(t[UNSCHEDULED])}

    def scope(self, n: int = 2048) -> np.ndarray:
        """The latest n output samples, the mean of left and right (oldest first; at most
        SCOPE_SIZE)."""
        if not _whole(n) or n < 0:
            raise ParameterError(f"the scope shows a whole number of samples, got {n!r}")
        size = len(self.state.scope)
        n = min(int(n), size)
        end = int(self.state.config[SCOPE_WRITE])
        return np.roll(self.state.scope, -end)[size - n:].copy()

    def meters(self) -> dict | None:
        """The loudest voice: its note, peak, first-mode phase (q1, p1/omega1, omega1 in
        rad/s), the first mode's measured frequency in Hz (its pitch, glide included) and
        energy per mode (M,); None when nothing sounds. Read without locking (seqlock)."""
        meters = self.state.meters
        for _ in range(100):
            before = meters[SEQ]
            copy = meters.copy()
            if before == meters[SEQ] and int(before) % 2 == 0:
                break
        if copy[LOUD_LANE] < 0:
            return None
        return {"note": int(copy[LOUD_NOTE]), "peak": float(copy[LOUD_PEAK]),
                "q1": float(copy[LOUD_Q1]), "p1": float(copy[LOUD_P1]),
                "omega1": float(copy[LOUD_OMEGA1]), "frequency": float(copy[LOUD_FREQ]),
                "energies": copy[METER_HEAD:]}


def _play_test_note(preset: Preset, fs: float, max_block: int, polyphony: int, dtype,
                    channels: int) -> None:
    """Play the preset's reference note at the hardest velocity for 1024 samples on a
    throwaway state (compiling what it needs); PresetError if the model turns non-finite,
    rather than playing silence."""
    scratch, _voices = build_state(preset, fs, max_block, polyphony, dtype)  # alive: in use
    queue = EventQueue(scratch.ring, scratch.ring_index)
    note = min(max(round(preset.reference_note), 0), 127)
    queue.push(events.NOTE_ON, 0, note, 127)
    queue.push(events.CONTROL, 64, 1, 64)
    queue.push(events.NOTE_OFF, 128, note, 0)
    block = np.zeros((min(max_block, 256), channels), np.float32)
    for _ in range(4):
        process_block(scratch, block)
    if scratch.telemetry[RESETS] > 0:
        raise PresetError(f"{preset.path or preset.name}: a test note turns non-finite at "
                          "once; the model is not playable")


def _resolve(preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    return load_preset(find_preset(preset))


def _check_dtype(dtype) -> np.dtype:
    try:
        found = np.dtype(dtype)
    except (TypeError, ValueError):
        found = np.dtype(np.int8)  # not a number type at all: refused below
    if found not in DTYPES:
        raise ParameterError(f"dtype must be float32 (real time) or float64 (reference), got "
                             f"{dtype!r}")
    return found


def _whole(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _midi(name: str, value) -> int:
    if not _whole(value) or not 0 <= value < 128:
        raise ParameterError(f"{name} must be a whole number from 0 to 127, got {value!r}")
    return int(value)

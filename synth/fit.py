"""A preset fitted to recorded notes by analysis by synthesis: the engine plays the base
preset's notes, its renders are measured as the recordings are (`synth.acoustics`,
`synth.recording`), and the keyboard and body are corrected until they agree
(docs/design.md, "Fitting a preset to recordings").

For the recorded notes (`synth.recording.read_note`), at their keys:

1. the stiffness: kappa scaled by sqrt(B_recorded / B) in closed form, then ROUNDS rounds by
   sqrt(B_recorded / B_rendered);
2. the excitation and the body: two guesses per note at its velocity and position
   (`_excitation`), then the body's size found with each note's velocity and position about
   them (`_placed`), as all three shape the same early spectrum, and the size and positions
   polished by a scan of sizes x positions, then a compass search (`_polished`);
3. the losses: the loss law split into the part that does not rise with frequency (sigma0,
   the bridge) and the part that does (sigma1, the air, internal friction), each scaled
   (a, b > 0; the decay of mode m is a F_m + b R_m, `synth.physics.losses.mode_decay`),
   ROUNDS rounds, each aiming every partial's decay at the law's times what the render
   lacks (`_two_factors`), with kappa touched up alike and the nonlinearity's nu scaled by
   sqrt(glide_recorded / glide_rendered) (the early pitch glide grows as nu^2; left alone
   where either is under MIN_GLIDE cents);
4. the size and positions polished again on the fitted strings (step 2 judged them on the
   base's losses and nonlinearity), and step 3 again from there.

The corrections (log kappa, log a, log b, log nu, log position) are interpolated between the
recorded keys, linearly in the key and constant beyond the outermost ones, over the base's
whole keyboard: one instrument, made note by note as the base makes its notes, on one body.
The base's hammer, velocity mapping and controls are kept.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from synth import acoustics
from synth.engine.engine import Engine
from synth.engine.levels import level_gain
from synth.errors import ParameterError
from synth.keyboards import (
    GAMMA,
    KAPPA,
    KEYS,
    NU,
    POSITION,
    SIGMA0,
    Keyboard,
    key_inharmonicity,
)
from synth.physics.losses import L_BRIDGE, L_SIGMA0, RISING, mode_decay
from synth.physics.strings import note_frequency
from synth.presets import Preset, find_preset, load_preset
from synth.recording import RecordedNote, measure_partials

KINDS = {"guitar": ("nylon-guitar", "steel-guitar"), "piano": ("piano-wound",)}
KINDS["auto"] = KINDS["guitar"] + KINDS["piano"]
FLAT = (L_SIGMA0, L_BRIDGE)  # the loss fields that do not rise with frequency
PROBE = (0.02, 0.25)  # s from the onset: where partial levels are compared
LEVEL_PARTIALS = 30
LEVEL_RANGE = 50.0  # dB: partials further below the strongest do not count
VELOCITIES = (16, 32, 48, 64, 80, 96, 112, 127)
COARSE_POSITIONS = np.round(np.arange(0.04, 0.501, 0.02), 3)
BODY_SIZES = np.exp(np.linspace(math.log(0.8), math.log(1.25), 21))  # steps of 2.3 %
FINE_SIZES = 5  # between the best size's neighbours
BODY_SECONDS = 0.3  # s from the onset: where the body's size is judged
SHIFTS = np.linspace(-0.04, 0.04, 5)  # positions tried about each note's, with each size
FINE_SHIFTS = np.linspace(-0.01, 0.01, 5)  # ... and with each finer size
VELOCITY_STEPS = (-16, 0, 16)  # ... with the velocities either side of each note's
POLISH_STEPS = (0.01, 0.01)  # the polish's first steps: log body size, position
POLISH_REACH = 0.06  # how far a polish may take a position from where it started
POLISH_SCAN = np.linspace(-POLISH_REACH, POLISH_REACH, 13)  # the positions it tries first,
POLISH_SIZES = np.linspace(-0.04, 0.04, 9)  # at each of these log sizes about the grids'
POLISH_FINEST = 0.002  # the polish ends once its position step is below this
POLISH_ROUNDS = 12
MIN_POSITION, MAX_POSITION = 0.02, 0.5
DECAY_PARTIALS = 10
WEAK_DECAY = 30.0  # dB below the strongest partial: counts for the loss fit only if
# `_measurable`
DECAY_RANGE = 25.0  # dB: a partial's decay is measured if its envelope falls this far
ROUNDS = 4
PRIOR = 0.01  # the pull of a loss fit towards the base's law, per unit weight
HUBER = 0.3  # a partial's decay off by more than this (log) counts linearly
MAX_STEP = 2.0  # the most a round changes kappa, or a mode's decay aimed at
FACTOR_RANGE = (0.02, 50.0)  # how far a fit may scale kappa or a loss part, per key
MAX_SECONDS = 3.0  # of a recording used to fit decays
MIN_GLIDE = 1.0  # cents: an early glide smaller than this does not set the nonlinearity
GLIDE_SECONDS = 1.0  # a recording this long shows its glide (`acoustics.glide_cents`)


@dataclass(frozen=True)
class FittedNote:
    """One recorded note and its fit at `key`: the velocity and position that match it, the
    factors applied to kappa and to the flat and rising losses, and its B and partial T60s
    (s, partials 1..DECAY_PARTIALS, inf where they did not decay), recorded and as the fitted
    preset plays them; the log-spectral distances (dB) of the base and the fit to it."""

    recording: RecordedNote
    key: int
    velocity: int
    position: float
    kappa_factor: float
    flat_factor: float
    rising_factor: float
    b_fitted: float
    t60s_recorded: np.ndarray
    t60s_fitted: np.ndarray
    distance_base: float
    distance_fitted: float
    nu_factor: float = 1.0  # on the nonlinearity's nu (1: its glide could not be measured)
    glide_recorded: float = math.nan  # cents (`acoustics.glide_cents`)
    glide_fitted: float = math.nan


@dataclass(frozen=True)
class Fit:
    """The fitted preset, its base, each note's fit, the body's size and the seconds it
    took."""

    preset: Preset
    base: Preset
    notes: list[FittedNote]
    body_size: float  # the body's size as a factor of the base's (its modes at 1 / size)
    seconds: float


def choose_base(notes: list[RecordedNote], kind: str = "auto",
                start: str | None = None) -> Preset:
    """The preset a fit starts from: `start` (a name or file) if given, else among the
    shipped instruments of `kind` (KINDS) the one whose renders of the recorded keys are
    closest to the recordings (`acoustics.log_spectral_distance`, velocity 80)."""
    if start is not None:
        return load_preset(find_preset(start))
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    candidates = [load_preset(find_preset(name)) for name in KINDS[kind]]
    if len(candidates) == 1:
        return candidates[0]
    distances = [sum(acoustics.log_spectral_distance(
        render(candidate, key_of(note), 80, note.fs, seconds_of(note)), note.samples, note.fs)
        for note in notes) for candidate in candidates]
    return candidates[int(np.argmin(distances))]


def fit_preset(notes: list[RecordedNote], base: Preset, name: str,
               progress: Callable[[float], None] | None = None,
               command: str = "") -> Fit:
    """The preset `name` fitted to `notes` from `base` (the module docstring); `progress`
    is called with each step's share of the whole (they add up to 1)."""
    begun = time.monotonic()
    planned = _planned_seconds(notes, base.body is not None)
    tick = (lambda seconds: progress(seconds / planned)) if progress is not None \
        else (lambda seconds: None)
    keys = [key_of(note) for note in notes]
    kappas = [_stiffness(base, note, key, tick) for note, key in zip(notes, keys, strict=True)]
    stiff = base
    for key, kappa in zip(keys, kappas, strict=True):
        stiff = adjusted(stiff, key, kappa=kappa)
    guesses = [_excitation(stiff, note, key, tick) for note, key in zip(notes, keys, strict=True)]
    size, excited = 1.0, [note_guesses[1] for note_guesses in guesses]
    if base.body is not None:
        size, excited = _placed(stiff, notes, guesses, BODY_SIZES, SHIFTS, VELOCITY_STEPS, tick)
        size, excited = _placed(stiff, notes, [[e] for e in excited], _finer(size),
                                FINE_SHIFTS, VELOCITY_STEPS, tick)
    size, excited = _polished(stiff, notes, size, excited, tick)
    fitted = _strings(base, notes, size, excited, kappas, tick)
    # the grids and the polish judged the excitation and the body on the base's losses and
    # nonlinearity, which shape the first BODY_SECONDS too: polished again on the fitted
    # strings, and the strings fitted again from there
    strung = dataclasses.replace(base, path=None, keyboard=corrected(base.keys(), fitted))
    size, excited = _polished(strung, notes, size, excited, tick)
    fitted = _strings(base, notes, size, excited, [n.kappa_factor for n in fitted], tick)
    start = sized(base, size)
    preset = dataclasses.replace(
        start, name=name, path=None, keyboard=corrected(start.keys(), fitted),
        reference_note=float(round(np.median(keys))), description=_description(base, fitted))
    preset = dataclasses.replace(preset, output_gain=level_gain(preset))
    tick(1.0)
    notes_after = []
    for note in fitted:
        notes_after.append(measured(preset, base, note))
        tick(2 * seconds_of(note.recording))
    fit = Fit(preset, base, notes_after, size, time.monotonic() - begun)
    return dataclasses.replace(fit, preset=dataclasses.replace(
        preset, provenance=provenance(fit, command)))


def _strings(base: Preset, notes: list[RecordedNote], size: float,
             excited: list[tuple[int, float]], kappas: list[float],
             tick: Callable[[float], None]) -> list[FittedNote]:
    """Each note's string fitted (`_string`) on `base`'s body at `size`, played at its
    (velocity, position), kappa starting from its `kappas` factor."""
    start = sized(base, size)
    return [_string(start, note, key_of(note), velocity, position, kappa, tick)
            for note, (velocity, position), kappa in zip(notes, excited, kappas, strict=True)]


@dataclass(frozen=True)
class Stage:
    """A step after the fit (the training side's): its command-line flag, what it does (a
    progress bar's title), `step(fit, progress) -> fit`, and `check(base)`, which refuses a
    base the step cannot take (ParameterError), or None."""

    flag: str
    title: str
    step: Callable[[Fit, Callable[[float], None]], Fit]
    check: Callable[[Preset], None] | None = None


def fit_in_stages(notes: list[RecordedNote], base: Preset, name: str, stages: Sequence[Stage],
                  progress: Callable[[str], Callable[[float], None]],
                  command: str = "") -> Fit:
    """Every stage's check (before any work), then `fit_preset` and each stage in turn;
    `progress(title)` gives where each part's progress goes (its shares add up to 1): first
    "fit BASE", then each stage's title."""
    for stage in stages:
        if stage.check is not None:
            stage.check(base)
    fit = fit_preset(notes, base, name, progress(f"fit {base.name}"), command=command)
    for stage in stages:
        fit = stage.step(fit, progress(stage.title))
    return fit


def _planned_seconds(notes: list[RecordedNote], body: bool) -> float:
    """Seconds of audio a fit of `notes` renders (the most, where candidates coincide): what
    its progress is counted in."""
    long = sum(seconds_of(note) for note in notes)
    grids = len(notes) * len(VELOCITIES) * len(COARSE_POSITIONS)
    if body:
        grids += len(notes) * len(VELOCITY_STEPS) * (2 * len(BODY_SIZES) * len(SHIFTS)
                                                     + (FINE_SIZES + 2) * len(FINE_SHIFTS))
    polish = 2 * _polish_renders(len(notes), body) * BODY_SECONDS
    return (3 * ROUNDS + 2) * long + grids * BODY_SECONDS + polish + 1.0


def sized(preset: Preset, size: float) -> Preset:
    """`preset` on its body made `size` times as large: every mode's frequency over `size`
    (what the body_size control does live)."""
    if preset.body is None or size == 1.0:
        return preset
    return dataclasses.replace(preset, path=None, body=dataclasses.replace(
        preset.body, frequencies=preset.body.frequencies / size))


def early_distance(preset: Preset, note: RecordedNote, velocity: int,
                   position: float) -> float:
    """The log-spectral distance (dB) of `preset` playing the recorded note's key at
    `velocity`, excited at `position`, to the recording over their first BODY_SECONDS."""
    key = key_of(note)
    x = render(adjusted(preset, key, position), key, velocity, note.fs, BODY_SECONDS)
    d = acoustics.log_spectral_distance(x, note.samples, note.fs)
    return d if math.isfinite(d) else math.inf


def _placed(base: Preset, notes: list[RecordedNote], guesses: list[list[tuple[int, float]]],
            sizes, shifts: np.ndarray, velocity_steps: tuple[int, ...],
            tick: Callable[[float], None]) -> tuple[float, list[tuple[int, float]]]:
    """(size, excitations): of `sizes` (factors of the base's body size), the one at which
    the recorded keys, each excited at the best of its guesses' velocities plus
    `velocity_steps` and positions plus `shifts`, sound closest to the recordings over
    their first BODY_SECONDS (`acoustics.log_spectral_distance`, summed over the notes), and
    those (velocity, position)s. All three shape the same early spectrum, so they are found
    together."""
    candidates = [sorted({(int(v), float(p))
                          for velocity, position in note_guesses
                          for v in np.clip(velocity + np.array(velocity_steps), 1, 127)
                          for p in np.clip(np.round(position + shifts, 4), MIN_POSITION,
                                           MAX_POSITION)})
                  for note_guesses in guesses]
    best = (math.inf, 1.0, [note_guesses[0] for note_guesses in guesses])
    for size in sizes:
        body = sized(base, size)
        total, chosen = 0.0, []
        for note, tries, note_guesses in zip(notes, candidates, guesses, strict=True):
            distances = [early_distance(body, note, v, p) for v, p in tries]
            total += min(distances)
            chosen.append(tries[int(np.argmin(distances))])
            # as planned: the most candidates there could be (coinciding ones rendered once)
            tick(BODY_SECONDS * len(velocity_steps) * len(shifts) * len(note_guesses))
        if total < best[0]:
            best = (total, float(size), chosen)
    return best[1], best[2]


def _polish_renders(notes: int, body: bool) -> int:
    """The most renders `_polished` makes for `notes` notes, on a body or without one."""
    scanned = len(POLISH_SCAN) * (len(POLISH_SIZES) if body else 1)
    return notes * (scanned + POLISH_ROUNDS * (4 if body else 2))


def _polished(base: Preset, notes: list[RecordedNote], size: float,
              excited: list[tuple[int, float]], tick: Callable[[float], None]
              ) -> tuple[float, list[tuple[int, float]]]:
    """(size, excitations) polished from `size` and `excited`: first the best of POLISH_SIZES
    about the size with, at each, every note's best position of POLISH_SCAN about its own;
    then a compass search: each round tries the size a step larger and smaller (all the
    notes at once), then each note's position a step either way (within POLISH_REACH of
    where it started; velocities are kept), keeping any move that lowers the distance over
    the first BODY_SECONDS; a round without one halves the steps (POLISH_STEPS), until the
    position's is under POLISH_FINEST or after POLISH_ROUNDS rounds. The grids try
    positions only about their guesses and sizes 2.3 % apart before the finer grid, so
    their best pair can sit in the wrong valley: a body mode's resonance (Q 30-50) is 1-2 %
    wide, and the position and the size shape the same early spectrum."""
    known: dict[tuple, float] = {}
    renders = 0

    def distance(i: int, trial_size: float, velocity: int, position: float) -> float:
        nonlocal renders
        entry = (i, trial_size, velocity, position)
        if entry not in known:
            known[entry] = early_distance(sized(base, trial_size), notes[i], velocity,
                                          position)
            renders += 1
            tick(BODY_SECONDS)
        return known[entry]

    starts = [position for _, position in excited]
    scans = [np.clip(np.round(start + POLISH_SCAN, 4), MIN_POSITION, MAX_POSITION)
             for start in starts]
    best = (math.inf, size, list(excited), [])
    for trial_size in (size * np.exp(POLISH_SIZES) if base.body is not None else [size]):
        # each note's best position within its reach at this size, all found together
        found = [min((distance(i, float(trial_size), velocity, float(p)), float(p))
                     for p in scans[i]) for i, (velocity, _) in enumerate(excited)]
        total = sum(d for d, _ in found)
        if total < best[0]:
            best = (total, float(trial_size), [(v, p) for (v, _), (_, p) in
                                               zip(excited, found, strict=True)],
                    [d for d, _ in found])
    _, size, excited, current = best
    size_step, position_step = POLISH_STEPS
    for _ in range(POLISH_ROUNDS if current else 0):  # none: no finite distance anywhere
        moved = False
        for trial_size in ((size * math.exp(size_step), size * math.exp(-size_step))
                           if base.body is not None else ()):
            trial = [distance(i, trial_size, *excited[i]) for i in range(len(notes))]
            if sum(trial) < sum(current):
                size, current, moved = trial_size, trial, True
                break
        for i, (velocity, position) in enumerate(excited):
            for trial_position in (position + position_step, position - position_step):
                trial_excitation = (velocity, float(np.clip(
                    trial_position, max(MIN_POSITION, starts[i] - POLISH_REACH),
                    min(MAX_POSITION, starts[i] + POLISH_REACH))))
                trial = distance(i, size, *trial_excitation)
                if trial < current[i]:
                    excited[i], current[i], moved = trial_excitation, trial, True
                    break
        if not moved:
            size_step, position_step = size_step / 2, position_step / 2
            if position_step < POLISH_FINEST:
                break
    planned = _polish_renders(len(notes), base.body is not None)
    tick(max(planned - renders, 0) * BODY_SECONDS)
    return size, excited


def _finer(about: float) -> np.ndarray:
    """`about`, its neighbours a BODY_SIZES step away, and FINE_SIZES sizes between."""
    step = BODY_SIZES[1] / BODY_SIZES[0]
    return about * step ** np.linspace(-1, 1, FINE_SIZES + 2)


def render(preset: Preset, key: int, velocity: int, fs: float, seconds: float) -> np.ndarray:
    """(N,) float64: `key` played at `velocity` for `seconds` at fs Hz, summed to mono, from
    its onset."""
    engine = Engine(preset, fs=fs, polyphony=2)
    engine.note_on(key, velocity)
    return acoustics.from_onset(acoustics.mono(engine.process(round(seconds * fs))), fs)


def corrected(keys: Keyboard, notes: list[FittedNote]) -> Keyboard:
    """`keys` with each fitted note's factors at its key, interpolated between the keys
    (log-linear in the key, constant beyond the outermost)."""
    at = np.array([n.key for n in notes], dtype=float)
    every = np.arange(KEYS, dtype=float)

    def spread(values) -> np.ndarray:
        return np.exp(np.interp(every, *_merged(at, np.log(values))))

    base_positions = np.array([keys.excitation[n.key, POSITION] for n in notes])
    strings = scaled(keys.strings, spread([n.kappa_factor for n in notes]),
                     spread([n.flat_factor for n in notes]),
                     spread([n.rising_factor for n in notes]),
                     spread([n.nu_factor for n in notes]))
    excitation = keys.excitation.copy()
    excitation[:, POSITION] = np.clip(
        excitation[:, POSITION] * spread([n.position for n in notes] / base_positions),
        MIN_POSITION, MAX_POSITION)
    return Keyboard(strings, excitation, keys.range, keys.name, keys.provenance)


REPORTED_PARTIALS = (1, 2, 5, 10)


def report(fit: Fit) -> str:
    """The fit for people: each note's pitch, matched velocity and position, B and partial
    T60s as recorded and as the preset plays them, the factors applied to its string, and
    the log-spectral distance of the base and of the fit to the recording."""
    lines = [f"{fit.preset.name}: {fit.base.name} fitted to {len(fit.notes)} note"
             f"{'s' * (len(fit.notes) > 1)} in {fit.seconds:.1f} s"
             + (f"; its body x{fit.body_size:.3f} in size (modes x{1 / fit.body_size:.3f} in "
                "frequency)" if fit.base.body is not None else "")]
    made = fit.preset.provenance.get("fit", {})
    for part, what in (("refinement", "body's modes then refined by gradient"),
                       ("nonlinearity", f"string's nonlinearity then learned ({fit.preset.kind})")):
        if part in made:
            steps = made[part]
            lines.append(f"  {what}, {steps['iterations']} steps: loss (spectra and pitch "
                         f"track) over the first {steps['seconds_compared']:g} s (at most) "
                         f"{steps['loss_db']['before']:.2f} -> {steps['loss_db']['after']:.2f}"
                         " dB (all notes' mean)")
    for n in fit.notes:
        r = n.recording
        cents = 100.0 * (r.note - n.key)
        t60 = "  ".join(f"p{m} {_seconds_text(n.t60s_recorded, m)} -> "
                        f"{_seconds_text(n.t60s_fitted, m)}" for m in REPORTED_PARTIALS)
        lines += [
            f"  {r.path.name}: key {n.key}, f0 {r.f0:.2f} Hz ({cents:+.1f} cents), "
            f"velocity {n.velocity}, excitation at {n.position:.3f} of the length",
            f"    B {r.inharmonicity:.3g} -> {n.b_fitted:.3g}; T60 (s, recorded -> fitted) "
            f"{t60}",
            f"    string: stiffness kappa x{n.kappa_factor:.3f}, losses flat "
            f"x{n.flat_factor:.3f}, rising x{n.rising_factor:.3f}, nonlinearity nu "
            f"x{n.nu_factor:.3f} (early glide {n.glide_recorded:+.1f} -> "
            f"{n.glide_fitted:+.1f} cents); log-spectral distance "
            f"{n.distance_base:.1f} dB ({fit.base.name}) -> {n.distance_fitted:.1f} dB"]
    return "\n".join(lines)


def _seconds_text(t60s: np.ndarray, partial: int) -> str:
    if partial > len(t60s) or not math.isfinite(t60s[partial - 1]):
        return "-"
    return f"{t60s[partial - 1]:.2f}"


def _merged(at: np.ndarray, logs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The recorded keys, sorted, and their logs (those of a key recorded more than once
    averaged)."""
    unique = np.unique(at)
    return unique, np.array([logs[at == key].mean() for key in unique])


def key_of(note: RecordedNote) -> int:
    """The MIDI key a recorded note is fitted at; ParameterError outside 0..127."""
    key = round(note.note)
    if not 0 <= key < KEYS:
        raise ParameterError(f"{note.path}: {note.f0:.1f} Hz is outside the MIDI keys")
    return key


def seconds_of(note: RecordedNote) -> float:
    """How much of a recording a fit renders and measures (s)."""
    return min(len(note.samples) / note.fs, MAX_SECONDS)


def scaled(strings: np.ndarray, kappa, flat, rising, nu=1.0) -> np.ndarray:
    """A copy of a keyboard's strings (128, 11) with kappa, the flat and rising loss fields
    and nu scaled by these factors (scalars or (128,)), and gamma moved so that each key's
    first mode (undamped: omega_1^2 = gamma^2 pi^2 + kappa^2 pi^4) stays where it was."""
    out = strings.copy()
    out[:, KAPPA] *= kappa
    out[:, NU] *= nu
    out[:, GAMMA] = np.sqrt(np.maximum(
        strings[:, GAMMA] ** 2 + (strings[:, KAPPA] ** 2 - out[:, KAPPA] ** 2) * math.pi ** 2,
        (0.01 * strings[:, GAMMA]) ** 2))
    for field in FLAT:
        out[:, SIGMA0 + field] *= flat
    for field in RISING:
        out[:, SIGMA0 + field] *= rising
    return out


def adjusted(base: Preset, key: int, position: float | None = None, kappa: float = 1.0,
             flat: float = 1.0, rising: float = 1.0, nu: float = 1.0) -> Preset:
    """`base` with key `key` excited at `position` and its kappa, loss parts and nu
    scaled."""
    keys = base.keys()
    strings, excitation = keys.strings.copy(), keys.excitation.copy()
    strings[key] = scaled(keys.strings[key:key + 1], kappa, flat, rising, nu)[0]
    if position is not None:
        excitation[key, POSITION] = position
    return dataclasses.replace(base, path=None, keyboard=Keyboard(
        strings, excitation, keys.range, keys.name, keys.provenance))


def _level_distance(recorded: np.ndarray, rendered: np.ndarray) -> float:
    """Weighted mean |difference| (dB) of two partials' level profiles, their weighted mean
    difference (the level) removed; partials within LEVEL_RANGE of the recording's strongest
    weigh by how far above that they are."""
    usable = np.isfinite(recorded) & np.isfinite(rendered)
    weights = np.clip((recorded - recorded[usable].max() + LEVEL_RANGE) / LEVEL_RANGE, 0, 1)
    weights = np.where(usable, weights, 0.0)
    difference = np.where(usable, rendered - recorded, 0.0)
    offset = np.sum(weights * difference) / weights.sum()
    return float(np.sum(weights * np.abs(difference - offset)) / weights.sum())


def _excitation(base: Preset, note: RecordedNote, key: int,
                tick: Callable[[float], None]) -> list[tuple[int, float]]:
    """Two guesses at the (velocity, position) that played `note` at `key`, on the grid
    VELOCITIES x COARSE_POSITIONS: the one whose render's partial levels over PROBE best
    match the recording's (`_level_distance`), and the one whose first BODY_SECONDS are
    closest to it (`acoustics.log_spectral_distance`); `_placed` refines about both."""
    recorded = acoustics.partial_levels(note.samples, note.fs, note.f0, note.inharmonicity,
                                        LEVEL_PARTIALS, *PROBE)
    inharmonicity = key_inharmonicity(base.keys().strings[key])
    grid = [(v, float(p)) for v in VELOCITIES for p in COARSE_POSITIONS]
    levels, spectra = [], []
    for velocity, position in grid:
        x = render(adjusted(base, key, position), key, velocity, note.fs, BODY_SECONDS)
        tick(BODY_SECONDS)
        levels.append(_level_distance(recorded, acoustics.partial_levels(
            x, note.fs, note_frequency(key), inharmonicity, LEVEL_PARTIALS, *PROBE)))
        spectra.append(acoustics.log_spectral_distance(x, note.samples, note.fs))
    return [grid[int(np.argmin(levels))], grid[int(np.argmin(spectra))]]


def _decay_parts(keys: Keyboard, key: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, R) (count,) 1/s: the decay rates of modes 1..count at `key` from the flat and
    the rising loss fields alone (the bridge's mass and the mistuning kept in both)."""
    row = keys.strings[key]
    losses = row[SIGMA0:]
    field = np.arange(len(losses))
    kept = ~np.isin(field, FLAT + RISING)
    beta2 = (np.arange(1, count + 1) * math.pi) ** 2
    return tuple(mode_decay(np.where(np.isin(field, part) | kept, losses, 0.0),
                            row[GAMMA] ** 2, row[KAPPA], beta2) for part in (FLAT, RISING))


def t60s_of(x: np.ndarray, fs: float, partials: np.ndarray) -> np.ndarray:
    """T60s (s, (DECAY_PARTIALS,), inf where not measured) of the partials at these
    frequencies (Hz)."""
    t60s = np.full(DECAY_PARTIALS, math.inf)
    for i, frequency in enumerate(partials[:DECAY_PARTIALS]):
        t60s[i] = acoustics.partial_t60(x, fs, frequency)
    return t60s


def _two_factors(flat: np.ndarray, rising: np.ndarray, target: np.ndarray,
                 weights: np.ndarray) -> tuple[float, float]:
    """(a, b) in FACTOR_RANGE that bring a F + b R (1/s, (M,)) to the target decay rates:
    least squares on log(a F + b R) - log(target), each partial weighted by `weights` and
    by Huber's rule (relative errors past HUBER count linearly), with a pull of PRIOR
    towards a = b = 1 (the base's law stays where the partials do not say otherwise); a
    factor whose part is zero stays 1."""
    logs = np.zeros(2)
    parts = np.stack([flat, rising], axis=1)
    present = np.any(parts > 0, axis=0).astype(float)
    prior = PRIOR * weights.sum()
    for _ in range(30):
        scaled_parts = parts * np.exp(logs)
        predicted = np.maximum(scaled_parts.sum(axis=1), 1e-300)
        residual = np.log(predicted / target)
        robust = weights * np.minimum(1.0, HUBER / np.maximum(np.abs(residual), 1e-12))
        jacobian = scaled_parts / predicted[:, None] * present
        normal = jacobian.T @ (robust[:, None] * jacobian) + prior * np.eye(2)
        step = np.linalg.solve(normal, -(jacobian.T @ (robust * residual) + prior * logs))
        logs = np.clip(logs + step, *np.log(FACTOR_RANGE))
        if np.abs(step).max() < 1e-6:
            break
    return float(np.exp(logs[0])), float(np.exp(logs[1]))


def _stiffness(base: Preset, note: RecordedNote, key: int, tick: Callable[[float], None]) -> float:
    """The factor on kappa at `key` that makes the render's B `note`'s (ROUNDS rounds at
    velocity 80, each scaling kappa by sqrt(B_recorded / B_rendered)): measured on the
    partials' frequencies alone, it comes before what the spectrum's shape depends on."""
    # the closed form first: the base's B at the key
    kappa = _toward(1.0, note.inharmonicity, key_inharmonicity(base.keys().strings[key]))
    for _ in range(ROUNDS):
        x = render(adjusted(base, key, kappa=kappa), key, 80, note.fs, seconds_of(note))
        tick(seconds_of(note))
        kappa = _toward(kappa, note.inharmonicity,
                        measure_partials(x, note.fs, note_frequency(key))[1])
    return kappa


def _toward(factor: float, wanted: float, rendered: float, least: float = 1e-300) -> float:
    """`factor` (on kappa or nu) scaled by sqrt(wanted / rendered), for B or a glide, both
    growing as its square: by at most MAX_STEP, within FACTOR_RANGE; unchanged where either
    is under `least` (a glide too small to tell from the measurement's noise, a B of 0)."""
    if not (wanted >= least and rendered >= least):
        return factor
    return float(np.clip(factor * np.clip(math.sqrt(wanted / rendered), 1 / MAX_STEP,
                                          MAX_STEP), *FACTOR_RANGE))


def _measurable(x: np.ndarray, fs: float, partials: np.ndarray) -> np.ndarray:
    """(DECAY_PARTIALS,) whether each partial's envelope (`acoustics.envelope_db`) falls at
    least DECAY_RANGE dB from its peak to its floor (`acoustics.envelope_floor`): well above
    the noise in its own band, however far it is below the strongest partial."""
    measurable = np.zeros(DECAY_PARTIALS, dtype=bool)
    for i, frequency in enumerate(partials[:DECAY_PARTIALS]):
        level = acoustics.envelope_db(x, fs, frequency, width=fs / acoustics.FRAME)[1]
        measurable[i] = level.max() - acoustics.envelope_floor(level) >= DECAY_RANGE
    return measurable


def _string(base: Preset, note: RecordedNote, key: int, velocity: int, position: float,
            kappa: float, tick: Callable[[float], None]) -> FittedNote:
    """The kappa and loss factors at `key` (kappa starting from `kappa`) that make the
    render's B and partial decays `note`'s, ROUNDS rounds of both."""
    seconds = seconds_of(note)
    recorded = t60s_of(note.samples, note.fs, note.partials)
    levels = acoustics.partial_levels(note.samples, note.fs, note.f0, note.inharmonicity,
                                      len(recorded), *PROBE)
    decaying = np.isfinite(recorded) & (recorded > 0) & (
        (levels > levels.max() - WEAK_DECAY) | _measurable(note.samples, note.fs, note.partials))
    count = len(recorded)
    flat_part, rising_part = _decay_parts(base.keys(), key, count)
    weights = np.where(decaying, np.sqrt(np.minimum(1.0, seconds / np.where(
        decaying, recorded, 1.0))), 0.0)
    glide = _glide(note.samples, note.fs, note.f0)
    flat = rising = nu = 1.0
    for _ in range(ROUNDS):
        x = render(adjusted(base, key, position, kappa, flat, rising, nu), key, velocity,
                   note.fs, seconds)
        tick(seconds)
        nu = _toward(nu, glide, _glide(x, note.fs, note_frequency(key)), MIN_GLIDE)
        _, b, partials = measure_partials(x, note.fs, note_frequency(key))
        rendered = t60s_of(x, note.fs, partials)
        usable = decaying & np.isfinite(rendered) & (rendered > 0)
        if usable.sum() >= 2:
            # each mode's decay as the law now gives it, times what the render lacks
            target = (flat * flat_part + rising * rising_part) * np.clip(
                np.where(usable, rendered, 1.0) / np.where(usable, recorded, 1.0),
                1 / MAX_STEP, MAX_STEP)
            flat, rising = _two_factors(flat_part[usable], rising_part[usable],
                                        target[usable], weights[usable])
        kappa = _toward(kappa, note.inharmonicity, b)
    return FittedNote(note, key, velocity, position, kappa, flat, rising, math.nan,
                      recorded, np.full(count, math.nan), math.nan, math.nan, nu, glide)


def _glide(x: np.ndarray, fs: float, f0: float) -> float:
    """The early glide (cents, `acoustics.glide_cents`) of a note long enough to show it,
    else nan."""
    return acoustics.glide_cents(x, fs, f0) if len(x) >= GLIDE_SECONDS * fs else math.nan


def measured(preset: Preset, base: Preset, fitted: FittedNote) -> FittedNote:
    """`fitted` with the fitted preset's B and T60s at its key, and the base's and the
    fit's distances to the recording (both at the fitted velocity)."""
    note = fitted.recording
    seconds = seconds_of(note)
    x = render(preset, fitted.key, fitted.velocity, note.fs, seconds)
    _, b, partials = measure_partials(x, note.fs, note_frequency(fitted.key))
    before = render(base, fitted.key, fitted.velocity, note.fs, seconds)
    return dataclasses.replace(
        fitted, b_fitted=b, t60s_fitted=t60s_of(x, note.fs, partials),
        glide_fitted=_glide(x, note.fs, note_frequency(fitted.key)),
        distance_base=acoustics.log_spectral_distance(before, note.samples, note.fs),
        distance_fitted=acoustics.log_spectral_distance(x, note.samples, note.fs))


def _description(base: Preset, notes: list[FittedNote]) -> str:
    names = ", ".join(n.recording.path.name for n in notes)
    return (f"{base.name} fitted to {len(notes)} recorded note{'s' * (len(notes) > 1)} "
            f"({names}): stiffness, losses and excitation position per key, between the "
            f"recorded keys interpolated. {base.description}")


def provenance(fit: Fit, command: str) -> dict:
    """What a fitted preset records of its fit (the files' hashes, each note's figures, the
    body's size, the command, the date and the seconds taken) and its base's provenance."""
    return {
        "fit": {
            "made_by": command or "synth.fit.fit_preset",
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(fit.seconds, 1),
            "base": fit.base.name,
            "body_size": round(fit.body_size, 4),
            "notes": [{
                "file": n.recording.path.name, "sha256": n.recording.sha256,
                "key": n.key, "f0_hz": round(n.recording.f0, 3),
                "velocity": n.velocity, "position": round(n.position, 4),
                "clipped": n.recording.clipped,
                "b_recorded": n.recording.inharmonicity, "b_fitted": n.b_fitted,
                "kappa_factor": round(n.kappa_factor, 4),
                "flat_loss_factor": round(n.flat_factor, 4),
                "rising_loss_factor": round(n.rising_factor, 4),
                "nu_factor": round(n.nu_factor, 4),
                "glide_cents_recorded": _json_number(n.glide_recorded),
                "glide_cents_fitted": _json_number(n.glide_fitted),
                "t60s_recorded": [_json_number(t) for t in n.t60s_recorded],
                "t60s_fitted": [_json_number(t) for t in n.t60s_fitted],
                "log_spectral_distance_db": {"base": round(n.distance_base, 2),
                                             "fitted": round(n.distance_fitted, 2)}}
                for n in fit.notes]},
        "base": fit.base.provenance}


def _json_number(value: float) -> float | None:
    return round(float(value), 3) if math.isfinite(value) else None

"""The contract of a model kind: what the player needs to know to play a kind of string model.

A kind is one `Kind` record. The shipped kinds (`sav-physics`, `sav-gradnet`, `koopman`,
`ssm`) and any installed plugin register the same way, through the entry point group
"neural_strings.kinds" (`synth.kinds.registry`); presets, the engine and the window read
every fact about a kind from its record and keep no list of their own. docs/design.md
("Model kinds as plugins") walks through the example plugin.

The engine plays a kind through its `VoiceKernels`, Numba functions over the kind's own
voices: a NamedTuple of preallocated arrays (`voices_class`), one lane per voice on the last
axis. The engine is compiled for that class, so a preset compiles only its own kind's code.
Every kernel works on lane v (or lanes [0, n_lanes)), allocates nothing and raises nothing.
The string a voice plays is given in the normalised units of docs/design.md ("The string and
its SAV step"): gamma^2 and nu^2 (1/s^2), kappa (1/s), and its losses, a record of the
coefficients of `synth.physics.losses` ("Losses").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CONTRACT = 4  # the version of this contract; a plugin built for another is skipped


@dataclass(frozen=True)
class VoiceKernels:
    """A kind's Numba kernels (each @njit, with `synth.kernels.options.KERNEL`):

    reset(voices, v): lane v silent and at rest, its excitation cleared;
    settle(voices, v): lane v's state to exact rest (its sound has died away);
    retune(voices, v, gamma2, kappa, losses, nu2, pickup, n_ramp): lane v plays this
        string (its losses a float64 record (`formulas.LOSS_FIELDS`,): mode m of wavenumber^2
        beta2 decays at `formulas.mode_decay(losses, gamma2, kappa, beta2)`) heard at
        `pickup`: its displacement at that point (0..1), or, for pickup =
        `synth.kernels.formulas.BRIDGE`, the force of its end on the bridge per unit tension,
        which drives the instrument's body. A modal kind weighs mode m by
        `formulas.readout(m, pickup, gamma2, kappa)` (both cases); a kind without modes
        writes its own bridge force. With n_ramp > 0 the change may glide over n_ramp
        samples (advance with ramping=True), else it applies at once;
    excite(voices, v, excitation): a pluck, strike, hammer or held pluck now, as the record
        `excitation` (float64 (`formulas.EXCITE_FIELDS`,)) says: the force pulse's
        normalised amplitude (the engine's per-note scale, E_NOTE_SCALE, included), length
        in samples and shape (`synth.kernels.formulas.PLUCK`, `STRIKE`, `HAMMER`,
        `HELD_PLUCK`), the position 0..1 and the contact's half-width, a hammer's speed,
        mass and felt, and a held pluck's holding force, release and scrape; a kind reads
        the fields it knows, and plays what it cannot as the record's pulse
        (`formulas.pulse_shape`: a HAMMER as a STRIKE, a HELD_PLUCK as a PLUCK);
    advance(voices, n_steps, n_lanes, ramping, out): advance lanes [0, n_lanes) n_steps
        samples, writing each lane's output (what retune's pickup asks for) to
        out[:n_steps, v] (kernel float type);
    end_ramps(voices, n_lanes): a block with ramping is over: stop the glides;
    is_finite(voices, v) -> bool: whether lane v's state is finite;
    publish_modes(voices, v, energies) -> (q1, p1, omega1): lane v's energy per mode into
        energies (M,), and its first mode's displacement, momentum over omega1 and angular
        frequency (rad/s), from which the window reads the pitch.
    """

    reset: Callable
    settle: Callable
    retune: Callable
    excite: Callable
    advance: Callable
    end_ramps: Callable
    is_finite: Callable
    publish_modes: Callable


@dataclass(frozen=True)
class Kind:
    """A model kind.

    name: the preset's "kind" (e.g. "sav-physics"); title: what it is, in a line (the window's
    preset details); voices_class: the NamedTuple class of its voices (two kinds share one
    only if they share their kernels too); kernels: its `VoiceKernels`;
    build_voices(preset, fs, capacity, dtype) -> voices: the arrays of `capacity` lanes at
        sample rate fs (Hz), state in `dtype` (float32 real time, float64 reference), at rest;
    check_model(model, n_modes) -> dict: the preset's "model" settings (its metadata's
        "model" table without n_modes) checked and returned; ValueError says what is wrong;
    tensors(model, n_modes) -> {name: (shape, dtype)}: the tensors a preset must hold, with
        their shapes (None: any size) and the dtype they are stored in ("float32",
        "float64"); presets keep them in memory as float64;
    check_tensors(preset) -> [fault]: what else is wrong with the tensors (stability...);
    describe(preset) -> str: the model in a line, for the window;
    free_run(preset, spec) -> (q (N, M), w (N,)): one string of a
        `synth.physics.simulate.SimulationSpec` played from rest as the engine would, for
        `neural-strings evaluate`; None if the kind cannot be evaluated so;
    ignores: the live controls (`synth.params`) that do nothing for it (greyed out);
    tuning(preset) -> float: how much higher than its linear string the kind's first mode
        sounds (a ratio; a learned linear fit of a nonlinear string is sharp by its average
        glide): the engine tunes notes by it, so each sounds at its pitch; None: 1;
    presets: a folder of presets the kind ships, listed with the shipped ones;
    contract: the `CONTRACT` it was written for; package: the distribution that provides it
        (set by the registry).
    """

    name: str
    title: str
    voices_class: type
    kernels: VoiceKernels
    build_voices: Callable
    check_model: Callable
    tensors: Callable
    describe: Callable
    check_tensors: Callable = field(default=lambda preset: [])
    free_run: Callable | None = None
    ignores: tuple[str, ...] = ()
    tuning: Callable | None = None
    presets: Path | None = None
    contract: int = CONTRACT
    package: str = ""

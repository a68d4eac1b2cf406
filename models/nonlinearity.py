"""A learned nonlinearity for a fitted string (`neural-strings fit --learn-nonlinearity`;
docs/design.md, "Fitting a preset to recordings"): once the physical fit has converged, its
string's potential becomes a GradNet, fine-tuned through the SAV scheme so the recorded notes'
first SECONDS come closer to the recordings (`models.objective.loss`: their spectra and their
pitch tracks, where the glide shows), and the preset plays as `sav-gradnet`, stable by
construction whatever the weights.

The start is exact, not learned: the stretch activation's antiderivative is half the exact
geometric string's element, A(z) = (sqrt(1 + z^2) - 1)^2 / 2, so a stretch GradNet whose
units are the exact potential's N = M + 1 midpoint slopes, with output scales 2 / N and no
biases, *is* the exact potential (`exact_gradnet`). Its biases are frozen (zero from the
exact start) while it learns, so the string at rest stays in equilibrium and its
small-amplitude pitch (the physical fit's) stays as it was; what moves is how the string's
energy grows with each shape of slope: the glide and how the modes trade energy.

Each note's string is stepped in torch exactly as the engine's lane steps it (`Lane`, read
from the engine itself after its note-on: the warped coefficients, the contact, the readout
and the excitation's force with its scrape noise, or its hammer, and the unisons' cancelling
motion; the drift control differentiated too), and
heard through the body as `models.refine` hears it. What the twin does not hold (the
engine's rounding) stays as the engine rendered it: a note is the engine's render plus the
twin's change of its string, y = engine + chain(x_learned - x_start), the chain linear (the
lane's output as heard, `pressed_out`, its gains into the direct sound and the bridge force,
measured against the engine's render, then the body).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import torch

from models.gradnet import GradNetPotential
from models.objective import loss
from models.refine import SETTLE, BoundedBody, Forces, bridge_forces
from models.sav import EPS, ExactPotential
from synth import acoustics
from synth.engine import Engine
from synth.engine.block import PRESS_SECONDS
from synth.engine.levels import level_gain
from synth.errors import ParameterError
from synth.fit import Fit, measured, provenance
from synth.kernels.formulas import (
    AMP,
    E_HAMMER_VELOCITY,
    ELAPSED,
    H_EXPONENT,
    H_FELT,
    H_LEFT,
    H_MASS,
    H_PSI,
    H_V,
    H_Y,
    HAMMER,
    HELD_PLUCK,
    LEN,
    SCRAPE,
    SEED,
    SHAPE,
    excitation_force,
)
from synth.kernels.lanes import (
    ANTI_COUPLING,
    ANTI_DECAY,
    ANTI_STIFF,
    COUPLING,
    DECAY,
    DRIVE,
    GAIN,
    NOISE_MODULUS,
    NOISE_MULTIPLIER,
    NU2,
    PICKUP,
    REST_PSI,
    STIFF,
    TENSION,
    scrape_force,
)
from synth.kernels.sav import LAMBDA0
from synth.kernels.sav_voice import K
from synth.kinds.sav_string import GRADNET_TENSORS
from synth.physics.hammer import felt_force, felt_potential
from synth.presets import Preset

SECONDS = 0.3  # of each recording, from its onset, that the fine-tune compares
TWIN_TOLERANCE = 1e-3  # the largest residual of the twin against the engine's render
ITERATIONS = 20
SCALE_RATE = 0.05  # Adam's learning rate on the units' log scales
WEIGHT_RATE = 0.005  # and on the weights (in units of each mode's wavenumber)
PRIOR = 1.0  # the pull toward the start (mean squares of the change), against the loss
LEARNED_TEXT = " Its string's potential is"  # how a learned preset's description goes on


def conditioned(tensors: dict, activation: str) -> GradNetPotential:
    """The GradNet of exported `tensors` (`GradNetPotential.export`) with each weight column
    stored in units of its mode's wavenumber, so Adam's steps are relative to it."""
    n_modes = tensors["weight"].shape[1]
    beta = torch.arange(1, n_modes + 1, dtype=torch.float64) * math.pi
    return GradNetPotential.from_export(tensors, activation=activation, column_scale=beta)


def exact_gradnet(n_modes: int) -> GradNetPotential:
    """A stretch GradNet over n_modes modes equal to `models.sav.ExactPotential(n_modes)`:
    one unit per midpoint slope (N = n_modes + 1), output scales 2 / N, biases 0."""
    exact = ExactPotential(n_modes)
    units = exact.n_points
    return conditioned({"weight": exact.table.T.numpy(), "bias": np.zeros(units),
                        "log_scale_in": np.zeros(units),
                        "log_scale_out": np.full(units, math.log(2.0 / units))}, "stretch")


def starting_potential(preset: Preset) -> GradNetPotential:
    """The GradNet a preset's string starts from: the exact potential as a GradNet, or a
    sav-gradnet preset's own network over its modes; ParameterError for any other string."""
    if preset.kind == "sav-gradnet":
        tensors = {name: np.asarray(preset.tensors[f"gradnet.{name}"], np.float64)
                   for name in GRADNET_TENSORS}
        tensors["weight"] = tensors["weight"][:, :preset.n_modes]
        return conditioned(tensors, preset.model.get("activation", "leaky"))
    if preset.kind == "sav-physics" and preset.model.get("potential") == "exact":
        return exact_gradnet(preset.n_modes)
    raise ParameterError(
        f"--learn-nonlinearity starts from the exact geometric string or a GradNet; "
        f"{preset.name!r} is a {preset.kind} model"
        + (f" with the {preset.model['potential']} potential" if "potential" in preset.model
           else ""))


def check_learnable(preset: Preset) -> None:
    """ParameterError unless `preset`'s string starts from a potential the fine-tune can
    learn (`starting_potential`)."""
    starting_potential(preset)


HAMMER_ROWS = (("y", H_Y), ("v", H_V), ("psi", H_PSI), ("mass", H_MASS), ("felt", H_FELT),
               ("exponent", H_EXPONENT), ("left", H_LEFT))


@dataclasses.dataclass(frozen=True)
class Lane:
    """One note's string as the engine's lane plays it at time step k (s): the per-mode
    rows (M,) decay, stiff, gain, drive, pickup, tension and those of the unisons'
    cancelling motion, anti_decay, anti_stiff, coupling, anti_coupling (all zero for a
    single string; `synth.kernels.lanes`), nu2, the held start's force `hold` (0: the
    string starts at rest), the excitation's force at every step (N,), its scrape noise
    included, and its hammer (`HAMMER_ROWS`, normalised; "left" the steps it stays in
    play, 0 without one)."""

    rows: dict
    nu2: float
    hold: float
    forces: np.ndarray
    k: float
    hammer: dict


def lane_of(preset: Preset, key: int, velocity: int, fs: float, steps: int) -> Lane:
    """`key` at `velocity` as the engine plays it on lane 0 (read after its first step)."""
    engine = Engine(dataclasses.replace(preset, path=None), fs=fs, polyphony=1,
                    dtype=np.float64)
    engine.process(round(SETTLE * fs))
    engine.note_on(key, velocity)
    engine.process(1)
    voices = engine.voices
    rows = {name: voices.coef[row, :, 0].copy() for name, row in
            (("decay", DECAY), ("stiff", STIFF), ("gain", GAIN), ("drive", DRIVE),
             ("pickup", PICKUP), ("tension", TENSION), ("anti_decay", ANTI_DECAY),
             ("anti_stiff", ANTI_STIFF), ("coupling", COUPLING),
             ("anti_coupling", ANTI_COUPLING))}
    exc = voices.exc[:, :1].copy()  # the excitation as it started: its noise's seed set back
    exc[SEED, 0] = float(int(exc[SEED, 0]) * pow(int(NOISE_MULTIPLIER), -1,
                                                    int(NOISE_MODULUS)) % int(NOISE_MODULUS))
    amplitude, length, shape = (float(exc[row, 0]) for row in (AMP, LEN, SHAPE))
    forces = np.zeros(steps)
    for n in range(steps):
        exc[ELAPSED, 0] = float(n)
        forces[n] = excitation_force(float(n), amplitude, length, shape)
        if exc[SCRAPE, 0] != 0.0:
            forces[n] += scrape_force(exc, 0)
    hold = amplitude if shape == HELD_PLUCK else 0.0
    hammer = {name: float(exc[row, 0]) for name, row in HAMMER_ROWS}
    if shape == HAMMER:  # as `sav_voice.excite` started it, a step ago, on the string at rest
        hammer.update(y=0.0, v=float(engine.state.excitation[E_HAMMER_VELOCITY]),
                      psi=REST_PSI, left=hammer["left"] + 1.0)
    else:
        hammer["left"] = 0.0
    return Lane(rows, float(voices.per_lane[NU2, 0]), hold, forces,
                float(voices.constants[K]), hammer)


def lane_outputs(potential: torch.nn.Module, lanes: list[Lane]) -> torch.Tensor:
    """What each lane is heard as after each step, (B, N), stepped as `synth.kernels.lanes`
    steps it (the struck step while its hammer is in play, the unisons' cancelling motion
    coupled; the drift control differentiated too), with `potential`; all lanes share k
    and N."""
    k = lanes[0].k
    rows = {name: torch.as_tensor(np.stack([lane.rows[name] for lane in lanes]))
            for name in lanes[0].rows}
    def column(values: list[float]) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float64)[:, None]

    hammer = {name: column([lane.hammer[name] for lane in lanes]) for name, _ in HAMMER_ROWS}
    nu2 = column([lane.nu2 for lane in lanes])
    forces = torch.as_tensor(np.stack([lane.forces for lane in lanes]))
    hold = column([lane.hold for lane in lanes])
    held = rows["stiff"] != 0.0
    q = torch.where(held, hold * rows["drive"] * rows["gain"]
                    / torch.where(held, rows["stiff"], 1.0), 0.0)
    p = torch.zeros_like(q)
    x, y = torch.zeros_like(q), torch.zeros_like(q)  # the unisons' cancelling motion
    y_h, v_h, psi_h = hammer["y"], hammer["v"], hammer["psi"]
    psi = torch.sqrt(2.0 * potential(q)[0] + EPS)[:, None]
    shape, gain = rows["drive"], rows["gain"]  # a hammer's contact shares the drive's shape
    h = 0.25 * k * nu2
    out = []
    for n in range(forces.shape[1]):
        struck = hammer["left"] > n
        on_q, on_p = (shape * q).sum(-1, keepdim=True), (shape * p).sum(-1, keepdim=True)
        q_half = q + 0.5 * k * p
        x_half = x + 0.5 * k * y
        value, grad = potential(q_half)
        g = grad / torch.sqrt(2.0 * value + EPS)[:, None]
        drift = psi - torch.sqrt(2.0 * potential(q)[0] + EPS)[:, None]
        g = g - LAMBDA0 * drift / (p.abs().sum(-1, keepdim=True) + EPS) * torch.sign(p)
        squeeze = y_h - on_q + 0.5 * k * (v_h - on_p)
        s = torch.where(struck, felt_force(squeeze, hammer["felt"], hammer["exponent"])
                        / torch.sqrt(2.0 * felt_potential(squeeze, hammer["felt"],
                                                          hammer["exponent"]) + EPS), 0.0)
        over_mass = torch.where(struck, k / hammer["mass"], 0.0)
        base = rows["decay"] * p - rows["stiff"] * q_half + gain * shape * forces[:, n:n + 1] \
            - rows["coupling"] * x_half
        h2 = 0.25 * k * s * s
        g_p = (g * p).sum(-1, keepdim=True)
        first = nu2 * psi + h * (g_p + (g * base).sum(-1, keepdim=True))
        second = s * psi_h + h2 * (2.0 * v_h - on_p - (shape * base).sum(-1, keepdim=True))
        d22 = 1.0 + h2 * (over_mass + (shape * gain * shape).sum(-1, keepdim=True))
        cross = (g * gain * shape).sum(-1, keepdim=True)
        shift = (first + h * cross * second / d22) \
            / (1.0 + h * (g * gain * g).sum(-1, keepdim=True) - h * h2 * cross * cross / d22)
        push = (second + h2 * cross * shift) / d22  # s psi_h at the half step
        p_next = base - gain * (shift * g - push * shape)
        q = q_half + 0.5 * k * p_next
        y = rows["anti_decay"] * y - rows["anti_stiff"] * x_half \
            - rows["anti_coupling"] * q_half
        x = x_half + 0.5 * k * y
        out.append((rows["pickup"] * q - rows["tension"] * shift * g).sum(-1))
        psi = psi + 0.5 * k * (g_p + (g * p_next).sum(-1, keepdim=True))
        after = v_h - over_mass * push
        moved = psi_h + 0.5 * k * s * (v_h + after - on_p
                                       - (shape * p_next).sum(-1, keepdim=True))
        loose = (s == 0.0) & (moved.abs() > REST_PSI)  # out of contact: at rest again
        psi_h = torch.where(struck, torch.where(loose, REST_PSI, moved), psi_h)
        y_h = torch.where(struck, y_h + 0.5 * k * (v_h + after), y_h)
        v_h = torch.where(struck, after, v_h)
        p = p_next
    return torch.stack(out, 1)


def pressed_out(w: torch.Tensor, lanes: list[Lane], fs: float) -> torch.Tensor:
    """The lanes' outputs w (B, N) as the engine hears them (`engine.block._render`, a fresh
    voice): a held string's relative to its press, w - w[0] exp(-t / PRESS_SECONDS), the
    others' as they are."""
    fading = torch.exp(-torch.arange(w.shape[-1], dtype=w.dtype) / (PRESS_SECONDS * fs))
    held = torch.as_tensor([lane.hold != 0.0 for lane in lanes])[:, None]
    return w - torch.where(held, w[:, :1], 0.0) * fading


@dataclasses.dataclass(frozen=True)
class Note:
    """One recorded note ready for the fine-tune: its `Lane`, the engine's render of it
    (`refine.Forces`), the gains from the lane's output (as heard, `pressed_out`) into the
    direct sound and the bridge force, the start's output `x0` (N,), the recording
    (N - onset,) from its onset and its partials' frequencies (Hz)."""

    lane: Lane
    forces: Forces
    direct_gain: float
    force_gain: float
    x0: torch.Tensor
    recorded: torch.Tensor
    partials: torch.Tensor


def prepare(preset: Preset, potential: GradNetPotential, key: int, velocity: int,
            samples: np.ndarray, partials: np.ndarray, fs: float) -> tuple[Note, float]:
    """The `Note` of a recording of `key` at `velocity` (`samples` from its onset, at fs Hz,
    its partials at `partials` Hz) and how far the lane twin's sound is from the engine's
    (the largest residual of the gains' least squares over the larger peak)."""
    steps = round(SECONDS * fs)
    lane = lane_of(preset, key, velocity, fs, steps)
    forces = bridge_forces(preset, key, velocity, fs, steps / fs)
    with torch.no_grad():
        x0 = pressed_out(lane_outputs(potential, [lane]), [lane], fs)[0]
    x = x0.numpy()
    gains, residual = [], 0.0
    for engine_says in (forces.direct, forces.force):
        gain = float(engine_says @ x / max(x @ x, 1e-300))
        gains.append(gain)
        residual = max(residual, float(np.abs(engine_says - gain * x).max()
                                       / max(np.abs(engine_says).max(), 1e-300)))
    with torch.no_grad():
        start = acoustics.onset(instrument(preset)(forces).numpy(), fs, noise=0.0)
    note = Note(lane, dataclasses.replace(forces, onset=start), gains[0], gains[1], x0,
                torch.as_tensor(samples[:steps - start], dtype=torch.float64),
                torch.as_tensor(partials, dtype=torch.float64))
    return note, residual


def instrument(preset: Preset) -> Callable[[Forces], torch.Tensor]:
    """The preset's mono output, from its onset, of a note's `Forces`: through its body as it
    is (`refine.BoundedBody`, its parameters fixed), or the direct sound where it has none."""
    if preset.body is None:
        return lambda forces: torch.as_tensor(forces.direct)[forces.onset:]
    return BoundedBody(preset).requires_grad_(False)


def heard(body: Callable[[Forces], torch.Tensor], note: Note, x: torch.Tensor) -> torch.Tensor:
    """The note's instrument output from its onset with the lane heard as x (N,) instead of
    its start: the engine's render plus the chain's change."""
    change = x - note.x0
    forces = dataclasses.replace(
        note.forces, direct=torch.as_tensor(note.forces.direct) + note.direct_gain * change,
        force=torch.as_tensor(note.forces.force) + note.force_gain * change)
    return body(forces)


def _trained(potential: GradNetPotential) -> list[torch.nn.Parameter]:
    """The parameters the fine-tune moves: all but the biases, which stay as they start."""
    potential.bias.requires_grad_(False)
    return [potential.weight, potential.log_scale_in, potential.log_scale_out]


def learned_preset(preset: Preset, potential: GradNetPotential) -> Preset:
    """`preset` playing `potential` as a sav-gradnet string (its keyboard, body and
    controls kept), re-levelled."""
    learned = dataclasses.replace(
        preset, path=None, kind="sav-gradnet",
        model={"potential": "gradnet", "activation": potential.activation},
        description=f"{preset.description.split(LEARNED_TEXT)[0]}{LEARNED_TEXT} a "
                    f"{potential.weight.shape[0]}-unit GradNet learned from recordings "
                    "(stable by construction).".strip(),
        tensors={f"gradnet.{name}": value for name, value in potential.export().items()})
    return dataclasses.replace(learned, output_gain=level_gain(learned))


def learn_nonlinearity(fit: Fit, progress: Callable[[float], None] | None = None,
                       iterations: int = ITERATIONS) -> Fit:
    """`fit` with its string's potential a GradNet fine-tuned on its recordings (the module
    docstring; the step of the lowest loss kept), exported as sav-gradnet, re-levelled,
    its notes measured again and the fine-tune in its provenance; `progress` gets each
    step's share of the whole (they add up to 1). ParameterError for a preset the lane twin
    cannot learn (`check_learnable`)."""
    check_learnable(fit.preset)
    begun = time.monotonic()
    potential = starting_potential(fit.preset)
    body = instrument(fit.preset)
    notes, parity = [], 0.0
    for fitted in fit.notes:
        recording = fitted.recording
        note, residual = prepare(fit.preset, potential, fitted.key, fitted.velocity,
                                 recording.samples, recording.partials, recording.fs)
        if not residual < TWIN_TOLERANCE:
            raise ParameterError(
                f"--learn-nonlinearity: its twin does not play key {fitted.key} of "
                f"{fit.preset.name!r} as the engine does (residual {residual:.2g} of the peak, "
                f"at most {TWIN_TOLERANCE:g}): not learned")
        notes.append(note)
        parity = max(parity, residual)
    rates = sorted({note.forces.fs for note in notes})  # notes at one rate step together
    batches = [(fs, [note for note in notes if note.forces.fs == fs]) for fs in rates]
    trained = _trained(potential)
    start = [t.detach().clone() for t in trained]
    optimiser = torch.optim.Adam([{"params": trained[:1], "lr": WEIGHT_RATE},
                                  {"params": trained[1:], "lr": SCALE_RATE}])
    losses, best = [], (math.inf, None)
    for step in range(iterations + 1):
        optimiser.zero_grad()
        losses_now = []
        for fs, batch in batches:
            lanes = [note.lane for note in batch]
            outputs = pressed_out(lane_outputs(potential, lanes), lanes, fs)
            losses_now += [loss(heard(body, note, x), note.recorded, fs, note.partials)
                           for note, x in zip(batch, outputs, strict=True)]
        total = torch.stack(losses_now).mean()
        losses.append(total.item())
        if not math.isfinite(losses[-1]):
            break  # kept: the best step before
        if losses[-1] < best[0]:
            best = (losses[-1], {name: t.copy() for name, t in potential.export().items()})
        if step == iterations:
            break
        pull = sum((t - t0).pow(2).mean() for t, t0 in zip(trained, start, strict=True))
        (total + PRIOR * pull).backward()
        optimiser.step()
        if progress is not None:
            progress(1.0 / iterations)
    if best[1] is None:
        return fit
    activation = potential.activation
    potential = conditioned(best[1], activation)
    preset = learned_preset(fit.preset, potential)
    learned = dataclasses.replace(fit, preset=preset,
                                  notes=[measured(preset, fit.base, n) for n in fit.notes],
                                  seconds=fit.seconds + time.monotonic() - begun)
    earlier = fit.preset.provenance.get("fit", {})
    record = provenance(learned, earlier.get("made_by", ""))
    if "refinement" in earlier:
        record["fit"]["refinement"] = earlier["refinement"]
    record["fit"]["nonlinearity"] = {
        "what": f"a {activation} GradNet of {potential.weight.shape[0]} units, started as "
                "the fitted string's potential, fine-tuned through the SAV scheme "
                "(models.nonlinearity)",
        "iterations": len(losses) - 1, "seconds_compared": SECONDS,
        "twin_residual": float(f"{parity:.2g}"),
        "loss_db": {"before": round(losses[0], 3), "after": round(best[0], 3),
                    "steps": [round(d, 3) for d in losses]}}
    return dataclasses.replace(learned, preset=dataclasses.replace(preset, provenance=record))

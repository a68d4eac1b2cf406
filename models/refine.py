"""Refinement by gradient of a fitted preset's body (docs/design.md, "Fitting a preset to
recordings"): each of its modes' frequency, decay and gains moved, through the body's torch
twin (`models.body`), to bring every recorded note's first SECONDS closer to the recording in
the loss of `models.objective` (the multi-resolution spectral loss, log and linear
magnitudes, and the pitch track), all the notes at once.

The body does not act back on the strings, so each note's string is rendered once by the
engine (`bridge_forces`), and the instrument's mono output is then, exactly as the engine
mixes it (tests/test_bridge.py),

    y = (1 - body_mix) D + body_mix (Y_left + Y_right)(F),

D the direct sound summed over its panning and Y the body twin driven by the bridge force F
(both at the output's gain). Each parameter stays in its range by construction: a mode's
frequency is its fit's times exp(FREQUENCY_RANGE tanh(a)), its decay rate times
exp(DECAY_RANGE tanh(b)) and each gain times exp(GAIN_RANGE tanh(c)), so no step can leave the
range nor flip a gain's sign, and a small pull (PRIOR) keeps modes the notes do not reach
where they were.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import torch

from models.body import heard
from models.objective import loss
from synth import acoustics
from synth.engine import Engine
from synth.engine.levels import level_gain
from synth.engine.state import preset_default
from synth.fit import Fit, measured, provenance
from synth.kernels.linear import NYQUIST_FRACTION
from synth.presets import Preset

SECONDS = 0.5  # of each recording, from its onset, that the refinement compares
ITERATIONS = 40
LEARNING_RATE = 0.05  # Adam's, on the unbounded parameters a, b, c
FREQUENCY_RANGE = 0.05  # a mode's frequency moves at most by a factor exp(+-0.05) (5 %)
DECAY_RANGE = 1.0  # its decay rate by exp(+-1)
GAIN_RANGE = 1.5  # each of its gains by exp(+-1.5) (13 dB)
PRIOR = 10.0  # the pull of a, b and c towards 0 (their mean squares), against the loss
QUIET = -40.0  # dB: the master gain the strings are rendered at, far below the limiter
SETTLE = 0.3  # s the engine runs before a note: body_mix settles to 0 (20 ms smoothing)


@dataclasses.dataclass(frozen=True)
class Forces:
    """One note's string as the engine plays it at fs Hz: `direct` (N,) the mono direct
    sound, `force` (N,) the bridge force (both at the output's gain, `bridge_forces`), and
    `onset`, the sample its instrument output starts at."""

    direct: np.ndarray
    force: np.ndarray
    fs: float
    onset: int = 0


def bridge_forces(preset: Preset, key: int, velocity: int, fs: float,
                  seconds: float) -> Forces:
    """`key` at `velocity` on `preset`: its direct sound (body_mix 0) and bridge force (the
    direct sound with the body's stereo spread 0, one channel), `seconds` long, at a master
    gain of QUIET dB (the limiter never acts). A preset without a body: its sound, for both."""
    def direct(spread: float) -> np.ndarray:
        body = preset.body and dataclasses.replace(preset.body, spread=spread)
        engine = Engine(dataclasses.replace(preset, body=body, path=None), fs=fs,
                        polyphony=2, dtype=np.float64)
        engine.set_param("body_mix", 0.0)
        engine.set_param("gain", QUIET)
        engine.process(round(SETTLE * fs))
        engine.note_on(key, velocity)
        return engine.process(round(seconds * fs)).astype(np.float64)

    if preset.body is None:
        sound = acoustics.mono(direct(0.0))
        return Forces(sound, sound, fs)
    return Forces(acoustics.mono(direct(preset.body.spread)), direct(0.0)[:, 0], fs)


class BoundedBody(torch.nn.Module):
    """A preset's body whose modes may move within the module's ranges (zero parameters:
    the body as it is); `forward(forces)` is the instrument's mono output, heard as the
    engine plays the preset: its body_size, body_damping and body_mix controls applied and
    the modes at or above 0.45 fs silent."""

    def __init__(self, preset: Preset) -> None:
        super().__init__()
        body = preset.body
        self.mix, self.size, self.damping = (preset_default(preset, name) for name in
                                             ("body_mix", "body_size", "body_damping"))
        for name, value in (("frequencies", body.frequencies), ("decays", body.decays),
                            ("gains", body.gains)):
            self.register_buffer(name, torch.as_tensor(np.asarray(value, np.float64)))
        self.a = torch.nn.Parameter(torch.zeros_like(self.frequencies))
        self.b = torch.nn.Parameter(torch.zeros_like(self.decays))
        self.c = torch.nn.Parameter(torch.zeros_like(self.gains))

    def modes(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The moved frequencies (K,) Hz, decays (K,) 1/s and gains (K, 2)."""
        return (self.frequencies * torch.exp(FREQUENCY_RANGE * torch.tanh(self.a)),
                self.decays * torch.exp(DECAY_RANGE * torch.tanh(self.b)),
                self.gains * torch.exp(GAIN_RANGE * torch.tanh(self.c)))

    def forward(self, forces: Forces) -> torch.Tensor:
        """(N - onset,): the note's mono instrument output from its onset."""
        frequencies, decays, gains = self.modes()
        frequencies = frequencies / self.size
        heard_at = (frequencies < NYQUIST_FRACTION * forces.fs).to(gains.dtype)[:, None]
        microphones = heard(torch.as_tensor(forces.force), frequencies, decays * self.damping,
                            gains * heard_at, forces.fs)
        output = (1.0 - self.mix) * torch.as_tensor(forces.direct) \
            + self.mix * microphones.sum(dim=-1)
        return output[forces.onset:]

    def prior(self) -> torch.Tensor:
        return sum(p.pow(2).mean() for p in (self.a, self.b, self.c))


def refine_body(fit: Fit, progress: Callable[[float], None] | None = None,
                iterations: int = ITERATIONS) -> Fit:
    """`fit` with its preset's body refined (the module docstring; the step of the lowest
    loss kept), re-levelled, its notes measured again and the refinement in its provenance;
    `progress` gets each iteration's share of the whole (they add up to 1). A preset without
    a body, or a first loss that is not finite, returns `fit` as it is."""
    if fit.preset.body is None:
        return fit
    begun = time.monotonic()
    body = BoundedBody(fit.preset)
    notes, recordings = [], []
    for note in fit.notes:
        recording = note.recording
        seconds = min(SECONDS, len(recording.samples) / recording.fs)
        forces = bridge_forces(fit.preset, note.key, note.velocity, recording.fs, seconds)
        with torch.no_grad():
            start = acoustics.onset(body(forces).numpy(), recording.fs, noise=0.0)
        notes.append(dataclasses.replace(forces, onset=start))
        recordings.append((torch.as_tensor(recording.samples[:round(seconds * recording.fs)]),
                           torch.as_tensor(recording.partials)))
    optimiser = torch.optim.Adam(body.parameters(), lr=LEARNING_RATE)
    losses, best = [], (math.inf, None)
    for step in range(iterations + 1):
        optimiser.zero_grad()
        total = torch.stack([loss(body(forces), recorded, forces.fs, partials)
                             for forces, (recorded, partials) in zip(notes, recordings,
                                                                     strict=True)]).mean()
        losses.append(total.item())
        if not math.isfinite(losses[-1]):
            break  # kept: the best step before
        if losses[-1] < best[0]:
            with torch.no_grad():
                best = (losses[-1], [t.numpy().copy() for t in body.modes()])
        if step == iterations:
            break
        (total + PRIOR * body.prior()).backward()
        optimiser.step()
        if progress is not None:
            progress(1.0 / iterations)
    if best[1] is None:
        return fit
    frequencies, decays, gains = best[1]
    preset = dataclasses.replace(fit.preset, path=None, body=dataclasses.replace(
        fit.preset.body, frequencies=frequencies, decays=decays, gains=gains))
    preset = dataclasses.replace(preset, output_gain=level_gain(preset))
    refined = dataclasses.replace(fit, preset=preset,
                                  notes=[measured(preset, fit.base, note) for note in fit.notes],
                                  seconds=fit.seconds + time.monotonic() - begun)
    record = provenance(refined, fit.preset.provenance.get("fit", {}).get("made_by", ""))
    record["fit"]["refinement"] = {
        "what": "the body's modes by gradient through its torch twin (models.refine)",
        "iterations": iterations, "seconds_compared": SECONDS,
        "loss_db": {"before": round(losses[0], 3), "after": round(best[0], 3)}}
    return dataclasses.replace(refined, preset=dataclasses.replace(preset, provenance=record))

"""A string estimated from a recorded note in closed form: the physically informed start of a
fit (docs/design.md, "Fitting a preset to recordings").

The SAV string's mode m rings at f_m = (m / 2) sqrt(gamma^2 + kappa^2 pi^2 m^2) Hz (normalised
units, `synth.physics.modes`), which is the stiff string's f_m = m f0 sqrt(1 + B m^2) with

    gamma = 2 f0,    kappa = gamma sqrt(B) / pi,

so the fitted f0 and B of the recorded partials (`synth.recording`) give the string. Each
partial's decay rate sigma_m = ln(1000) / T60_m (`acoustics.partial_t60`) then gives the
scheme's loss law sigma0 + sigma1 beta_m^2 (beta_m = m pi) by least squares, each partial
weighted by how much of its decay the recording holds (a T60 longer than the recording weighs
less).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synth import acoustics
from synth.errors import ParameterError
from synth.physics.losses import scheme_losses
from synth.physics.strings import LN_1000
from synth.recording import RecordedNote

MIN_DECAYS = 2  # partials with a measurable decay needed to fit the loss law


@dataclass(frozen=True)
class StringEstimate:
    """gamma, kappa (1/s, normalised), sigma0 (1/s) and sigma1 (1/s) of the string heard in
    a recorded note, and the partials' measured T60s (s, inf where they did not decay)."""

    gamma: float
    kappa: float
    sigma0: float
    sigma1: float
    t60s: np.ndarray

    def losses(self) -> np.ndarray:
        """The loss record (`synth.physics.losses`) of the estimate."""
        return scheme_losses(self.sigma0, self.sigma1)


def estimate_string(note: RecordedNote) -> StringEstimate:
    """The string of `note` in closed form (the module docstring); ParameterError if fewer
    than MIN_DECAYS partials decay measurably."""
    gamma = 2.0 * note.f0
    kappa = gamma * math.sqrt(note.inharmonicity) / math.pi
    t60s = np.array([acoustics.partial_t60(note.samples, note.fs, f) for f in note.partials])
    decaying = np.isfinite(t60s) & (t60s > 0.0)
    if decaying.sum() < MIN_DECAYS:
        raise ParameterError(f"{note.path}: only {decaying.sum()} partials decay measurably "
                             f"in {len(note.samples) / note.fs:.1f} s; a longer recording "
                             "is needed")
    orders = np.flatnonzero(decaying) + 1.0
    sigma = LN_1000 / t60s[decaying]
    beta2 = (orders * math.pi) ** 2
    weights = np.sqrt(np.minimum(1.0, len(note.samples) / note.fs / t60s[decaying]))
    design = np.stack([np.ones_like(beta2), beta2], axis=1) * weights[:, None]
    (sigma0, sigma1), *_ = np.linalg.lstsq(design, sigma * weights, rcond=None)
    return StringEstimate(gamma, kappa, max(float(sigma0), 0.0), max(float(sigma1), 0.0),
                          t60s)

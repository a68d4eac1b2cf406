"""How a family trains: the samplers of its two phases, the scale calibration before the first
step, and the loss of a batch. `models.train` runs any scheme through one loop.

- `SegmentTraining`: a step scheme (`models.sav.SAVScheme`, `models.verlet.VerletScheme`,
  `models.baselines.fno.FNOScheme`) teacher-forced on recorded segments. Phase 1 ([pretrain]):
  with force matching, regress nu^2 F(q_half) on the nonlinear force each recorded step
  implies (`models.segments.implied_force`), relative squared error; otherwise run the scheme
  on segments of `first_steps`. Phase 2 ([train]): run the scheme for segment_ms from
  recorded states and compare q and p with the recording, relMSE(q) + relMSE(p) pooled over
  the batch.
- `WindowTraining`: windows from the onset (`models.windows`) of a one-string dataset,
  phase 1 of the first 0.1 s, phase 2 of segment_ms; the network's own `loss(batch)`.
"""

from __future__ import annotations

import torch

from models.segments import Segments, SegmentSampler, implied_force
from models.windows import WindowSampler

FIRST_WINDOW_MS = 100.0  # WindowTraining: phase 1 windows (the accuracy metric's span)


def relative_error(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """sum (estimate - target)^2 / sum target^2 over every element."""
    return ((estimate - target) ** 2).sum() / (target ** 2).sum().clamp_min(1e-30)


def _steps(recipe, ms: float) -> int:
    """Samples in `ms` milliseconds at the recipe dataset's rate (at least one)."""
    fs = recipe.dataset_config().settings["fs"]
    return max(1, round(ms * 1e-3 * fs))


class SegmentTraining:
    """Teacher-forced segments through `step_scheme` (module docstring). With force_matching,
    the network has `force(q)`, `column_scale` and `calibrate(q_half, force)`; without, it
    has `calibrate(q, p, strings)` and phase 1 runs segments of first_steps."""

    def __init__(self, step_scheme, force_matching: bool = True, first_steps: int = 1) -> None:
        self.step_scheme = step_scheme
        self.force_matching = force_matching
        self.first_steps = first_steps

    def samplers(self, recipe, directory, dtype) -> tuple:
        return (SegmentSampler(directory, self.first_steps, dtype),
                SegmentSampler(directory, _steps(recipe, recipe.train.segment_ms), dtype))

    def calibrate(self, network, first: Segments) -> None:
        """Set the network's scales to those that fit a first batch best."""
        if self.force_matching:
            q_half, implied = implied_force(first)
            network.calibrate(q_half, implied / first.strings.nu2[:, None])
        else:
            network.calibrate(first.q, first.p, first.strings)

    def loss(self, network, segments: Segments, first_phase: bool) -> torch.Tensor:
        if first_phase and self.force_matching:
            q_half, implied = implied_force(segments)
            predicted = segments.strings.nu2[:, None] * network.force(q_half)
            # per unit wavenumber: the high modes' large forces barely move q
            scale = network.column_scale
            return relative_error(predicted / scale, implied / scale)
        scheme = self.step_scheme.for_strings(network, segments.strings)
        q, p = scheme.run(segments.q0, segments.p0, segments.forces)
        return relative_error(q, segments.q) + relative_error(p, segments.p)


class WindowTraining:
    """Windows from the onset of a one-string dataset; the network's `loss(windows)`."""

    def samplers(self, recipe, directory, dtype) -> tuple:
        first = WindowSampler(directory, _steps(recipe, FIRST_WINDOW_MS), dtype)
        return first, first.with_window(_steps(recipe, recipe.train.segment_ms))

    def calibrate(self, network, first) -> None:
        """Nothing to calibrate: the families start on the string's own modes."""

    def loss(self, network, windows, first_phase: bool) -> torch.Tensor:
        return network.loss(windows)




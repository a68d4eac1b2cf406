"""Teacher-forcing samples from a generated dataset: short segments and single-step forces.

A segment starts from a recorded state and runs `length` steps of the scheme; its targets are
the recorded states that follow. The single-step form gives the nonlinear force each recorded
step implies, for force-matching pretraining: from the scheme's momentum update,

    F = nu^2 g psi_half = ((1 - k s) p - k w^2 q_half + k phi_e f - (1 + k s) p') / k,

which, with a consistent psi, is nu^2 grad V(q_half) up to O(k^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.strings import StringBatch
from synth.dataset import StoredDataset


@dataclass(frozen=True)
class Segments:
    """A batch of teacher-forced segments: strings (B), start states q0, p0 (B, M), forces
    (B, L) and target states q, p (B, L, M)."""

    strings: StringBatch
    q0: torch.Tensor
    p0: torch.Tensor
    forces: torch.Tensor
    q: torch.Tensor
    p: torch.Tensor


class SegmentSampler:
    """Draws random segments of `length` steps from every string of a stored dataset."""

    def __init__(self, directory, length: int, dtype=torch.float32) -> None:
        if length < 1:
            raise ValueError(f"segment length must be at least one step, got {length}")
        self.data = StoredDataset(directory)
        self.length = length
        self.dtype = dtype
        self.strings = StringBatch.from_params(self.data.strings, dtype=dtype)
        self.items = [self.data[i] for i in range(len(self.data))]
        self.n_samples = self.items[0].q.shape[0]
        if self.n_samples <= length:
            raise ValueError(f"strings of {self.n_samples} samples are too short for "
                             f"segments of {length} steps")

    @property
    def n_strings(self) -> int:
        return len(self.items)

    def segments_per_string(self) -> int:
        """Non-overlapping segments in one string (an epoch's worth, per string)."""
        return (self.n_samples - 1) // self.length

    def sample(self, batch: int, generator: np.random.Generator) -> Segments:
        """`batch` segments, each from a random string and a random start sample."""
        which = generator.integers(0, self.n_strings, batch)
        starts = generator.integers(0, self.n_samples - self.length, batch)
        return self.gather(which, starts)

    def gather(self, which: np.ndarray, starts: np.ndarray) -> Segments:
        """Segments of strings `which` starting at recorded samples `starts` (B,)."""
        L, M = self.length, self.strings.n_modes
        q = np.empty((len(which), L + 1, M), np.float64)
        p = np.empty_like(q)
        rows = starts[:, None] + np.arange(L + 1)[None, :]
        for i in np.unique(which):  # one fancy-indexed read per string
            picked = which == i
            q[picked] = self.items[i].q[rows[picked]]
            p[picked] = self.items[i].p[rows[picked]]
        as_tensor = lambda a: torch.as_tensor(a, dtype=self.dtype)  # noqa: E731
        q, p = as_tensor(q), as_tensor(p)
        strings = self.strings.select(torch.as_tensor(which))
        # recorded sample n is the state after n + 1 steps: the next step is step n + 1
        steps = torch.as_tensor(starts)[:, None] + 1 + torch.arange(L)[None, :]
        return Segments(strings, q[:, 0], p[:, 0], strings.forces(steps), q[:, 1:], p[:, 1:])


def implied_force(segments: Segments) -> tuple[torch.Tensor, torch.Tensor]:
    """(q_half, F) of each segment's first step, both (B, M): the midpoint displacement and
    the nonlinear force nu^2 g psi_half that the recorded step implies."""
    s, k = segments.strings, segments.strings.k
    q_half = segments.q0 + 0.5 * k * segments.p0
    p_next = segments.p[:, 0]
    force = segments.forces[:, :1] * s.phi_e
    implied = ((1.0 - k * s.sigma) * segments.p0 - k * s.omega2 * q_half + k * force
               - (1.0 + k * s.sigma) * p_next) / k
    return q_half, implied

"""Excitations: a raised-cosine force pulse applied at one point of the string.

pluck:  f(t) = (A/2) (1 - cos(pi t / T_e))   for 0 <= t <= T_e, then 0 (the string is released)
strike: f(t) = (A/2) (1 - cos(2 pi t / T_e)) for 0 <= t <= T_e, then 0
A is the normalised amplitude (force / (mu L^2), 1/s^2 per unit length) and T_e in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.errors import ParameterError
from synth.kernels.formulas import PLUCK, STRIKE
from synth.physics.modes import mode_shapes
from synth.physics.strings import check_finite, check_position

SHAPES = {"pluck": PLUCK, "strike": STRIKE}


@dataclass(frozen=True)
class Excitation:
    """A force pulse: kind ("pluck" | "strike"), position x_e in (0, 1), amplitude A >= 0,
    duration t_e > 0 in seconds."""

    kind: str
    position: float
    amplitude: float
    duration: float

    def __post_init__(self) -> None:
        if self.kind not in SHAPES:
            raise ParameterError(f"excitation must be one of {sorted(SHAPES)}, got {self.kind!r}")
        object.__setattr__(self, "position", check_position("x_e", self.position))
        object.__setattr__(self, "amplitude", check_finite("amplitude", self.amplitude,
                                                           minimum=0.0, maximum=1e12))
        object.__setattr__(self, "duration", check_finite("t_e", self.duration, minimum=0.0,
                                                          strict=True, maximum=10.0))

    @property
    def shape(self) -> int:
        """The kernel's shape code (PLUCK or STRIKE)."""
        return SHAPES[self.kind]

    def weights(self, n_modes: int) -> np.ndarray:
        """Phi_m(x_e): how strongly the force drives each mode, shape (M,)."""
        return mode_shapes(self.position, n_modes)

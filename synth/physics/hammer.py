"""The piano hammer: a lumped mass on a nonlinear felt spring (docs/design.md, "The hammer").

The felt pushes with F = K c^p while compressed by c > 0 (m) and not at all otherwise
(Chaigne & Askenfelt 1994); its potential K c^(p+1) / (p + 1) is never negative, which keeps
the SAV scheme's energy bound with the hammer in it. In the string's normalised units
(displacements divided by the length L, energies by mu L^3), a hammer of mass M_h (kg) on
a string of linear density mu (kg/m) is

    r = M_h / (mu L)                  its mass, as a fraction of the string's
    felt = K L^(p - 2) / mu           the felt's stiffness, so W(c) = felt c^(p+1) / (p + 1)
    c = y - Phi_h . q                 the compression: the hammer's displacement y less the
                                      string's under it (Phi_h: `modes.contact_profile`)
    r y'' = -W'(c),   q_m'' = ... + Phi_h,m W'(c)

and its velocity v (m/s) is v / L. The formulas here are plain arithmetic on scalars,
NumPy arrays or torch tensors; `synth.kernels.formulas` compiles the same functions for the
kernels, and `models.hammer` calls them on tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

from synth.errors import ParameterError
from synth.physics.strings import check_finite


def felt_potential(compression, felt, exponent):
    """W(c) = felt max(c, 0)^(p+1) / (p + 1): the felt's stored energy (normalised units).
    max(c, 0) is written c (c > 0), so the same code runs on floats, NumPy arrays and torch
    tensors (`models.hammer`, with its gradient)."""
    squeezed = compression * (compression > 0.0)
    return felt * squeezed ** (exponent + 1.0) / (exponent + 1.0)


def felt_force(compression, felt, exponent):
    """W'(c) = felt max(c, 0)^p: the force between hammer and string (normalised units,
    force / (mu L^2))."""
    return felt * (compression * (compression > 0.0)) ** exponent


@dataclass(frozen=True)
class Hammer:
    """A hammer in SI units: mass (kg), felt stiffness (N / m^exponent), felt exponent p
    (>= 1), contact width (m, the felt's width along the string; 0: a point), and the
    speeds (m/s) it meets the string at, played softest and hardest (MIDI velocities 1 and
    127; the engine interpolates their logarithm)."""

    mass: float
    stiffness: float
    exponent: float
    width: float = 0.0
    speeds: tuple[float, float] = (0.5, 5.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mass", check_finite("hammer mass", self.mass, minimum=0.0,
                                                      strict=True, maximum=1.0))
        object.__setattr__(self, "stiffness", check_finite(
            "felt stiffness", self.stiffness, minimum=0.0, strict=True, maximum=1e16))
        object.__setattr__(self, "exponent", check_finite(
            "felt exponent", self.exponent, minimum=1.0, maximum=6.0))
        object.__setattr__(self, "width", check_finite("hammer width", self.width,
                                                       minimum=0.0, maximum=0.1))
        if len(self.speeds) != 2:
            raise ParameterError(f"hammer speeds must be (softest, hardest) in m/s, got "
                                 f"{self.speeds!r}")
        low, high = (check_finite("hammer speed", speed, minimum=0.0, strict=True,
                                  maximum=50.0) for speed in self.speeds)
        if low > high:
            raise ParameterError(f"the softest hammer speed {low:g} m/s exceeds the hardest "
                                 f"{high:g} m/s")
        object.__setattr__(self, "speeds", (low, high))

    def normalised(self, length: float, linear_density: float) -> tuple[float, float, float]:
        """(r, felt, half-width) on a string of this length (m) and linear density (kg/m):
        the mass ratio, the normalised felt stiffness and the contact's half-width as a
        fraction of the length."""
        return (self.mass / (linear_density * length),
                self.stiffness * length ** (self.exponent - 2.0) / linear_density,
                0.5 * self.width / length)

    def description(self) -> dict:
        """The preset file's "hammer" table."""
        return {"mass": self.mass, "stiffness": self.stiffness, "exponent": self.exponent,
                "width": self.width, "speeds": list(self.speeds)}



CHAIGNE_ASKENFELT = ("A. Chaigne, A. Askenfelt, 'Numerical simulations of piano strings. I', "
                     "J. Acoust. Soc. Am. 95(2), 1112-1118 (1994), Table I")
SOURCES = {
    "C2": f"[S] hammer of {CHAIGNE_ASKENFELT} (4.9 g, K 4.0e8 N/m^2.3, p 2.3, struck at "
          "0.12 L); string C2 of a Steinway D (J. Chabassier, A. Chaigne, P. Joly, INRIA "
          "RR-8181, 2012), as the table's own C2 string does not give 65.4 Hz",
    "C4": f"[S] string and hammer of {CHAIGNE_ASKENFELT} (L 0.62 m, 3.93 g, 670 N; 2.97 g, "
          "K 4.5e9 N/m^2.5, p 2.5, struck at 0.12 L)",
    "C7": f"[S] {CHAIGNE_ASKENFELT}: L 0.09 m, K 1.0e12 N/m^3 (confirmed by secondary "
          "sources); hammer mass 2.2 g, p 3.0, string mass 0.467 g, tension 750 N and the "
          "strike at L/16 [A] as transcribed, unconfirmed",
}
# Published hammers on their strings: (length m, linear density kg/m, tension N, core radius
# m, Hammer, strike position as a fraction of the length); sources in SOURCES.
PIANO_HAMMERS = {
    "C2": (1.602, 0.02075, 915.0, 0.5255e-3, Hammer(4.9e-3, 4.0e8, 2.3), 0.12),
    "C4": (0.62, 3.93e-3 / 0.62, 670.0, 0.507e-3, Hammer(2.97e-3, 4.5e9, 2.5), 0.12),
    "C7": (0.09, 0.467e-3 / 0.09, 750.0, 0.459e-3, Hammer(2.2e-3, 1.0e12, 3.0), 1.0 / 16.0),
}

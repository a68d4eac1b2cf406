"""A string's losses: how fast each of its modes decays (docs/design.md, "Losses").

A mode of angular frequency omega (rad/s) and wavenumber^2 beta^2 of a normalised string
(gamma^2, kappa: `synth.physics.modes`) decays at

    sigma = sigma0 + sigma1 beta^2                                     the scheme's own law
          + air sqrt(omega)                                            the air
          + (omega / 2) (friction + bending kappa^2 beta^2
                                    / (gamma^2 + kappa^2 beta^2))      internal friction
          + gamma^2 bridge / (1 + (omega bridge_mass)^2)               the bridge

(1/s): a loss record holds these seven coefficients and the unisons' mistuning (`LOSS_NAMES`,
in that order). In SI units,
for a string of length L (m), tension T (N), linear density mu (kg/m) and outer diameter
d (m):

- air (Valette 1995): a cylinder moving through air feels, per unit length and unit
  velocity, R = 2 pi eta + 2 pi d sqrt(pi eta rho f) (eta, rho the air's viscosity and
  density), so sigma = R / (2 mu): pi eta / mu joins sigma0 and air = pi d sqrt(eta rho / 2)
  / mu;
- internal friction (Woodhouse 2004; Valette 1995): the mode loses a fraction eta_F of its
  energy per radian, and the share that bending holds, kappa^2 beta^2 / (gamma^2 + kappa^2
  beta^2), a further eta_B (the material's own loss in bending): sigma = omega Q^-1 / 2;
- the bridge: a mode whose end pushes on a support of admittance Y (m/(N s)) loses its
  energy at sigma = T Re Y / L (its power Re Y |F|^2 / 2 over twice its energy, with
  F = T beta a / L). The support is modelled as a plate of conductance G (s/kg: an
  infinite plate's is 1 / (8 sqrt(D m'')), Cremer & Heckl) carrying the bridge's mass M
  (kg): Y = 1 / (1 / G + i omega M), so Re Y = G / (1 + (omega M G)^2). With T / L =
  mu L gamma^2, bridge = mu L G and bridge_mass = M G (both in s).

A piano key's N unisons (Weinreich 1977), struck alike, move mostly in phase: that motion,
the one the lane plays, pushes the bridge with all N strings and so loses N times one
string's bridge loss (the keyboard's `bridge` holds the N). Motion in which the strings
cancel at the bridge loses only the string's own losses (`string_decay`). Unisons mistuned
by `mistuning` (cents, the rms of each string's deviation from their mean) couple the two:
their squared frequencies differ by 2 epsilon omega^2 (epsilon = 2^(cents/1200) - 1), so the
in-phase motion and the cancelling one are coupled by `unison_coupling` x omega^2. Energy
passes slowly into the cancelling motion and back, and the note decays fast and then slowly
(the prompt sound and the aftersound), with beats. A single string has mistuning 0.

`mode_decay` and its two parts are plain arithmetic on scalars, NumPy arrays or torch
tensors (a record indexed by the L_* constants); `synth.kernels.formulas` compiles the same
functions for the kernels, and `models.losses` calls them on tensors.
"""

from __future__ import annotations

import math

import numpy as np

from synth import keyboards
from synth.errors import ParameterError
from synth.physics.strings import LN_1000, PhysicalString, check_finite

LOSS_NAMES = keyboards.STRING_FIELDS[keyboards.SIGMA0:]
L_SIGMA0, L_SIGMA1, L_AIR, L_FRICTION, L_BENDING, L_BRIDGE, L_BRIDGE_MASS, L_MISTUNING = range(
    len(LOSS_NAMES))
# the losses that grow with frequency, which the brightness control divides (with decay)
RISING = (L_SIGMA1, L_AIR, L_FRICTION, L_BENDING)
AIR_VISCOSITY = 1.8e-5  # Pa s, at 20 C
AIR_DENSITY = 1.2  # kg/m^3
VALETTE = ("C. Valette, 'The mechanics of vibrating strings', in Mechanics of Musical "
           "Instruments (A. Hirschberg, J. Kergomard, G. Weinreich eds.), Springer (1995): "
           "the air's drag R = 2 pi eta + 2 pi d sqrt(pi eta rho f) per unit length")
CREMER_HECKL = ("L. Cremer, M. Heckl, Structure-Borne Sound, Springer (1988): the driving-"
                "point admittance of an infinite plate, 1 / (8 sqrt(D m''))")


def mode_decay(losses, gamma2, kappa, beta2):
    """sigma (1/s) of the mode of wavenumber^2 beta2 (normalised) of the string (gamma2 =
    gamma^2 (1/s^2), kappa (1/s)) under the loss record `losses` (the module docstring)."""
    return string_decay(losses, gamma2, kappa, beta2) + bridge_decay(losses, gamma2, kappa,
                                                                     beta2)


def string_decay(losses, gamma2, kappa, beta2):
    """The part of `mode_decay` (1/s) the string loses itself: the scheme's law, the air and
    internal friction (what unisons moving against each other keep, the bridge unmoved)."""
    bending_share = kappa * kappa * beta2
    omega = (gamma2 * beta2 + bending_share * beta2) ** 0.5
    friction = losses[L_FRICTION] + losses[L_BENDING] * bending_share / (gamma2 + bending_share)
    return losses[L_SIGMA0] + losses[L_SIGMA1] * beta2 + losses[L_AIR] * omega ** 0.5 \
        + 0.5 * omega * friction


def bridge_decay(losses, gamma2, kappa, beta2):
    """The part of `mode_decay` (1/s) lost into the bridge."""
    omega = (gamma2 * beta2 + kappa * kappa * beta2 * beta2) ** 0.5
    mass_term = omega * losses[L_BRIDGE_MASS]
    return gamma2 * losses[L_BRIDGE] / (1.0 + mass_term * mass_term)


def unison_coupling(mistuning):
    """2 epsilon: the coupling of a key's in-phase and cancelling motions as a share of the
    squared frequency, for unisons mistuned by `mistuning` cents rms (the module
    docstring)."""
    return 2.0 * (2.0 ** (mistuning / 1200.0) - 1.0)


def scheme_losses(sigma0: float, sigma1: float) -> np.ndarray:
    """The loss record of the scheme's own law sigma0 + sigma1 beta^2 alone (LOSS_NAMES,)."""
    losses = np.zeros(len(LOSS_NAMES))
    losses[L_SIGMA0], losses[L_SIGMA1] = sigma0, sigma1
    return losses


def plate_conductance(thickness: float, density: float, modulus_along: float,
                      modulus_across: float, poisson: float = 0.3) -> float:
    """G = 1 / (8 sqrt(D m'')) (s/kg) of an infinite orthotropic plate (`CREMER_HECKL`):
    thickness (m), density (kg/m^3), Young's moduli along and across the grain (Pa); D is
    the geometric mean of the two bending stiffnesses E h^3 / (12 (1 - poisson^2))."""
    h = check_finite("plate thickness", thickness, minimum=0.0, strict=True)
    rigidity = math.sqrt(modulus_along * modulus_across) * h ** 3 / (12.0 * (1.0 - poisson ** 2))
    return 1.0 / (8.0 * math.sqrt(rigidity * density * h))


def string_losses(string: PhysicalString, friction: float, bending: float,
                  diameter: float | None = None, conductance: float = 0.0,
                  bridge_mass: float = 0.0, extra: float = 0.0) -> np.ndarray:
    """The normalised loss record (LOSS_NAMES,) of a physical string: its internal loss
    factors eta_F and eta_B; the air's drag on its outer `diameter` (m; None: no air term,
    for losses measured with the air in them, given as `extra`); the conductance (s/kg) and
    mass (kg) of the bridge's support; and any `extra` frequency-independent decay (1/s)."""
    for name, value in (("friction", friction), ("bending", bending),
                        ("conductance", conductance), ("bridge mass", bridge_mass),
                        ("extra decay", extra)):
        check_finite(name, value, minimum=0.0)
    mu, length = string.linear_density, string.length
    losses = np.zeros(len(LOSS_NAMES))
    losses[L_SIGMA0] = extra
    if diameter is not None:
        diameter = check_finite("string diameter", diameter, minimum=0.0, strict=True)
        losses[L_SIGMA0] += math.pi * AIR_VISCOSITY / mu
        losses[L_AIR] = math.pi * diameter * math.sqrt(AIR_VISCOSITY * AIR_DENSITY / 2.0) / mu
    losses[L_FRICTION], losses[L_BENDING] = friction, bending
    losses[L_BRIDGE], losses[L_BRIDGE_MASS] = mu * length * conductance, bridge_mass * conductance
    return losses


def t60s(losses, gamma2: float, kappa: float, modes) -> np.ndarray:
    """T60 (s) of the given mode numbers (array) of a normalised string under `losses`."""
    beta2 = (np.asarray(modes, dtype=np.float64) * math.pi) ** 2
    sigma = mode_decay(np.asarray(losses, dtype=np.float64), gamma2, kappa, beta2)
    if np.any(sigma < 0.0):
        raise ParameterError("a loss record must not make any mode grow")
    with np.errstate(divide="ignore"):
        return np.where(sigma > 0.0, LN_1000 / sigma, np.inf)

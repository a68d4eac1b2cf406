"""The pluck of a finger or a plectrum (docs/design.md, "The pluck").

A guitarist displaces the string quasi-statically, then it slips off (Zollner & Zwicker
2002/2020, 1.5): the string is held deflected by a force H at the contact, which lets go as
H/2 (1 + cos(pi t / T_r)) over the release T_r, while the finger's flesh or nail, or the
plectrum, scrapes along it. In normalised units (`synth.physics.hammer`: forces over
mu L^2), the held string is in equilibrium, q_m = H Phi_m c_m / omega_m^2, with c_m the
contact's spread (`modes.contact_profile`). So:

- the pluck's strength is the deflection d under the contact: H = s d, s = T L / (x (L - x))
  the string's lateral stiffness there (1000-2000 N/m for steel strings 6-10 cm from the
  bridge, Zollner & Zwicker, who give 2 mm as a typical deflection, hardly more for the
  fretboard's distance; about 650 N/m for the nylon strings);
- let go, the kink under the contact splits in two that run off at the wave speed c, and
  the held point returns at (c / 2) (d / x + d / (L - x)), H / (2 gamma) in normalised
  units; the string leaves a finger once it has moved its own diameter (the slip) past the
  flesh's edge, or its whole deflection if that is less: T_r = 2 gamma min(slip, d) / H
  (`slip_release`), shorter the harder the pluck;
- a finger touches FINGER_CONTACT of the string; a plectrum touches PLECTRUM_CONTACT and
  cannot let go faster than its tip springs back, a quarter period of the tip's mass on the
  plectrum's bending stiffness (`plectrum_release`), so a stiffer plectrum is brighter;
- the scrape is a share of the holding force, so harder is also noisier.
"""

from __future__ import annotations

import math

from synth.physics.strings import PhysicalString

FINGER_CONTACT = 8.0e-3  # m: a fingertip's flesh across the string [A]
PLECTRUM_CONTACT = 2.0e-3  # m: a plectrum's tip [A]
PLECTRUM_TIP_MASS = 1.0e-5  # kg: the plectrum's tip that springs back [A]
FINGER_SCRAPE = 0.2  # the scrape's amplitude over the holding force: flesh [A]
PLECTRUM_SCRAPE = 0.3  # and a plectrum's edge [A]
ZOLLNER = ("M. Zollner, T. Zwicker, 'Physik der Elektrogitarre' (2002, 2020), 1.5 'The "
           "plucking process': the string is displaced quasi-statically, its lateral "
           "stiffness T L / (x (L - x)) 1000-2000 N/m, a typical displacement 2 mm, hardly "
           "more for the fretboard's distance")


def lateral_stiffness(string: PhysicalString, position: float) -> float:
    """s = T L / (x (L - x)) (N/m): the force per unit deflection of the string held at
    `position` (0..1) of its length."""
    x = position * string.length
    return string.tension * string.length / (x * (string.length - x))


def hold_force(string: PhysicalString, position: float, deflection: float) -> float:
    """The normalised force (N / (mu L^2)) that holds the string deflected by `deflection`
    (m) at `position`."""
    return string.force_to_amplitude(lateral_stiffness(string, position) * deflection)


def plectrum_release(stiffness):
    """T_r (s) of a plectrum of bending stiffness `stiffness` (N/m) at its tip: a quarter
    period of the tip's mass springing back, (pi / 2) sqrt(m / k)."""
    return 0.5 * math.pi * (PLECTRUM_TIP_MASS / stiffness) ** 0.5


def slip_release(slip, gamma, hold, position):
    """T_r (s) of a string let go from a held pluck (normalised units: `slip` a fraction of
    the length, gamma (1/s), the hold H (force over mu L^2) at `position` x). The held point
    returns at H / (2 gamma) lengths a second, so the string leaves the contact once it has
    moved the slip, or its whole deflection H x (1 - x) / gamma^2 if that is less (a soft
    pluck): T_r = 2 gamma min(slip, deflection) / H."""
    deflection = hold * position * (1.0 - position) / (gamma * gamma)
    return 2.0 * gamma * min(slip, deflection) / hold

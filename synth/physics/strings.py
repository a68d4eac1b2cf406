"""String parameters: normalised (what the kernels see) and physical (what a player knows).

The normalised string has unit length, x in [0, 1], and obeys (docs/design.md, "The string
and its SAV step")

    u_tt = g^2 u_xx - k^2 u_xxxx - 2 s0 u_t + 2 s1 u_txx - n^2 dV/du + delta(x - x_e) f_e(t)

where u is the transverse displacement divided by the string length L. A physical string of
length L (m), tension T (N), linear density mu (kg/m), Young's modulus E (Pa) and core radius
r (m) maps onto it as

    gamma = sqrt(T / mu) / L                    (1/s; the fundamental is about gamma / 2 Hz)
    kappa = sqrt(E I / mu) / L^2,  I = pi r^4 / 4
    nu    = sqrt((E A - T) / (2 mu)) / L,  A = pi r^2        (exact geometric potential)
    nu    = sqrt(E A / mu) / L                               (Kirchhoff-Carrier potential)

The two nu differ because the potentials are normalised differently: the geometric string's
energy density is T/2 xi^2 + (EA - T)/2 G(xi) with G(xi) = (sqrt(1 + xi^2) - 1)^2, and the
tension-modulated one is EA/(8L) (int u_X^2 dX)^2. A force F (N) at x_e becomes the normalised
amplitude F / (mu L^2). Damping follows sigma(beta) = sigma0 + sigma1 beta^2 with
T60 = 3 ln(10) / sigma, fitted through two (frequency, T60) pairs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from synth.errors import ParameterError
from synth.physics.modes import decay_rate, first_mode_gamma2

LN_1000 = 3.0 * math.log(10.0)  # sigma * T60 for a 60 dB decay
# Sanity limits of the normalised parameters: far beyond any string, low enough that float64
# arithmetic (omega^2, nu^2 V) stays in range.
LIMITS = {"gamma": 1e6, "kappa": 1e6, "nu": 1e6, "sigma0": 1e6, "sigma1": 1e3}


def check_finite(name: str, value: float, *, minimum: float | None = None,
                 strict: bool = False, maximum: float | None = None) -> float:
    """Return `value` as float, or raise ParameterError naming it if it is not a finite number
    in range (above `minimum`, or at least it unless strict; at most `maximum`)."""
    if isinstance(value, bool):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be <= {maximum:g}, got {value!r}")
    if minimum is not None:
        if strict and value <= minimum:
            raise ParameterError(f"{name} must be > {minimum:g}, got {value!r}")
        if not strict and value < minimum:
            raise ParameterError(f"{name} must be >= {minimum:g}, got {value!r}")
    return value


def check_position(name: str, value: float) -> float:
    """Return a position on the unit string, which must lie strictly inside (0, 1)."""
    value = check_finite(name, value)
    if not 0.0 < value < 1.0:
        raise ParameterError(f"{name} must lie strictly inside (0, 1), got {value!r}")
    return value


@dataclass(frozen=True)
class StringParams:
    """The normalised string of docs/design.md; all values in 1/s.

    gamma: wave speed over length (> 0); kappa: stiffness (>= 0); nu: strength of the
    geometric nonlinearity (>= 0); sigma0, sigma1: frequency-independent and
    frequency-dependent damping (>= 0), sigma_m = sigma0 + sigma1 beta_m^2.
    """

    gamma: float
    kappa: float
    nu: float
    sigma0: float
    sigma1: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "gamma", check_finite("gamma", self.gamma, minimum=0.0,
                                                       strict=True, maximum=LIMITS["gamma"]))
        for name in ("kappa", "nu", "sigma0", "sigma1"):
            object.__setattr__(self, name, check_finite(name, getattr(self, name), minimum=0.0,
                                                        maximum=LIMITS[name]))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def beta_squared_at(self, frequency: float) -> float:
        """Normalised wavenumber squared of the (undamped) mode at `frequency` Hz."""
        omega2 = (2.0 * math.pi * check_finite("frequency", frequency, minimum=0.0)) ** 2
        g2 = self.gamma**2
        # Root of kappa^2 b^2 + gamma^2 b - omega^2 = 0, in the form that is stable for kappa -> 0.
        return 2.0 * omega2 / (g2 + math.sqrt(g2 * g2 + 4.0 * self.kappa**2 * omega2))

    def t60(self, frequency: float) -> float:
        """Time in seconds for a mode at `frequency` Hz to decay by 60 dB (inf if undamped)."""
        sigma = self.sigma0 + self.sigma1 * self.beta_squared_at(frequency)
        return math.inf if sigma == 0.0 else LN_1000 / sigma

    def to_physical(self, length: float, linear_density: float,
                    t60_frequencies: tuple[float, float] = (100.0, 2000.0),
                    potential: str = "exact") -> PhysicalString:
        """The physical string with this normalised behaviour, given its length (m) and
        linear density (kg/m). Decay times are reported at the two given frequencies (Hz)."""
        length = check_finite("length", length, minimum=0.0, strict=True)
        mu = check_finite("linear_density", linear_density, minimum=0.0, strict=True)
        if self.kappa == 0.0:
            raise ParameterError("kappa = 0 describes an ideal string with no bending "
                                 "stiffness, which has no physical radius or Young's modulus")
        tension = self.gamma**2 * mu * length**2
        axial = _axial_stiffness(self.nu, tension, mu, length, potential)
        if axial <= 0.0:
            raise ParameterError("nu = 0 with the Kirchhoff-Carrier potential means zero axial "
                                 "stiffness, which no physical string has")
        bending = self.kappa**2 * mu * length**4  # E I
        radius = 2.0 * math.sqrt(bending / axial)  # E I / E A = r^2 / 4
        f_low, f_high = t60_frequencies
        return PhysicalString(
            length=length, tension=tension, linear_density=mu,
            youngs_modulus=axial / (math.pi * radius**2), radius=radius,
            t60_low=(float(f_low), self.t60(f_low)), t60_high=(float(f_high), self.t60(f_high)))


def _axial_stiffness(nu: float, tension: float, mu: float, length: float, potential: str) -> float:
    """E A (N) implied by nu for the named potential (inverse of PhysicalString.nu)."""
    if potential == "exact":
        return 2.0 * nu**2 * mu * length**2 + tension
    if potential == "kc":
        return nu**2 * mu * length**2
    raise ParameterError(f"potential must be 'exact' or 'kc' for a physical mapping, "
                         f"got {potential!r}")


@dataclass(frozen=True)
class PhysicalString:
    """A real string in SI units.

    length (m), tension (N), linear_density (kg/m, including any winding), youngs_modulus (Pa)
    and radius (m) of the load-bearing core; t60_low and t60_high are (frequency Hz, T60 s)
    pairs with the lower frequency first.
    """

    length: float
    tension: float
    linear_density: float
    youngs_modulus: float
    radius: float
    t60_low: tuple[float, float]
    t60_high: tuple[float, float]

    def __post_init__(self) -> None:
        for name in ("length", "tension", "linear_density", "youngs_modulus", "radius"):
            object.__setattr__(self, name, check_finite(name, getattr(self, name), minimum=0.0,
                                                        strict=True))
        for name in ("t60_low", "t60_high"):
            pair = getattr(self, name)
            if len(pair) != 2:
                raise ParameterError(f"{name} must be a (frequency Hz, T60 s) pair, got {pair!r}")
            freq = check_finite(f"{name} frequency", pair[0], minimum=0.0, strict=True)
            t60 = float(pair[1])
            if not (t60 > 0.0):  # inf (no damping) is allowed
                raise ParameterError(f"{name} T60 must be > 0 s, got {pair[1]!r}")
            object.__setattr__(self, name, (freq, t60))
        if not self.t60_low[0] < self.t60_high[0]:
            raise ParameterError("t60_low must be given at a lower frequency than t60_high, got "
                                 f"{self.t60_low[0]:g} Hz and {self.t60_high[0]:g} Hz")

    @property
    def area(self) -> float:
        """Cross-section of the core (m^2)."""
        return math.pi * self.radius**2

    @property
    def fundamental(self) -> float:
        """Frequency of the ideal flexible string, sqrt(T / mu) / (2 L) (Hz)."""
        return math.sqrt(self.tension / self.linear_density) / (2.0 * self.length)

    def nu(self, potential: str = "exact") -> float:
        """Normalised nonlinearity strength for the named potential (1/s)."""
        axial = self.youngs_modulus * self.area
        if potential == "exact":
            excess = axial - self.tension
            if excess < -1e-9 * self.tension:  # below rounding of E A = T (nu = 0)
                raise ParameterError(f"axial stiffness E A = {axial:g} N is below the tension "
                                     f"{self.tension:g} N; no real string is that soft")
            return math.sqrt(max(excess, 0.0) / (2.0 * self.linear_density)) / self.length
        if potential == "kc":
            return math.sqrt(axial / self.linear_density) / self.length
        raise ParameterError(f"potential must be 'exact' or 'kc', got {potential!r}")

    def to_normalised(self, potential: str = "exact") -> StringParams:
        """The normalised string (gamma, kappa, nu, sigma0, sigma1) of this physical string."""
        L, mu = self.length, self.linear_density
        gamma = math.sqrt(self.tension / mu) / L
        inertia = math.pi * self.radius**4 / 4.0
        kappa = math.sqrt(self.youngs_modulus * inertia / mu) / L**2
        lossless = StringParams(gamma, kappa, 0.0, 0.0, 0.0)
        (f_lo, t_lo), (f_hi, t_hi) = self.t60_low, self.t60_high
        b_lo, b_hi = lossless.beta_squared_at(f_lo), lossless.beta_squared_at(f_hi)
        s_lo, s_hi = LN_1000 / t_lo, LN_1000 / t_hi
        sigma1 = (s_hi - s_lo) / (b_hi - b_lo)
        sigma0 = s_lo - sigma1 * b_lo
        if sigma1 < 0.0:
            raise ParameterError(f"T60 must not grow with frequency: {t_lo:g} s at {f_lo:g} Hz "
                                 f"but {t_hi:g} s at {f_hi:g} Hz")
        if sigma0 < -1e-12 * s_lo:
            raise ParameterError(f"T60 {t_lo:g} s at {f_lo:g} Hz and {t_hi:g} s at {f_hi:g} Hz "
                                 "cannot both hold with damping sigma0 + sigma1 beta^2 >= sigma1 "
                                 "beta^2; shorten the low-frequency T60")
        return StringParams(gamma, kappa, self.nu(potential), max(sigma0, 0.0), sigma1)

    def force_to_amplitude(self, force: float) -> float:
        """Normalised excitation amplitude of a point force in newtons."""
        return force / (self.linear_density * self.length**2)


def note_frequency(note: float, a4: float = 440.0) -> float:
    """Equal-tempered frequency (Hz) of a MIDI note number (69 = A4 = `a4` Hz)."""
    return a4 * 2.0 ** ((note - 69.0) / 12.0)


def frequency_note(frequency: float, a4: float = 440.0) -> float:
    """The (fractional) MIDI note number of a frequency in Hz; the inverse of note_frequency."""
    return 69.0 + 12.0 * math.log2(frequency / a4)


NOTE_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def note_number(text: str) -> float:
    """The MIDI note number of `text`: a number (60, 60.5) or a name with its octave (C4 =
    60, A0 = 21, C#3, Eb2, B-1); ParameterError otherwise."""
    text = str(text).strip()
    try:
        number = float(text)
    except ValueError:
        letter, rest = text[:1].upper(), text[1:]
        accidental = {"#": 1, "b": -1}.get(rest[:1], 0)
        octave = rest[1:] if accidental else rest
        if letter not in NOTE_LETTERS or not octave.lstrip("-").isdigit():
            raise ParameterError(f"{text!r} is not a note: give a MIDI number (60) or a name "
                                 "with its octave (C4, F#2, Bb3)") from None
        number = 12 * (int(octave) + 1) + NOTE_LETTERS[letter] + accidental
    if not (math.isfinite(number) and 0 <= number <= 127):
        raise ParameterError(f"note {text!r} is outside MIDI's 0..127")
    return number


def young_inharmonicity(note: float) -> float:
    """B of Young's (1952) plain piano strings at MIDI `note`: 3.5e-4 at C4, doubling every
    8 semitones."""
    return 3.5e-4 * 2.0 ** ((note - 60.0) / 8.0)


def gamma_for_frequency(frequency: float, kappa: float, sigma0: float = 0.0,
                        sigma1: float = 0.0) -> float:
    """gamma that puts the first mode's damped frequency at `frequency` Hz.

    Solves sqrt(omega_1^2 - sigma_1^2) = 2 pi f (`modes.first_mode_gamma2`) with
    sigma_1 = sigma0 + sigma1 pi^2, so a stiff or lossy string stays in tune: damping lowers
    the ringing frequency by up to ~0.1 cent on low notes, so the damped frequency is what is
    matched.
    """
    frequency = check_finite("frequency", frequency, minimum=0.0, strict=True)
    kappa = check_finite("kappa", kappa, minimum=0.0)
    sigma0 = check_finite("sigma0", sigma0, minimum=0.0)
    sigma1 = check_finite("sigma1", sigma1, minimum=0.0)
    gamma_sq = first_mode_gamma2(frequency, kappa, decay_rate(sigma0, sigma1, math.pi ** 2))
    if gamma_sq <= 0.0:
        raise ParameterError(f"a string with kappa = {kappa:g} is too stiff to sound at "
                             f"{frequency:g} Hz: its first mode is at least "
                             f"{kappa * math.pi**2 / (2 * math.pi):.1f} Hz")
    return math.sqrt(gamma_sq)


def tuned(string: StringParams, note: float, a4: float = 440.0) -> StringParams:
    """A copy of `string` with gamma retuned so its first mode sounds MIDI `note`."""
    gamma = gamma_for_frequency(note_frequency(note, a4), string.kappa, string.sigma0,
                                string.sigma1)
    return StringParams(gamma, string.kappa, string.nu, string.sigma0, string.sigma1)

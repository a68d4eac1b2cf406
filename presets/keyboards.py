"""The keyboards of the shipped instruments: a string and an excitation for every note, from
published scale data (tags as in `presets.make_physics_presets`): a grand piano's 88 keys, and
the six strings and 19 frets of the guitars.

    python -m presets.keyboards --figures docs/keyboards   # B, hammers, decays

The grand piano's scale is drawn through published anchor notes, each quantity interpolated
in its logarithm between them (lengths, tensions and the hammers' masses, felt stiffnesses
and exponents; strike points linearly):

- speaking lengths, tensions, hammers and strike points of C2, C4 and C7 (Chaigne &
  Askenfelt 1994, Table I; C2's string from Chabassier et al. 2012, as the table's own C2
  does not give 65.4 Hz); the longest string (A0) 2.0 m and the shortest (C8) 0.05 m [A];
- a plain string's diameter is what its length and tension need to sound its note (steel,
  7850 kg/m^3): mu = T / (2 L f)^2. C3's length is twice C4's [A], the plain strings'
  scale continued to the bass break. Wound strings (up to B2 [A]) keep a core whose radius
  goes from C2's 0.53 mm (Chabassier) to 0.60 mm at A0 [A], their copper winding making
  up the rest of mu;
- losses sigma = b1 + b3 omega^2 with Chaigne & Askenfelt's b1 and b3, b3 interpolated in
  its logarithm between C4's and C7's.

The scaling is then checked against an independent measurement: Young (1952) found plain
piano strings' inharmonicity about 3.5e-4 at C4 (1.2 cents at the second partial),
doubling every 8 semitones above it; the figure draws both.

A guitar (`guitar`) plays a note where a guitarist in first position would: on the highest
string whose open note is not above it, at the fret that makes up the difference (so G4 is
the E4 string's third fret). A fret shortens the string to L 2^(-n/12) at the same tension,
so stiffness grows as 1/L^2 and B rises up the neck, as on a real guitar; the finger plucks
at the same distance from the bridge, a larger fraction of the shorter string. The string
sets are D'Addario's tension charts (EJ45 nylon, EJ16 phosphor bronze; the nylon G3 is
Woodhouse's, as before); decay times per key come from the set's loss law.
"""

from __future__ import annotations

import argparse
import functools
import math
from pathlib import Path

import numpy as np

from synth.keyboards import (
    EXCITATION_FIELDS,
    GAMMA,
    HALF_WIDTH,
    HOLD,
    KAPPA,
    KEYS,
    SIGMA0,
    SLIP,
    STRING_FIELDS,
    Keyboard,
    key_inharmonicity,
)
from synth.physics.hammer import CHAIGNE_ASKENFELT, PIANO_HAMMERS, Hammer
from synth.physics.losses import (
    CREMER_HECKL,
    L_BRIDGE,
    L_MISTUNING,
    L_SIGMA1,
    VALETTE,
    mode_decay,
    plate_conductance,
    string_losses,
    t60s,
)
from synth.physics.pluck import FINGER_CONTACT, ZOLLNER, hold_force, lateral_stiffness
from synth.physics.strings import LN_1000, PhysicalString, note_frequency, young_inharmonicity

STEEL_DENSITY = 7850.0  # kg/m^3
STEEL_MODULUS = 2.0e11  # Pa
LOWEST, HIGHEST = 21, 108  # A0 and C8
LAST_WOUND = 47  # B2 [A]: plain steel from C3 up
HAMMER_SPEEDS = (0.5, 5.0)  # m/s at velocities 1 and 127 (make_physics_presets' sources)
FELT_WIDTH = 0.01  # m [A]
B1 = 0.5  # 1/s, Chaigne & Askenfelt
B3 = {36: 6.25e-9, 60: 6.25e-9, 96: 2.6e-10}  # s, Chaigne & Askenfelt (C7 [S])
YOUNG = ("R. W. Young, 'Inharmonicity of plain wire piano strings', J. Acoust. Soc. Am. "
         "24(3), 267-273 (1952): about 1.2 cents at C4's second partial (B 3.5e-4), "
         "doubling every 8 semitones above C4")
# Anchor notes: (speaking length m, tension N); the lengths of A0 and C8 are assumed
LENGTHS = {21: 2.0, 36: PIANO_HAMMERS["C2"][0], 48: 2.0 * PIANO_HAMMERS["C4"][0],
           60: PIANO_HAMMERS["C4"][0], 96: PIANO_HAMMERS["C7"][0], 108: 0.05}
C7_STIFFNESS = 8.67e-4  # Chaigne & Askenfelt's epsilon = E I / (T L^2) of C7 [S]
COPPER_DENSITY = 8900.0  # kg/m^3
WINDING_FILL = 0.75  # the share of a winding's layer that is copper [A]
# The soundboard at the bridge: conductance (s/kg) and the bridge's mass (kg) [A]
SOUNDBOARD = (3.0e-4, 0.25)
FIRST_PAIR, FIRST_TRIPLE = 28, 36  # E1 and C2: one string below, two, then three [A]
UNISON_MISTUNING = 0.5  # cents rms about their mean: strings about a cent apart [A]


def plain_tension(length: float, frequency: float, inharmonicity: float) -> float:
    """The tension (N) at which a plain steel wire of this length (m) sounding `frequency`
    (Hz) has inharmonicity B: B = pi E T / (64 rho^2 L^6 f^4), from B = pi^2 E I / (T L^2),
    I = pi r^4 / 4 and mu = rho pi r^2 = T / (2 L f)^2."""
    return 64.0 * STEEL_DENSITY ** 2 * length ** 6 * frequency ** 4 * inharmonicity \
        / (math.pi * STEEL_MODULUS)


C7_TENSION = plain_tension(PIANO_HAMMERS["C7"][0], note_frequency(96),
                           math.pi ** 2 * C7_STIFFNESS)
TENSIONS = {21: PIANO_HAMMERS["C2"][2], 36: PIANO_HAMMERS["C2"][2],
            60: PIANO_HAMMERS["C4"][2], 96: C7_TENSION, 108: C7_TENSION}
CORE_RADII = {21: 0.60e-3, 36: PIANO_HAMMERS["C2"][3]}  # wound strings' cores, m
ANCHOR_HAMMERS = {36: PIANO_HAMMERS["C2"][4], 60: PIANO_HAMMERS["C4"][4],
                  96: PIANO_HAMMERS["C7"][4]}
STRIKE_POINTS = {36: PIANO_HAMMERS["C2"][5], 60: PIANO_HAMMERS["C4"][5],
                 96: PIANO_HAMMERS["C7"][5]}
SOURCES = {
    "lengths, tensions, hammers, strike points at C2, C4, C7": f"[S] {CHAIGNE_ASKENFELT}; "
    "C2's string: J. Chabassier, A. Chaigne, P. Joly, INRIA RR-8181 (2012)",
    "C7's tension": "[D] what gives its plain steel wire the table's stiffness epsilon "
                    "8.67e-4 (B = pi^2 epsilon) at its length 0.09 m",
    "A0 2.0 m, C8 0.05 m, tensions beyond the anchors those of the nearest":
        "[A] a concert grand's longest and shortest speaking lengths",
    "C3 1.24 m, twice C4": "[A] the plain strings' scale doubling in length per octave down "
                           "to the bass break (C4 to C7 is x1.9 an octave); the wound bass "
                           "below is foreshortened",
    "plain strings' diameters": "[D] mu = T / (2 L f)^2, steel 7850 kg/m^3",
    "wound up to B2, cores 0.60 mm (A0) to 0.53 mm (C2 and above)": "[A] a typical bass "
                                                                    "break",
    "losses b1 0.5 1/s, b3 6.25e-9 s (C2, C4), 2.6e-10 s (C7)": f"[S] {CHAIGNE_ASKENFELT}",
    "the soundboard's conductance 3e-4 s/kg at the bridge, the bridge 0.25 kg":
        "[A] the geometric middle of measured soundboard impedances, 1e3 to 1e4 kg/s (N. "
        "Giordano, 'Mechanical impedance of a piano soundboard', J. Acoust. Soc. Am. 103(4) "
        "(1998)); the bridge's mass sets where the board turns mass-like (2 kHz)",
    "one string A0-D#1, two E1-B1, three from C2, struck alike": "[A] a concert grand's "
        "stringing; unisons moving in phase each lose N times a lone string's energy into "
        "the bridge, moving against each other only their own (G. Weinreich, 'Coupled piano "
        "strings', J. Acoust. Soc. Am. 62 (1977)): the prompt sound and the aftersound",
    "unisons 0.5 cents rms from their mean": "[A] a careful tuner's unison, its strings "
        "about a cent apart; listeners prefer slightly mistuned unisons to exact ones (R. E. "
        "Kirk, 'Tuning preferences for piano unison groups', J. Acoust. Soc. Am. 31 (1959)); "
        "the mistuning couples the two motions (Weinreich), so the note decays fast, then "
        "slowly, and beats",
    "hammer speeds 0.5 to 5 m/s, felt 1 cm wide": "[S] Askenfelt & Jansson 1991, Russell & "
                                                  "Rossing 1998; width [A]",
    "check": f"[P] {YOUNG}",
}


def _between(anchors: dict[int, float], note: int, log: bool = True) -> float:
    """The anchors' value at `note`, interpolated (in the logarithm if `log`), held beyond
    the outermost anchors."""
    notes = sorted(anchors)
    values = np.array([anchors[n] for n in notes], dtype=np.float64)
    if log:
        return float(np.exp(np.interp(note, notes, np.log(values))))
    return float(np.interp(note, notes, values))


def piano_string(note: int) -> PhysicalString:
    """The grand piano's string for MIDI `note` (A0..C8)."""
    length, tension = _between(LENGTHS, note), _between(TENSIONS, note)
    frequency = note_frequency(note)
    density = tension / (2.0 * length * frequency) ** 2
    if note <= LAST_WOUND:
        radius = _between(CORE_RADII, note)
    else:
        radius = math.sqrt(density / (math.pi * STEEL_DENSITY))
    b3 = _between(B3, note)
    t60 = [(f, LN_1000 / (B1 + b3 * (2.0 * math.pi * f) ** 2))
           for f in (frequency, 4000.0 if frequency < 2000.0 else 2.0 * frequency)]
    return PhysicalString(length=length, tension=tension, linear_density=density,
                          youngs_modulus=STEEL_MODULUS, radius=radius,
                          t60_low=t60[0], t60_high=t60[1])


def unisons(note: int) -> int:
    """How many strings the key of MIDI `note` has."""
    return 1 if note < FIRST_PAIR else 2 if note < FIRST_TRIPLE else 3


def piano_losses(note: int, string: PhysicalString) -> np.ndarray:
    """The loss record of the key of MIDI `note` with its `string`: Chaigne & Askenfelt's
    b1 + b3 omega^2 (as sigma0 + sigma1 beta^2), the soundboard's bridge, its loss times the
    key's unisons, and their mistuning (Weinreich)."""
    normal = string.to_normalised("kc")
    conductance, bridge_mass = SOUNDBOARD
    losses = string_losses(string, 0.0, 0.0, conductance=conductance, bridge_mass=bridge_mass,
                           extra=normal.sigma0)
    losses[L_SIGMA1] = normal.sigma1
    losses[L_BRIDGE] *= unisons(note)
    losses[L_MISTUNING] = UNISON_MISTUNING if unisons(note) > 1 else 0.0
    return losses


def piano_hammer(note: int) -> Hammer:
    """The hammer of MIDI `note`: Chaigne & Askenfelt's, interpolated between C2, C4, C7."""
    at = {field: _between({n: getattr(h, field) for n, h in ANCHOR_HAMMERS.items()}, note)
          for field in ("mass", "stiffness", "exponent")}
    return Hammer(at["mass"], at["stiffness"], at["exponent"], FELT_WIDTH, HAMMER_SPEEDS)


def inharmonicity(string: PhysicalString) -> float:
    """B = pi^2 E I / (T L^2) of a string (its stiffness over its tension)."""
    inertia = math.pi * string.radius ** 4 / 4.0
    return math.pi ** 2 * string.youngs_modulus * inertia / (string.tension
                                                             * string.length ** 2)


def grand_piano(amplitude_newtons: float = 80.0) -> Keyboard:
    """The grand piano's keyboard (Kirchhoff-Carrier strings): every key A0..C8 its own
    string, hammer and strike point, notes beyond them those of the nearest key; a pulse
    (the excitation control's strike) of `amplitude_newtons` at velocity 127."""
    strings = np.zeros((KEYS, len(STRING_FIELDS)))
    excitation = np.zeros((KEYS, len(EXCITATION_FIELDS)))
    for note in range(KEYS):
        key = min(max(note, LOWEST), HIGHEST)
        physical = piano_string(key)
        normal = physical.to_normalised("kc")
        hammer = piano_hammer(key)
        mass, felt, half_width = hammer.normalised(physical.length, physical.linear_density)
        strings[note] = (normal.gamma, normal.kappa, normal.nu, *piano_losses(key, physical))
        excitation[note, :HOLD] = (_between(STRIKE_POINTS, key, log=False),
                                   physical.force_to_amplitude(amplitude_newtons), mass, felt,
                                   hammer.exponent, half_width,
                                   HAMMER_SPEEDS[0] / physical.length,
                                   HAMMER_SPEEDS[1] / physical.length)  # no held pluck
    return Keyboard(strings, excitation, (float(LOWEST), float(HIGHEST)), "grand piano",
                    {"sources": SOURCES, "made_by": "python -m presets.keyboards"})


GUITAR_FRETS = 19
DADDARIO_CHART = ("D'Addario & Co., 'String tension specifications' (unit weights and tensions "
                  "at 25.5 in scale), as transcribed in stringcalc's daddario-tension.csv")
WOODHOUSE_LOSSES = ("J. Woodhouse, 'On the synthesis of guitar plucks', Acta Acustica united "
                    "with Acustica 90, 928-944 (2004): Q^-1 = eta_F + eta_A / omega + eta_B "
                    "EI beta^2 / (T + EI beta^2), eta_F 1.4e-4, eta_A 1.7 1/s, eta_B 2e-2")
NYLON_DENSITY = 1140.0  # kg/m^3 [A]
NYLON_MODULUS = 6.3e9  # Pa: Woodhouse's G3 (EI 310e-6 N m^2 at r 0.50 mm) [D]
WOODHOUSE_ETA = (1.4e-4, 1.7, 2e-2)  # eta_F, eta_A (1/s), eta_B


# Open strings, low to high: (MIDI note, tension N, linear density kg/m, radius m of the
# load-bearing core or plain string). Nylon at a 650 mm scale (the chart's tensions x
# (650 / 647.7)^2); steel at the chart's 647.7 mm.
NYLON_SCALE, STEEL_SCALE = 0.65, 0.6477
NYLON_SET = [(40, 62.7, 5.47e-3, 0.30e-3), (45, 67.2, 3.29e-3, 0.30e-3),
             (50, 69.9, 1.92e-3, 0.30e-3), (55, 58.3, 0.90e-3, 0.50e-3),
             (59, 52.0, 5.05e-4, None), (64, 68.6, 3.74e-4, None)]
STEEL_SET = [(40, 115.7, 1.02e-2, 0.27e-3), (45, 133.0, 6.56e-3, 0.22e-3),
             (50, 135.7, 3.75e-3, 0.18e-3), (55, 134.3, 2.09e-3, 0.15e-3),
             (59, 103.6, 1.013e-3, 0.2032e-3), (64, 103.6, 5.70e-4, 0.1524e-3)]
STEEL_T60 = ((247.0, 19.0), (2000.0, 4.1))  # the B3 string alone (make_physics_presets)
# Outer diameters (inches) of the open strings, by open note: the sets' gauges
GAUGES = {"nylon": {40: 0.043, 45: 0.035, 50: 0.029, 55: 0.040, 59: 0.032, 64: 0.028},
          "steel": {40: 0.053, 45: 0.042, 50: 0.032, 55: 0.024, 59: 0.016, 64: 0.012}}
INCH = 0.0254  # m
SPRUCE = (420.0, 10.8e9, 0.84e9)  # Sitka spruce: density (kg/m^3), E along, across (Pa)
# The top at the bridge: its thickness (m) and the bridge's mass (kg) [A]
GUITAR_TOPS = {"nylon": (2.5e-3, 0.06), "steel": (2.8e-3, 0.06)}
# The pluck at velocity 127: a deflection of HARD_PLUCK (m) under a finger; the pulse a kind
# that cannot hold its string plays instead gives the string the energy that deflection stores
HARD_PLUCK = {"nylon": 4.0e-3, "steel": 2.0e-3}  # m

GUITAR_SOURCES = {
    "nylon": {"tensions and unit weights (E2 A2 D3 B3 E4, EJ45 normal tension)":
              f"[S] {DADDARIO_CHART}",
              "G3": "[S] Woodhouse 2004, Table 1, as the nylon-string preset",
              "plain radii": "[D] sqrt(mu / (pi rho)), nylon 1140 kg/m^3 [A]",
              "Young's modulus 6.3 GPa": "[D] Woodhouse's G3 bending stiffness",
              "wound strings' cores 0.30 mm": "[A] a multifilament nylon core",
              "decay": f"[S] {WOODHOUSE_LOSSES}, on rigid supports, with the bridge's loss "
                       "(see 'top')",
              "gauges .028 .032 .040 .029w .035w .043w in": "[P] EJ45 (for the figures)"},
    "steel": {"tensions and unit weights (EJ16 light)": f"[S] {DADDARIO_CHART}",
              "plain radii (.012, .016 in)": "[P] the gauges",
              "wound strings' hex cores 0.30-0.54 mm": "[A] typical of phosphor bronze sets",
              "Young's modulus 200 GPa": "[A] steel",
              "air": f"[S] {VALETTE}, on each string's gauge .012 .016 .024w .032w .042w "
                     ".053w in [P]",
              "internal friction eta_F 1.85e-4": "[D] what gives the B3 string alone, with "
                                                 "the air, 4.1 s at 2 kHz; the same law then "
                                                 "gives its 19 s at 247 Hz (the bare "
                                                 "steel-string preset's two T60s [A])",
              "decay of every string": "[D] air, friction and the bridge (see 'top')"},
    "top": f"[D] the bridge's loss T Re Y / L on a spruce top as an infinite plate, G = 1 / "
           f"(8 sqrt(D m'')) ({CREMER_HECKL}), carrying the bridge's mass: Y = 1 / (1 / G + "
           "i omega M); Sitka spruce 420 kg/m^3, E 10.8 GPa along and 0.84 GPa across the "
           "grain [S] (USDA Wood Handbook, FPL-GTR-190 (2010), Table 5-3a); tops 2.5 mm "
           "(nylon) and 2.8 mm (steel) thick [A], moving at the bridge with an effective mass of "
           "60 g, the bridge (20-25 g) and the braced top around it [A]",
    "frets": "equal temperament, 19 frets, first position; the pluck at a fixed distance "
             "from the bridge",
    "pluck": f"[D] at velocity 127 the string held 2 mm deflected on the steel-string guitar "
             f"({ZOLLNER}), 4 mm on the classical guitar, whose action (3-4 mm at the 12th "
             "fret, about twice an electric's) leaves the finger that much more room [A]; under "
             "a finger 8 mm wide (a plectrum: 2 mm) [A], then let go as fast as the string "
             "slips its own gauge off it [A] (synth.physics.pluck); "
             "the pulse a kind that cannot hold its string plays gives it the same energy",
}


def _bare_string(set_name: str, open_note: int, fret: int,
                 decays=((1.0, 1.0), (2.0, 1.0))) -> PhysicalString:
    """The set's string whose open note is `open_note` stopped at `fret`, with these
    (frequency, T60) pairs."""
    strings, scale = (NYLON_SET, NYLON_SCALE) if set_name == "nylon" else (STEEL_SET,
                                                                          STEEL_SCALE)
    _, tension, density, radius = next(s for s in strings if s[0] == open_note)
    if set_name == "nylon":
        radius = radius or math.sqrt(density / (math.pi * NYLON_DENSITY))
    return PhysicalString(length=scale * 2.0 ** (-fret / 12.0), tension=tension,
                          linear_density=density, radius=radius,
                          youngs_modulus=NYLON_MODULUS if set_name == "nylon" else STEEL_MODULUS,
                          t60_low=decays[0], t60_high=decays[1])


@functools.cache
def steel_friction() -> float:
    """Steel's eta_F: what, with Valette's air on its gauge, gives the B3 string alone its
    T60 at 2 kHz (STEEL_T60); at 247 Hz the same law gives the other (tests)."""
    b3 = _bare_string("steel", 59, 0)
    air = string_losses(b3, 0.0, 0.0, diameter=GAUGES["steel"][59] * INCH)
    normal = b3.to_normalised()
    frequency, t60 = STEEL_T60[1]
    beta2 = normal.beta_squared_at(frequency)
    sigma_air = mode_decay(air, normal.gamma ** 2, normal.kappa, beta2)
    return 2.0 * (LN_1000 / t60 - sigma_air) / (2.0 * math.pi * frequency)


def string_alone_losses(set_name: str, open_note: int, string: PhysicalString) -> np.ndarray:
    """The loss record of the set's string whose open note is `open_note`, stopped to
    `string`, on rigid supports: nylon by Woodhouse's measured law (his eta_A / omega, the
    air, as a constant decay eta_A / 2), steel by Valette's air on its gauge and
    `steel_friction`."""
    if set_name == "nylon":
        eta_f, eta_a, eta_b = WOODHOUSE_ETA
        return string_losses(string, eta_f, eta_b, extra=0.5 * eta_a)
    return string_losses(string, steel_friction(), 0.0,
                         diameter=GAUGES[set_name][open_note] * INCH)


def guitar_losses(set_name: str, open_note: int, string: PhysicalString) -> np.ndarray:
    """`string_alone_losses` and the bridge's, on the top of GUITAR_TOPS."""
    thickness, bridge_mass = GUITAR_TOPS[set_name]
    top = string_losses(string, 0.0, 0.0, conductance=plate_conductance(thickness, *SPRUCE),
                        bridge_mass=bridge_mass)
    return string_alone_losses(set_name, open_note, string) + top


def fretted_string(set_name: str, open_note: int, fret: int) -> PhysicalString:
    """The string of the "nylon" or "steel" set whose open note is `open_note`, stopped at
    `fret` (0: open), with the decay times of its fundamental and tenth partial alone
    (`string_alone_losses`)."""
    bare = _bare_string(set_name, open_note, fret)
    normal = bare.to_normalised()
    t60 = t60s(string_alone_losses(set_name, open_note, bare), normal.gamma ** 2,
               normal.kappa, [1, 10])
    f0 = bare.fundamental
    return _bare_string(set_name, open_note, fret, ((f0, t60[0]), (10.0 * f0, t60[1])))


def guitar_position(set_name: str, note: int) -> tuple[int, int]:
    """Where a guitarist in first position plays MIDI `note` (held to the neck: below the
    lowest open string its open note, above the top fret the top fret): (the string's open
    note, fret)."""
    strings = NYLON_SET if set_name == "nylon" else STEEL_SET
    note = min(max(note, strings[0][0]), strings[-1][0] + GUITAR_FRETS)
    open_note = max(s[0] for s in strings if s[0] <= note)
    return open_note, note - open_note


def guitar_string(set_name: str, note: int) -> tuple[PhysicalString, int]:
    """The string and fret on which MIDI `note` is played (`guitar_position`), as (the
    fretted string, fret)."""
    open_note, fret = guitar_position(set_name, note)
    return fretted_string(set_name, open_note, fret), fret


def pluck_amplitude(string: PhysicalString, position: float, half_width: float,
                    seconds: float, displacement: float, modes: int = 200) -> float:
    """The normalised amplitude of the force pulse (`synth.physics.excitation`, a PLUCK of
    `seconds`) at `position` (0..1) with the contact's `half_width` that leaves the string
    with the energy a static deflection of `displacement` (m) there stores,
    1/2 s d^2 (`synth.physics.pluck.lateral_stiffness`). After the pulse, mode m holds
    1/2 mu L^3 (Phi_m c_m A)^2 |F(omega_m)|^2, F the unit pulse's Fourier transform."""
    from synth.physics.modes import contact_profile

    normal = string.to_normalised()
    m = np.arange(1, modes + 1)
    beta = m * math.pi
    omega = np.sqrt(normal.gamma ** 2 * beta ** 2 + normal.kappa ** 2 * beta ** 4)
    t = np.linspace(0.0, seconds, 4001)
    pulse = 0.5 * (1.0 - np.cos(math.pi * t / seconds))
    samples = pulse * np.exp(1j * np.outer(omega, t))
    transform = (samples[:, 1:] + samples[:, :-1]).sum(axis=1) * 0.5 * (t[1] - t[0])
    drive = math.sqrt(2.0) * np.sin(beta * position) \
        * np.array([contact_profile(b, half_width) for b in beta])
    per_amplitude = 0.5 * string.linear_density * string.length ** 3 \
        * np.sum((drive * np.abs(transform)) ** 2)
    stiffness = lateral_stiffness(string, position)
    return math.sqrt(0.5 * stiffness * displacement ** 2 / per_amplitude)


def guitar(set_name: str, pluck_distance: float, pulse_seconds: float,
           potential: str = "exact", name: str = "") -> Keyboard:
    """A six-string guitar's keyboard (`guitar_string`): plucked `pluck_distance` (m) from
    the bridge, held HARD_PLUCK[set_name] deflected at velocity 127 under a finger
    (`hold_force`), or, for a kind that cannot hold it, by a pulse of `pulse_seconds` as
    strong (`pluck_amplitude`)."""
    strings = np.zeros((KEYS, len(STRING_FIELDS)))
    excitation = np.zeros((KEYS, len(EXCITATION_FIELDS)))
    for note in range(KEYS):
        open_note, fret = guitar_position(set_name, note)
        physical = fretted_string(set_name, open_note, fret)
        normal = physical.to_normalised(potential)
        strings[note] = (normal.gamma, normal.kappa, normal.nu,
                         *guitar_losses(set_name, open_note, physical))
        position = pluck_distance / physical.length
        half_width = 0.5 * FINGER_CONTACT / physical.length
        excitation[note, :2] = (position, pluck_amplitude(physical, position, half_width,
                                                          pulse_seconds,
                                                          HARD_PLUCK[set_name]))
        excitation[note, HALF_WIDTH] = half_width
        excitation[note, HOLD] = hold_force(physical, position, HARD_PLUCK[set_name])
        excitation[note, SLIP] = GAUGES[set_name][open_note] * INCH / physical.length
    top = (NYLON_SET if set_name == "nylon" else STEEL_SET)[-1][0] + GUITAR_FRETS
    return Keyboard(strings, excitation, (40.0, float(top)), name,
                    {"sources": {"strings": GUITAR_SOURCES[set_name],
                                 "frets": GUITAR_SOURCES["frets"],
                                 "pluck": GUITAR_SOURCES["pluck"]},
                     "made_by": "python -m presets.keyboards"})


def _save(fig, path: Path) -> None:
    """Write the figure to `path` as a PNG, all at once, and close it."""
    import matplotlib.pyplot as plt

    from synth.files import replace_atomically

    fig.tight_layout()
    with replace_atomically(path) as temporary:
        fig.savefig(temporary, format="png", dpi=110)
    plt.close(fig)


def figure(path: Path) -> None:
    """B across the keyboard against Young's law, and the hammers' masses and felts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notes = np.arange(LOWEST, HIGHEST + 1)
    b = [inharmonicity(piano_string(n)) for n in notes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.semilogy(notes, b, label="the shipped scale")
    plain = notes[notes >= 60]
    left.semilogy(plain, [young_inharmonicity(n) for n in plain], "k--",
                  label="Young 1952: 3.5e-4 at C4, x2 per 8 semitones")
    anchors = sorted(ANCHOR_HAMMERS)
    left.semilogy(anchors, [inharmonicity(piano_string(n)) for n in anchors], "o",
                  label="anchors (Chaigne & Askenfelt)")
    left.axvline(LAST_WOUND + 0.5, color="0.7", lw=0.8)
    left.set(xlabel="MIDI note", ylabel="inharmonicity B", title="B across the keyboard")
    left.legend(fontsize=7)
    hammers = [piano_hammer(n) for n in notes]
    right.plot(notes, [h.mass * 1e3 for h in hammers], label="mass (g)")
    right.plot(notes, [h.exponent for h in hammers], label="felt exponent p")
    right.plot(notes, [math.log10(h.stiffness) for h in hammers], label="log10 K (N/m^p)")
    right.set(xlabel="MIDI note", title="hammers (anchors C2, C4, C7)")
    right.legend(fontsize=7)
    _save(fig, path)


def guitar_figure(path: Path) -> None:
    """B of every string up its 19 frets, for both guitars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, (set_name, strings) in zip(axes, (("nylon", NYLON_SET), ("steel", STEEL_SET)),
                                       strict=True):
        for open_note, *_ in strings:
            frets = np.arange(GUITAR_FRETS + 1)
            b = [inharmonicity(fretted_string(set_name, open_note, fret)) for fret in frets]
            ax.semilogy(open_note + frets, b, label=f"open MIDI {open_note}")
        ax.set(xlabel="MIDI note", title=f"{set_name} strings up the neck (19 frets)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("inharmonicity B")
    _save(fig, path)


LOSS_NOTES = (("piano-wound", 36), ("piano-wound", 48), ("nylon-guitar", 55),
              ("steel-guitar", 59))


def losses_figure(path: Path, seconds: float = 3.0) -> None:
    """Each instrument's decay against its loss law: the law's T60 per partial (the string
    alone and with its bridge), and the T60s measured from the engine's render of the note
    at velocity 80 (partials 1-12)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synth.acoustics import mono, partial_t60
    from synth.engine.engine import Engine
    from synth.engine.events import NOTE_ON
    from synth.presets import find_preset, load_preset
    from synth.render import Event, render_events

    fig, axes = plt.subplots(1, len(LOSS_NOTES), figsize=(14, 3.6))
    for ax, (name, note) in zip(axes, LOSS_NOTES, strict=True):
        preset = load_preset(find_preset(name))
        key = preset.keyboard.strings[note]
        modes = np.arange(1, 41)
        losses, gamma2, kappa = key[SIGMA0:], key[GAMMA] ** 2, key[KAPPA]
        alone = losses.copy()
        alone[L_BRIDGE] = 0.0
        ax.semilogy(modes, t60s(losses, gamma2, kappa, modes), label="the law")
        ax.semilogy(modes, t60s(alone, gamma2, kappa, modes), "--", color="0.6",
                    label="the string alone")
        engine = Engine(preset, fs=48000, polyphony=2)
        sound = mono(render_events(engine, [Event(0, NOTE_ON, note, 80)],
                                   int(seconds * 48000)))
        f0 = note_frequency(note)
        b = key_inharmonicity(key)
        measured = [partial_t60(sound, 48000, f0 * m * math.sqrt(1 + b * m * m))
                    for m in range(1, 13)]
        ax.semilogy(range(1, 13), measured, "o", label=f"render, {seconds:g} s")
        ax.set(title=f"{name}, MIDI {note}", xlabel="partial", ylim=(0.3, 60))
        ax.legend(fontsize=7)
    axes[0].set_ylabel("T60 (s)")
    _save(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", metavar="DIR", required=True)
    directory = Path(parser.parse_args().figures)
    directory.mkdir(parents=True, exist_ok=True)
    figure(directory / "grand-piano.png")
    guitar_figure(directory / "guitars.png")
    losses_figure(directory / "losses.png")
    print(f"wrote grand-piano.png, guitars.png and losses.png in {directory}")


if __name__ == "__main__":
    main()

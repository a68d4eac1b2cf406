"""The keyboards of the shipped instruments: a string and an excitation for every note, from
published scale data (tags as in `presets.make_physics_presets`): a grand piano's 88 keys, and
the six strings and 19 frets of the guitars.

    python -m presets.keyboards --figures docs/keyboards   # B and the hammers across it

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
import math
from pathlib import Path

import numpy as np

from synth.keyboards import KEYS, Keyboard
from synth.physics.hammer import CHAIGNE_ASKENFELT, PIANO_HAMMERS, Hammer
from synth.physics.strings import PhysicalString, note_frequency

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
    t60 = [(f, 3.0 * math.log(10.0) / (B1 + b3 * (2.0 * math.pi * f) ** 2))
           for f in (frequency, 4000.0 if frequency < 2000.0 else 2.0 * frequency)]
    return PhysicalString(length=length, tension=tension, linear_density=density,
                          youngs_modulus=STEEL_MODULUS, radius=radius,
                          t60_low=t60[0], t60_high=t60[1])


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


def young_inharmonicity(note: float) -> float:
    """Young's (1952) plain strings: B 3.5e-4 at C4, doubling every 8 semitones."""
    return 3.5e-4 * 2.0 ** ((note - 60.0) / 8.0)


def grand_piano(amplitude_newtons: float = 80.0) -> Keyboard:
    """The grand piano's keyboard (Kirchhoff-Carrier strings): every key A0..C8 its own
    string, hammer and strike point, notes beyond them those of the nearest key; a pulse
    (the excitation control's strike) of `amplitude_newtons` at velocity 127."""
    strings, excitation = np.zeros((KEYS, 5)), np.zeros((KEYS, 8))
    for note in range(KEYS):
        key = min(max(note, LOWEST), HIGHEST)
        physical = piano_string(key)
        normal = physical.to_normalised("kc")
        hammer = piano_hammer(key)
        mass, felt, half_width = hammer.normalised(physical.length, physical.linear_density)
        strings[note] = (normal.gamma, normal.kappa, normal.nu, normal.sigma0, normal.sigma1)
        excitation[note] = (_between(STRIKE_POINTS, key, log=False),
                            physical.force_to_amplitude(amplitude_newtons), mass, felt,
                            hammer.exponent, half_width,
                            HAMMER_SPEEDS[0] / physical.length,
                            HAMMER_SPEEDS[1] / physical.length)
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


def woodhouse_t60(string: PhysicalString, frequency: float) -> float:
    """T60 (s) of the mode of `string` near `frequency` Hz under Woodhouse's nylon losses:
    sigma = omega / (2 Q)."""
    eta_f, eta_a, eta_b = WOODHOUSE_ETA
    omega = 2.0 * math.pi * frequency
    beta2 = (omega ** 2 * string.linear_density / string.tension)  # flexible-string k^2
    bending = string.youngs_modulus * math.pi * string.radius ** 4 / 4.0 * beta2
    loss = eta_f + eta_a / omega + eta_b * bending / (string.tension + bending)
    return 3.0 * math.log(10.0) / (0.5 * omega * loss)


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
STEEL_T60 = ((247.0, 19.0), (2000.0, 4.1))  # the B3 string's (make_physics_presets)
GUITAR_SOURCES = {
    "nylon": {"tensions and unit weights (E2 A2 D3 B3 E4, EJ45 normal tension)":
              f"[S] {DADDARIO_CHART}",
              "G3": "[S] Woodhouse 2004, Table 1, as the nylon-string preset",
              "plain radii": "[D] sqrt(mu / (pi rho)), nylon 1140 kg/m^3 [A]",
              "Young's modulus 6.3 GPa": "[D] Woodhouse's G3 bending stiffness",
              "wound strings' cores 0.30 mm": "[A] a multifilament nylon core",
              "decay": f"[S] {WOODHOUSE_LOSSES}, at each key's fundamental and tenth "
                       "partial"},
    "steel": {"tensions and unit weights (EJ16 light)": f"[S] {DADDARIO_CHART}",
              "plain radii (.012, .016 in)": "[P] the gauges",
              "wound strings' hex cores 0.30-0.54 mm": "[A] typical of phosphor bronze sets",
              "Young's modulus 200 GPa": "[A] steel",
              "decay 19 s at 247 Hz, 4.1 s at 2 kHz": "[A] the B3 string's (after Valette) "
                                                      "for every string"},
    "frets": "equal temperament, 19 frets, first position; the pluck at a fixed distance "
             "from the bridge",
}


def fretted_string(set_name: str, open_note: int, fret: int) -> PhysicalString:
    """The string of the "nylon" or "steel" set whose open note is `open_note`, stopped at
    `fret` (0: open), with its decay times."""
    strings, scale = (NYLON_SET, NYLON_SCALE) if set_name == "nylon" else (STEEL_SET,
                                                                          STEEL_SCALE)
    _, tension, density, radius = next(s for s in strings if s[0] == open_note)
    length = scale * 2.0 ** (-fret / 12.0)
    if set_name == "nylon":
        radius = radius or math.sqrt(density / (math.pi * NYLON_DENSITY))
        modulus = NYLON_MODULUS
    else:
        modulus = STEEL_MODULUS
    bare = PhysicalString(length=length, tension=tension, linear_density=density,
                          youngs_modulus=modulus, radius=radius, t60_low=(1.0, 1.0),
                          t60_high=(2.0, 1.0))
    f0 = bare.fundamental
    if set_name == "nylon":
        t60s = [(f, woodhouse_t60(bare, f)) for f in (f0, 10.0 * f0)]
    else:
        t60s = list(STEEL_T60)
    return PhysicalString(length=length, tension=tension, linear_density=density,
                          youngs_modulus=modulus, radius=radius, t60_low=t60s[0],
                          t60_high=t60s[1])


def guitar_string(set_name: str, note: int) -> tuple[PhysicalString, int]:
    """The string and fret on which a guitarist in first position plays MIDI `note` (held
    to the neck: below the lowest open string its open note, above the top fret the top
    fret), as (the fretted string, fret)."""
    strings = NYLON_SET if set_name == "nylon" else STEEL_SET
    note = min(max(note, strings[0][0]), strings[-1][0] + GUITAR_FRETS)
    open_note = max(s[0] for s in strings if s[0] <= note)
    return fretted_string(set_name, open_note, note - open_note), note - open_note


def guitar(set_name: str, pluck_distance: float, force: float, potential: str = "exact",
           name: str = "") -> Keyboard:
    """A six-string guitar's keyboard (`guitar_string`): plucked `pluck_distance` (m) from
    the bridge with up to `force` (N) at velocity 127."""
    strings, excitation = np.zeros((KEYS, 5)), np.zeros((KEYS, 8))
    for note in range(KEYS):
        physical, _ = guitar_string(set_name, note)
        normal = physical.to_normalised(potential)
        strings[note] = (normal.gamma, normal.kappa, normal.nu, normal.sigma0, normal.sigma1)
        excitation[note, :2] = (pluck_distance / physical.length,
                                physical.force_to_amplitude(force))
    top = (NYLON_SET if set_name == "nylon" else STEEL_SET)[-1][0] + GUITAR_FRETS
    return Keyboard(strings, excitation, (40.0, float(top)), name,
                    {"sources": {"strings": GUITAR_SOURCES[set_name],
                                 "frets": GUITAR_SOURCES["frets"]},
                     "made_by": "python -m presets.keyboards"})


def figure(path: Path) -> None:
    """B across the keyboard against Young's law, and the hammers' masses and felts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synth.files import replace_atomically

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
    fig.tight_layout()
    with replace_atomically(path) as temporary:
        fig.savefig(temporary, format="png", dpi=110)
    plt.close(fig)


def guitar_figure(path: Path) -> None:
    """B of every string up its 19 frets, for both guitars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synth.files import replace_atomically

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
    fig.tight_layout()
    with replace_atomically(path) as temporary:
        fig.savefig(temporary, format="png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", metavar="DIR", required=True)
    directory = Path(parser.parse_args().figures)
    directory.mkdir(parents=True, exist_ok=True)
    figure(directory / "grand-piano.png")
    guitar_figure(directory / "guitars.png")
    print(f"wrote {directory / 'grand-piano.png'} and {directory / 'guitars.png'}")


if __name__ == "__main__":
    main()

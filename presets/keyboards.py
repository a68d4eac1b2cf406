"""The keyboards of the shipped instruments: a string and an excitation for every note, from
published scale data (tags as in `presets.make_physics_presets`).

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", metavar="DIR", required=True)
    directory = Path(parser.parse_args().figures)
    directory.mkdir(parents=True, exist_ok=True)
    figure(directory / "grand-piano.png")
    print(f"wrote {directory / 'grand-piano.png'}")


if __name__ == "__main__":
    main()

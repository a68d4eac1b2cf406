"""The bodies of the shipped instruments, built from published measurements.

    python -m presets.bodies --figures docs/bodies   # each body's mobility against its data,
                                                     # and one mode against its closed form

A body (`synth.bodies.Body`) is made in three steps, each from cited data (tags as in
`presets.make_physics_presets`: [P] published, [S] published but read in a secondary
quotation, [D] derived, [A] assumed, with the reason):

1. Its lowest modes, measured one by one: frequency, Q and, where known, the effective mass
   at the bridge (the mode's gain at the bridge is 1 / mass).
2. Above them, modes as dense as the measured modal density n(f) (modes/Hz), placed by
   integrating it, with the measured loss factor. Their gains follow Skudrzyk's mean-value
   theorem: the driving-point mobility averaged over many modes is n(f) times a mode's mean
   gain / 4, so a mode's gain is 4 Y(f) / n(f) (Y the published mean mobility) times the
   square of a standard normal number (the mode's shape at the bridge, random).
3. Two microphones: the pressure a mode radiates goes with its velocity times the square
   root of its radiation efficiency sigma (radiated power = rho c S sigma <v^2>). The lowest
   modes move the whole board in phase (monopoles): a baffled piston of the board's area S,
   sigma = (k a)^2 / 2, a = sqrt(S / pi), k = 2 pi f / c. The modes above radiate from their
   edges only, below the coincidence frequency f_c (Maidanik 1962):
   sigma = P c / (pi^2 S f_c) sqrt(f / f_c), P the perimeter; sigma = 1 above f_c. A board
   open on both sides (a grand piano's soundboard, open underneath) has no baffle: at low
   frequency its faces cancel as a dipole, whose efficiency is (16 / (27 pi^2)) (k a)^4 where
   the baffled piston's is (k a)^2 / 2 (Beranek 1954, the disk without baffle), so every
   sigma is multiplied by min(1, 0.12 (k a)^2). The two
   microphones hear a mode with gains drawn correlated as the pair's geometry says (the
   monopoles reach both in phase, gain 1):
   - a pair in the far field of a small body (a guitar a little away): the mode's radiation
     pattern seen from two directions d / r apart, which varies over angles of about
     1 / (k a) (a the body's half-width): rho = sin(x) / x, x = k a d / r;
   - a pair close over a large board (a piano): each microphone hears the board beneath
     it, points d apart on a field of bending waves of wavenumber
     k_b = (omega^2 rho h / B)^(1/4): rho = J0(k_b d), the spatial correlation of a diffuse
     bending field.

The mic gains are then scaled so that the body's response, averaged (rms) over the log band
60 Hz to 5 kHz, is 1: the engine's body_mix balances it against the direct sound.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synth.bodies import Body
from synth.kernels.body import body_block, body_coefficients, impulse_responses

SOUND_SPEED = 343.0  # m/s at 20 C
BAND = (60.0, 5000.0)  # Hz: the band over which a body's response is normalised
TOP_FREQUENCY = 6000.0  # Hz: no body mode above (what little sounds there comes direct)

CHRISTENSEN = ("O. Christensen, B. B. Vistisen, 'Simple model for low-frequency guitar "
               "function', J. Acoust. Soc. Am. 68(3), 758-766 (1980), Fig. 4: f- 104 Hz "
               "Q- 29.0, f+ 219 Hz Q+ 25.8, top piston mass m_p 112 g")
SU = ("K.-C. Su et al., 'A three-dimensional method for analysis of the body mode of "
      "classical guitars', Sensors 24(16), 5147 (2024): body mode Q 11-15 with strings")
JANSSON = ("E. V. Jansson, Acoustics for Violin and Guitar Makers, 4th ed., KTH (2002), "
           "Ch. VI, Figs. 6.9 and 6.12: top modes 285, 460, 510, 645 Hz, air 370, 540, 760 Hz")
EUPHONICS = ("J. Woodhouse, Euphonics, section 5.3: signature modes 103, 205, 286, 436 Hz; "
             "above them modal overlap grows and the admittance 'trends gently downwards'")
CARRUTH = ("A. Carruth, MIMF forum (2024), informal: about a dozen top, back and air modes "
           "each below 1 kHz; modal overlap above 1 from 600-800 Hz")
POPP_ROSSING = ("J. Popp, T. D. Rossing (1986), Martin D-28 resonances 102, 204, 376, 436 Hz, "
                "as given in N. H. Fletcher, T. D. Rossing, The Physics of Musical "
                "Instruments, Springer")
CONKLIN = ("H. A. Conklin, 'How does a soundboard vibrate?', in Five Lectures on the "
           "Acoustics of the Piano, ed. A. Askenfelt, KTH (1990): first mode of a concert-"
           "grand soundboard 49 Hz")
EGE = ("K. Ege, X. Boutillon, M. Rebillat, 'Vibroacoustics of the piano soundboard', J. Sound "
       "Vib. 332(5), 1288-1305 (2013): low modes about 22 Hz apart, modal density rising to "
       "0.06 modes/Hz below 1.1 kHz, loss factor 1-3 % (mean 2.3 %) up to 1.2 kHz")
BOUTILLON = ("X. Boutillon, K. Ege, 'Vibroacoustics of the piano soundboard: reduced models, "
             "mobility synthesis, and acoustical radiation regime', J. Sound Vib. 332(18), "
             "4261-4279 (2013): above 1.1 kHz the modes seen from the bridge thin to "
             "0.01-0.02 modes/Hz")
WOGRAM = ("K. Wogram, 'The strings and the soundboard', in Five Lectures on the Acoustics of "
          "the Piano, KTH (1990), Fig. 5: bridge impedance about 1000 kg/s at 100 Hz and "
          "10 kg/s at 10 kHz, falling about 6 dB/octave")
COOK = ("R. K. Cook et al., 'Measurement of correlation coefficients in reverberant sound "
        "fields', J. Acoust. Soc. Am. 27, 1072-1077 (1955): the correlation of a diffuse "
        "field at two points, sin(x)/x in 3D and J0(x) in 2D (here of the board's bending "
        "field)")
MAIDANIK = ("G. Maidanik, 'Response of ribbed panels to reverberant acoustic fields', J. "
            "Acoust. Soc. Am. 34, 809-826 (1962): radiation efficiency of edge modes below "
            "coincidence")
BERANEK = ("L. L. Beranek, Acoustics, McGraw-Hill (1954), ch. 5: radiation resistance of a "
           "rigid disk with and without a baffle")
SKUDRZYK = ("E. Skudrzyk, 'The mean-value method of predicting the dynamic response of "
            "complex vibrators', J. Acoust. Soc. Am. 67, 1105-1135 (1980)")


@dataclass(frozen=True)
class Design:
    """What a body is built from: the named low modes (frequency Hz, Q, gain 1/kg at the
    bridge or None for the mean-value gain), where the dense modes start, their density
    n(f) (modes/Hz) and mean mobility Y(f) (m/(N s)) as functions of frequency, their loss
    factor, the radiating board's area (m^2), perimeter (m) and coincidence frequency (Hz),
    whether the board is baffled (closed behind, as a guitar's top by its box), the
    correlation of a mode's gains at the two microphones as a function of its frequency,
    how many of the named modes radiate as monopoles, the direct sound's spread and note
    range, and the sources."""

    name: str
    low_modes: tuple[tuple[float, float, float | None], ...]
    dense_from: float
    density: object
    mobility: object
    loss_factor: float
    area: float
    perimeter: float
    coincidence: float
    coherence: object
    baffled: bool
    monopoles: int
    spread: float
    note_range: tuple[float, float]
    sources: dict
    seed: int


def _placed(density, start: float, stop: float, rng: np.random.Generator) -> np.ndarray:
    """Mode frequencies from start to stop Hz as dense as density(f): the i-th where the
    integrated density reaches i, jittered by up to a third of a spacing."""
    grid = np.linspace(start, stop, 20001)
    counts = np.concatenate([[0.0], np.cumsum(0.5 * (density(grid[1:]) + density(grid[:-1]))
                                               * np.diff(grid))])
    targets = np.arange(1, int(counts[-1])) + rng.uniform(-1 / 3, 1 / 3, int(counts[-1]) - 1)
    return np.interp(targets, counts, grid)


def _pair(frequencies: np.ndarray, rho: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(K, 2) gains of each mode at two microphones: unit-variance normals correlated rho."""
    a, b = rng.standard_normal((2, len(frequencies)))
    return np.stack([a, rho * a + np.sqrt(1 - rho ** 2) * b], axis=1)


def far_pair(half_width: float, spacing: float, distance: float):
    """The coherence of a pair `spacing` m apart at `distance` m from a body of `half_width`
    m: sin(x) / x, x = k a d / r."""
    def rho(f):
        return np.sinc(2 * f * half_width * spacing / (SOUND_SPEED * distance))
    return rho


def near_pair(spacing: float, mass: float, stiffness: float):
    """The coherence of a pair over board points `spacing` m apart on a board of `mass` kg/m^2
    and bending stiffness `stiffness` N m: J0(k_b d)."""
    def rho(f):
        k_bending = np.sqrt(2 * np.pi * np.asarray(f)) * (mass / stiffness) ** 0.25
        angles = (np.arange(512) + 0.5) * np.pi / 512  # J0(x) = mean of cos(x sin t), t in (0, pi)
        return np.cos(np.outer(k_bending * spacing, np.sin(angles))).mean(axis=1)
    return rho


def radiation_efficiency(design: Design, frequencies: np.ndarray) -> np.ndarray:
    """sigma of each mode (K,): the monopoles' (the first `design.monopoles`) as a baffled
    piston, the others' from their edges below coincidence (see the module docstring)."""
    k = 2 * np.pi * frequencies / SOUND_SPEED
    piston = np.minimum((k * np.sqrt(design.area / np.pi)) ** 2 / 2, 1.0)
    edges = design.perimeter * SOUND_SPEED / (np.pi ** 2 * design.area * design.coincidence) \
        * np.sqrt(frequencies / design.coincidence)
    sigma = np.minimum(edges, 1.0)
    sigma[:design.monopoles] = piston[:design.monopoles]
    if not design.baffled:  # dipole over monopole, for a disk of the board's area
        sigma *= np.minimum(32 / (27 * np.pi ** 2) * (k * np.sqrt(design.area / np.pi)) ** 2,
                            1.0)
    return sigma


def build(design: Design) -> tuple[Body, np.ndarray]:
    """The body of `design`, and its modes' gains at the bridge (K,) (1/kg), from which its
    driving-point mobility is drawn."""
    rng = np.random.default_rng(design.seed)
    named = np.array([f for f, _, _ in design.low_modes])
    named_q = np.array([q for _, q, _ in design.low_modes])
    dense = _placed(design.density, design.dense_from, TOP_FREQUENCY, rng)
    frequencies = np.concatenate([named, dense])
    decays = np.concatenate([np.pi * named / named_q, np.pi * dense * design.loss_factor])
    mean_gain = 4 * design.mobility(frequencies) / design.density(frequencies)
    bridge = mean_gain * rng.standard_normal(len(frequencies)) ** 2
    for i, (_, _, gain) in enumerate(design.low_modes):
        if gain is not None:
            bridge[i] = gain
    microphones = _pair(frequencies, design.coherence(frequencies), rng)
    microphones[:design.monopoles] = 1.0
    radiation = np.sqrt(radiation_efficiency(design, frequencies))
    gains = (bridge * radiation)[:, None] * microphones
    body = Body(frequencies, decays, gains, spread=design.spread, range=design.note_range,
                name=design.name, provenance=dict(design.sources))
    band = np.geomspace(*BAND, 2000)
    level = float(f"{np.sqrt(np.mean(np.abs(body.response(band)) ** 2)):.3g}")  # 3 digits:
    # the same file on every machine, whatever the rounding of the matrix product
    return Body(frequencies, decays, gains / level, spread=design.spread,
                range=design.note_range, name=design.name,
                provenance={**design.sources, "made_by": "python -m presets.bodies (build)",
                            "normalised": "mic gains x 1 / rms response over 60 Hz-5 kHz"}), \
        bridge


def mobility(frequencies: np.ndarray, body: Body, bridge: np.ndarray) -> np.ndarray:
    """The body's driving-point mobility |v / F| at the bridge (m/(N s)) at `frequencies`,
    from its modes' gains at the bridge (K,)."""
    return np.abs(body.response(frequencies, bridge[:, None])[:, 0])


# ---------------------------------------------------------------- the instruments
TOP_PISTON_MASS = 0.112  # kg, CHRISTENSEN
# spruce: E along and across the grain 11 and 0.65 GPa, 380 kg/m^3 (Chabassier et al. 2013,
# Table I [S]); a guitar top 2.5 mm thick [A: typical of classical tops]
_SPRUCE_B = 2.5e-3 ** 3 * math.sqrt(11e9 * 0.65e9) / 12  # N m, geometric-mean stiffness
GUITAR_PLATE_MOBILITY = 1 / (8 * math.sqrt(_SPRUCE_B * 380 * 2.5e-3))  # m/(N s), 0.069


def _guitar_density(f):
    return np.full_like(np.asarray(f, dtype=float), 0.04)


def _guitar_mobility(f):
    return GUITAR_PLATE_MOBILITY * (np.asarray(f) / 1000.0) ** -0.5


def _piano_density(f):
    f = np.asarray(f, dtype=float)
    rising = 0.06 * (1 - np.exp(-f / 250.0))  # clamped edges: rises to 0.06 /Hz
    return np.where(f < 1100.0, rising, 0.015)  # localised between ribs above 1.1 kHz


def _piano_mobility(f):
    return 1e-3 * np.asarray(f) / 100.0  # WOGRAM: 1000 kg/s at 100 Hz, -6 dB/octave


_GUITAR_SOURCES = {
    "dense modes from 500-600 Hz, 0.04 modes/Hz, loss factor 0.02": f"[D] modal overlap n f "
                                                                    f"eta about 1 at 600-800 "
                                                                    f"Hz ({CARRUTH}; "
                                                                    f"{EUPHONICS})",
    "mean mobility 0.069 (f / 1 kHz)^-0.5 m/(N s)": "[D] 1 / (8 sqrt(B rho h)) of a 2.5 mm "
                                                   "spruce top [A thickness], E 11 / 0.65 GPa "
                                                   "and 380 kg/m^3 (Chabassier et al. 2013, "
                                                   "Table I [S]); falling gently "
                                                   f"[A slope] ({EUPHONICS})",
    "mode gains": f"[D] mean-value theorem ({SKUDRZYK})",
    "radiation": f"[D] baffled piston below, edge radiation above ({MAIDANIK}); coincidence "
                 f"4.8 kHz [D] c^2 / (2 pi) sqrt(rho h / B) along the grain of the 2.5 mm "
                 f"spruce top",
    "microphones 0.3 m apart, 0.6 m from a body 0.2 m in half-width": "[A] a close pair "
                                                                      "in front of the "
                                                                      "guitar; the far field "
                                                                      "of a source of that "
                                                                      "size [D]",
    "direct sound spread 0.15 over notes 40-88": "[A] six strings within 6 cm",
}
_GUITAR = dict(density=_guitar_density, mobility=_guitar_mobility, loss_factor=0.02,
               coincidence=4800.0, baffled=True, coherence=far_pair(0.2, 0.3, 0.6),
               monopoles=2, spread=0.15, note_range=(40.0, 88.0))

CLASSICAL_GUITAR = Design(
    name="classical guitar (Christensen & Vistisen's, with Jansson's higher modes)",
    low_modes=((104.0, 13.0, 1 / TOP_PISTON_MASS), (219.0, 25.8, 1 / TOP_PISTON_MASS),
               (285.0, 30.0, None), (370.0, 30.0, None), (436.0, 30.0, None),
               (460.0, 30.0, None), (510.0, 30.0, None), (540.0, 30.0, None)),
    dense_from=600.0, area=0.1, perimeter=1.4, **_GUITAR,
    sources={
        "A0 104 Hz, T(1,1) 219 Q 25.8, gain 1 / 112 g": f"[S] {CHRISTENSEN}",
        "A0 Q 13 (strung)": f"[S] {SU}",
        "modes 285, 370, 460, 510, 540 Hz, Q 30": f"[S] {JANSSON}; Q [A] loss factor 0.033",
        "mode 436 Hz": f"[S] {EUPHONICS}",
        "top area 0.1 m^2, perimeter 1.4 m": "[A] a classical top",
        **_GUITAR_SOURCES},
    seed=1)

STEEL_GUITAR = Design(
    name="steel-string dreadnought (Martin D-28 low modes)",
    low_modes=((102.0, 13.0, 1 / TOP_PISTON_MASS), (204.0, 25.8, 1 / TOP_PISTON_MASS),
               (376.0, 30.0, None), (436.0, 30.0, None)),
    dense_from=500.0, area=0.12, perimeter=1.6, **_GUITAR,
    sources={
        "modes 102, 204, 376, 436 Hz": f"[S] {POPP_ROSSING} (a second-hand chain)",
        "Q and gains of the two lowest": f"[A] as the classical guitar's ({CHRISTENSEN}; "
                                         f"{SU}): no steel-string values were found",
        "top area 0.12 m^2, perimeter 1.6 m": "[A] a dreadnought top",
        **_GUITAR_SOURCES},
    seed=2)

GRAND_PIANO = Design(
    name="grand piano soundboard (Conklin's first mode, Ege's density and damping)",
    low_modes=((49.0, 43.0, None),),
    dense_from=60.0, density=_piano_density, mobility=_piano_mobility, loss_factor=0.023,
    area=2.0, perimeter=6.0, coincidence=1340.0, baffled=False,
    coherence=near_pair(1.0, 380 * 9e-3, 9e-3 ** 3 * math.sqrt(11e9 * 0.65e9) / 12), monopoles=1,
    spread=0.7, note_range=(21.0, 108.0),
    sources={
        "first mode 49 Hz": f"[S] {CONKLIN}",
        "modal density 0.06 /Hz below 1.1 kHz, rising from the first mode; loss factor "
        "0.023 (Q 43)": f"[S] {EGE}",
        "0.015 modes/Hz above 1.1 kHz": f"[S] {BOUTILLON}",
        "mean mobility 1e-3 (f / 100 Hz) m/(N s)": f"[D] from {WOGRAM}",
        "mode gains": f"[D] mean-value theorem ({SKUDRZYK})",
        "radiation": f"[D] edge radiation ({MAIDANIK}), without a baffle: the board is open "
                     f"underneath, a dipole at low frequency ({BERANEK}); board "
                     f"area 2 m^2, perimeter 6 m [A: a grand's]; coincidence 1.34 kHz [D] "
                     f"along the grain of a 9 mm [A] spruce board (Chabassier et al. 2013, "
                     f"Table I [S])",
        "microphones over board points 1 m apart": f"[A] spaced omnis close over the open "
                                                   f"lid, bass and treble; the bending field's "
                                                   f"coherence after {COOK}",
        "direct sound spread 0.7 over notes 21-108": "[A] bass strings left, treble right, "
                                                     "as the player hears"},
    seed=3)

DESIGNS = {"classical-guitar": CLASSICAL_GUITAR, "steel-guitar": STEEL_GUITAR,
           "grand-piano": GRAND_PIANO}


def figure(name: str, path: Path) -> None:
    """Draw a body's driving-point mobility and its two microphones' responses, with the
    published data it was built from."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    design = DESIGNS[name]
    body, bridge = build(design)
    f = np.geomspace(30, TOP_FREQUENCY, 4000)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    top.loglog(f, mobility(f, body, bridge), lw=0.8, label="built body, at the bridge")
    top.loglog(f, design.mobility(f), "k--", lw=1.2,
               label="published mean mobility it is built from")
    for frequency, q, gain in design.low_modes:
        if gain is not None:
            top.plot(frequency, q * gain / (2 * np.pi * frequency), "rv", ms=7)
        else:
            top.axvline(frequency, color="0.6", lw=0.8, ls=":")
    if any(gain is not None for _, _, gain in design.low_modes):
        top.plot([], [], "rv", label="published mode: peak Q / (2 pi f m)")
    top.plot([], [], color="0.6", lw=0.8, ls=":", label="published mode frequency")
    top.set_ylabel("mobility |v / F| (m / (N s))")
    top.set_title(f"{design.name}: {len(body.frequencies)} modes")
    top.legend(fontsize=8)
    response = body.response(f)
    for c, label in enumerate(("left microphone", "right microphone")):
        bottom.semilogx(f, 20 * np.log10(np.abs(response[:, c]) + 1e-12), lw=0.7, label=label)
    bottom.set_ylabel("what each microphone hears (dB, normalised)")
    bottom.set_xlabel("frequency (Hz)")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def impulse_figure(path: Path, fs: float = 48000.0) -> float:
    """Draw one body mode's impulse response, as the kernel plays it, against its closed form
    (the classical guitar's air mode); returns the largest difference relative to the peak."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frequency, q = CLASSICAL_GUITAR.low_modes[0][:2]
    decay = np.pi * frequency / q
    n = int(0.3 * fs)
    impulse = np.zeros(n)
    impulse[0] = 1.0
    played = np.zeros((n, 1))
    body_block(impulse, body_coefficients([frequency], [decay], fs), np.ones((1, 1)),
               np.zeros((1, 3)), played)
    t = np.arange(n) / fs
    closed = impulse_responses([frequency], [decay], fs, n)[0]
    error = float(np.abs(played[:, 0] - closed).max() / np.abs(closed).max())
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    top.plot(1e3 * t, fs * played[:, 0], lw=1.6, label="the kernel (impulse invariance)")
    top.plot(1e3 * t, fs * closed, "k--", lw=0.9,
             label="closed form exp(-sigma t)(cos wt - sigma/w sin wt)")
    top.set_ylabel("velocity per unit impulse x fs")
    top.set_title(f"one body mode, {frequency:g} Hz, Q {q:g} (T60 {np.log(1000) / decay:.2f} s)"
                  f", at {fs / 1000:g} kHz")
    top.legend(fontsize=8)
    bottom.semilogy(1e3 * t, np.abs(played[:, 0] - closed) / np.abs(closed).max() + 1e-20,
                    lw=0.7)
    bottom.set_ylabel("|difference| / peak")
    bottom.set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=Path, required=True, help="folder for the PNGs")
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)
    for name in DESIGNS:
        figure(name, args.figures / f"{name}.png")
        print(f"wrote {args.figures / f'{name}.png'}")
    error = impulse_figure(args.figures / "mode-impulse.png")
    print(f"wrote {args.figures / 'mode-impulse.png'}: kernel against closed form, largest "
          f"difference {error:.1e} of the peak")


if __name__ == "__main__":
    main()

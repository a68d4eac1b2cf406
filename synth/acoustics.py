"""Measurements of a recorded or rendered note, the figures `bench realism` compares with
real instruments: partial frequencies and inharmonicity, decay times, spectral centroid,
pitch glide, the energy below the fundamental and between the partials, stereo correlation.

Every function takes audio as (N,) or (N, channels) float samples at `fs` Hz (channels are
summed unless said otherwise), times in seconds from the start of the array (the onset), and
the note's nominal fundamental `f0` in Hz. Plain NumPy.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

FRAME, HOP = 4096, 512  # STFT for decay envelopes (85 ms frames at 48 kHz)


def mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.sum(axis=1) if x.ndim == 2 else x


def resampled(x: np.ndarray, fs: float, to: float) -> np.ndarray:
    """x ((N,) or (N, C)) at fs Hz as it sounds at `to` Hz (round(N to / fs) samples,
    float64): band-limited through the FFT, over a length that both rates divide into
    whole samples (the ratio taken to within 1 part in 1e6), padded with silence so that
    its end does not wrap onto its start."""
    x = np.asarray(x, dtype=np.float64)
    if fs == to:
        return x.copy()
    ratio = Fraction(to / fs).limit_denominator(1_000_000)
    length = round(len(x) * to / fs)
    padded = -(-(len(x) + max(len(x) // 8, 1024)) // ratio.denominator) * ratio.denominator
    size = padded * ratio.numerator // ratio.denominator
    spectrum = np.fft.rfft(x, n=padded, axis=0)
    kept = min(spectrum.shape[0], size // 2 + 1)
    out = np.zeros((size // 2 + 1, *spectrum.shape[1:]), complex)
    out[:kept] = spectrum[:kept]
    # a Nyquist bin stands for its two halves (+-fs/2) in an even length's spectrum only
    if size > padded and padded % 2 == 0:
        out[padded // 2] *= 0.5
    elif size < padded and size % 2 == 0:
        out[size // 2] *= 2.0
    return np.fft.irfft(out, n=size, axis=0)[:length] * (size / padded)


ONSET_LEVEL = 10 ** (-40 / 20)  # the onset: the first sample within 40 dB of the peak ...
ONSET_OVER_NOISE = 4.0  # ... and 12 dB over the noise's peaks
NOISE_FRAME = 0.001  # s: frames whose peaks measure the noise


def onset(x: np.ndarray, fs: float = 48000.0, noise: float | None = None) -> int:
    """The index of x's onset: its first sample within 40 dB of its peak and ONSET_OVER_NOISE
    times above the noise (`noise` if known, as a render's 0; else the median peak of the
    quietest tenth of NOISE_FRAME frames: a recording's hiss or room, which needs the
    recording to hold some, or the note's own quietest frames count as noise); 0 if
    silent."""
    level = np.abs(mono(x))
    peak = level.max(initial=0.0)
    if peak == 0.0:
        return 0
    if noise is None:
        frame = max(round(NOISE_FRAME * fs), 1)
        peaks = level[:len(level) // frame * frame].reshape(-1, frame).max(axis=1)
        noise = float(np.median(np.sort(peaks)[:max(len(peaks) // 10, 1)])) if len(peaks) \
            else 0.0
    return int(np.argmax(level > max(ONSET_LEVEL * peak, ONSET_OVER_NOISE * noise)))


def from_onset(x: np.ndarray, fs: float = 48000.0) -> np.ndarray:
    """x (at fs Hz) from its onset on (leading silence and a soundfont's delay removed)."""
    return x[onset(x, fs):]


def spectrum(x: np.ndarray, fs: float, start: float, stop: float, deep: bool = False):
    """Power spectrum (zero-padded 8x) of mono(x) from start to stop s: Hann window, or with
    `deep` a 4-term Blackman-Harris one (side lobes -92 dB), for energy far below a peak."""
    segment = mono(x)[int(start * fs):int(stop * fs)]
    n = 1 << math.ceil(math.log2(max(len(segment), 2) * 8))
    window = _blackman_harris(len(segment)) if deep else np.hanning(len(segment))
    power = np.abs(np.fft.rfft(segment * window, n)) ** 2
    return np.fft.rfftfreq(n, 1.0 / fs), power


def _blackman_harris(length: int) -> np.ndarray:
    phase = 2 * np.pi * np.arange(length) / max(length - 1, 1)
    return (0.35875 - 0.48829 * np.cos(phase) + 0.14128 * np.cos(2 * phase)
            - 0.01168 * np.cos(3 * phase))


def _peak(freqs: np.ndarray, power: np.ndarray, near: float, width: float) -> float:
    """The frequency of the strongest peak within +-width Hz of `near` (parabolic
    interpolation of the log power)."""
    return _peak_and_level(freqs, power, near, width)[0]


def _peak_and_level(freqs: np.ndarray, power: np.ndarray, near: float,
                    width: float) -> tuple[float, float]:
    """(frequency, level in dB) of the strongest peak within +-width Hz of `near`."""
    band = np.flatnonzero((freqs > near - width) & (freqs < near + width))
    i = band[np.argmax(power[band])]
    level = 10 * math.log10(max(float(power[i]), 1e-300))
    if 0 < i < len(power) - 1:
        a, b, c = np.log(power[i - 1:i + 2] + 1e-300)
        denominator = a - 2 * b + c
        offset = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
        return float(freqs[i] + offset * (freqs[1] - freqs[0])), level
    return float(freqs[i]), level


WEAK_PARTIAL = 40.0  # dB below the strongest: a partial too weak to be found (a node's)


def partials(x: np.ndarray, fs: float, f0: float, count: int = 10, start: float = 0.05,
             stop: float = 1.05) -> np.ndarray:
    """Frequencies (Hz, (count,)) of partials 1..count, each found near where the ones below
    predict it (a stiff string's partials spread upwards), from start to stop s."""
    return partial_peaks(x, fs, f0, count, start, stop)[0]


def partial_peaks(x: np.ndarray, fs: float, f0: float, count: int = 10, start: float = 0.05,
                  stop: float = 1.05) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, levels in dB), each (count,) or fewer below 0.5 fs, of partials
    1..count from start to stop s, each looked for within f0 / 4 of where the ones below
    predict it (a stiff string's partials spread upwards); a partial WEAK_PARTIAL dB below
    the strongest (at a node of the excitation) is not used to predict the next."""
    freqs, power = spectrum(x, fs, start, stop)
    found, levels = [], []
    for n in range(1, count + 1):
        strong = [i for i, level in enumerate(levels) if level > max(levels) - WEAK_PARTIAL]
        if len(strong) >= 3:
            base, spread = _fit(np.array(strong) + 1.0, np.array(found)[strong])
            predicted = n * base * math.sqrt(1.0 + spread * n * n)
        else:
            predicted = n * (found[strong[0]] / (strong[0] + 1) if strong else f0)
        if predicted + f0 / 4 >= fs / 2:
            break
        frequency, level = _peak_and_level(freqs, power, predicted, f0 / 4)
        found.append(frequency)
        levels.append(level)
    return np.array(found), np.array(levels)


def _fit(orders: np.ndarray, frequencies: np.ndarray) -> tuple[float, float]:
    """f0 and B of f_n = n f0 sqrt(1 + B n^2), by least squares on (f_n / n)^2 against n^2."""
    slope, intercept = np.polyfit(orders.astype(float) ** 2, (frequencies / orders) ** 2, 1)
    intercept = max(intercept, 1e-12)
    return math.sqrt(intercept), slope / intercept


def inharmonicity(frequencies: np.ndarray, orders: np.ndarray | None = None) -> tuple[float,
                                                                                       float]:
    """(f0 in Hz, B) fitted to partials of the given orders (default 1..len(frequencies))."""
    frequencies = np.asarray(frequencies, dtype=float)
    orders = np.arange(1, len(frequencies) + 1) if orders is None else np.asarray(orders)
    return _fit(orders, frequencies)


def envelope_db(x: np.ndarray, fs: float, frequency: float | None = None,
                width: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, level in dB) of the whole signal (frequency None: RMS of each frame) or
    of the band frequency +-width Hz (the strongest STFT bin there, per frame)."""
    signal = mono(x)
    starts = np.arange(0, max(len(signal) - FRAME, 0) + 1, HOP)
    times = (starts + FRAME / 2) / fs
    if frequency is None:
        energy = np.array([np.mean(signal[s:s + FRAME] ** 2) for s in starts])
        return times, 10 * np.log10(energy + 1e-30)
    window = np.hanning(FRAME)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / fs)
    band = np.flatnonzero(np.abs(freqs - frequency) <= max(width, fs / FRAME))
    frames = np.stack([signal[s:s + FRAME] * window for s in starts])
    power = np.abs(np.fft.rfft(frames, axis=1)[:, band]) ** 2
    return times, 10 * np.log10(power.max(axis=1) + 1e-30)


def envelope_floor(level: np.ndarray) -> float:
    """The floor (dB) of an envelope (`envelope_db`): the median of its quietest tenth."""
    return float(np.median(np.sort(level)[:max(len(level) // 10, 1)]))


def t60(times: np.ndarray, level: np.ndarray, drop: float = 30.0) -> float:
    """Seconds to decay 60 dB, from a straight line fitted to the envelope from its peak
    (5 dB below it) down `drop` dB, or to the noise floor, whichever comes first; inf when it
    does not decay."""
    peak = int(np.argmax(level))
    floor = envelope_floor(level)
    stop_level = max(level[peak] - 5.0 - drop, floor + 10.0)
    tail = np.flatnonzero(level[peak:] < stop_level)
    end = peak + (tail[0] if len(tail) else len(level) - peak)
    begin = peak + int(np.argmax(level[peak:end] < level[peak] - 5.0)) if end > peak + 2 else peak
    if end - begin < 3:
        return math.inf
    slope = np.polyfit(times[begin:end], level[begin:end], 1)[0]
    return 60.0 / -slope if slope < 0 else math.inf


def partial_t60(x: np.ndarray, fs: float, frequency: float) -> float:
    """T60 (s) of the partial at `frequency` Hz."""
    return t60(*envelope_db(x, fs, frequency, width=fs / FRAME))


def overall_t60(x: np.ndarray, fs: float) -> float:
    """T60 (s) of the whole sound's level."""
    return t60(*envelope_db(x, fs))


def centroid(x: np.ndarray, fs: float, start: float, stop: float) -> float:
    """Spectral centroid (Hz, power-weighted) from start to stop s."""
    freqs, power = spectrum(x, fs, start, stop)
    return float(np.sum(freqs * power) / max(np.sum(power), 1e-300))


def glide_cents(x: np.ndarray, fs: float, f0: float, early: tuple[float, float] = (0.03, 0.10),
                late: tuple[float, float] = (0.5, 1.0), count: int = 4) -> float:
    """How far the partials sound above their later pitch in the `early` window, in cents (a
    hard pluck's tension glide, which raises them all): the median over partials 1..count,
    each found within f0 / 8 of n f0, so that a body mode beside one of them cannot pull the
    figure."""
    first = spectrum(x, fs, *early)
    settled = spectrum(x, fs, *late)
    cents = [1200.0 * math.log2(_peak(*first, n * f0, f0 / 8) / _peak(*settled, n * f0, f0 / 8))
             for n in range(1, count + 1)]
    return float(np.median(cents))


MAIN_LOBE_BINS = 4.5  # the Blackman-Harris window's main lobe, half-width, in 1/length


def energy_below_f0(x: np.ndarray, fs: float, f0: float, stop: float = 0.15) -> float:
    """Energy from 20 Hz to 0.8 f0 over the first `stop` s, in dB relative to all of it: the
    body's air and low plate modes. For a low note the band stops short of the
    fundamental's main lobe (f0 - 4.5 / stop Hz), so the fundamental never counts."""
    freqs, power = spectrum(x, fs, 0.0, stop, deep=True)
    edge = min(0.8 * f0, f0 - MAIN_LOBE_BINS / stop)
    below = power[(freqs > 20.0) & (freqs < edge)].sum()
    return 10 * math.log10(max(below, 1e-300) / max(power.sum(), 1e-300))


def inharmonic_energy(x: np.ndarray, fs: float, frequencies: np.ndarray,
                      stop: float = 0.15) -> float:
    """Energy away from the partials (farther than a quarter of the fundamental from each,
    above 0.8 f0) over the first `stop` s, in dB relative to all of it: the noise of the
    pluck or the knock of the hammer."""
    freqs, power = spectrum(x, fs, 0.0, stop, deep=True)
    f0 = frequencies[0]
    near = np.zeros(len(freqs), bool)
    for f in frequencies:
        near |= np.abs(freqs - f) < f0 / 4
    away = power[(freqs >= 0.8 * f0) & ~near].sum()
    return 10 * math.log10(max(away, 1e-300) / max(power.sum(), 1e-300))


def stereo_correlation(x: np.ndarray) -> float:
    """Pearson correlation of the left and right channels (1.0 for mono or dual mono)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1 or x.shape[1] < 2:
        return 1.0
    left, right = x[:, 0] - x[:, 0].mean(), x[:, 1] - x[:, 1].mean()
    denominator = math.sqrt(np.sum(left ** 2) * np.sum(right ** 2))
    return float(np.sum(left * right) / denominator) if denominator > 0 else 1.0


def partial_levels(x: np.ndarray, fs: float, f0: float, inharmonicity: float, count: int,
                   start: float, stop: float) -> np.ndarray:
    """Levels (dB, (count,)) of partials 1..count of a note with fundamental f0 Hz and
    inharmonicity B, from start to stop s: the power within a quarter of f0 of each
    n f0 sqrt(1 + B n^2) (Blackman-Harris window); partials above 0.45 fs are -inf."""
    freqs, power = spectrum(x, fs, start, stop, deep=True)
    levels = np.full(count, -math.inf)
    for n in range(1, count + 1):
        frequency = n * f0 * math.sqrt(1.0 + inharmonicity * n * n)
        if frequency > 0.45 * fs:
            break
        band = np.abs(freqs - frequency) < f0 / 4
        levels[n - 1] = 10 * math.log10(max(float(power[band].sum()), 1e-300))
    return levels


SPECTRAL_FRAMES = (256, 1024, 4096)  # multi-resolution STFT sizes at 48 kHz (scaled with fs)
SPECTRAL_RANGE = 60.0  # dB below the loudest bin: the bins that sound


def log_spectral_distance(x: np.ndarray, y: np.ndarray, fs: float) -> float:
    """The multi-resolution log-spectral distance (dB) of two sounds from their onsets, over
    the shorter one: each normalised to unit RMS, the mean over SPECTRAL_FRAMES (Hann
    windows, hop a quarter) of the mean |20 log10 |X| - 20 log10 |Y|| over the bins where
    either sounds (within SPECTRAL_RANGE of its loudest bin; quieter magnitudes count as
    that floor). 0 for the same sound at any level."""
    a, b = mono(x), mono(y)
    length = min(len(a), len(b))
    a, b = a[:length], b[:length]
    a = a / max(math.sqrt(np.mean(a * a)), 1e-300)
    b = b / max(math.sqrt(np.mean(b * b)), 1e-300)
    distances = []
    for size in SPECTRAL_FRAMES:
        frame = min(max(round(size * fs / 48000.0), 16), length)
        hop = max(frame // 4, 1)
        window = np.hanning(frame)
        starts = np.arange(0, length - frame + 1, hop)
        levels = []
        for s in (a, b):
            magnitude = np.abs(np.fft.rfft(np.stack([s[i:i + frame] * window for i in starts]),
                                           axis=1))
            level = 20 * np.log10(np.maximum(magnitude, 1e-300))
            levels.append(np.maximum(level, level.max() - SPECTRAL_RANGE))
        sounding = (levels[0] > levels[0].min()) | (levels[1] > levels[1].min())
        distances.append(float(np.mean(np.abs(levels[0] - levels[1])[sounding])))
    return float(np.mean(distances))

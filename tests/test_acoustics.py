"""The realism measurements against notes built with known answers: partials of a stiff
string, decay times, centroid, glide, low and inharmonic energy, stereo correlation."""

import math

import numpy as np
import pytest

from synth import acoustics

FS = 48000


def stiff_note(f0=110.0, b=4e-4, t60s=(3.0, 2.5, 2.0, 1.8, 1.5, 1.3, 1.1, 1.0, 0.9, 0.8),
               seconds=3.0, amplitudes=None, glide=0.0):
    """A sum of exponentially decaying partials n f0 sqrt(1 + B n^2); with `glide` (cents),
    the pitch starts that much sharp and settles with a 50 ms time constant."""
    t = np.arange(int(seconds * FS)) / FS
    amplitudes = amplitudes or [1.0 / n for n in range(1, len(t60s) + 1)]
    sharp = 2.0 ** (glide / 1200.0 * np.exp(-t / 0.05))
    phase_rate = np.cumsum(sharp) / FS  # integral of the pitch factor
    x = np.zeros_like(t)
    for n, (t60, a) in enumerate(zip(t60s, amplitudes, strict=True), start=1):
        fn = n * f0 * math.sqrt(1 + b * n * n)
        x += a * np.exp(-3 * math.log(10) * t / t60) * np.sin(2 * np.pi * fn * phase_rate)
    return x, [n * f0 * math.sqrt(1 + b * n * n) for n in range(1, len(t60s) + 1)]


def test_partials_and_b_of_a_stiff_string():
    x, expected = stiff_note(b=4e-4)
    found = acoustics.partials(x, FS, 110.0)
    np.testing.assert_allclose(found, expected, rtol=2e-4)
    f0, b = acoustics.inharmonicity(found)
    assert f0 == pytest.approx(110.0, rel=1e-4) and b == pytest.approx(4e-4, rel=0.02)


def test_each_partials_decay_time_and_the_overall_one():
    t60s = (3.0, 2.5, 2.0, 1.8, 1.5, 1.3, 1.1, 1.0, 0.9, 0.8)
    x, frequencies = stiff_note(t60s=t60s, seconds=4.0)
    for n in (1, 2, 5, 10):
        assert acoustics.partial_t60(x, FS, frequencies[n - 1]) == pytest.approx(
            t60s[n - 1], rel=0.05), n
    single, _ = stiff_note(t60s=(2.0,), seconds=3.0)
    assert acoustics.overall_t60(single, FS) == pytest.approx(2.0, rel=0.05)


def test_centroid_is_the_power_weighted_mean_frequency():
    amplitudes = [1.0, 0.5, 0.25]
    x, frequencies = stiff_note(t60s=(1e9, 1e9, 1e9), amplitudes=amplitudes, b=0.0)
    expected = sum(a * a * f for a, f in zip(amplitudes, frequencies, strict=True)) / sum(
        a * a for a in amplitudes)
    assert acoustics.centroid(x, FS, 0.3, 1.0) == pytest.approx(expected, rel=0.01)


def test_a_body_mode_beside_the_fundamental_does_not_pull_the_glide():
    x, _ = stiff_note(glide=20.0, t60s=(3.0,) * 4, b=0.0)
    t = np.arange(len(x)) / FS
    mode = 0.5 * np.exp(-t * 20.0) * np.sin(2 * np.pi * 92.0 * t)  # rings 18 Hz below f0
    clean = acoustics.glide_cents(x, FS, 110.0)
    assert acoustics.glide_cents(x + mode, FS, 110.0) == pytest.approx(clean, abs=1.0)


def test_glide_in_cents():
    x, _ = stiff_note(glide=20.0, t60s=(3.0,) * 4, b=0.0)
    # 20 cents decaying with 50 ms: over 30-100 ms the mean is about 20 e^(-1.3) = 5.4 cents
    expected = 20.0 * np.mean(np.exp(-np.linspace(0.03, 0.10, 100) / 0.05))
    assert acoustics.glide_cents(x, FS, 110.0) == pytest.approx(expected, abs=1.0)
    steady, _ = stiff_note(t60s=(3.0,) * 4, b=0.0)
    assert abs(acoustics.glide_cents(steady, FS, 110.0)) < 0.1


def test_energy_below_the_fundamental_and_between_the_partials():
    x, frequencies = stiff_note(t60s=(1e9,) * 10, b=0.0, seconds=0.5)
    t = np.arange(len(x)) / FS
    body = 10 ** (-20 / 20) * np.sin(2 * np.pi * 60.0 * t)  # an air mode 20 dB down
    level = 10 * math.log10(np.mean(body**2) / np.mean((x + body) ** 2))
    assert acoustics.energy_below_f0(x + body, FS, 110.0) == pytest.approx(level, abs=1.0)
    # the floor (150 ms of a 110 Hz note): far below real instruments' -22 to -33 dB
    assert acoustics.energy_below_f0(x, FS, 110.0) < -55
    noise = 0.05 * np.random.default_rng(1).standard_normal(len(x))
    found = acoustics.inharmonic_energy(x + noise, FS, np.array(frequencies))
    # white noise: all of it above 0.8 f0 but the ten partials' bands (f0 / 2 wide each)
    away = (FS / 2 - 0.8 * 110.0 - 10 * 55.0) / (FS / 2)
    share = np.mean(noise**2) * away / np.mean((x + noise) ** 2)
    assert found == pytest.approx(10 * math.log10(share), abs=1.5)
    assert acoustics.inharmonic_energy(x, FS, np.array(frequencies)) < -50


def test_stereo_correlation():
    rng = np.random.default_rng(2)
    common, left, right = (rng.standard_normal(FS) for _ in range(3))
    assert acoustics.stereo_correlation(np.stack([common, common], axis=1)) == pytest.approx(1)
    mixed = np.stack([common + left, common + right], axis=1)  # half shared: r = 0.5
    assert acoustics.stereo_correlation(mixed) == pytest.approx(0.5, abs=0.02)
    assert acoustics.stereo_correlation(common) == 1.0


def test_energy_below_a_low_fundamental_does_not_count_the_fundamental():
    x, _ = stiff_note(f0=65.4, t60s=(1e9,) * 10, b=0.0, seconds=0.5)
    assert acoustics.energy_below_f0(x, FS, 65.4) < -55


def test_a_resampled_tone_keeps_its_frequency_level_and_length():
    for rate, to in ((44100.0, 48000.0), (96000.0, 48000.0)):
        t = np.arange(round(0.3 * rate)) / rate
        x = np.stack([np.sin(2 * np.pi * 1000 * t), 0.5 * np.cos(2 * np.pi * 3000 * t)], 1)
        y = acoustics.resampled(x, rate, to)
        assert y.shape == (round(0.3 * to), 2)
        u = np.arange(len(y)) / to
        exact = np.stack([np.sin(2 * np.pi * 1000 * u), 0.5 * np.cos(2 * np.pi * 3000 * u)], 1)
        middle = slice(round(0.05 * to), round(0.25 * to))  # the cut ends ring (Gibbs)
        assert np.abs(y[middle] - exact[middle]).max() < 1e-3


def test_resampling_drops_what_the_new_rate_cannot_hold():
    rate = 96000.0
    t = np.arange(round(0.3 * rate)) / rate
    y = acoustics.resampled(np.sin(2 * np.pi * 30000 * t), rate, 48000.0)  # above 24 kHz
    assert np.abs(y[2000:-2000]).max() < 1e-3


def test_a_renders_onset_is_its_first_sample_within_40_db_of_its_peak_when_told_it_has_no_noise():
    fs = 16000
    t = np.arange(4800) / fs
    note = np.concatenate([np.zeros(7), np.sin(2 * np.pi * 110 * t) * np.exp(-3 * t)])
    # no quiet stretch to measure a noise from: the note's own quietest frames would count
    assert acoustics.onset(note, fs, noise=0.0) == 7 + 1  # sin(0) = 0, then within 40 dB

"""Fitting a preset to recorded notes (synth.fit, `neural-strings fit`): a string of known
stiffness, losses and excitation position, played through its instrument's body with noise at
30 dB SNR, is recovered; the corrections spread over the keyboard between recorded keys; the
command writes a preset that plays, saves it where `play` finds it, refuses bad input in one
line before any work, and leaves nothing behind when interrupted."""

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
from conftest import record

from synth import fit
from synth.cli import main
from synth.engine.engine import Engine
from synth.keyboards import GAMMA, KAPPA, POSITION, SIGMA0
from synth.physics.losses import t60s
from synth.physics.strings import gamma_for_frequency, note_frequency
from synth.presets import find_preset, load_preset
from synth.recording import read_note

FS = 48000


def cents(f, g):
    return 1200.0 * math.log2(f / g)


def played_f0(row, key):
    return gamma_for_frequency(note_frequency(key), row[KAPPA], row[SIGMA0],
                               row[SIGMA0 + 1]) / 2


def b_of(row):
    return (row[KAPPA] * math.pi / row[GAMMA]) ** 2


def strongest_modes(body, count=2):
    """The frequencies (Hz) of the body's `count` modes of the highest peak mobility."""
    peak = np.abs(body.gains).sum(axis=1) / (2 * body.decays)
    return body.frequencies[np.argsort(peak)[::-1][:count]]


@pytest.mark.parametrize("preset_name,key,kappa,flat,rising,position,size,nu", [
    ("nylon-guitar", 55, 1.2, 1.5, 0.7, 0.25, 1.1, 1.6),    # a finger's pluck, classical body
    ("steel-guitar", 59, 0.8, 0.7, 1.4, 0.12, 0.92, 1.0),   # a plectrum, steel-string body
    ("piano-wound", 62, 0.85, 1.3, 0.8, 0.10, 1.05, 1.0)])  # a hammer on 3 unisons, board
def test_a_known_string_is_recovered_through_its_body_and_noise(tmp_path, preset_name, key,
                                                                kappa, flat, rising, position,
                                                                size, nu):
    base = load_preset(find_preset(preset_name))
    truth = fit.sized(fit.adjusted(base, key, position, kappa, flat, rising, nu), size)
    note = read_note(record(tmp_path / "note.wav", truth, key))
    shares = []
    fitted = fit.fit_preset([note], base, "fitted", shares.append)
    assert sum(shares) == pytest.approx(1.0, abs=1e-9)  # the progress bar ends at its end
    true_row, row = truth.keys().strings[key], fitted.preset.keyboard.strings[key]
    # f0 of f_n = n f0 sqrt(1 + B n^2) as the engine plays the key (tuned: its first mode
    # at the key's pitch), and as read from the recording (its glide and body included)
    assert abs(cents(played_f0(row, key), played_f0(true_row, key))) < 0.5
    assert abs(cents(note.f0, played_f0(true_row, key))) < 3.0
    assert b_of(row) == pytest.approx(b_of(true_row), rel=0.05)
    partials = np.array([1, 2, 5, 10])
    np.testing.assert_allclose(t60s(row[SIGMA0:], row[GAMMA] ** 2, row[KAPPA], partials),
                               t60s(true_row[SIGMA0:], true_row[GAMMA] ** 2, true_row[KAPPA],
                                    partials), rtol=0.10)
    assert fitted.preset.keyboard.excitation[key, POSITION] == pytest.approx(position, abs=0.02)
    np.testing.assert_allclose(strongest_modes(fitted.preset.body),
                               strongest_modes(truth.body), rtol=0.03)
    assert fitted.notes[0].distance_fitted < fitted.notes[0].distance_base
    # the nonlinearity: the fit glides as the recording does at the velocity it matched (a
    # harder pluck of a less nonlinear string glides alike: nu alone is not identifiable)
    glide, fitted_glide = fitted.notes[0].glide_recorded, fitted.notes[0].glide_fitted
    assert abs(fitted_glide - glide) <= max(1.0, 0.2 * abs(glide))


def fitted_note(key, kappa, flat, rising, position):
    return fit.FittedNote(None, key, 80, position, kappa, flat, rising, math.nan,
                          np.zeros(0), np.zeros(0), math.nan, math.nan)


def test_corrections_spread_log_linearly_between_recorded_keys_and_hold_beyond():
    keys = load_preset(find_preset("piano-wound")).keys()
    low, high = (fitted_note(50, 1.0, 4.0, 1.0, keys.excitation[50, POSITION]),
                 fitted_note(62, 2.0, 1.0, 0.25, 0.5 * keys.excitation[62, POSITION]))
    corrected = fit.corrected(keys, [high, low])
    with np.errstate(invalid="ignore"):  # the fields that are zero (the bridge's mass...)
        ratio = corrected.strings / keys.strings
    assert ratio[56, KAPPA] == pytest.approx(math.sqrt(2.0))
    assert ratio[40, KAPPA] == pytest.approx(1.0) and ratio[80, KAPPA] == pytest.approx(2.0)
    assert ratio[56, SIGMA0] == pytest.approx(2.0)  # flat: sigma0 (and the bridge)
    assert ratio[56, SIGMA0 + 1] == pytest.approx(0.5)  # rising: sigma1 (air, friction)
    position_ratio = corrected.excitation[:, POSITION] / keys.excitation[:, POSITION]
    assert position_ratio[56] == pytest.approx(math.sqrt(0.5))
    # each key still sounds where it did: gamma moves as kappa does
    first = lambda s: s[:, GAMMA] ** 2 * math.pi ** 2 + s[:, KAPPA] ** 2 * math.pi ** 4  # noqa: E731
    np.testing.assert_allclose(first(corrected.strings), first(keys.strings), rtol=1e-12)


def test_the_command_writes_a_preset_that_plays_across_the_keyboard(fitted_by_command,
                                                                     steel_note):
    printed, path = fitted_by_command
    assert "steel-guitar fitted to 1 note" in printed and "key 59" in printed
    assert f"wrote {path}" in printed
    preset = load_preset(path)
    assert preset.name == "my-guitar" and preset.body is not None
    made = preset.provenance["fit"]
    assert made["base"] == "steel-guitar"  # the closest of the guitars, found by itself
    assert made["notes"][0]["sha256"] == read_note(steel_note).sha256
    assert made["notes"][0]["key"] == 59 and made["seconds"] > 0
    refined = made["refinement"]["loss_db"]
    assert refined["after"] < refined["before"] and "modes then refined by gradient" in printed
    assert preset.kind == "sav-gradnet" and made["nonlinearity"]["iterations"] == 1
    assert "string's nonlinearity then learned" in printed
    engine = Engine(preset, fs=FS, polyphony=2)
    for key in (45, 59, 76):
        engine.note_on(key, 90)
        x = engine.process(FS // 2)
        engine.all_sound_off()
        engine.process(FS // 4)
        assert np.isfinite(x).all() and 0.01 < np.abs(x).max() < 1.0


def bad_inputs(folder):
    """(path, what the one-line refusal says) for each input a fit cannot use."""
    silence = folder / "silence.wav"
    soundfile.write(silence, np.zeros(FS), FS)
    noise = folder / "noise.wav"
    soundfile.write(noise, 0.2 * np.random.default_rng(1).standard_normal(FS), FS)
    short = folder / "short.wav"
    soundfile.write(short, 0.5 * np.sin(2 * np.pi * 196 * np.arange(FS // 5) / FS), FS)
    chord = folder / "chord.wav"
    piano = Engine("piano-wound", fs=FS, polyphony=4)
    for key in (60, 64, 67):
        piano.note_on(key, 90)
    soundfile.write(chord, piano.process(FS), FS)
    text = folder / "text.wav"
    text.write_text("not audio")
    aac = folder / "phone.m4a"
    aac.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    return [(silence, "silence"), (noise, "no pitched note"), (short, "too short"),
            (chord, "several notes"), (text, "not an audio file"), (aac, "not supported"),
            (folder / "missing.wav", "no such file")]


def test_each_bad_input_is_refused_in_one_line_before_any_work(tmp_path, steel_note, capsys):
    out = tmp_path / "never.safetensors"
    for path, reason in bad_inputs(tmp_path):
        began = time.monotonic()
        # the bad file after a good one: refused before the good one is fitted
        assert main(["fit", str(steel_note), str(path), "--out", str(out), "--quiet"]) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and error.startswith("error: ") and reason in error, error
        assert time.monotonic() - began < 10 and not out.exists()


@pytest.mark.parametrize("options,reason", [
    (["--note", "H2"], "is not a note"),
    (["--note", "G3", "--note", "B3"], "once per recording"),
    (["--seconds", "0"], "--seconds must be > 0"),
    (["--kind", "harp"], None),  # argparse's own refusal
    (["--out", "out.wav"], "must be a .safetensors file"),
    (["--from", "no-such-preset"], "no-such-preset")])
def test_bad_options_are_refused_in_one_line(tmp_path, steel_note, capsys, options, reason):
    monkey_out = ["--out", str(tmp_path / "x.safetensors")] if "--out" not in options else []
    try:
        code = main(["fit", str(steel_note), *monkey_out, *options, "--quiet"])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert reason is None or reason in error
    assert not (tmp_path / "x.safetensors").exists()


def test_refine_without_the_training_side_is_refused_before_any_work(tmp_path, steel_note,
                                                                     capsys, monkeypatch):
    monkeypatch.setattr("synth.cli._plugins", lambda: [])  # as installed without [train]
    began = time.monotonic()
    assert main(["fit", str(steel_note), "--out", str(tmp_path / "x.safetensors"),
                 "--refine", "--quiet"]) == 2
    assert "--refine needs the training side (torch)" in capsys.readouterr().err
    assert time.monotonic() - began < 10 and not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("options,reason", [
    (["--learn-nonlinearity", "--from", "piano-wound"], "exact geometric string or a GradNet"),
    (["--learn-nonlinearity", "--nonlinearity-steps", "0"], "is 1 to 1000"),
    (["--refine", "--nonlinearity-steps", "5"], "goes with --learn-nonlinearity")])
def test_a_nonlinearity_it_cannot_learn_is_refused_before_any_work(tmp_path, steel_note,
                                                                    capsys, options, reason):
    began = time.monotonic()
    assert main(["fit", str(steel_note), "--out", str(tmp_path / "x.safetensors"), *options,
                 "--quiet"]) == 2
    assert reason in capsys.readouterr().err
    assert time.monotonic() - began < 20 and not (tmp_path / "x.safetensors").exists()


def test_refine_with_the_training_side_but_without_torch_is_refused_before_any_work(
        tmp_path, steel_note, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    began = time.monotonic()
    assert main(["fit", str(steel_note), "--out", str(tmp_path / "x.safetensors"),
                 "--refine", "--quiet"]) == 2
    assert "`--refine` needs torch: pip install" in capsys.readouterr().err
    assert time.monotonic() - began < 10 and not (tmp_path / "x.safetensors").exists()


def test_learning_the_nonlinearity_without_the_training_side_is_refused(tmp_path, steel_note,
                                                                         capsys, monkeypatch):
    monkeypatch.setattr("synth.cli._plugins", lambda: [])  # as installed without [train]
    assert main(["fit", str(steel_note), "--out", str(tmp_path / "x.safetensors"),
                 "--learn-nonlinearity", "--quiet"]) == 2
    assert "--learn-nonlinearity needs the training side (torch)" in capsys.readouterr().err


def test_ctrl_c_stops_the_fit_says_so_and_leaves_no_preset(tmp_path, steel_note):
    out = tmp_path / "interrupted.safetensors"
    fitting = subprocess.Popen(
        [sys.executable, "-m", "synth", "fit", str(steel_note), "--from", "steel-guitar",
         "--out", str(out)], stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = ""
    while "fit steel-guitar" not in seen:  # the progress bar: the fit has begun
        line = fitting.stderr.readline()
        assert line, f"the fit ended before it began: {seen}"
        seen += line
    fitting.send_signal(signal.SIGINT)
    rest = fitting.stderr.read()
    assert fitting.wait(timeout=60) == 130
    assert "fit interrupted: nothing was written" in rest
    assert list(tmp_path.iterdir()) == []

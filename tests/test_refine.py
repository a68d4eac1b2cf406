"""Refining a fitted body by gradient (models.refine): its distance is the numpy one, its
chain is what the engine plays, its modes cannot leave their ranges, and it brings a body
whose gains are wrong back towards the recording it was fitted to."""

import dataclasses
import math

import numpy as np
import pytest
import soundfile
import torch

from models.refine import (
    DECAY_RANGE,
    FREQUENCY_RANGE,
    GAIN_RANGE,
    QUIET,
    SETTLE,
    BoundedBody,
    bridge_forces,
    refine_body,
)
from synth import acoustics, fit
from synth.engine import Engine
from synth.keyboards import POSITION
from synth.presets import find_preset, load_preset
from synth.recording import read_note


@pytest.mark.parametrize("name,key,velocity,fs,controls", [
    ("steel-guitar", 40, 90, 44100.0, {}),  # panned left
    ("steel-guitar", 64, 90, 44100.0, {}),  # centred
    ("piano-wound", 80, 127, 44100.0, {}),  # struck hard
    ("nylon-guitar", 60, 90, 16000.0, {"body_size": 0.8, "body_damping": 1.5})])  # modes
# past 0.45 fs silent; the controls applied as the engine applies them
def test_the_bounded_body_plays_what_the_engine_plays(name, key, velocity, fs, controls):
    preset = load_preset(find_preset(name))
    preset = dataclasses.replace(preset, controls={**preset.controls, **controls})
    with torch.no_grad():
        ours = BoundedBody(preset)(bridge_forces(preset, key, velocity, fs, 0.4)).numpy()
    engine = Engine(preset, fs=fs, polyphony=2, dtype=np.float64)
    engine.set_param("gain", QUIET)
    engine.process(round(SETTLE * fs))
    engine.note_on(key, velocity)
    played = acoustics.mono(engine.process(round(0.4 * fs)))
    assert np.abs(ours - played).max() < 1e-6 * np.abs(played).max()  # float32 output


def test_the_modes_cannot_leave_their_ranges_nor_flip_a_gain():
    preset = load_preset(find_preset("nylon-guitar"))
    body = BoundedBody(preset)
    with torch.no_grad():
        for sign in (1.0, -1.0):
            for parameter in body.parameters():
                parameter.fill_(sign * 1e9)
            frequencies, decays, gains = (t.numpy() for t in body.modes())
            np.testing.assert_allclose(frequencies / preset.body.frequencies,
                                       math.exp(sign * FREQUENCY_RANGE))
            np.testing.assert_allclose(decays / preset.body.decays, math.exp(sign * DECAY_RANGE))
            kept = preset.body.gains != 0
            np.testing.assert_allclose(gains[kept] / preset.body.gains[kept],
                                       math.exp(sign * GAIN_RANGE))


def test_refinement_brings_a_body_with_wrong_gains_back_towards_the_recording(tmp_path):
    truth = load_preset(find_preset("steel-guitar"))
    key, velocity, fs = 52, 90, 48000
    path = tmp_path / "e3.wav"
    soundfile.write(path, fit.render(truth, key, velocity, fs, 1.0), fs, subtype="FLOAT")
    note = read_note(path)
    wrong = np.exp(np.random.default_rng(3).normal(0.0, 0.7, len(truth.body.frequencies)))
    start = dataclasses.replace(truth, path=None, body=dataclasses.replace(
        truth.body, gains=truth.body.gains * wrong[:, None]))
    fitted_note = fit.FittedNote(note, key, velocity, truth.keys().excitation[key, POSITION], 1.0,
                                 1.0, 1.0, math.nan, np.zeros(0), np.zeros(0), math.nan,
                                 math.nan)
    before = fit.Fit(start, truth, [fitted_note], 1.0, 0.0)
    shares = []
    refined = refine_body(before, shares.append, iterations=15)
    assert sum(shares) == pytest.approx(1.0)
    made = refined.preset.provenance["fit"]["refinement"]
    assert made["iterations"] == 15
    assert made["loss_db"]["after"] < 0.6 * made["loss_db"]["before"]
    assert refined.notes[0].distance_fitted < 0.6 * fit.measured(
        start, truth, fitted_note).distance_fitted  # over the whole note, as the engine plays
    # the modes that sound most (the strongest peak mobilities) move back towards the truth,
    # though not all the way: a mode's gain, decay and frequency can stand in for each other
    peak = np.abs(truth.body.gains).sum(axis=1) / truth.body.decays
    strong = np.argsort(peak)[::-1][:20]
    error = lambda gains: np.abs(np.log(np.abs(gains[strong]).sum(1)  # noqa: E731
                                        / np.abs(truth.body.gains[strong]).sum(1))).mean()
    assert error(refined.preset.body.gains) < 0.85 * error(start.body.gains)
    assert "modes then refined by gradient, 15 steps" in fit.report(refined)
    assert np.array_equal(refined.preset.keyboard.strings, start.keyboard.strings)  # the body
    assert refined.preset.provenance["fit"]["notes"][0]["log_spectral_distance_db"][
        "fitted"] == pytest.approx(refined.notes[0].distance_fitted, abs=0.01)  # measured again


def test_a_fit_without_a_body_is_left_as_it_is():
    bare = load_preset(find_preset("nylon-string-bare"))
    unrefined = fit.Fit(bare, bare, [], 1.0, 0.0)
    assert refine_body(unrefined) is unrefined

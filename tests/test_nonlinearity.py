"""Learning a fitted string's nonlinearity (models.nonlinearity): its start is the exact
potential, in torch and in the engine; its lane twin steps as the engine's lane; it learns a
stronger nonlinearity back from a recording; and what it cannot play is refused first."""

import dataclasses
import math

import numpy as np
import pytest
import soundfile
import torch

from models.nonlinearity import (
    SECONDS,
    check_learnable,
    exact_gradnet,
    lane_of,
    lane_outputs,
    learn_nonlinearity,
    learned_preset,
    prepare,
    starting_potential,
)
from models.sav import ExactPotential
from synth import fit
from synth.engine import Engine
from synth.errors import ParameterError
from synth.keyboards import MISTUNING, POSITION
from synth.presets import Preset, find_preset, load_preset
from synth.recording import read_note


@pytest.fixture(scope="module")
def nylon():
    return load_preset(find_preset("nylon-guitar"))


@pytest.mark.parametrize("n_modes", [1, 40, 75])
def test_a_stretch_gradnet_of_the_midpoint_slopes_is_the_exact_potential(n_modes):
    net, exact = exact_gradnet(n_modes), ExactPotential(n_modes)
    generator = torch.Generator().manual_seed(n_modes)
    for amplitude in (1e-5, 1e-3, 1e-1):  # quartic at rest, quadratic far out
        q = amplitude * torch.randn(6, n_modes, dtype=torch.float64, generator=generator)
        for ours, theirs in zip(net(q), exact(q), strict=True):
            assert (ours - theirs).abs().max() <= 1e-14 * theirs.abs().max()


def test_the_engine_plays_the_exact_string_as_a_gradnet_as_it_plays_the_exact_string(nylon):
    as_gradnet = learned_preset(nylon, exact_gradnet(nylon.n_modes))
    assert as_gradnet.kind == "sav-gradnet" and as_gradnet.keyboard is nylon.keyboard
    assert as_gradnet.output_gain == pytest.approx(nylon.output_gain, rel=1e-6)
    played = []
    for preset in (nylon, as_gradnet):
        engine = Engine(dataclasses.replace(preset, output_gain=1.0), fs=44100,
                        polyphony=2, dtype=np.float64)
        engine.note_on(45, 127)
        engine.note_on(64, 100)
        played.append(engine.process(8192).astype(np.float64))
    # the gradnet's tables are stored in float32, the exact potential has none
    assert np.abs(played[1] - played[0]).max() < 1e-5 * np.abs(played[0]).max()


def exact_piano() -> Preset:
    """The shipped piano (hammers, mistuned unisons) on the exact geometric string's
    potential, which the lane twin can start from (the piano's own is Kirchhoff-Carrier)."""
    return dataclasses.replace(load_preset(find_preset("piano-wound")),
                               model={"potential": "exact"})


@pytest.mark.parametrize("name,key,velocity", [("nylon-guitar", 45, 127),
                                               ("steel-guitar", 64, 90),  # a plectrum
                                               ("nylon-string-bare", 52, 100),  # a pulse,
                                               # no body
                                               ("exact-piano", 40, 127),  # a hammer and
                                               ("exact-piano", 76, 60)])  # mistuned unisons
def test_the_lane_twin_steps_as_the_engines_lane_and_is_heard_as_the_engine_hears_it(
        name, key, velocity):
    preset = exact_piano() if name == "exact-piano" else load_preset(find_preset(name))
    fs, steps = 44100.0, 4000
    engine = Engine(dataclasses.replace(preset, path=None), fs=fs, polyphony=1,
                    dtype=np.float64)
    engine.process(round(0.3 * fs))
    engine.note_on(key, velocity)
    lane_out = []
    while len(lane_out) < steps:  # the lane's own output, block by block
        engine.process(256)
        lane_out.extend(engine.state.lane_out[:256, 0])
    lane_out = np.array(lane_out[:steps])
    potential = starting_potential(preset)
    with torch.no_grad():
        twin = lane_outputs(potential, [lane_of(preset, key, velocity, fs, steps)])[0]
    # the scrape's noise included; the slopes' transforms (kernel) and products (twin) round
    # apart over the strongly nonlinear pluck, and the hammer's contact too
    assert np.abs(twin.numpy() - lane_out).max() < 1e-10 * np.abs(lane_out).max()
    # and the engine's direct sound and bridge force are the lane as heard, times a gain
    recording = np.zeros(round(SECONDS * fs))
    _, residual = prepare(preset, potential, key, velocity, recording, np.zeros(0), fs)
    assert residual < 1e-5


def test_it_learns_a_stronger_nonlinearity_back_from_a_recording(nylon, tmp_path):
    # the same guitar plucked hard with 1.5 times its nonlinearity (nu): the learned potential
    # should grow, as 1.5^2 = 2.25 in V, and the note come closer
    key, velocity, fs = 45, 127, 16000
    truth = dataclasses.replace(nylon, path=None, controls={**nylon.controls,
                                                             "nonlinearity": 1.5})
    path = tmp_path / "a2.wav"
    silence = np.zeros(fs // 20)  # before the note, as a recording has: its onset is found
    soundfile.write(path, np.concatenate([silence, fit.render(truth, key, velocity, fs, 0.6)]),
                    fs, subtype="FLOAT")
    fitted_note = fit.FittedNote(read_note(path), key, velocity,
                                 nylon.keys().excitation[key, POSITION], 1.0, 1.0, 1.0,
                                 math.nan, np.zeros(0), np.zeros(0), math.nan, math.nan)
    before = fit.Fit(nylon, nylon, [fitted_note], 1.0, 0.0)
    shares = []
    learned = learn_nonlinearity(before, shares.append, iterations=4)
    assert sum(shares) == pytest.approx(1.0)
    made = learned.preset.provenance["fit"]["nonlinearity"]
    assert made["iterations"] == 4 and made["twin_residual"] < 1e-5
    assert made["loss_db"]["after"] < 0.8 * made["loss_db"]["before"]
    assert learned.preset.kind == "sav-gradnet"
    assert "string's nonlinearity then learned (sav-gradnet), 4 steps" in fit.report(learned)
    tensors = learned.preset.tensors
    growth = (np.mean(tensors["gradnet.log_scale_out"]) - math.log(2.0 / (nylon.n_modes + 1))
              + 4.0 * np.mean(tensors["gradnet.log_scale_in"]))  # of V at small slopes
    assert 0.1 < growth < 2.0 * math.log(2.25)
    assert np.all(tensors["gradnet.bias"] == 0.0)  # at rest in equilibrium, as tuned
    assert learned.notes[0].distance_fitted < fit.measured(nylon, nylon,
                                                           fitted_note).distance_fitted


def test_a_potential_it_cannot_start_from_is_refused_first(nylon):
    with pytest.raises(ParameterError, match="exact geometric string or a GradNet"):
        check_learnable(load_preset(find_preset("piano-wound")))  # Kirchhoff-Carrier
    kirchhoff = dataclasses.replace(nylon, model={"potential": "kc"})
    with pytest.raises(ParameterError, match="exact geometric string or a GradNet"):
        check_learnable(kirchhoff)
    strings = nylon.keyboard.strings.copy()
    strings[:, MISTUNING] = 0.5
    unisons = dataclasses.replace(nylon, keyboard=dataclasses.replace(nylon.keyboard,
                                                                      strings=strings))
    for learnable in (nylon, unisons, exact_piano(),
                      load_preset(find_preset("stretch-128"))):
        check_learnable(learnable)


def test_a_twin_that_strays_from_the_engine_is_refused_before_the_steps(tmp_path):
    # the exact string struck hard high up is chaotic: a speed 1e-13 apart is 1 % apart in
    # 750 steps, so the twin and the engine, rounding apart, part within 0.02 s
    piano, key, velocity, fs = exact_piano(), 88, 127, 44100
    path = tmp_path / "e6.wav"
    soundfile.write(path, fit.render(piano, key, velocity, fs, 0.6), fs, subtype="FLOAT")
    fitted_note = fit.FittedNote(read_note(path), key, velocity,
                                 piano.keys().excitation[key, POSITION], 1.0, 1.0, 1.0,
                                 math.nan, np.zeros(0), np.zeros(0), math.nan, math.nan)
    with pytest.raises(ParameterError, match="its twin does not play key 88"):
        learn_nonlinearity(fit.Fit(piano, piano, [fitted_note], 1.0, 0.0), iterations=1)

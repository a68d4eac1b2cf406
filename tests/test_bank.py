"""The Koopman and SSM strings: stable eigenvalues, training through the shared loop, export,
the Numba kernels against their torch originals, live tension and damping in the engine, and
preset validation (a tiny one-string dataset, so training takes seconds)."""

import json
import math

import numpy as np
import pytest
from engine_helpers import fundamental
from test_learned_string import tiny_config

torch = pytest.importorskip("torch")

from models.export import export_preset, load_checkpoint  # noqa: E402
from models.oscillators import OscillatorBank  # noqa: E402
from models.recipe import Recipe  # noqa: E402
from models.strings import StringBatch  # noqa: E402
from models.train import train  # noqa: E402
from synth.engine import Engine  # noqa: E402
from synth.errors import ParameterError, PresetError  # noqa: E402
from synth.kinds.oscillator_bank import render_string  # noqa: E402
from synth.physics.modes import damped_frequencies, decay_rates  # noqa: E402
from synth.physics.strings import StringParams  # noqa: E402
from synth.presets import find_preset, load_preset, save_preset  # noqa: E402

N_MODES = 10
STRING = StringParams(gamma=150.0, kappa=1.03, nu=150.0, sigma0=3.0, sigma1=2e-4)


def one_string_recipe(directory, family: str, data=None) -> Recipe:
    """A tiny recipe of `family` on 8 plucks of 60 ms of compare-train's string (its config
    and datasets live in `data`, default `directory`)."""
    data = data or directory
    config = tiny_config(data, "compare-train", "tiny-one-string", count=8,
                         duration=0.06, n_modes=N_MODES)
    path = directory / f"{family}.toml"
    path.write_text(f"""
name = "{family}"
seed = 2
dataset = "{config}"
dataset_root = "{data / 'datasets'}"
dtype = "float64"
[model]
family = "{family}"
hidden = 16
n_modes = {N_MODES}
{"copies = 3" if family in ("koopman", "ssm") else ""}
{"rank = 4" if family == "ssm" else ""}
[pretrain]
steps = 150
batch = 4
lr = 1e-2
[train]
segment_ms = 60.0
batch = 4
epochs = 1
steps_per_epoch = 10
lr = 1e-3
validation = 4
""")
    return Recipe.load(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tmp_path_factory.mktemp("one-string")


@pytest.fixture(scope="module", params=["koopman", "ssm"])
def trained(request, data, tmp_path_factory):
    """(family, run directory, exported preset path) of a tiny trained model."""
    directory = tmp_path_factory.mktemp(request.param)
    recipe = one_string_recipe(directory, request.param, data)
    run = train(recipe, runs=directory / "runs", progress=False)
    preset = export_preset(run, directory / f"{request.param}.safetensors")
    return request.param, run, preset


def test_eigenvalues_start_on_the_string_and_stay_inside_the_unit_circle():
    bank = OscillatorBank(STRING, N_MODES, 48000.0, copies=4, detune=0.0)
    log_lambda = bank.log_eigenvalues().detach().numpy()
    omega_d = 2 * math.pi * damped_frequencies(STRING, N_MODES)
    assert np.allclose(log_lambda.imag, (omega_d / 48000.0)[:, None], rtol=1e-12)
    assert np.allclose(-log_lambda.real, (decay_rates(STRING, N_MODES) / 48000.0)[:, None],
                       rtol=1e-12)
    with torch.no_grad():  # any parameter values at all: |lambda| < 1
        bank.e.copy_(torch.linspace(-30.0, 30.0, bank.e.numel()).view_as(bank.e))
        bank.delta.uniform_(-5.0, 5.0)
    assert (bank.log_eigenvalues().real < 0).all()
    assert (bank.powers(torch.tensor([10 ** 6])).abs() <= 1.0).all()


def test_training_goes_through_the_shared_loop_and_learns(trained):
    family, run, _ = trained
    state, _ = load_checkpoint(run)
    assert state["recipe"]["family"] == family and np.isfinite(state["best_validation"])
    rows = [r.split(",") for r in (run / "log.csv").read_text().splitlines()[1:]]
    losses = [float(r[3]) for r in rows if r[1] == "force"]
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3])


def test_the_numba_kernel_matches_its_torch_original(trained):
    family, run, path = trained
    preset = load_preset(path)
    _, network = load_checkpoint(run)
    n = 2400
    for amplitude, width, position, pickup in ((2.5e4, 1e-3, 0.3, 0.7),
                                               (1.1e4, 0.61e-3, 0.83, 0.15)):
        q, w = render_string(preset, amplitude, width, position, pickup, n)
        params = {**STRING.as_dict(), "x_e": position, "x_o": pickup, "amplitude": amplitude,
                  "t_e": width, "fs": 48000, "duration": n / 48000, "n_modes": N_MODES,
                  "excitation": "pluck", "warp": True, "nonlinearity": "exact"}
        strings = StringBatch.from_params([params])
        x = torch.tensor([position], dtype=torch.float64)
        with torch.no_grad():
            if family == "ssm":
                reference = network.predict(strings, x, torch.arange(n))[0].numpy()
            else:
                width_s = torch.tensor([width], dtype=x.dtype)
                reference = network.predict(strings.amplitude, width_s, x,
                                            torch.arange(n))[0].numpy()
        scale = np.abs(reference).max()
        assert scale > 0 and np.abs(q - reference).max() < 1e-10 * scale
        w_reference = reference @ strings.phi_o[0].numpy()
        assert np.abs(w - w_reference).max() < 1e-10 * np.abs(w_reference).max()


def test_the_engine_plays_it_and_tension_and_decay_act_on_the_eigenvalues(trained):
    from synth.kernels import bank as lanes

    _, _, path = trained
    preset = load_preset(path)
    note = round(preset.reference_note)

    def play(velocity=90, **controls):
        engine = Engine(preset, fs=48000, polyphony=4, dtype=np.float64)
        for name, value in controls.items():
            engine.set_param(name, value)
        engine.process(2048)  # the controls settle
        engine.note_on(note, velocity)
        audio = engine.process(24000)[:, 0]
        lane = engine.voices.bank[:, :N_MODES * 3, 0]
        return audio, np.log(lane[lanes.L_RE] + 1j * lane[lanes.L_IM]).reshape(N_MODES, 3)

    plain, log_plain = play()
    assert np.isfinite(plain).all() and np.abs(plain).max() > 1e-4
    soft, _ = play(velocity=20)  # hardly any glide: the linear string's pitch
    expected = 440.0 * 2 ** ((note - 69) / 12)
    pitch = fundamental(soft[2400:], 48000, expected, width=0.1)
    assert abs(pitch / expected - 1) < 0.02
    taut, log_taut = play(velocity=20, tension=2.0)
    assert abs(fundamental(taut[2400:], 48000, pitch * math.sqrt(2), width=0.1) / pitch
               / math.sqrt(2) - 1) < 0.01
    # exactly: phases scale with each mode's linear frequency, log-magnitudes with its decay
    gamma = STRING.gamma * 2 ** ((note - preset.reference_note) / 12)
    ratio = (damped_frequencies(StringParams(**{**STRING.__dict__, "gamma": gamma
                                                * math.sqrt(2)}), N_MODES)
             / damped_frequencies(StringParams(**{**STRING.__dict__, "gamma": gamma}), N_MODES))
    assert np.allclose(log_taut.imag / log_plain.imag, ratio[:, None], rtol=1e-4)
    damped, log_damped = play(decay=0.25)
    assert np.allclose(log_damped.real / log_plain.real, 4.0, rtol=1e-9)

    def fall(x):  # level drop (dB) from the first to the last 0.1 s
        return 20 * np.log10(np.sqrt(np.mean(x[:4800] ** 2) / np.mean(x[-4800:] ** 2)))

    assert fall(damped) > fall(plain) + 3.0


def test_a_broken_bank_preset_is_refused_with_the_fault(trained, tmp_path):
    _, _, path = trained
    preset = load_preset(path)
    bad = dict(preset.tensors)
    bad.pop("bank.phase")
    write_tensors(preset, bad, tmp_path / "missing.safetensors")
    with pytest.raises(PresetError, match=r"missing tensor 'bank\.phase'"):
        load_preset(tmp_path / "missing.safetensors")
    growing = {**preset.tensors, "bank.log_magnitude": -preset.tensors["bank.log_magnitude"]}
    save_preset(preset.__class__(**{**preset.__dict__, "tensors": growing, "path": None}),
                tmp_path / "growing.safetensors")
    with pytest.raises(PresetError, match="must be negative"):
        load_preset(tmp_path / "growing.safetensors")


def write_tensors(preset, tensors: dict, path) -> None:
    """Write a preset file with these tensors as they are (the schema would refuse them)."""
    from safetensors.numpy import save_file

    save_file(tensors, path, metadata={"neural_strings": json.dumps(preset.metadata())})


def test_a_bank_preset_evaluates_only_on_its_own_string(trained, tmp_path):
    from models.evaluate import evaluate

    _, _, path = trained
    other = tiny_config(tmp_path, "paper-test", "tiny-other", n_modes=N_MODES)
    with pytest.raises(ParameterError, match="model of one string"):
        evaluate(str(path), other, root=tmp_path / "datasets", progress=False, jobs=1)


def test_the_sequence_families_need_a_dataset_of_one_string(tmp_path):
    recipe = one_string_recipe(tmp_path, "koopman")
    varied = tiny_config(tmp_path, "paper-train", "tiny-many", n_modes=N_MODES)
    recipe = Recipe(**{**recipe.__dict__, "dataset": str(varied)})
    with pytest.raises(ParameterError, match="varies gamma, kappa, nu: this family learns one"):
        train(recipe, runs=tmp_path / "runs", progress=False)


@pytest.mark.parametrize("name", ["koopman-40", "ssm-40"])
def test_the_shipped_sequence_presets_meet_the_accuracy_goal_and_swap_in_live(name):
    preset = load_preset(find_preset(name))
    metrics = preset.provenance["metrics"]["compare-test@48000Hz"]
    assert metrics["model"]["w_0.1s"]["mean"] <= 1e-2  # measured at export, 30 test strings
    assert metrics["model"]["w_0.1s"]["mean"] < 0.05 * metrics["linear"]["w_0.1s"]["mean"]
    engine = Engine("nylon-guitar", fs=48000, polyphony=8)
    engine.note_on(50, 100)
    engine.process(4800)
    engine.load_preset(preset)  # while a note rings: the new model takes over
    engine.note_on(45, 100)
    engine.note_on(57, 60)
    out = engine.process(24000)
    assert np.isfinite(out).all() and np.abs(out).max() > 1e-3
    assert engine.stats()["voice_resets"] == 0

"""The shipped learned string (`sav-gradnet`): GradNet maths, Numba-torch parity, stability by
construction, `simulate` with a model, evaluation, and live play in the engine."""

import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.cli import main
from synth.dataset import DatasetConfig
from synth.errors import ModesDroppedWarning
from synth.kinds.sav_string import potential_of
from synth.physics.simulate import SimulationSpec, simulate
from synth.presets import SHIPPED, load_preset

torch = pytest.importorskip("torch")

from models.gradnet import GradNetPotential  # noqa: E402
from models.sav import free_run  # noqa: E402
from models.strings import StringBatch  # noqa: E402

LEARNED = ("stretch-128", "gradnet-128")  # ours (smooth activation), the paper's (LeakyReLU)
TRAIN = DatasetConfig.load("paper-train")


@pytest.fixture(scope="module", params=LEARNED)
def preset(request):
    return load_preset(SHIPPED / f"{request.param}.safetensors")


@pytest.fixture(scope="module")
def network(preset):
    weights = {name.removeprefix("gradnet."): value for name, value in preset.tensors.items()}
    return GradNetPotential.from_export(weights, dtype=torch.float64,
                                        activation=preset.model["activation"])


def string(**changes) -> dict:
    """A test-range string (the paper's test set: unseen gamma, kappa and amplitude) at
    96 kHz."""
    return {"gamma": 200.0, "kappa": 1.08, "nu": 150.0, "sigma0": 2.0, "sigma1": 2e-4,
            "x_e": 0.3, "x_o": 0.7, "amplitude": 4.5e4, "t_e": 1e-3, "excitation": "pluck",
            "fs": 96000, "duration": 0.2, "n_modes": 75, "nonlinearity": "exact", **changes}


def test_the_learned_preset_is_trained_with_its_recipe_and_metrics(preset):
    assert preset.kind == "sav-gradnet" and preset.n_modes == 75
    provenance = preset.provenance
    assert provenance["recipe"]["name"] == preset.name
    assert provenance["dataset"]["hash"] == TRAIN.hash
    metrics = provenance["metrics"]["paper-test@96000Hz"]
    assert metrics["strings"] == 60
    assert metrics["model"]["w"]["mean"] < 0.1 * metrics["linear"]["w"]["mean"]
    assert (SHIPPED / "recipes" / f"{preset.name}.toml").exists()


def test_grad_v_is_the_autograd_of_v(network):
    draw = torch.Generator().manual_seed(0)  # the same q in every run
    q = (0.02 * torch.randn(64, 75, dtype=torch.float64, generator=draw)
         / torch.arange(1, 76)).requires_grad_()
    value, grad = network(q)
    (autograd,) = torch.autograd.grad(value.sum(), q)
    # entries near zero carry the rounding of the large ones: tolerance on the gradient's scale
    assert torch.allclose(grad, autograd, rtol=1e-12, atol=1e-12 * float(autograd.abs().max()))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1e-6, 1.0))
def test_v_is_non_negative_and_convex(network, seed, scale):
    generator = torch.Generator().manual_seed(seed)
    a, b = (scale * torch.randn(2, 75, dtype=torch.float64, generator=generator)
            / torch.arange(1, 76))
    values = network(torch.stack([a, b, 0.5 * (a + b)]))[0]
    assert (values >= 0).all()
    assert values[2] <= 0.5 * (values[0] + values[1]) * (1 + 1e-12) + 1e-300


def test_numba_kernel_matches_torch_in_float64(preset, network):
    """Parity: 0.2 s at 96 kHz with 75 modes, the same weights, to 1e-9 relative."""
    params = string()
    kernel = simulate(SimulationSpec.from_dict(params), potential=potential_of(preset))
    strings = StringBatch.from_params([params], dtype=torch.float64)
    reference = free_run(network, strings, kernel.spec.n_steps)
    q, w = reference["q"][0].numpy(), reference["w"][0].numpy()
    relative = lambda a, b: np.sqrt(np.mean((a - b) ** 2) / np.mean(b**2))  # noqa: E731
    assert relative(kernel.q_t, q) < 1e-9
    assert relative(kernel.w, w) < 1e-9
    assert np.abs(kernel.w).max() > 1e-3  # it really vibrated, nonlinearly
    linear = simulate(SimulationSpec.from_dict({**params, "nonlinearity": "linear"}))
    assert relative(linear.w, kernel.w) > 1e-2


def extremes() -> list[dict]:
    """Every training range at its low and its high end together, each position at both
    edges, and twice the largest trained amplitude, at the training rate."""
    low = {k: (v[0] if isinstance(v, list) else v) for k, v in TRAIN.ranges.items()}
    high = {k: (v[1] if isinstance(v, list) else v) for k, v in TRAIN.ranges.items()}
    loud = 2 * high["amplitude"]
    return [low, high, {**high, "x_e": low["x_e"], "x_o": low["x_o"]},
            {**low, "amplitude": loud}, {**high, "amplitude": loud, "t_e": low["t_e"]}]


@pytest.mark.parametrize("ranges", extremes(), ids=["low", "high", "high-edges", "low-2A",
                                                     "high-2A"])
def test_free_runs_for_10_s_at_the_extremes_with_energy_that_never_grows(preset, ranges):
    params = {**ranges, "excitation": "pluck", "fs": TRAIN.settings["fs"], "duration": 10.0,
              "n_modes": 75, "nonlinearity": "exact"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModesDroppedWarning)
        sim = simulate(SimulationSpec.from_dict(params), potential=potential_of(preset),
                       record_dtype=np.float64)
    assert np.isfinite(sim.w).all() and np.isfinite(sim.q_t).all()
    energy = sim.energy()
    after = int(np.ceil(params["t_e"] * params["fs"])) + 1
    growth = np.diff(energy[after:]) / energy[after:-1]
    assert growth.max() < 1e-12
    assert energy[-1] < energy[after]  # and it decays


def test_simulate_accepts_a_model(tmp_path, preset):
    params = string(duration=0.05)
    del params["nonlinearity"]
    (tmp_path / "p.json").write_text(json.dumps({**params, "model": preset.name}))
    result = subprocess.run([sys.executable, "-m", "synth", "simulate", str(tmp_path / "p.json"),
                             str(tmp_path / "out.npz")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    out = np.load(tmp_path / "out.npz")
    direct = simulate(SimulationSpec.from_dict(string(duration=0.05)),
                      potential=potential_of(preset))
    assert out["q"].shape == (75, 4800)
    # the same kernel; reassociated sums may round differently in another process
    assert np.abs(out["w"] - direct.w).max() <= 1e-12 * np.abs(direct.w).max()
    assert json.loads(str(out["meta"]))["spec"]["model"] == preset.name


@pytest.mark.parametrize("change, message", [
    ({"model": "stretch-128", "nonlinearity": "exact"}, "either a model or a nonlinearity"),
    ({"model": "no-such-preset"}, "no preset called 'no-such-preset'"),
    ({"model": "stretch-128", "n_modes": 80}, "covers 75 modes, fewer than n_modes = 80"),
    ({"model": 3}, "model must be a preset file name"),
])
def test_simulate_with_a_bad_model_is_refused_clearly(change, message, tmp_path, capsys):
    params = {**string(duration=0.01), **change}
    if "nonlinearity" not in change:
        params.pop("nonlinearity")
    (tmp_path / "p.json").write_text(json.dumps(params))
    assert main(["simulate", str(tmp_path / "p.json"), str(tmp_path / "out.npz")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1
    assert not (tmp_path / "out.npz").exists()


def test_a_learned_potential_over_fewer_modes_sees_the_rest_as_zero(preset):
    q = np.zeros(75)
    q[:40] = 0.01 * np.random.default_rng(0).standard_normal(40) / np.arange(1, 41)
    full = potential_of(preset).gradient(q)[:40]
    assert np.allclose(potential_of(preset, n_modes=40).gradient(q[:40]), full, rtol=1e-12)


def tiny_config(directory, shipped: str, name: str, **settings) -> str:
    """A shipped dataset config renamed and with some top-level settings replaced (two
    strings of 0.15 s unless said otherwise); returns its path."""
    text = (SHIPPED.parent / "synth" / "configs" / f"{shipped}.toml").read_text()
    settings = {"name": f'"{name}"', "count": 2, "duration": 0.15, **settings}
    for key, value in settings.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
    path = directory / f"{name}.toml"
    path.write_text(text)
    return str(path)


def test_evaluate_writes_metrics_and_figures(tmp_path):
    config = tiny_config(tmp_path, "paper-test", "tiny-test")
    result = subprocess.run(
        [sys.executable, "-m", "synth", "evaluate", "stretch-128", config, "--root",
         str(tmp_path / "datasets"), "--out", str(tmp_path / "eval"), "--quiet"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert report["strings"] == 2 and report["fs"] == 96000
    model, linear = report["summary"]["model"], report["summary"]["linear"]
    assert model["w"]["mean"] < 0.1 * linear["w"]["mean"]
    assert model["q_0.1s"]["median"] < linear["q_0.1s"]["median"]
    assert "| stretch-128 |" in (tmp_path / "eval" / "metrics.md").read_text()
    for figure in ("waveforms.png", "spectrograms.png", "mode_error.png"):
        assert (tmp_path / "eval" / figure).read_bytes()[:4] == b"\x89PNG"


def test_a_preset_with_more_modes_evaluates_on_a_test_set_with_fewer(tmp_path):
    from models.evaluate import evaluate
    from synth.errors import ParameterError

    config = tiny_config(tmp_path, "compare-test", "tiny-compare")
    report = evaluate("stretch-128", config, jobs=1, root=tmp_path, progress=False)
    assert report["n_modes"] == 40 and report["strings"] == 2
    model, linear = report["summary"]["model"], report["summary"]["linear"]
    assert model["w_0.1s"]["mean"] < 0.01 * linear["w_0.1s"]["mean"]
    more_modes = tiny_config(tmp_path, "compare-test", "tiny-75", n_modes=75)
    with pytest.raises(ParameterError, match="has 40 modes but the test set"):
        evaluate("nylon-guitar", more_modes, jobs=1, root=tmp_path, progress=False)


def test_the_engine_plays_it_with_tension_stiffness_and_damping_live(preset):
    from engine_helpers import fundamental, note_hz

    from synth.engine import Engine

    engine = Engine(preset, fs=48000, polyphony=4)
    engine.note_on(45, 64)
    first = engine.process(24000)[:, 0]
    engine.set_param("tension", 1.5)  # pitch up by about sqrt(1.5)
    engine.process(4800)
    second = engine.process(24000)[:, 0]
    assert np.isfinite(first).all() and np.isfinite(second).all()
    before = fundamental(first[4800:], 48000, near=note_hz(45))
    after = fundamental(second[4800:], 48000, near=note_hz(45) * 1.5**0.5)
    assert after / before == pytest.approx(1.5**0.5, rel=0.01)
    engine.set_param("decay", engine.get_param("decay") * 0.1)  # much faster decay
    engine.set_param("stiffness", 2.0 * engine.get_param("stiffness"))
    engine.process(9600)
    later = engine.process(9600)[:, 0]
    assert np.isfinite(later).all()
    assert np.abs(later).max() < 0.5 * np.abs(second).max()


def test_evaluate_generates_only_the_strings_it_evaluates(tmp_path):
    from models.evaluate import evaluate

    config = tiny_config(tmp_path, "compare-test", "tiny-subset", count=6)
    report = evaluate("stretch-128", config, limit=2, jobs=1, root=tmp_path, progress=False)
    assert report["strings"] == 2
    assert len(list((tmp_path / "tiny-subset" / "strings").glob("*.npy"))) == 2


def test_evaluate_without_matplotlib_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert main(["evaluate", "stretch-128", "compare-test", "--root", str(tmp_path)]) == 2
    assert "pass --no-figures" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

"""`neural-strings simulate`: the file format later checks rely on, and clear errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from synth.cli import main
from synth.physics.simulate import SimulationSpec, simulate

PARAMS = dict(gamma=150.0, kappa=1.03, nu=150.0, sigma0=3.0, sigma1=2e-4, x_e=0.3, x_o=0.7,
              amplitude=3e4, t_e=1e-3, excitation="pluck", fs=48000, duration=0.05, n_modes=30,
              nonlinearity="exact")


def run_simulate(tmp_path, params, capsys, extra=()):
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params) if not isinstance(params, str) else params)
    status = main(["simulate", str(path), str(tmp_path / "out.npz"), *extra])
    return status, capsys.readouterr()


def test_writes_the_documented_arrays(tmp_path, capsys):
    status, _ = run_simulate(tmp_path, PARAMS, capsys)
    assert status == 0
    data = np.load(tmp_path / "out.npz")
    n_steps = int(PARAMS["duration"] * PARAMS["fs"])
    assert data["q"].shape == data["p"].shape == (30, n_steps)
    assert data["psi"].shape == data["w"].shape == (n_steps,)
    assert all(data[key].dtype == np.float64 for key in ("q", "p", "psi", "w"))
    sim = simulate(SimulationSpec.from_dict(PARAMS))
    np.testing.assert_array_equal(data["q"], sim.q)
    np.testing.assert_array_equal(data["w"], sim.w)
    # Sample 0 is the state after one step from rest: the pluck has barely started.
    assert 0.0 < np.abs(data["q"][:, 0]).max() < 1e-6
    meta = json.loads(str(data["meta"]))
    assert meta["spec"]["n_modes"] == 30 and meta["potential"] == "exact"


def test_warp_and_wav_output(tmp_path, capsys):
    status, out = run_simulate(tmp_path, {**PARAMS, "warp": True}, capsys,
                               ["--wav", str(tmp_path / "out.wav")])
    assert status == 0, out.err
    audio, rate = soundfile.read(tmp_path / "out.wav")
    assert rate == 48000 and len(audio) == 2400
    assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), abs=1e-4)


def test_stdin_and_python_dash_m(tmp_path):
    result = subprocess.run([sys.executable, "-m", "synth", "simulate", "-",
                             str(tmp_path / "o.npz")], input=json.dumps(PARAMS), text=True,
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "o.npz")["q"].shape == (30, 2400)


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, "unknown key(s) 'colour'"),
    ({"gamma": -150.0}, "gamma must be > 0"),
    ({"nu": -1.0}, "nu must be >= 0"),
    ({"sigma0": float("nan")}, "sigma0 must be finite"),
    ({"amplitude": float("inf")}, "amplitude must be finite"),
    ({"x_e": 1.0}, "x_e must lie strictly inside (0, 1)"),
    ({"x_o": -0.2}, "x_o must lie strictly inside (0, 1)"),
    ({"n_modes": 0}, "n_modes must be a whole number from 1"),
    ({"n_modes": 7.5}, "n_modes must be a whole number from 1"),
    ({"n_modes": "75"}, "n_modes must be a whole number from 1"),
    ({"n_modes": None}, "n_modes must be a whole number from 1"),
    ({"n_modes": [3]}, "n_modes must be a whole number from 1"),
    ({"n_modes": 10**6}, "n_modes must be a whole number from 1"),
    ({"nu": 1e154}, "nu must be <= 1e+06"),
    ({"amplitude": 1e300}, "amplitude must be <= 1e+12"),
    ({"kappa": True}, "kappa must be a number"),
    ({"fs": 0}, "fs must be > 0"),
    ({"fs": -48000}, "fs must be > 0"),
    ({"duration": 0.0}, "duration must be > 0"),
    ({"t_e": 0.0}, "t_e must be > 0"),
    ({"excitation": "bow"}, "excitation must be one of"),
    ({"nonlinearity": "cubic"}, "nonlinearity must be"),
    ({"warp": "yes"}, "warp must be true or false"),
    ({"gamma": "150"}, "gamma must be a number"),
    ({"duration": 1e-6}, "shorter than one sample"),
    ({"duration": 1e6}, "GiB"),
])
def test_bad_input_gets_a_clear_error(tmp_path, capsys, change, message):
    status, out = run_simulate(tmp_path, {**PARAMS, **change}, capsys)
    assert status == 2
    assert message in out.err
    assert not (tmp_path / "out.npz").exists()


def test_missing_keys_and_malformed_files(tmp_path, capsys):
    params = dict(PARAMS)
    del params["kappa"]
    status, out = run_simulate(tmp_path, params, capsys)
    assert status == 2 and "missing key(s) 'kappa'" in out.err
    status, out = run_simulate(tmp_path, "{not json", capsys)
    assert status == 2 and "not valid JSON" in out.err
    status, out = run_simulate(tmp_path, "[1, 2]", capsys)
    assert status == 2 and "must be a JSON object" in out.err
    status, out = run_simulate(tmp_path, "[" * 100_000 + "]" * 100_000, capsys)
    assert status == 2 and "JSON nested too deeply" in out.err
    status = main(["simulate", str(tmp_path / "absent.json"), str(tmp_path / "o.npz")])
    assert status == 2 and "No such file" in capsys.readouterr().err


def test_unstable_parameters_drop_modes_with_a_warning_not_a_blow_up(tmp_path, capsys):
    # A very stiff string at 16 kHz: most of its 60 modes lie above what the scheme can hold.
    params = {**PARAMS, "kappa": 40.0, "fs": 16000, "n_modes": 60, "amplitude": 1e6}
    status, out = run_simulate(tmp_path, params, capsys)
    assert status == 0
    assert "warning: kept" in out.err and "unstable without warping" in out.err
    data = np.load(tmp_path / "out.npz")
    assert np.isfinite(data["q"]).all() and np.isfinite(data["w"]).all()
    kept = json.loads(str(data["meta"]))["n_active"]
    assert 0 < kept < 60 and np.all(data["q"][kept:] == 0.0)


def test_outputs_are_checked_before_simulating_and_the_state_can_be_slimmed(tmp_path, capsys):
    params = tmp_path / "p.json"
    params.write_text(json.dumps(PARAMS))
    for args, message in (([str(tmp_path / "no" / "o.npz")], "does not exist"),
                          ([str(tmp_path / "o.txt")], "must be a .npz file"),
                          ([str(tmp_path / "o.npz"), "--wav", str(tmp_path / "no" / "o.wav")],
                           "does not exist")):
        assert main(["simulate", str(params), *args]) == 2
        assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [params]
    full, slim, only = tmp_path / "full.npz", tmp_path / "slim.npz", tmp_path / "w.npz"
    assert main(["simulate", str(params), str(full)]) == 0
    assert main(["simulate", str(params), str(slim), "--every", "4",
                 "--state-dtype", "float32"]) == 0
    assert main(["simulate", str(params), str(only), "--only-w"]) == 0
    a, b, c = np.load(full), np.load(slim), np.load(only)
    assert b["q"].dtype == np.float32 and np.array_equal(b["q"], a["q"][:, ::4]
                                                         .astype(np.float32))
    assert np.array_equal(a["w"], c["w"]) and "q" not in c and "p" not in c
    assert json.loads(str(b["meta"]))["state"] == {"saved": True, "every": 4,
                                                   "dtype": "float32"}

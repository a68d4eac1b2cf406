"""`neural-strings dataset`: seeded, parallel, resumable, refusing to overwrite a different set."""

import json
import os
import re

import numpy as np
import pytest

from synth.cli import main
from synth.dataset import DatasetConfig, StoredDataset, generate
from synth.errors import DatasetError, ParameterError
from synth.physics.simulate import SimulationSpec, simulate

TINY = """
name = "tiny"
seed = 7
count = 4
fs = 16000
duration = 0.02
n_modes = 8
nonlinearity = "exact"
excitation = "pluck"
[ranges]
gamma = [123.48, 174.62]
kappa = [1.01, 1.05]
nu = [123.48, 174.62]
sigma0 = 3.0
sigma1 = 2e-4
x_e = [0.1, 0.9]
x_o = [0.1, 0.9]
amplitude = [2.5e4, 3.5e4]
t_e = [0.5e-3, 1.5e-3]
"""


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_generates_in_parallel_with_the_documented_layout(tmp_path, tiny_config, capsys):
    root = tmp_path / "data"
    status = main(["dataset", str(tiny_config), "--root", str(root), "--jobs", "2"])
    assert status == 0, capsys.readouterr().err
    manifest = json.loads((root / "tiny" / "manifest.json").read_text())
    assert len(manifest["strings"]) == 4 and len(manifest["config_hash"]) == 64
    stored = StoredDataset(root / "tiny")
    item = stored[2]
    assert isinstance(item.q, np.memmap) or isinstance(item.q.base, np.memmap)
    assert item.q.shape == item.p.shape == (320, 8) and item.w.shape == (320,)
    assert item.q.dtype == np.float32
    # The stored string is the simulation of its recorded parameters.
    sim = simulate(SimulationSpec.from_dict(item.params))
    np.testing.assert_allclose(item.q, sim.q_t, rtol=1e-6, atol=1e-7 * np.abs(sim.q_t).max())
    np.testing.assert_allclose(item.psi, sim.psi, rtol=1e-6)
    np.testing.assert_allclose(item.w, sim.w, rtol=1e-6, atol=1e-7 * np.abs(sim.w).max())


def test_parameters_are_seeded_and_within_range(tiny_config):
    config = DatasetConfig.load(tiny_config)
    first, again = config.draw(), config.draw()
    assert first == again
    for params in first:
        assert 123.48 <= params["gamma"] <= 174.62 and params["sigma0"] == 3.0
        assert 0.5e-3 <= params["t_e"] <= 1.5e-3
    other = DatasetConfig.from_dict({**config_dict(tiny_config), "seed": 8}).draw()
    assert other[0]["gamma"] != first[0]["gamma"]


def config_dict(path):
    import tomllib
    return tomllib.loads(path.read_text())


def test_resumes_without_redoing_finished_strings(tmp_path, tiny_config):
    config = DatasetConfig.load(tiny_config)
    directory = generate(config, root=tmp_path, jobs=1, progress=False)
    files = sorted((directory / "strings").glob("*.npy"))
    stamps = {f: f.stat().st_mtime_ns for f in files}
    files[1].unlink()  # as if interrupted
    (directory / "strings" / "000003.npy").write_bytes(b"truncated")  # a half-written file
    with pytest.raises(DatasetError, match="incomplete"):
        StoredDataset(directory)
    generate(config, root=tmp_path, jobs=1, progress=False)
    assert files[1].exists()
    assert files[0].stat().st_mtime_ns == stamps[files[0]]  # untouched
    assert files[2].stat().st_mtime_ns == stamps[files[2]]
    assert len(StoredDataset(directory)) == 4


def test_refuses_a_different_config_under_the_same_name(tmp_path, tiny_config, capsys):
    generate(DatasetConfig.load(tiny_config), root=tmp_path, jobs=1, progress=False)
    changed = tmp_path / "changed.toml"
    changed.write_text(TINY.replace("seed = 7", "seed = 8"))
    status = main(["dataset", str(changed), "--root", str(tmp_path), "--quiet"])
    assert status == 2
    assert "holds a different dataset" in capsys.readouterr().err
    status = main(["dataset", str(changed), "--root", str(tmp_path), "--quiet", "--overwrite"])
    assert status == 0
    manifest = json.loads((tmp_path / "tiny" / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 8


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("count = 4", "count = 0"), "count must be at least 1"),
    (lambda t: t.replace("gamma = [123.48, 174.62]", "gamma = [174.62, 123.48]"), "low <= high"),
    (lambda t: t.replace("x_e = [0.1, 0.9]", "x_e = [0.1, 1.5]"), "x_e"),
    (lambda t: t.replace("t_e = [0.5e-3, 1.5e-3]\n", ""), "missing ['t_e']"),
    (lambda t: t + "colour = 1\n", "unknown"),
    (lambda t: t.replace('name = "tiny"', 'name = "../escape"'), "plain directory name"),
    (lambda t: t.replace("fs = 16000", 'fs = "fast"'), "fs has the wrong type"),
    (lambda t: "not [toml", "not valid TOML"),
])
def test_bad_configs_are_refused_clearly(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(TINY))
    with pytest.raises(ParameterError) as error:
        DatasetConfig.load(path)
    assert message in str(error.value)


def test_unknown_config_name_lists_the_shipped_ones():
    with pytest.raises(ParameterError, match="paper-test, paper-train"):
        DatasetConfig.load("no-such-config")


def test_shipped_configs_are_the_papers_ranges():
    train, test = DatasetConfig.load("paper-train"), DatasetConfig.load("paper-test")
    assert (train.settings["fs"], train.settings["duration"], train.count) == (88200, 2.0, 60)
    assert (test.settings["fs"], test.settings["duration"]) == (96000, 3.0)
    assert train.ranges["gamma"] == [123.48, 174.62] and test.ranges["gamma"] == [174.62, 246.94]
    assert train.ranges["kappa"] == [1.01, 1.05] and test.ranges["kappa"] == [1.05, 1.10]
    assert train.ranges["nu"] == test.ranges["nu"] == [123.48, 174.62]
    assert train.ranges["sigma0"] == [3.0, 3.0] and test.ranges["sigma0"] == [2.0, 2.0]
    assert train.ranges["amplitude"] == [2.5e4, 3.5e4]
    assert test.ranges["amplitude"] == [3.5e4, 5e4]
    assert train.ranges["t_e"] == test.ranges["t_e"] == [0.5e-3, 1.5e-3]
    assert train.settings["n_modes"] == test.settings["n_modes"] == 75
    assert train.hash != test.hash


def test_stored_strings_are_memory_mapped_and_an_incomplete_set_is_refused(tmp_path,
                                                                           tiny_config):
    directory = generate(DatasetConfig.load(tiny_config), root=tmp_path, jobs=1, progress=False)
    dataset = StoredDataset(directory)
    assert len(dataset) == 4
    item = dataset[1]
    assert isinstance(item.q, np.memmap) and item.q.shape == (320, 8)
    stored = np.load(directory / "strings" / "000001.npy")
    np.testing.assert_array_equal(item.q, stored[:, :8])
    np.testing.assert_array_equal(item.w, stored[:, -1])
    os.remove(directory / "strings" / "000000.npy")
    with pytest.raises(DatasetError, match="incomplete"):
        StoredDataset(directory)


def test_generation_says_how_big_it_is_and_refuses_a_disk_too_full(tmp_path, tiny_config,
                                                                   capsys, monkeypatch):
    import shutil
    from collections import namedtuple

    config = DatasetConfig.load(tiny_config)
    generate(config, root=tmp_path, jobs=1, count=2)
    said = capsys.readouterr().err
    assert re.search(r"dataset tiny: simulating 2 strings, [0-9.]+ (MB|GB), into ", said), said
    assert len(list((tmp_path / config.name / "strings").glob("*.npy"))) == 2
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10, 10, 10))
    with pytest.raises(DatasetError, match=r"2 strings need .* which has 0.0 MB free"):
        generate(config, root=tmp_path, jobs=1, progress=False)


def test_progress_lines_read_well():
    import io

    from synth.progress import Progress

    stream = io.StringIO()
    bar = Progress(4, "evaluate", "strings", stream=stream)
    for _ in range(4):
        bar.update()
    assert "4/4 strings" in stream.getvalue()

    seconds = io.StringIO()
    bar = Progress(16.2, "render", " s", stream=seconds)
    bar.update(0.0026)
    bar.update(16.2)
    assert "0.0/16.2 s" in seconds.getvalue() and "16.2/16.2 s" in seconds.getvalue()

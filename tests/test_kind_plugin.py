"""The example kind plugin (examples/kind-plugin, package neural-strings-modal) plays, renders,
trains and exports through the unchanged main package, and a broken plugin is reported once
and skipped. (The plugin's own tests, kernel parity included, are in its tests/ folder; the
window lists and plays it in test_gui_window.py, `play` from MIDI in test_realtime.py.)"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "kind-plugin"
MAIN_PACKAGE = ("synth", "models", "gui", "presets")


@pytest.fixture(scope="module")
def kind():
    from synth.kinds import installed_kinds

    if "learned-modal" not in installed_kinds():
        skip_or_fail("the example plugin is not installed (pip install ./examples/kind-plugin)")
    return installed_kinds()["learned-modal"]


def cli(*args, env=None, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "synth", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def test_no_file_of_the_main_package_knows_the_plugin(kind):
    """A new kind touches 0 files of the main package: nothing there names it."""
    mentions = [path for package in MAIN_PACKAGE for path in (ROOT / package).rglob("*")
                if path.is_file() and path.suffix in (".py", ".toml")
                and any(word in path.read_text() for word in ("learned-modal", "ns_modal"))]
    assert mentions == []
    assert kind.package == "neural-strings-modal"


def test_render_plays_the_plugin_preset_by_path_and_by_name(kind, tmp_path):
    preset = kind.presets / "modal-string.safetensors"
    for name in (str(preset), "modal-string"):
        out = tmp_path / f"{Path(name).stem}.wav"
        result = cli("render", "--demo", str(out), "--preset", name, "--quiet")
        assert result.returncode == 0, result.stderr
        audio, fs = soundfile.read(out)
        assert fs == 48000 and np.isfinite(audio).all() and np.abs(audio).max() > 0.01
        assert "'modal-string'" in result.stdout


def test_the_engine_plays_it_with_live_tension_and_ignores_the_nonlinearity(kind):
    from engine_helpers import fundamental, note_hz

    from synth.engine import Engine

    engine = Engine("modal-string", fs=48000, polyphony=4)

    def pitch(expected: float, **controls) -> float:
        for name, value in controls.items():
            engine.set_param(name, value)
        engine.process(4800)
        engine.note_on(45, 40)
        audio = engine.process(48000)[:, 0]
        engine.all_sound_off()
        engine.process(4800)
        return fundamental(audio[9600:], 48000, expected, width=0.1)

    plain = pitch(note_hz(45))
    assert abs(plain / note_hz(45) - 1) < 0.003  # tuned by the kind's learned first mode
    taut = pitch(note_hz(45) * np.sqrt(2), tension=2.0)
    assert taut / plain == pytest.approx(np.sqrt(2), rel=0.01)
    assert "nonlinearity" in kind.ignores


def test_train_and_export_a_recipe_of_its_family(kind, tmp_path):
    recipes = PLUGIN / "ns_modal" / "recipes"
    config = (recipes / "modal-string-train.toml").read_text()
    config = config.replace("count = 48", "count = 3").replace("duration = 0.3",
                                                               "duration = 0.12")
    (tmp_path / "data.toml").write_text(config.replace('"modal-string-train"', '"tiny"'))
    recipe = (recipes / "modal-string.toml").read_text()
    for old, new in (('"modal-string-train.toml"', '"data.toml"'), ("steps = 400", "steps = 20"),
                     ("segment_ms = 300.0", "segment_ms = 100.0"),
                     ("steps_per_epoch = 200", "steps_per_epoch = 5"),
                     ('name = "modal-string"', 'name = "tiny-modal"')):
        recipe = recipe.replace(old, new)
    (tmp_path / "recipe.toml").write_text(recipe)
    elsewhere = tmp_path / "elsewhere"  # the dataset path is the recipe's folder's, not cwd's
    elsewhere.mkdir()
    result = cli("train", str(tmp_path / "recipe.toml"), "--quiet", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "export with" in result.stdout
    out = tmp_path / "tiny-modal.safetensors"
    result = cli("export", str(elsewhere / "runs" / "tiny-modal"), str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    from synth.presets import load_preset

    preset = load_preset(out)
    assert preset.kind == "learned-modal" and preset.n_modes == 40
    result = cli("render", "--demo", str(tmp_path / "tiny.wav"), "--preset", str(out),
                 "--quiet")
    assert result.returncode == 0, result.stderr


def test_a_broken_plugin_is_reported_once_with_its_package_and_skipped(tmp_path):
    """Two broken kinds and a broken family in one installed (fake) distribution: each is
    named once on stderr with its package, and the player and trainer carry on."""
    site = tmp_path / "site"
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[neural_strings.kinds]\nghost = no_such_module:KIND\nold = broken_kind:KIND\n\n"
        "[neural_strings.families]\nghost = no_such_module:FAMILY\n")
    (site / "broken_kind.py").write_text(
        "import dataclasses\nfrom synth.kinds.sav_string import PHYSICS\n"
        "KIND = dataclasses.replace(PHYSICS, name='old', contract=99)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get(
        "PYTHONPATH", "")])}
    result = cli("render", "--demo", str(tmp_path / "demo.wav"), "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    ghost = [line for line in lines if "'ghost'" in line]
    old = [line for line in lines if "'old'" in line]
    assert len(ghost) == 1 and len(old) == 1, result.stderr
    assert "model kind 'ghost' from package 'broken-plugin' is skipped" in ghost[0]
    assert "ModuleNotFoundError" in ghost[0]
    assert "written for kind contract 99" in old[0]
    code = ("import warnings; warnings.simplefilter('always')\n"
            "from models.family import installed_families\n"
            "print(sorted(installed_families()))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0 and "gradnet" in result.stdout, result.stderr
    assert "training family 'ghost' from package 'broken-plugin' is skipped" in result.stderr

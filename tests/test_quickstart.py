"""The research quick start (README, examples/quickstart) as written: the commands at the top
of its recipe go from a dataset to a trained, exported and played preset."""

import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "quickstart" / "tiny-gradnet.toml"


def quick_start_commands() -> list[list[str]]:
    """The `neural-strings ...` lines of the recipe's header, as argument lists."""
    lines = [line.lstrip("# ").strip() for line in RECIPE.read_text().splitlines()
             if line.startswith("#   neural-strings")]
    return [shlex.split(line.replace("examples/quickstart/", f"{RECIPE.parent}/"))
            for line in lines]


def test_the_quick_start_goes_from_dataset_to_a_played_preset_in_minutes(tmp_path):
    commands = quick_start_commands()
    assert [c[1] for c in commands] == ["train", "export", "render"]
    started = time.monotonic()
    for command in commands:
        result = subprocess.run([sys.executable, "-m", "synth", *command[1:], "--quiet"],
                                capture_output=True, text=True, cwd=tmp_path, timeout=600)
        assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 300
    from synth.presets import load_preset

    preset = load_preset(tmp_path / "tiny.safetensors")
    metrics = preset.provenance["metrics"]["tiny-test@48000Hz"]
    assert metrics["model"]["w"]["mean"] < 0.05 * metrics["linear"]["w"]["mean"]
    assert (tmp_path / "tiny.wav").stat().st_size > 1000

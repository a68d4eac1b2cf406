"""The package's promises: the CLI entry points, no torch in the player, CI runs the README."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_console_script_and_module_entry_point():
    for command in (["neural-strings", "--help"], [sys.executable, "-m", "synth", "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        for name in ("simulate", "dataset", "bench"):
            assert name in result.stdout


def test_the_runtime_never_imports_torch_models_or_gui():
    code = ("import sys, json\n"
            "import synth, synth.cli, synth.physics, synth.dataset, synth.bench.physics\n"
            "import synth.audiofile, synth.engine.engine, synth.render, synth.presets\n"
            "from synth.physics.simulate import simulate, SimulationSpec\n"
            "spec = SimulationSpec.from_dict(json.load(open('examples/pluck.json')))\n"
            "simulate(spec)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'models', 'gui', 'PySide6')))\n")
    result = run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    assert readme[3].startswith("pip install . && neural-strings")  # the first command
    test_line = next(line for line in readme if line.startswith("pip install torch==2.13.0"))
    assert readme.index(test_line) == 4  # the second command, at the top
    assert "pytest" in test_line
    ci = (ROOT / ".ci" / "run").read_text()
    assert "grep -m1 '^pip install torch==2.13.0' README.md" in ci
    assert 'eval "$test_command"' in ci


def test_bench_physics_runs_end_to_end():
    result = subprocess.run(["neural-strings", "bench", "physics", "--quick", "--repeats", "1"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "modes" in line and " us" in line]
    assert len(rows) == 3
    assert all("x" in row for row in rows)


def test_numba_caches_are_versioned_by_every_compiled_source(tmp_path):
    """Numba invalidates a cached kernel only when its own file changes, not a kernel it
    compiles in; synth keys its cache directory on a hash of all of them instead."""
    probe = "import os, synth; print(os.environ['NUMBA_CACHE_DIR'])"
    default = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items()
                                  if k != "NUMBA_CACHE_DIR"}).stdout.strip()
    assert Path(default).name.startswith("numba-") and Path(default).is_dir()
    chosen = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}).stdout.strip()
    assert chosen == str(tmp_path)

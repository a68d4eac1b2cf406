"""`neural-strings evaluate PRESET TESTSET`: the paper's accuracy metrics for a preset.

Each test string is played free-running from rest by the preset's kind as the engine plays
it (`synth.kinds.Kind.free_run`: the SAV scheme with the preset's potential, an oscillator
bank's kernel, a plugin kind's own) and simulated with the linear model as a baseline, and
both are compared with the reference (the exact potential) by

    relMSE(y_hat, y) = mean((y_hat - y)^2) / mean(y^2)

pooled over modes and samples, for the modal displacements q and the output w, over the whole
string and over its first 0.1 s (docs/design.md, "How the project measures itself"). At the
test set's own rate the stored recordings are the reference; at another rate (`fs`) the
reference is simulated there, with the modes that are stable at that rate. Writes
metrics.json, metrics.md and figures.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synth.dataset import DatasetConfig, StoredDataset, generate
from synth.errors import ModesDroppedWarning, ParameterError
from synth.files import save_figure, write_text
from synth.kinds import find_kind
from synth.physics.simulate import SimulationSpec, simulate
from synth.presets import find_preset, load_preset
from synth.progress import Progress

METRICS = ("q", "w", "q_0.1s", "w_0.1s")
MODELS = ("model", "linear")
FIRST_SECONDS = 0.1


def relative_mse(estimate: np.ndarray, target: np.ndarray) -> float:
    """mean((estimate - target)^2) / mean(target^2), pooled over every element."""
    target = np.asarray(target, np.float64)
    return float(np.mean((np.asarray(estimate, np.float64) - target) ** 2)
                 / max(np.mean(target ** 2), 1e-300))


@dataclass(frozen=True)
class StringResult:
    """Metrics of one test string: {model: {metric: relMSE}}, per-mode relMSE of q for the
    model (M,), and the string's simulate parameters."""

    params: dict
    metrics: dict
    mode_error: np.ndarray


def dataset_directory(test_set: str, root: str | os.PathLike = "datasets",
                      count: int | None = None) -> Path:
    """A dataset directory, or the directory of a config (path or shipped name) whose first
    `count` strings (default: all) are generated first if they are missing."""
    path = Path(test_set)
    if (path / "manifest.json").exists():
        return path
    return generate(DatasetConfig.load(test_set), root=root, progress=True, count=count)


def _test_settings(test_set: str) -> tuple[str, dict]:
    """(name, settings) of a test set, a dataset directory or a config, without generating."""
    path = Path(test_set)
    if (path / "manifest.json").exists():
        manifest = json.loads((path / "manifest.json").read_text())
        return manifest["name"], manifest["config"]["settings"]
    config = DatasetConfig.load(test_set)
    return config.name, config.settings


def evaluate(preset_name: str, test_set: str, fs: float | None = None,
             limit: int | None = None, jobs: int | None = None,
             root: str | os.PathLike = "datasets", progress: bool = True) -> dict:
    """Metrics of a preset over a test set (its first `limit` strings, the only ones
    generated when it is a config); returns the report (see `summarise`)."""
    preset_path = find_preset(preset_name)
    preset = load_preset(preset_path)
    name, settings = _test_settings(test_set)
    if preset.n_modes < settings["n_modes"]:  # more are fine: they stay at rest
        raise ParameterError(f"the preset has {preset.n_modes} modes but the test set "
                             f"{name!r} has {settings['n_modes']}")
    if limit is not None and limit < 1:
        raise ParameterError(f"--strings must be at least 1, got {limit}")
    directory = dataset_directory(test_set, root, count=limit)
    data = StoredDataset(directory, count=limit)
    count = len(data)
    tasks = [(str(preset_path), str(directory), i, fs) for i in range(count)]
    results = []
    jobs = jobs or min(os.cpu_count() or 1, count)
    with Progress(count, f"evaluate {preset.name} on {data.name}", " strings",
                  enabled=progress) as bar:
        if jobs == 1:
            for task in tasks:
                results.append(_evaluate_string(task))
                bar.update()
        else:
            with ProcessPoolExecutor(jobs) as pool:
                for result in pool.map(_evaluate_string, tasks):
                    results.append(result)
                    bar.update()
    rate = fs or data.settings["fs"]
    return summarise(preset, data, rate, results)


def _evaluate_string(task) -> StringResult:
    preset_path, directory, index, fs = task
    preset = load_preset(preset_path)
    stored = StoredDataset(directory, count=index + 1)[index]
    params = dict(stored.params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModesDroppedWarning)
        if fs is None or fs == params["fs"]:
            q_ref, w_ref = np.asarray(stored.q, np.float64), np.asarray(stored.w, np.float64)
        else:
            params["fs"] = fs
            reference = simulate(SimulationSpec.from_dict({**params, "nonlinearity": "exact"}))
            q_ref, w_ref = reference.q_t, reference.w
        spec = SimulationSpec.from_dict(params)
        runs = {"model": model_run(preset, spec),
                "linear": simulate(SimulationSpec.from_dict({**params,
                                                             "nonlinearity": "linear"}))}
    first = math.floor(FIRST_SECONDS * spec.fs)
    metrics = {name: {"q": relative_mse(run.q_t, q_ref), "w": relative_mse(run.w, w_ref),
                      "q_0.1s": relative_mse(run.q_t[:first], q_ref[:first]),
                      "w_0.1s": relative_mse(run.w[:first], w_ref[:first])}
               for name, run in runs.items()}
    model = runs["model"].q_t
    mode_error = ((model - q_ref) ** 2).mean(0) / np.maximum((q_ref ** 2).mean(0), 1e-300)
    return StringResult(params, metrics, mode_error)


@dataclass(frozen=True)
class ModelRun:
    """A free run's modal displacements q_t (N, M) and output w (N,)."""

    q_t: np.ndarray
    w: np.ndarray


def model_run(preset, spec: SimulationSpec) -> ModelRun:
    """The preset's free run of one test string, by its kind (`Kind.free_run`)."""
    kind = find_kind(preset.kind)
    if kind.free_run is None:
        raise ParameterError(f"model kind {kind.name!r} cannot be evaluated offline (it has "
                             "no free_run)")
    try:
        q, w = kind.free_run(preset, spec)
    except ValueError as error:
        raise ParameterError(str(error)) from None
    return ModelRun(q, w)


def summarise(preset, data: StoredDataset, fs: float, results: list[StringResult]) -> dict:
    """The report: per-string metrics, their mean and median, and the set-up."""
    table = {name: {metric: [r.metrics[name][metric] for r in results] for metric in METRICS}
             for name in MODELS}
    summary = {name: {metric: {"mean": float(np.mean(v)), "median": float(np.median(v))}
                      for metric, v in metrics.items()} for name, metrics in table.items()}
    return {"preset": preset.name, "kind": preset.kind, "test_set": data.name,
            "fs": fs, "strings": len(results),
            "duration": data.settings["duration"], "n_modes": data.settings["n_modes"],
            "summary": summary, "per_string": table,
            "mode_error": np.mean([r.mode_error for r in results], axis=0).tolist()}


def markdown(report: dict) -> str:
    """The report's summary as a markdown table."""
    lines = [f"relMSE of `{report['preset']}` on `{report['test_set']}` ({report['strings']} "
             f"strings, {report['duration']:g} s free-running at {report['fs']:g} Hz), "
             "mean / median over strings", "",
             "| model | q | w | q, first 0.1 s | w, first 0.1 s |", "|---|---|---|---|---|"]
    for name in MODELS:
        cells = [f"{s['mean']:.3g} / {s['median']:.3g}"
                 for s in (report["summary"][name][m] for m in METRICS)]
        label = report["preset"] if name == "model" else "linear (no nonlinearity)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(report: dict, out: str | os.PathLike, preset_name: str | None = None,
                 test_set: str | None = None, figures: bool = True,
                 root: str | os.PathLike = "datasets") -> Path:
    """Write metrics.json, metrics.md and (with figures) the figures into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "metrics.json", json.dumps(report, indent=1))
    write_text(out / "metrics.md", markdown(report))
    if figures and preset_name is not None and test_set is not None:
        plot_figures(report, preset_name, test_set, out, root)
    return out


def plot_figures(report: dict, preset_name: str, test_set: str, out: Path,
                 root: str | os.PathLike = "datasets") -> None:
    """waveforms.png, spectrograms.png and mode_error.png for the string with the median
    output error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    errors = report["per_string"]["model"]["w"]
    index = int(np.argsort(errors)[len(errors) // 2])
    directory = dataset_directory(test_set, root, count=report["strings"])
    stored = StoredDataset(directory, count=report["strings"])[index]
    params = {**stored.params, "fs": report["fs"]}
    preset = load_preset(find_preset(preset_name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModesDroppedWarning)
        spec = SimulationSpec.from_dict(params)
        reference = simulate(SimulationSpec.from_dict({**params, "nonlinearity": "exact"})).w
        model = model_run(preset, spec).w
        linear = simulate(SimulationSpec.from_dict({**params, "nonlinearity": "linear"})).w
    fs = spec.fs
    t = np.arange(len(reference)) / fs

    figure, axes = plt.subplots(2, 1, figsize=(9, 5), dpi=100)
    for axis, (start, stop) in zip(axes, ((0.0, 0.03), (report["duration"] - 0.03,
                                                       report["duration"])), strict=True):
        window = (t >= start) & (t < stop)
        axis.plot(t[window], reference[window], "k", lw=1.4, label="reference (exact)")
        axis.plot(t[window], model[window], "C1--", lw=1.0, label=preset.name)
        axis.plot(t[window], linear[window], "C0:", lw=1.0, label="linear")
        axis.set_xlabel("time (s)")
        axis.set_ylabel("w")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"string {index} of {report['test_set']}: output w, first and last 30 ms")
    figure.tight_layout()
    save_figure(figure, out / "waveforms.png")
    plt.close(figure)

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100, sharey=True)
    for axis, (signal, title) in zip(axes, ((reference, "reference (exact)"),
                                            (model, preset.name)), strict=True):
        axis.specgram(signal, NFFT=4096, Fs=fs, noverlap=3072, cmap="magma",
                      vmin=-160, scale="dB")
        axis.set_ylim(0, 4000)
        axis.set_title(title)
        axis.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (Hz)")
    figure.tight_layout()
    save_figure(figure, out / "spectrograms.png")
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(8, 3.5), dpi=100)
    mode_error = np.asarray(report["mode_error"])
    axis.semilogy(np.arange(1, len(mode_error) + 1), mode_error, "o-", ms=3)
    axis.set_xlabel("mode")
    axis.set_ylabel("relMSE of q_m (mean over strings)")
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    save_figure(figure, out / "mode_error.png")
    plt.close(figure)

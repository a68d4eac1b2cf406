"""`neural-strings compare CONFIG`: every model family on the same held-out strings.

CONFIG (TOML) names the test set and the models:

    test_set = "compare-test"        # a dataset config (path or shipped name)
    dataset_root = "datasets"
    strings = 30                     # test strings used (default: all)
    stability_seconds = 10.0         # the free run that must stay finite and bounded
    stability_strings = 4
    speed_blocks = 200               # blocks timed per voice count (playable models)
    [pinn]
    steps = 12000                    # the PINN's inverse problem (models.baselines.pinn)
    [[model]]
    label = "Koopman"
    preset = "koopman-40"            # a playable preset (name or file) ...
    [[model]]
    label = "FNO"
    recipe = "fno-compare.toml"      # ... or an offline baseline's recipe (relative to
                                     # CONFIG), trained first unless its run is complete

The linear model (the string without its nonlinearity) is always a row. For each model:
relMSE of the output w over the first 0.1 s and over the whole string (mean / median over
strings); whether a free run of stability_seconds stays finite and bounded (its last second
no louder than its first) on the first stability_strings strings; parameters; training
time; ns per sample (playable: one voice's share of a 16-voice engine block; offline: the
torch free run of one string); and the real-time voices at 48 kHz with 128-frame blocks
(`synth.bench.engine`). Writes OUT/compare.md, compare.json and compare.png (waveforms and
spectra of one test string, every model against the reference).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.baselines.pinn import Oscillator, PinnConfig, fit_inverse
from models.evaluate import FIRST_SECONDS, dataset_directory, evaluate, model_run, relative_mse
from models.family import find_family
from models.recipe import Recipe, read_toml
from models.strings import StringBatch
from models.train import load_run, train
from synth.dataset import StoredDataset
from synth.errors import ModesDroppedWarning, ParameterError
from synth.files import save_figure, write_text
from synth.physics.simulate import SimulationSpec, simulate
from synth.presets import find_preset, load_preset

SPEED_VOICES = 16  # the engine block whose per-voice cost is quoted
FIGURE_SECONDS = 0.025


@dataclass(frozen=True)
class CompareConfig:
    path: Path
    test_set: str
    dataset_root: str
    strings: int | None
    stability_seconds: float
    stability_strings: int
    speed_blocks: int
    pinn_steps: int
    models: list[dict]

    @classmethod
    def load(cls, path) -> CompareConfig:
        path = Path(path)
        data = read_toml(path, "comparison config")
        models = data.get("model", [])
        for entry in models:
            if not isinstance(entry, dict) or "label" not in entry or \
                    ("preset" in entry) == ("recipe" in entry):
                raise ParameterError(f"{path}: each [[model]] needs a label and exactly one of "
                                     "preset or recipe")
        return cls(path=path, test_set=str(data.get("test_set", "compare-test")),
                   dataset_root=str(data.get("dataset_root", "datasets")),
                   strings=data.get("strings"),
                   stability_seconds=float(data.get("stability_seconds", 10.0)),
                   stability_strings=int(data.get("stability_strings", 4)),
                   speed_blocks=int(data.get("speed_blocks", 200)),
                   pinn_steps=int(data.get("pinn", {}).get("steps", PinnConfig().steps)),
                   models=models)


def compare(config: CompareConfig, out, runs="runs", progress: bool = True) -> dict:
    """Train what is missing, measure every model, write the table and figure; returns the
    report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    directory = dataset_directory(config.test_set, config.dataset_root, count=config.strings)
    data = StoredDataset(directory, count=config.strings)
    count = len(data)
    items = [data[i] for i in range(count)]
    rows, signals = [], {}
    linear_done = False
    for entry in config.models:
        if "preset" in entry:
            row, w, linear = _preset_row(entry, config, items, progress)
            if not linear_done:
                rows.append(linear)
                linear_done = True
        else:
            row, w = _baseline_row(entry, config, items, runs, progress)
        rows.append(row)
        signals[row["label"]] = w
    if not linear_done:
        rows.append(_linear_row(items))
    reference = np.asarray(items[0].w, np.float64)
    signals["linear"] = _linear_signal(items[0].params)
    pinn = fit_inverse(Oscillator(), PinnConfig(steps=config.pinn_steps))
    report = {"test_set": data.name, "strings": count, "fs": data.settings["fs"],
              "duration": data.settings["duration"],
              "stability_seconds": config.stability_seconds, "rows": rows,
              "pinn": pinn}
    write_text(out / "compare.json", json.dumps(report, indent=1))
    write_text(out / "compare.md", markdown(report))
    plot(reference, signals, data.settings["fs"], out / "compare.png")
    return report


def _summary(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "median": float(np.median(values))}


def _preset_row(entry: dict, config: CompareConfig, items, progress: bool):
    from synth.bench.engine import BLOCK, PERIOD, block_time, max_voices

    preset = load_preset(find_preset(entry["preset"]))
    report = evaluate(str(find_preset(entry["preset"])), config.test_set,
                      limit=len(items), root=config.dataset_root, progress=progress)
    summary = report["summary"]
    linear = {"label": "linear", "kind": "linear", "w_0.1s": summary["linear"]["w_0.1s"],
              "w": summary["linear"]["w"], "stable": True, "parameters": 0,
              "training_seconds": 0.0, "ns_per_sample": None, "voices": None}
    spec = _spec(items[0].params, None)
    w = model_run(preset, spec).w
    stable = all(_bounded(model_run(preset, _spec(item.params, config.stability_seconds)).w)
                 for item in items[:config.stability_strings])
    cost = lambda v: block_time(preset, v, config.speed_blocks)  # noqa: E731
    per_voice = cost(SPEED_VOICES) / (SPEED_VOICES * BLOCK)
    voices, _ = max_voices(cost, 128)
    training = preset.provenance.get("training", {}).get("seconds")
    row = {"label": entry["label"], "kind": preset.kind, "source": preset.name,
           "w_0.1s": summary["model"]["w_0.1s"], "w": summary["model"]["w"],
           "stable": stable, "parameters": int(sum(np.size(v) for v in
                                                   preset.tensors.values())),
           "training_seconds": training, "ns_per_sample": per_voice * 1e9,
           "voices": voices, "block_period_s": PERIOD}
    return row, w, linear


def _baseline_row(entry: dict, config: CompareConfig, items, runs, progress: bool):
    recipe = Recipe.load(config.path.parent / entry["recipe"])
    free_run = find_family(recipe.family).free_run
    if free_run is None:
        raise ParameterError(f"{entry['recipe']}: compare runs recipes of offline baselines "
                             f"(families with a free run); export a playable run to a preset")
    run = train(recipe, runs=runs, progress=progress)
    state, network = load_run(run)
    params = [item.params for item in items]
    strings = StringBatch.from_params(params, dtype=torch.float64)
    n = len(items[0].w)
    first = math.floor(FIRST_SECONDS * items[0].params["fs"])
    w = free_run(network, strings, n)["w"].numpy()
    reference = [np.asarray(item.w, np.float64) for item in items]
    errors = {"w_0.1s": [relative_mse(a[:first], b[:first]) for a, b in zip(w, reference,
                                                                            strict=True)],
              "w": [relative_mse(a, b) for a, b in zip(w, reference, strict=True)]}
    long_strings = strings.select(torch.arange(min(config.stability_strings, len(items))))
    long = free_run(network, long_strings,
                    round(config.stability_seconds * items[0].params["fs"]))["w"].numpy()
    one = strings.select(torch.arange(1))
    start = time.perf_counter()
    free_run(network, one, first)
    per_sample = (time.perf_counter() - start) / first
    row = {"label": entry["label"], "kind": recipe.family, "source": recipe.name,
           "w_0.1s": _summary(errors["w_0.1s"]), "w": _summary(errors["w"]),
           "stable": all(_bounded(x) for x in long),
           "parameters": int(sum(p.numel() for p in network.parameters())),
           "training_seconds": state["seconds"], "ns_per_sample": per_sample * 1e9,
           "voices": None, "offline": True}
    return row, w[0]


def _linear_row(items) -> dict:
    first = math.floor(FIRST_SECONDS * items[0].params["fs"])
    errors = {"w_0.1s": [], "w": []}
    for item in items:
        w, reference = _linear_signal(item.params), np.asarray(item.w, np.float64)
        errors["w_0.1s"].append(relative_mse(w[:first], reference[:first]))
        errors["w"].append(relative_mse(w, reference))
    return {"label": "linear", "kind": "linear", "w_0.1s": _summary(errors["w_0.1s"]),
            "w": _summary(errors["w"]), "stable": True, "parameters": 0,
            "training_seconds": 0.0, "ns_per_sample": None, "voices": None}


def _spec(params: dict, seconds: float | None) -> SimulationSpec:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModesDroppedWarning)
        return SimulationSpec.from_dict({**params, **({"duration": seconds} if seconds else {})})


def _linear_signal(params: dict) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModesDroppedWarning)
        return simulate(SimulationSpec.from_dict({**params, "nonlinearity": "linear"})).w


def _bounded(w: np.ndarray, fs: float = 48000.0) -> bool:
    """Finite, and the last second no louder than the first (a decaying string)."""
    w = np.asarray(w, np.float64)
    second = int(fs)
    return bool(np.isfinite(w).all() and np.abs(w[-second:]).max()
                <= np.abs(w[:second]).max() + 1e-300)


def _cell(summary: dict) -> str:
    return f"{summary['mean']:.3g} / {summary['median']:.3g}"


def markdown(report: dict) -> str:
    """The comparison table (and the PINN's figures) as markdown."""
    lines = [f"Every family on `{report['test_set']}` ({report['strings']} held-out strings, "
             f"{report['duration']:g} s at {report['fs']:g} Hz). relMSE of the output w, mean /"
             f" median over strings; stable: a {report['stability_seconds']:g} s free run stays "
             "finite and its last second is no louder than its first; ns per sample: one "
             "voice's share of a 16-voice engine block (playable) or the torch free run of one "
             "string (offline); voices: real time at 48 kHz, 128-frame blocks, one core.", "",
             "| model | kind | relMSE w, first 0.1 s | relMSE w, whole | stable | parameters "
             "| training | ns / sample | voices |", "|---|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        training = row["training_seconds"]
        training = "—" if training is None else (
            "none" if training == 0 else f"{training / 60:.1f} min")
        ns = "—" if row["ns_per_sample"] is None else f"{row['ns_per_sample']:.0f}"
        voices = ("offline" if row.get("offline") else "—") if row["voices"] is None \
            else (f"≥ {row['voices']}" if row["voices"] >= 128 else str(row["voices"]))
        lines.append(f"| {row['label']} | {row['kind']} | {_cell(row['w_0.1s'])} | "
                     f"{_cell(row['w'])} | {'yes' if row['stable'] else 'NO'} | "
                     f"{row['parameters']:,} | {training} | {ns} | {voices} |")
    pinn = report["pinn"]
    lines += ["", "PINN (the damped oscillator's inverse problem, `models.baselines.pinn`): "
              f"omega0 recovered within {100 * pinn['omega0_error']:.3g} %, sigma within "
              f"{100 * pinn['sigma_error']:.3g} %, trajectory relMSE {pinn['relmse']:.2g}, "
              f"{pinn['parameters']:,} parameters, {pinn['seconds']:.0f} s of training."]
    return "\n".join(lines) + "\n"


def plot(reference: np.ndarray, signals: dict, fs: float, out: Path) -> None:
    """Waveform (first FIGURE_SECONDS) and spectrum (first 0.5 s) of every model on one
    string, each against the reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(signals)
    figure, axes = plt.subplots(rows, 2, figsize=(11, 1.9 * rows), dpi=90, squeeze=False)
    n = int(FIGURE_SECONDS * fs)
    t = np.arange(n) / fs * 1000.0
    span = min(len(reference), int(0.5 * fs))
    window = np.hanning(span)
    freqs = np.fft.rfftfreq(span, 1.0 / fs)
    keep = freqs < 2000.0

    def spectrum(x):
        return 20 * np.log10(np.abs(np.fft.rfft(np.asarray(x[:span]) * window)) + 1e-12)

    ref_spectrum = spectrum(reference)
    for (label, w), (left, right) in zip(signals.items(), axes, strict=True):
        left.plot(t, reference[:n], "k", lw=1.2, label="reference")
        left.plot(t, np.asarray(w)[:n], "C1--", lw=1.0, label=label)
        left.set_ylabel(label, fontsize=8)
        right.plot(freqs[keep], ref_spectrum[keep], "k", lw=0.8)
        right.plot(freqs[keep], spectrum(w)[keep], "C1", lw=0.7, alpha=0.8)
        right.set_ylim(ref_spectrum[keep].max() - 90, ref_spectrum[keep].max() + 10)
    axes[0, 0].set_title(f"output w, first {1000 * FIGURE_SECONDS:g} ms (black: reference)",
                         fontsize=9)
    axes[0, 1].set_title("spectrum of the first 0.5 s (dB)", fontsize=9)
    axes[-1, 0].set_xlabel("ms")
    axes[-1, 1].set_xlabel("Hz")
    figure.tight_layout()
    save_figure(figure, out)
    plt.close(figure)

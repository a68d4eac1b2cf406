"""`neural-strings bench widths RECIPE`: accuracy against cost over GradNet hidden widths.

For each width the recipe is trained again with only `model.hidden` changed (runs named
NAME-hH, resumable like any run), exported, evaluated free-running on the first strings of a
test set, and benchmarked in the engine (real-time voices at 48 kHz, 128-frame blocks, 70% of
the block). Prints a markdown table and writes it, with the figures as JSON, to OUT.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.evaluate import evaluate
from models.export import export_preset
from models.recipe import Recipe
from models.train import read_checkpoint, train
from synth.files import write_text


def run(recipe_path: str, widths: list[int], test_set: str, strings: int, out: str,
        runs: str = "runs", root: str = "datasets") -> list[dict]:
    from synth.bench.engine import PERIOD, block_time, max_voices
    from synth.engine import Engine
    from synth.presets import load_preset

    base = Recipe.load(recipe_path)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for hidden in widths:  # train, export and evaluate every width first
        recipe = Recipe(**{**base.with_options(hidden=hidden).__dict__,
                           "name": f"{base.name}-h{hidden}"})
        directory = train(recipe, runs=runs)
        preset_path = export_preset(directory, out_dir / f"{recipe.name}.safetensors")
        report = evaluate(str(preset_path), test_set, limit=strings, root=root)
        state = read_checkpoint(directory / "checkpoint.pt")
        summary = report["summary"]["model"]
        rows.append({"hidden": hidden, "q": summary["q"]["mean"], "w": summary["w"]["mean"],
                     "q_0.1s": summary["q_0.1s"]["mean"], "w_0.1s": summary["w_0.1s"]["mean"],
                     "train_seconds": state["seconds"], "strings": report["strings"],
                     "fs": report["fs"], "preset": str(preset_path)})
    for row in rows:  # then time the engine, with training and evaluation out of the way
        preset = load_preset(row["preset"])
        Engine(preset, fs=48000, polyphony=2, max_block=128).warm_up()
        voices, load = max_voices(lambda n, p=preset: block_time(p, n, 100), limit=128)
        row.update(voices=voices, load=load,
                   ns_per_voice_sample=1e9 * load * PERIOD / max(voices, 1) / 128)
    table = markdown(base, rows, test_set)
    print(table, flush=True)
    write_text(out_dir / "widths.md", table)
    write_text(out_dir / "widths.json", json.dumps(rows, indent=1))
    return rows


def markdown(base: Recipe, rows: list[dict], test_set: str) -> str:
    activation = base.option("activation")
    lines = [f"GradNet width against cost: recipe `{base.name}` ({activation} activation) "
             f"with only the width changed; relMSE mean over the first {rows[0]['strings']} "
             f"strings of `{test_set}` at {rows[0]['fs']:g} Hz; voices at 48 kHz, 128-frame "
             "blocks, 70% of one core", "",
             "| hidden | relMSE q | relMSE w | q, 0.1 s | w, 0.1 s | voices | ns/voice-sample "
             "| training |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['hidden']} | {r['q']:.3g} | {r['w']:.3g} | {r['q_0.1s']:.3g} | "
                     f"{r['w_0.1s']:.3g} | {r['voices']} | {r['ns_per_voice_sample']:.0f} | "
                     f"{r['train_seconds'] / 60:.1f} min |")
    return "\n".join(lines) + "\n"

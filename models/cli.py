"""The training side's commands, plugged into `neural-strings` (entry point
"neural_strings.plugins"): train, evaluate, export, compare, `bench widths`, and the naive
torch loops that `bench physics` and `bench engine` compare against. Importing this module
does not import torch; each command that needs it says so clearly when it is missing.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from synth.errors import ParameterError


def torch_baselines():
    """`models.bench` (per-sample torch loops), or None without torch."""
    try:
        import models.bench
    except ImportError:
        return None
    return models.bench


def fit_stages(refine: bool, learn: bool, nonlinearity_steps: int | None = None) -> list:
    """The stages that follow a fit, as asked (`synth.fit.Stage`s: `neural-strings fit
    --refine / --learn-nonlinearity`, `bench fit`'s, the window's two boxes): the body
    refined by gradient (`models.refine`), then the string's nonlinearity learned
    (`models.nonlinearity`, `nonlinearity_steps` steps or its default); ParameterError,
    naming the option, without torch."""
    from synth.fit import Stage

    stages = []
    if refine:
        _need_torch("--refine")
        from models.refine import refine_body

        stages.append(Stage("--refine", "refine its body by gradient", refine_body))
    if learn:
        _need_torch("--learn-nonlinearity")
        from models import nonlinearity

        step = nonlinearity.learn_nonlinearity if nonlinearity_steps is None else \
            functools.partial(nonlinearity.learn_nonlinearity, iterations=nonlinearity_steps)
        stages.append(Stage("--learn-nonlinearity", "learn its string's nonlinearity", step,
                            nonlinearity.check_learnable))
    return stages


def bench_widths(args: argparse.Namespace) -> None:
    _need_torch("bench widths")
    from models import widths

    if not args.recipe:
        raise ParameterError("bench widths needs --recipe RECIPE.toml")
    widths.run(args.recipe, args.widths or [32, 64, 128, 256], args.test_set, args.strings,
               args.out)


def _need_torch(command: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ParameterError(f"`{command}` needs torch: pip install 'neural-strings[train]' "
                             "(torch==2.13.0 is the CPU build)") from None


def _train(args: argparse.Namespace) -> None:
    _need_torch("train")
    from models.family import find_family
    from models.recipe import Recipe
    from models.train import train

    recipe = Recipe.load(args.recipe)
    directory = train(recipe, runs=args.runs, progress=not args.quiet, threads=args.threads)
    if int(os.environ.get("RANK", "0")) == 0:
        after = (f"export with `neural-strings export {directory} OUT.safetensors`"
                 if find_family(recipe.family).playable else
                 "an offline baseline: `neural-strings compare` measures it (no preset to "
                 "export)")
        print(f"trained {recipe.name}: {directory} (checkpoint.pt, log.csv, curves.png); "
              f"{after}")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Gloo's worker threads can still hold tensors when the interpreter finalises, and
        # torch then aborts a run that finished and saved (SIGABRT, "terminate called without
        # an active exception"; pytorch/pytorch#179291): leave without finalising.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _evaluate(args: argparse.Namespace) -> None:
    if not args.no_figures:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ParameterError("`evaluate` draws its figures with matplotlib: pip install "
                                 "'neural-strings[train]', or pass --no-figures") from None
    from models.evaluate import evaluate, markdown, write_report

    report = evaluate(args.preset, args.test_set, fs=args.fs, limit=args.strings,
                      jobs=args.jobs, root=args.root, progress=not args.quiet)
    out = args.out or Path("evaluations") / (f"{report['preset']}-{report['test_set']}-"
                                             f"{report['fs']:g}Hz")
    write_report(report, out, args.preset, args.test_set, figures=not args.no_figures,
                 root=args.root)
    print(markdown(report))
    print(f"wrote {out}/metrics.json, metrics.md" + ("" if args.no_figures else
                                                    ", waveforms.png, spectrograms.png, "
                                                    "mode_error.png"))


def _export(args: argparse.Namespace) -> None:
    _need_torch("export")
    from models.evaluate import evaluate, markdown
    from models.export import export_preset
    from synth.presets import body_of

    body = body_of(args.body) if args.body else None
    out = export_preset(args.run, args.out, which=args.weights, name=args.name, body=body)
    metrics = {}
    for test_set in args.test or []:
        for fs in [None, *(args.rates or [])]:
            report = evaluate(str(out), test_set, fs=fs, limit=args.strings,
                              root=args.root, progress=not args.quiet)
            print(markdown(report))
            key = f"{report['test_set']}@{report['fs']:g}Hz"
            metrics[key] = {"strings": report["strings"], "duration": report["duration"],
                            **report["summary"]}
    if metrics:
        out = export_preset(args.run, args.out, which=args.weights, name=args.name,
                            metrics=metrics, body=body)
    print(f"wrote {out}")


def _compare(args: argparse.Namespace) -> None:
    _need_torch("compare")
    from models.compare import CompareConfig, compare, markdown

    report = compare(CompareConfig.load(args.config), args.out, runs=args.runs,
                     progress=not args.quiet)
    print(markdown(report))
    print(f"wrote {args.out}/compare.md, compare.json, compare.png")


def add_commands(commands) -> None:
    """Add train, evaluate and export to the `neural-strings` subcommands."""
    train = commands.add_parser(
        "train", help="train a model from a recipe (needs torch)",
        description="Train the recipe's model: a GradNet potential through the SAV scheme "
                    "(force matching, then teacher-forced segments), a Koopman or SSM string "
                    "(windows from the onset) or an offline baseline (Verlet neural ODE, "
                    "FNO). Writes RUNS/NAME/checkpoint.pt, log.csv and curves.png; run it "
                    "again to resume. Runs unchanged under `torchrun --nproc_per_node=N` "
                    "(DistributedDataParallel).")
    train.add_argument("recipe", metavar="RECIPE.toml")
    train.add_argument("--runs", default="runs", help="parent directory of runs (runs)")
    train.add_argument("--threads", type=int, help="torch threads per process")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate", help="relMSE of a preset on a test set, against the linear model",
        description="Free-run every test string with the preset and with the linear model, "
                    "and compare q and w with the reference over the whole string and its "
                    "first 0.1 s. TESTSET is a dataset directory or config (paper-test). "
                    "Writes metrics.json, metrics.md and figures.")
    evaluate.add_argument("preset", metavar="PRESET")
    evaluate.add_argument("test_set", metavar="TESTSET")
    evaluate.add_argument("--fs", type=float, help="evaluate at this rate instead of the "
                                                   "test set's (the reference is re-simulated)")
    evaluate.add_argument("--strings", type=int, help="only the first N strings")
    evaluate.add_argument("--jobs", type=int, help="worker processes (default: cores)")
    evaluate.add_argument("--root", default="datasets", help="dataset root (datasets)")
    evaluate.add_argument("--out", help="output directory (default: evaluations/...)")
    evaluate.add_argument("--no-figures", action="store_true", help="skip the figures")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(handler=_evaluate)

    export = commands.add_parser(
        "export", help="turn a training run into a playable preset (needs torch)",
        description="Write the run's GradNet, Koopman or SSM model as a playable preset "
                    "with its provenance; with "
                    "--test, measure the test metrics (also at --rates) and store them in it.")
    export.add_argument("run", metavar="RUN", help="run directory or checkpoint.pt")
    export.add_argument("out", metavar="OUT.safetensors")
    export.add_argument("--weights", default="best", choices=["best", "final"],
                        help="the best validation model (default) or the last one")
    export.add_argument("--name", help="preset name (default: OUT's stem)")
    export.add_argument("--body", metavar="PRESET",
                        help="play the string on this preset's body (e.g. steel-guitar)")
    export.add_argument("--test", action="append", metavar="TESTSET",
                        help="evaluate on this test set and store the metrics (repeatable)")
    export.add_argument("--rates", type=float, action="append", metavar="HZ",
                        help="also evaluate at this rate (repeatable)")
    export.add_argument("--strings", type=int, help="only the first N test strings")
    export.add_argument("--root", default="datasets", help="dataset root (datasets)")
    export.add_argument("--quiet", action="store_true", help="no progress bars")
    export.set_defaults(handler=_export)

    compare = commands.add_parser(
        "compare", help="every model family on the same held-out strings (needs torch)",
        description="Evaluate the playable presets, the linear model and the offline "
                    "baselines (trained first if their runs are missing) named in CONFIG on "
                    "one test set, and run the PINN's inverse problem. Writes OUT/compare.md, "
                    "compare.json and compare.png.")
    compare.add_argument("config", metavar="CONFIG", nargs="?",
                         default=str(Path(__file__).resolve().parent.parent / "presets"
                                     / "recipes" / "compare.toml"),
                         help="comparison config (default: presets/recipes/compare.toml)")
    compare.add_argument("--out", default="compare", help="output directory (compare)")
    compare.add_argument("--runs", default="runs", help="parent directory of runs (runs)")
    compare.add_argument("--quiet", action="store_true", help="no progress bars")
    compare.set_defaults(handler=_compare)

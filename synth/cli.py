"""`neural-strings`: the command line, the package's front door.

Each subcommand imports what it needs inside its handler, so a command that only plays or
simulates never imports torch (DESIGN.md section 2). User errors print one clear line and
exit with status 2; warnings (such as dropped modes) print as `warning: ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from synth.errors import DatasetError, ParameterError

USER_ERRORS = (ParameterError, DatasetError, FileNotFoundError, IsADirectoryError,
               PermissionError)


def _simulate(args: argparse.Namespace) -> None:
    from synth.physics.simulate import SimulationSpec, simulate

    text = sys.stdin.read() if args.params == "-" else Path(args.params).read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(f"{args.params}: not valid JSON: {error}") from None
    spec = SimulationSpec.from_dict(data)
    sim = simulate(spec)
    sim.save(args.out)
    print(f"wrote {args.out}: {sim.n_active} of {spec.n_modes} modes, {spec.n_steps} samples "
          f"at {spec.fs:g} Hz")
    if args.wav:
        from synth.audiofile import write_normalised_wav

        write_normalised_wav(args.wav, sim.w, spec.fs)
        print(f"wrote {args.wav}")


def _dataset(args: argparse.Namespace) -> None:
    from synth.dataset import DatasetConfig, generate

    config = DatasetConfig.load(args.config)
    directory = generate(config, root=args.root, jobs=args.jobs, overwrite=args.overwrite,
                         progress=not args.quiet)
    print(f"dataset {config.name}: {config.count} strings in {directory}")


def _bench(args: argparse.Namespace) -> None:
    from synth import bench

    try:
        from models.bench import time_torch_loop
    except ImportError:  # torch is optional for players; the torch column is then skipped
        time_torch_loop = None
    bench.run(args.what, repeats=args.repeats, quick=args.quick, torch_scheme=time_torch_loop)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neural-strings",
        description="Simulate, train and play learned physical models of nonlinear strings.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = commands.add_parser(
        "simulate", help="simulate one string offline and write its states to .npz",
        description="Simulate one string with the SAV scheme. PARAMS is a JSON object with "
                    "keys gamma, kappa, nu, sigma0, sigma1, x_e, x_o, amplitude, t_e (s), "
                    "excitation ('pluck'|'strike'), fs (Hz), duration (s), n_modes, "
                    "nonlinearity ('exact'|'kc'|'linear') and optionally warp (bool). OUT gets "
                    "q, p (M x N), psi and w (N) in float64; sample n is the state after n + 1 "
                    "steps from rest.")
    sim.add_argument("params", metavar="PARAMS.json", help="parameter file, or - for stdin")
    sim.add_argument("out", metavar="OUT.npz")
    sim.add_argument("--wav", metavar="OUT.wav", help="also write the output w, normalised")
    sim.set_defaults(handler=_simulate)

    data = commands.add_parser(
        "dataset", help="generate a seeded dataset of simulated strings",
        description="Generate the strings of a dataset config in parallel. CONFIG is a TOML "
                    "file or a shipped config name (paper-train, paper-test). Interrupted runs "
                    "resume; a different config under the same name is refused.")
    data.add_argument("config", metavar="CONFIG")
    data.add_argument("--root", default="datasets", help="parent directory (default: datasets)")
    data.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    data.add_argument("--overwrite", action="store_true",
                      help="replace a different dataset of the same name")
    data.add_argument("--quiet", action="store_true", help="no progress bar")
    data.set_defaults(handler=_dataset)

    bench = commands.add_parser(
        "bench", help="benchmark against the naive way, in one run",
        description="Print medians and ratios against naive implementations measured in the "
                    "same run.")
    bench.add_argument("what", choices=["physics"])
    bench.add_argument("--repeats", type=int, default=7, help="timed repeats (default: 7)")
    bench.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    bench.set_defaults(handler=_bench)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    previous, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        args.handler(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous
    return 0


if __name__ == "__main__":
    sys.exit(main())

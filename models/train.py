"""`neural-strings train RECIPE`: fit a model family (recipe [model] family) to a dataset.

- "gradnet" (a GradNet potential through the SAV scheme) and "verlet-node" (the MLP force of
  the Stormer-Verlet neural ODE baseline) train in two phases, one global step counter:
  1. force matching (recipe [pretrain]): regress nu^2 grad V(q_half) on the nonlinear force
     each recorded step implies (`models.segments.implied_force`), relative squared error;
  2. teacher forcing (recipe [train]): run the scheme for segment_ms from recorded states and
     compare q and p with the recording, loss relMSE(q) + relMSE(p) pooled over the batch.
- "fno" (the Fourier neural operator baseline, `models.baselines.fno`) trains like them,
  with single operator steps (CHUNK samples) in place of force matching.
- "koopman" and "ssm" (one string, many excitations) train on windows from the onset
  (`models.windows`): first windows of the first 0.1 s ([pretrain]), then of segment_ms
  ([train]), with the family's own loss (`models.koopman`, `models.ssm`).

A run lives in RUNS/NAME: checkpoint.pt (model, optimiser, step, best validation model),
log.csv and curves.png. Started again, it resumes from the checkpoint (the recipe must be the
same); Ctrl-C (or SIGTERM) stops after the current step and saves a checkpoint. Batches are
drawn from (seed, rank, step), so a resumed run continues exactly as if never stopped. Under
`torchrun --nproc_per_node=N` the same command trains with DistributedDataParallel (gloo on
CPU, NCCL on GPU): each process draws its share of the batch and rank 0 writes the files.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from models.baselines.fno import CHUNK, FNOScheme, FourierOperator
from models.gradnet import GradNetPotential
from models.koopman import KoopmanString
from models.recipe import SEQUENCE_FAMILIES, Recipe
from models.sav import SAVScheme
from models.segments import Segments, SegmentSampler, implied_force
from models.ssm import DiagonalSSM
from models.verlet import MLPForce, VerletScheme
from models.windows import WindowSampler
from synth.dataset import DatasetConfig, generate
from synth.errors import ParameterError
from synth.physics.strings import StringParams

CHECKPOINT, LOG, CURVES = "checkpoint.pt", "log.csv", "curves.png"
LOG_FIELDS = ("step", "phase", "epoch", "loss", "validation", "lr", "seconds")
LOG_EVERY = 10  # steps between log rows
CHECKPOINT_SECONDS = 120.0  # also checkpoint at least this often


SCHEMES = {"gradnet": SAVScheme, "verlet-node": VerletScheme, "fno": FNOScheme}  # segments
FIRST_WINDOW_MS = 100.0  # koopman, ssm: the [pretrain] windows (the accuracy metric's span)


def make_network(recipe: Recipe, dtype) -> nn.Module:
    """The recipe's trainable network: a GradNet potential (played by the SAV scheme), the
    Verlet neural ODE's MLP force (an offline baseline), or a Koopman or SSM string."""
    generator = torch.Generator().manual_seed(recipe.seed)
    if recipe.family == "verlet-node":
        return MLPForce(recipe.n_modes, recipe.hidden, dtype=dtype, generator=generator)
    torch.manual_seed(recipe.seed)  # the families below draw their initial weights globally
    if recipe.family == "fno":
        return FourierOperator(recipe.n_modes, width=recipe.hidden, dtype=dtype)
    if recipe.family in SEQUENCE_FAMILIES:
        string, fs, amplitude, width = one_string(DatasetConfig.load(recipe.dataset))
        shared = dict(string=string, n_modes=recipe.n_modes, fs=fs, copies=recipe.copies,
                      hidden=recipe.hidden, amplitude_scale=amplitude, width_scale=width,
                      dtype=dtype)
        if recipe.family == "koopman":
            return KoopmanString(**shared)
        return DiagonalSSM(**shared, rank=recipe.rank)
    return GradNetPotential(recipe.n_modes, recipe.hidden, dtype=dtype, generator=generator,
                            activation=recipe.activation)


def one_string(config: DatasetConfig) -> tuple[StringParams, float, float, float]:
    """(string, fs, amplitude scale, width scale in s) of a dataset of one string and many
    excitations, which the Koopman and SSM families need (their eigenvalues are one
    string's); the scales are the largest amplitude and width it holds."""
    ranges = config.ranges
    keys = ("gamma", "kappa", "nu", "sigma0", "sigma1")
    varying = [key for key in keys if np.ptp(ranges[key]) > 0]
    if varying:
        raise ParameterError(f"dataset {config.name!r} varies {', '.join(varying)}: the koopman "
                             "and ssm families learn one string (give each a single value)")
    largest = lambda key: float(np.max(ranges[key]))  # noqa: E731
    string = StringParams(**{key: largest(key) for key in keys})
    return string, float(config.settings["fs"]), largest("amplitude"), largest("t_e")


class TrainingLoss(nn.Module):
    """The loss of either phase for a batch of segments; holds the network (the only
    parameters), so DistributedDataParallel can wrap it whole. The network gives the
    nonlinear force per unit nu^2 (`force`); `scheme` (SAVScheme or VerletScheme) runs it.
    Without a scheme the network is a sequence family with its own `loss` of a batch."""

    def __init__(self, network: nn.Module, scheme=SAVScheme) -> None:
        super().__init__()
        self.network = network
        self.scheme = scheme

    def forward(self, segments: Segments, force_matching: bool) -> torch.Tensor:
        if self.scheme is None:  # koopman, ssm: `segments` are windows from the onset
            return self.network.loss(segments)
        if force_matching and self.scheme is not FNOScheme:
            q_half, implied = implied_force(segments)
            predicted = segments.strings.nu2[:, None] * self.network.force(q_half)
            # per unit wavenumber: the high modes' large forces barely move q
            scale = self.network.column_scale
            return relative_error(predicted / scale, implied / scale)
        scheme = self.scheme.for_strings(self.network, segments.strings)
        q, p = scheme.run(segments.q0, segments.p0, segments.forces)
        return relative_error(q, segments.q) + relative_error(p, segments.p)


def make_optimiser(name: str, parameters, lr: float) -> torch.optim.Optimizer:
    """The recipe's optimiser: "adam", "adamw" (weight decay 1e-4) or "sgd" (momentum 0.9)."""
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=1e-4)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9)
    return torch.optim.Adam(parameters, lr=lr)


def relative_error(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """sum (estimate - target)^2 / sum target^2 over every element."""
    return ((estimate - target) ** 2).sum() / (target ** 2).sum().clamp_min(1e-30)


@dataclass
class Run:
    """Where a run writes and how far it got."""

    directory: Path
    step: int = 0
    seconds: float = 0.0  # training time so far, over every resumption
    best_validation: float = math.inf
    best_state: dict | None = None


def train(recipe: Recipe, runs: str | os.PathLike = "runs", progress: bool = True,
          threads: int | None = None) -> Path:
    """Train (or resume) `recipe`; returns the run directory."""
    rank, world = _start_distributed()
    if threads:
        torch.set_num_threads(threads)
    dtype = torch.float64 if recipe.dtype == "float64" else torch.float32
    directory = Path(runs) / recipe.name
    data_directory = _dataset(recipe, rank)
    singles, segments = _samplers(recipe, data_directory, dtype)
    if segments.strings.n_modes != recipe.n_modes:
        raise ParameterError(f"recipe n_modes = {recipe.n_modes} but dataset "
                             f"{recipe.dataset!r} has {segments.strings.n_modes} modes")

    network = make_network(recipe, dtype)
    loss_module = TrainingLoss(network, SCHEMES.get(recipe.family))
    model = DistributedDataParallel(loss_module) if world > 1 else loss_module
    optimiser = make_optimiser(recipe.train.optimiser, network.parameters(),
                               recipe.pretrain.lr)
    pre, seg = recipe.pretrain, recipe.train
    run = _resume(recipe, directory, network, optimiser, rank)
    if run.step == 0 and recipe.family in SCHEMES:  # the scales that fit the data best
        first = singles.sample(pre.batch if pre.steps else seg.batch,
                               np.random.default_rng([recipe.seed, 98]))
        if recipe.family == "fno":
            network.calibrate(first.q, first.p, first.strings)
        else:
            q_half, implied = implied_force(first)
            network.calibrate(q_half, implied / first.strings.nu2[:, None])

    validation = segments.sample(seg.validation, np.random.default_rng([recipe.seed, 99]))
    total = pre.steps + seg.epochs * seg.steps_per_epoch
    bar = _progress_bar(total, run.step, recipe.name, progress and rank == 0)
    last_checkpoint = time.monotonic()
    started = time.monotonic() - run.seconds
    stop = StopRequest()
    try:
        while run.step < total:
            step = run.step
            matching = step < pre.steps
            lr = (_cosine(step, pre.steps, pre.lr, seg.lr) if matching else
                  _cosine(step - pre.steps, total - pre.steps, seg.lr, seg.lr_final))
            for group in optimiser.param_groups:
                group["lr"] = lr
            draw = np.random.default_rng([recipe.seed, rank, step])
            batch = (singles if matching else segments).sample(
                max(1, (pre.batch if matching else seg.batch) // world), draw)
            optimiser.zero_grad(set_to_none=True)
            loss = model(batch, matching)
            loss.backward()
            if not matching and seg.clip > 0:
                nn.utils.clip_grad_norm_(network.parameters(), seg.clip)
            optimiser.step()
            run.step += 1
            run.seconds = time.monotonic() - started
            epoch_end = not matching and (run.step - pre.steps) % seg.steps_per_epoch == 0
            value = None
            if epoch_end or run.step == total:
                value = _validate(loss_module, validation)
                if value < run.best_validation:
                    run.best_validation = value
                    run.best_state = {k: v.detach().clone()
                                      for k, v in network.state_dict().items()}
            if rank == 0 and (run.step % LOG_EVERY == 0 or value is not None):
                _log(directory, run, "force" if matching else "segments",
                     0 if matching else (run.step - pre.steps - 1) // seg.steps_per_epoch + 1,
                     loss.item(), value, lr)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3g}", refresh=False)
            if epoch_end or run.step == total or \
                    time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS:
                _save(recipe, run, network, optimiser, rank)
                last_checkpoint = time.monotonic()
            if stop.agreed(world):  # between steps, so the checkpoint is consistent
                _save(recipe, run, network, optimiser, rank)
                if rank == 0:
                    print(f"\ninterrupted at step {run.step} of {total}; checkpoint saved, "
                          f"run the same command to resume", flush=True)
                raise KeyboardInterrupt
    finally:
        stop.restore()
        if bar is not None:
            bar.close()
        if world > 1:
            if run.step >= total:  # finished together: tear down together (none mid-save)
                dist.barrier()
            dist.destroy_process_group()
    return directory


class StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM asks training to stop after the current step; every
    process of a distributed run stops at the same step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._request)

    def _request(self, number, frame) -> None:
        self.requested = True

    def agreed(self, world: int) -> bool:
        if world <= 1:
            return self.requested
        flag = torch.tensor([1.0 if self.requested else 0.0])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _validate(loss_module: TrainingLoss, validation: Segments) -> float:
    with torch.no_grad():
        return float(loss_module(validation, force_matching=False))


def _samplers(recipe: Recipe, directory: Path, dtype) -> tuple:
    """The samplers of the [pretrain] and [train] phases."""
    fs = DatasetConfig.load(recipe.dataset).settings["fs"]
    steps = lambda ms: max(1, round(ms * 1e-3 * fs))  # noqa: E731
    if recipe.family in SEQUENCE_FAMILIES:
        first = WindowSampler(directory, steps(FIRST_WINDOW_MS), dtype)
        return first, first.with_window(steps(recipe.train.segment_ms))
    first = CHUNK if recipe.family == "fno" else 1  # one operator step, or one SAV step
    return (SegmentSampler(directory, first, dtype),
            SegmentSampler(directory, steps(recipe.train.segment_ms), dtype))


def _cosine(step: int, steps: int, start: float, end: float) -> float:
    fraction = min(step / max(steps, 1), 1.0)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * fraction))


def _start_distributed() -> tuple[int, int]:
    """(rank, world size): under torchrun, join its process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def _dataset(recipe: Recipe, rank: int) -> Path:
    """The recipe's dataset directory, generated first (by rank 0) when missing."""
    config = DatasetConfig.load(recipe.dataset)
    if rank == 0:
        generate(config, root=recipe.dataset_root, progress=True)
    if dist.is_initialized():
        dist.barrier()
    return Path(recipe.dataset_root) / config.name


def _resume(recipe: Recipe, directory: Path, network: nn.Module, optimiser, rank: int) -> Run:
    path = directory / CHECKPOINT
    if not path.exists():
        if rank == 0:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / LOG).write_text(",".join(LOG_FIELDS) + "\n")
        return Run(directory)
    state = read_checkpoint(path)
    if Recipe.from_stored(state["recipe"]).digest() != recipe.digest():
        raise ParameterError(f"{directory} holds a run of a different recipe; give this one "
                             f"another name or remove {directory}")
    network.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    run = Run(directory, state["step"], state["seconds"], state["best_validation"],
              state["best_model"])
    if rank == 0:
        _truncate_log(directory / LOG, run.step)
        print(f"resuming {recipe.name} at step {run.step}", flush=True)
    return run


def load_run(run: str | os.PathLike, which: str = "best") -> tuple[dict, nn.Module]:
    """(checkpoint state, network in float64) of a run directory or checkpoint file, of any
    family; which: "best" (the best validation model) or "final"."""
    path = Path(run)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise ParameterError(f"no checkpoint at {path}; train first")
    state = read_checkpoint(path)
    weights = state["best_model"] if which == "best" and state["best_model"] else state["model"]
    network = make_network(Recipe.from_stored(state["recipe"]), torch.float64)
    network.load_state_dict({k: v.to(torch.float64) for k, v in weights.items()})
    return state, network


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded without unpickling code (weights_only)."""
    with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
        return torch.load(path, map_location="cpu", weights_only=True)


def _save(recipe: Recipe, run: Run, network: nn.Module, optimiser, rank: int) -> None:
    if rank != 0:
        return
    state = {"digest": recipe.digest(), "recipe": recipe.as_dict(), "step": run.step,
             "seconds": run.seconds, "best_validation": run.best_validation,
             "best_model": run.best_state, "model": network.state_dict(),
             "optimiser": optimiser.state_dict(), "torch": str(torch.__version__)}
    temporary = run.directory / (CHECKPOINT + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, run.directory / CHECKPOINT)
    plot_curves(run.directory / LOG, run.directory / CURVES)


def _log(directory: Path, run: Run, phase: str, epoch: int, loss: float,
         validation: float | None, lr: float) -> None:
    with open(directory / LOG, "a", newline="") as file:
        csv.writer(file).writerow([run.step, phase, epoch, f"{loss:.6e}",
                                   "" if validation is None else f"{validation:.6e}",
                                   f"{lr:.3e}", f"{run.seconds:.1f}"])


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows past `step` (written after the checkpoint we resume from)."""
    if not path.exists():
        path.write_text(",".join(LOG_FIELDS) + "\n")
        return
    rows = list(csv.reader(path.read_text().splitlines()))
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(kept)


def plot_curves(log: Path, out: Path) -> None:
    """Loss and validation curves of a run's log.csv, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(log.read_text().splitlines()))
    if not rows:
        return
    figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
    for phase, label in (("force", "force matching (rel. force error)"),
                         ("segments", "segments (relMSE q + p)")):
        points = [(int(r["step"]), float(r["loss"])) for r in rows if r["phase"] == phase]
        if points:
            axis.semilogy(*zip(*points, strict=True), label=label, lw=0.8)
    checks = [(int(r["step"]), float(r["validation"])) for r in rows if r["validation"]]
    if checks:
        axis.semilogy(*zip(*checks, strict=True), "o-", label="validation segments", ms=3)
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)


def _progress_bar(total: int, done: int, name: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=f"train {name}", unit="step",
                dynamic_ncols=True, mininterval=1.0)

"""`neural-strings train RECIPE`: fit the recipe's family ([model] family, `models.family`)
to its dataset.

Every family trains through the one loop here, in two phases with one global step counter:
phase 1 ([pretrain]) then phase 2 ([train]), each with its family's scheme (`models.schemes`:
teacher-forced segments through a step scheme, or windows from the onset) choosing the
samples and the loss.

A run lives in RUNS/NAME: checkpoint.pt (model, optimiser, step, best validation model),
log.csv and curves.png. Started again, it resumes from the checkpoint (the recipe must be the
same); Ctrl-C (or SIGTERM) stops after the current step and saves a checkpoint. Batches are
drawn from (seed, rank, step), so a resumed run continues exactly as if never stopped. Under
`torchrun --nproc_per_node=N` the same command trains with DistributedDataParallel over gloo
(training runs on the CPU, also on a machine with a GPU): each process draws its share of the
batch and rank 0 writes the files.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from models.family import find_family
from models.recipe import Recipe
from synth.dataset import generate
from synth.errors import ParameterError
from synth.files import replace_atomically, save_figure, write_text

CHECKPOINT, LOG, CURVES = "checkpoint.pt", "log.csv", "curves.png"
LOG_FIELDS = ("step", "phase", "epoch", "loss", "validation", "lr", "seconds")
LOG_EVERY = 10  # steps between log rows
CHECKPOINT_SECONDS = 120.0  # also checkpoint at least this often


def make_network(recipe: Recipe, dtype) -> nn.Module:
    """The recipe's trainable network, made by its family with the recipe's seed."""
    torch.manual_seed(recipe.seed)
    return find_family(recipe.family).network(recipe, dtype)


class TrainingLoss(nn.Module):
    """The loss of either phase for a batch; holds the network (the only parameters), so
    DistributedDataParallel can wrap it whole. `scheme` (`models.schemes`) computes it."""

    def __init__(self, network: nn.Module, scheme) -> None:
        super().__init__()
        self.network = network
        self.scheme = scheme

    def forward(self, batch, first_phase: bool) -> torch.Tensor:
        return self.scheme.loss(self.network, batch, first_phase)


def make_optimiser(name: str, parameters, lr: float) -> torch.optim.Optimizer:
    """The recipe's optimiser: "adam", "adamw" (weight decay 1e-4) or "sgd" (momentum 0.9)."""
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=1e-4)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9)
    return torch.optim.Adam(parameters, lr=lr)


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
    scheme = find_family(recipe.family).scheme
    data_directory = _dataset(recipe, rank)
    singles, segments = scheme.samplers(recipe, data_directory, dtype)
    if segments.strings.n_modes != recipe.n_modes:
        raise ParameterError(f"recipe n_modes = {recipe.n_modes} but dataset "
                             f"{recipe.dataset!r} has {segments.strings.n_modes} modes")

    network = make_network(recipe, dtype)
    loss_module = TrainingLoss(network, scheme)
    model = DistributedDataParallel(loss_module) if world > 1 else loss_module
    optimiser = make_optimiser(recipe.train.optimiser, network.parameters(),
                               recipe.pretrain.lr)
    pre, seg = recipe.pretrain, recipe.train
    run = _resume(recipe, directory, network, optimiser, rank)
    if run.step == 0:  # the scales that fit the data best
        scheme.calibrate(network, singles.sample(pre.batch if pre.steps else seg.batch,
                                                 np.random.default_rng([recipe.seed, 98])))

    validation = segments.sample(seg.validation, np.random.default_rng([recipe.seed, 99]))
    total = pre.steps + seg.epochs * seg.steps_per_epoch
    bar = _progress_bar(total, run.step, recipe.name, progress and rank == 0)
    last_checkpoint = time.monotonic()
    started = time.monotonic() - run.seconds
    stop = StopRequest()
    try:
        while run.step < total:
            step = run.step
            first_phase = step < pre.steps
            lr = (_cosine(step, pre.steps, pre.lr, seg.lr) if first_phase else
                  _cosine(step - pre.steps, total - pre.steps, seg.lr, seg.lr_final))
            for group in optimiser.param_groups:
                group["lr"] = lr
            draw = np.random.default_rng([recipe.seed, rank, step])
            batch = (singles if first_phase else segments).sample(
                max(1, (pre.batch if first_phase else seg.batch) // world), draw)
            optimiser.zero_grad(set_to_none=True)
            loss = model(batch, first_phase)
            loss.backward()
            if not first_phase and seg.clip > 0:
                nn.utils.clip_grad_norm_(network.parameters(), seg.clip)
            optimiser.step()
            run.step += 1
            run.seconds = time.monotonic() - started
            epoch_end = not first_phase and (run.step - pre.steps) % seg.steps_per_epoch == 0
            value = None
            if epoch_end or run.step == total:
                value = _validate(loss_module, validation)
                if value < run.best_validation:
                    run.best_validation = value
                    run.best_state = {k: v.detach().clone()
                                      for k, v in network.state_dict().items()}
            if rank == 0 and (run.step % LOG_EVERY == 0 or value is not None):
                _log(directory, run, "force" if first_phase else "segments",
                     0 if first_phase else (run.step - pre.steps - 1) // seg.steps_per_epoch + 1,
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


def _validate(loss_module: TrainingLoss, validation) -> float:
    with torch.no_grad():
        return float(loss_module(validation, first_phase=False))


def _cosine(step: int, steps: int, start: float, end: float) -> float:
    fraction = min(step / max(steps, 1), 1.0)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * fraction))


def _start_distributed() -> tuple[int, int]:
    """(rank, world size): under torchrun, join its process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("gloo")  # the tensors live on the CPU; NCCL would refuse them
    return dist.get_rank(), world


def _dataset(recipe: Recipe, rank: int) -> Path:
    """The recipe's dataset directory, generated first (by rank 0) when missing."""
    config = recipe.dataset_config()
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
            write_text(directory / LOG, ",".join(LOG_FIELDS) + "\n")
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
    network = make_network(stored_recipe(state), torch.float64)
    network.load_state_dict({k: v.to(torch.float64) for k, v in weights.items()})
    return state, network


def stored_recipe(state: dict) -> Recipe:
    """The recipe a checkpoint was trained with (with the file it was read from)."""
    return Recipe.from_stored(state["recipe"], state.get("recipe_source", ""))


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded without unpickling code (weights_only); a file that
    is not one of our checkpoints is a ParameterError naming it."""
    try:
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's guesses about a foreign file
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as error:  # torch's unpickler meets anything in a foreign file
        raise ParameterError(f"{path}: not a neural-strings training checkpoint (torch "
                             f"cannot read it safely: {type(error).__name__})") from None
    if not isinstance(state, dict) or "recipe" not in state or "model" not in state:
        raise ParameterError(f"{path}: not a neural-strings training checkpoint (no recipe "
                             "or model in it)")
    return state


def _save(recipe: Recipe, run: Run, network: nn.Module, optimiser, rank: int) -> None:
    if rank != 0:
        return
    state = {"digest": recipe.digest(), "recipe": recipe.as_dict(),
             "recipe_source": recipe.source, "step": run.step,
             "seconds": run.seconds, "best_validation": run.best_validation,
             "best_model": run.best_state, "model": network.state_dict(),
             "optimiser": optimiser.state_dict(), "torch": str(torch.__version__)}
    with replace_atomically(run.directory / CHECKPOINT) as temporary:
        torch.save(state, temporary)
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
        write_text(path, ",".join(LOG_FIELDS) + "\n")
        return
    rows = list(csv.reader(path.read_text().splitlines()))
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    with replace_atomically(path) as temporary, open(temporary, "w", newline="") as file:
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
    for phase, label in (("force", "phase 1 ([pretrain])"), ("segments", "phase 2 ([train])")):
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
    save_figure(figure, out)
    plt.close(figure)


def _progress_bar(total: int, done: int, name: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=f"train {name}", unit="step",
                dynamic_ncols=True, mininterval=1.0)

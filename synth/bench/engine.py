"""`neural-strings bench engine`: how many voices one core plays in real time, against the
naive designs, measured in one run.

1. Voices: for each model, the most voices whose 128-frame block at 48 kHz renders (median)
   within 70% of the block period, through `process_block`, the code the callback runs.
2. The GradNet kernel's achieved FLOP rate as a share of the core's FMA peak.
3. The naive design for the same work: a Python callback looping over voices and calling
   the per-string kernel for each, and for the GradNet a per-sample torch loop.
4. The instruments' bodies: each shipped body's cost as a share of one core (one bank for all
   voices), against the naive design, a direct convolution with the body's impulse response
   (cut at -60 dB), and how many voices each instrument plays with its body and bare.
5. Underruns over a run of `seconds` on an audio device (a JACK dummy server with --jack)
   for the compiled callback, the Python callback and the naive one, while another Python
   thread keeps busy the way a GUI does.
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time
import warnings
from collections.abc import Callable

import numpy as np

from synth.engine.block import process_block
from synth.engine.engine import Engine
from synth.kernels.body import body_block, body_coefficients, impulse_responses
from synth.kernels.formulas import PLUCK
from synth.kernels.sav import EPS, LAMBDA0, sav_block
from synth.kinds import find_kind
from synth.kinds.sav_string import KINDS as SAV_KINDS
from synth.kinds.sav_string import potential_of
from synth.native import tsc_frequency
from synth.physics.losses import scheme_losses
from synth.physics.modes import mode_shapes
from synth.physics.simulate import linear_part
from synth.physics.strings import tuned
from synth.presets import Preset, find_preset, full_excitation, load_preset, shipped_presets

FS, BLOCK, BUDGET = 48000, 128, 0.7
MAX_NOTES = 128  # voices are distinct MIDI notes
PERIOD = BLOCK / FS
GOALS = {"exact": 24, "kc": 96, "gradnet": 16}
LEARNED_GOAL = 16  # shipped learned presets, at their own mode count


def bench_models() -> dict[str, Preset]:
    """The three models of the issue: exact and Kirchhoff-Carrier potentials at 40 modes
    (the nylon string), and a GradNet with 128 hidden units over 40 modes; then every
    shipped learned preset as it plays (all its modes)."""
    nylon = load_preset(find_preset("nylon-guitar"))
    kc = dataclasses.replace(nylon, name="nylon (Kirchhoff-Carrier)", model={"potential": "kc"},
                             string=nylon.physical.to_normalised("kc"))
    rng = np.random.default_rng(0)
    weights = {"gradnet.weight": rng.standard_normal((128, 40)) * 0.3,
               "gradnet.bias": rng.standard_normal(128) * 0.01,
               "gradnet.log_scale_in": rng.standard_normal(128) * 0.01,
               "gradnet.log_scale_out": rng.standard_normal(128) * 0.01}
    gradnet = dataclasses.replace(nylon, name="GradNet 128", kind="sav-gradnet",
                                  model={"potential": "gradnet"}, tensors=weights)
    learned = {path.stem: load_preset(path) for path in shipped_presets()}
    return {"exact": nylon, "kc": kc, "gradnet": gradnet,
            **{name: p for name, p in learned.items() if p.kind != "sav-physics"}}


def held_engine(preset: Preset, voices: int) -> Engine:
    """An engine with `voices` long-ringing notes held."""
    engine = Engine(preset, fs=FS, polyphony=voices, max_block=BLOCK)
    engine.set_param("decay", 20.0)
    for i in range(voices):
        engine.note_on(note_of(i), 100, time=0)
    engine.process(20 * BLOCK)
    return engine


def note_of(voice: int) -> int:
    """Distinct notes for up to 128 voices, from the middle of the keyboard outwards (a
    repeated note would re-pluck its voice rather than add one)."""
    return (28 + voice) % 128


def block_time(preset: Preset, voices: int, blocks: int = 200) -> float:
    """Median seconds to render one block with `voices` voices sounding."""
    engine = held_engine(preset, voices)
    out = np.zeros((BLOCK, 2), np.float32)
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        process_block(engine.state, out)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def max_voices(cost: Callable[[int], float], limit: int) -> tuple[int, float]:
    """The most voices (up to limit) whose block costs at most BUDGET of the period, found by
    doubling then bisection; returns (voices, load at that count)."""
    low, load_low = 0, 0.0
    high = 8
    while high <= limit:
        load = cost(high) / PERIOD
        if load > BUDGET:
            break
        low, load_low = high, load
        high *= 2
    high = min(high, limit + 1)
    while high - low > 1:
        middle = (low + high) // 2
        load = cost(middle) / PERIOD
        if load <= BUDGET:
            low, load_low = middle, load
        else:
            high = middle
    return low, load_low


class NaiveVoices:
    """The naive design of the SAV kinds: each voice has its own arrays and its own kernel
    call per block (the per-string kernel, float64), summed in NumPy by a Python loop."""

    def __init__(self, preset: Preset, voices: int) -> None:
        potential = potential_of(preset)
        self.tables, self.scratch = potential.tables, potential.scratch()
        self.voices = []
        for i in range(voices):
            string = tuned(preset.string, note_of(i))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # high notes keep fewer modes, as the engine
                lin = linear_part(string, preset.n_modes, FS, warp=True)
            row = lambda a: np.ascontiguousarray(a)[np.newaxis, :]  # noqa: E731
            self.voices.append(dict(
                q=np.zeros((1, preset.n_modes)), p=np.zeros((1, preset.n_modes)),
                psi=np.array([np.sqrt(2 * potential.value(np.zeros(preset.n_modes)) + EPS)]),
                n_act=np.array([lin.n_active]), decay=row(lin.decay), stiff=row(lin.stiff),
                gain=row(lin.gain), nu2=np.array([string.nu ** 2]),
                phi_e=row(mode_shapes(preset.pluck_position, preset.n_modes)),
                phi_o=row(mode_shapes(preset.pickup, preset.n_modes)),
                elapsed=np.zeros(1), amp=np.array([preset.amplitude]),
                length=np.array([preset.excitation_width_ms * 1e-3 * FS]),
                shape=np.array([float(PLUCK)]), out=np.zeros((1, BLOCK))))
        self.index = np.zeros(1, np.int64)

    def render(self, frames: int = BLOCK) -> np.ndarray:
        mix = np.zeros(frames)
        for v in self.voices:
            out = v["out"][:, :frames]
            sav_block(self.index, v["q"], v["p"], v["psi"], v["n_act"], v["decay"],
                      v["stiff"], v["gain"], v["nu2"], v["phi_e"], v["phi_o"], v["elapsed"],
                      v["amp"], v["length"], v["shape"], 1.0 / FS, LAMBDA0, self.tables,
                      self.scratch, out)
            mix += out[0]
        return mix


class NaiveKindVoices:
    """The naive design of any other kind: each voice a lane of its own (float64) and its own
    call of the kind's advance kernel per block, summed in NumPy by a Python loop."""

    def __init__(self, preset: Preset, voices: int) -> None:
        kind = find_kind(preset.kind)
        self.kernels = kind.kernels
        self.voices = []
        for i in range(voices):
            lane = kind.build_voices(preset, FS, 1, np.float64)
            string = tuned(preset.string, note_of(i))
            self.kernels.retune(lane, 0, string.gamma ** 2, string.kappa,
                                scheme_losses(string.sigma0, string.sigma1), string.nu ** 2,
                                preset.pickup, 0)
            self.kernels.excite(lane, 0, full_excitation(preset, FS))
            self.voices.append(lane)
        self.out = np.zeros((BLOCK, 1))

    def render(self, frames: int = BLOCK) -> np.ndarray:
        mix = np.zeros(frames)
        out = self.out[:frames]
        for lane in self.voices:
            self.kernels.advance(lane, frames, 1, False, out)
            mix += out[:, 0]
        return mix


def naive_voices(preset: Preset, voices: int) -> NaiveVoices | NaiveKindVoices:
    """The naive design of `preset`'s kind."""
    if preset.kind in SAV_KINDS:
        return NaiveVoices(preset, voices)
    return NaiveKindVoices(preset, voices)


def naive_block_time(preset: Preset, voices: int, blocks: int = 100) -> float:
    naive = naive_voices(preset, voices)
    naive.render()
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        naive.render()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fma_peak(clock_hz: float) -> tuple[float, str]:
    """The core's float32 FMA peak (FLOP/s) at clock_hz, from the CPU's vector extensions."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        flags = ""
    lanes, name = (16, "AVX-512") if " avx512f" in flags else \
        ((8, "AVX2") if " avx2" in flags else (4, "SSE"))
    return clock_hz * 2 * lanes * 2, f"{name}: 2 FMA units x {lanes} float32 lanes x 2 FLOP"


def busy_gui_thread(stop: threading.Event) -> threading.Thread:
    """A thread that keeps the interpreter busy the way a GUI does: Python code, allocations,
    and C calls that hold the GIL for tens of milliseconds (here, sorting a long list)."""
    rng = np.random.default_rng(0)

    def work():
        while not stop.is_set():
            data = [float(x) for x in rng.random(200_000)]
            data.sort()  # one C call, GIL held throughout
            {str(i): i for i in range(20_000)}.clear()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def underrun_run(design: str, seconds: float, voices: int = 8) -> dict:
    """Play `voices` held notes for `seconds` with a busy Python thread; count underruns."""
    import sounddevice

    from synth.audio import AudioStream, choose_device

    preset = bench_models()["exact"]
    stop = threading.Event()
    device = choose_device(None)
    if design in ("native", "python"):
        engine = held_engine(preset, voices)
        stream = AudioStream(engine, device=device["index"], blocksize=BLOCK, callback=design)
        stream.start()
        busy_gui_thread(stop)
        time.sleep(seconds)
        stats = engine.stats()
        stream.stop()
        delivered, underruns = stats["callbacks"], stats["underruns"]
    else:  # the naive design
        naive = NaiveVoices(preset, voices)
        naive.render()
        counts = {"callbacks": 0, "underruns": 0}

        def callback(outdata, frames, time_info, status):
            counts["callbacks"] += 1
            if status.output_underflow:
                counts["underruns"] += 1
            outdata[:] = (0.1 * naive.render(frames)).astype(np.float32)[:, None]

        with sounddevice.OutputStream(samplerate=FS, blocksize=BLOCK, device=device["index"],
                                      channels=min(2, device["channels"]), dtype="float32",
                                      callback=callback, latency="low"):
            busy_gui_thread(stop)
            time.sleep(seconds)
        delivered, underruns = counts["callbacks"], counts["underruns"]
    stop.set()
    return {"design": design, "due": int(seconds * FS / BLOCK), "delivered": delivered,
            "underruns": underruns}


def run(quick: bool = False, seconds: float = 30.0, jack: bool = False,
        torch_gradnet: Callable | None = None) -> dict:
    """Print the engine benchmark and return its figures."""
    results = measure_voices(quick, torch_gradnet)
    results["bodies"] = measure_bodies(quick)
    if seconds > 0:
        server = start_jack() if jack else None  # after the timings: jackd takes CPU too
        try:
            print(f"underruns over {seconds:g} s, 8 voices (exact), a busy Python thread "
                  "meanwhile:")
            for design in ("native", "python", "naive"):
                r = underrun_run(design, seconds)
                print(f"  {design:7} callback: {r['delivered']:6d} of {r['due']} blocks "
                      f"delivered, {r['underruns']} underruns")
                results[f"underruns_{design}"] = r
        finally:
            if server is not None:
                stop_jack(server)
    return results


def measure_voices(quick: bool, torch_gradnet: Callable | None) -> dict:
    models = bench_models()
    blocks = 40 if quick else 200
    print(f"bench engine: 48 kHz, {BLOCK}-frame blocks ({1e3 * PERIOD:.2f} ms), one core, "
          f"float32, medians of {blocks} blocks; budget {BUDGET:.0%} of the block period")
    results: dict = {"voices": {}}
    print(f"{'model':30} {'voices':>6} {'load':>5} {'goal':>5} | {'naive':>5} {'x':>5} | "
          f"at the goal: {'load':>5} {'naive':>6} {'x':>5}")
    for key, preset in models.items():
        Engine(preset, fs=FS, polyphony=2, max_block=BLOCK).warm_up()
        voices, load = max_voices(lambda n, p=preset: block_time(p, n, blocks), limit=MAX_NOTES)
        naive_voices, _ = max_voices(lambda n, p=preset: naive_block_time(p, n, blocks // 2),
                                     limit=MAX_NOTES)
        goal = GOALS.get(key, LEARNED_GOAL)
        goal_load = block_time(preset, goal, blocks) / PERIOD
        naive_goal_load = naive_block_time(preset, goal, blocks // 2) / PERIOD
        label = {"exact": "exact potential, 40 modes", "kc": "Kirchhoff-Carrier, 40 modes",
                 "gradnet": "GradNet 128 hidden, 40 modes"}.get(
                     key, f"{key} ({preset.n_modes} modes)")
        more = f"{voices / naive_voices:4.1f}x" if naive_voices else "  inf"
        print(f"{label:30} {voices:6d} {load:5.0%} {goal:5d} | {naive_voices:5d} {more} | "
              f"{'':12} {goal_load:5.0%} {naive_goal_load:6.0%} "
              f"{naive_goal_load / goal_load:4.1f}x")
        results["voices"][key] = {"voices": voices, "load": load, "naive_voices": naive_voices,
                                  "goal_load": goal_load, "naive_goal_load": naive_goal_load}
    print("voices: most voices within the budget (the keyboard has 128 notes); x: ours over "
          "the naive design (a Python loop calling the per-string kernel per voice)")
    # FLOP rate of the GradNet kernel at its voice count
    gradnet = models["gradnet"]
    n = results["voices"]["gradnet"]["voices"]
    hidden, modes = gradnet.tensors["gradnet.weight"].shape
    seconds_per_block = block_time(gradnet, n, blocks)
    flops = n * BLOCK * (4 * hidden * modes + 2 * hidden * modes / 64)
    clock = tsc_frequency()
    peak, peak_text = fma_peak(clock)
    rate = flops / seconds_per_block
    print(f"GradNet kernel: {rate / 1e9:.1f} GFLOP/s with {n} voices = {rate / peak:.1%} of the "
          f"core's FMA peak ({peak / 1e9:.0f} GFLOP/s at {clock / 1e9:.2f} GHz; {peak_text}); "
          f"counted: the two {hidden}x{modes} matrix products per voice-sample")
    results["gradnet_flops"] = {"rate": rate, "peak": peak, "share": rate / peak}
    if torch_gradnet is not None:
        for batch in (1, 16):
            per_step = torch_gradnet(batch, hidden, modes, 200 if quick else 1000)
            realtime = 1.0 / (per_step * FS)
            print(f"per-sample torch loop, GradNet, {batch:2d} voices: "
                  f"{per_step * 1e6:7.1f} us per sample = {realtime:.3f}x real time (the "
                  f"engine: {n} voices in {BUDGET:.0%} of real time)")
            results[f"torch_{batch}"] = {"seconds_per_step": per_step, "realtime": realtime}
    else:
        print("per-sample torch loop: skipped (torch is not installed)")
    return results


def body_block_time(body, blocks: int, naive: bool) -> float:
    """Median seconds to run the body of a preset on one block of bridge force: its modal
    bank, or (naive) a direct convolution with its impulse response cut at -60 dB."""
    coefficients = body_coefficients(body.frequencies, body.decays, FS)
    force = np.random.default_rng(0).standard_normal(BLOCK)
    out = np.zeros((BLOCK, 2))
    if naive:
        length = int(FS * body.t60s().max())
        kernels = body.gains.T @ impulse_responses(body.frequencies, body.decays, FS, length)
        history = np.zeros(length + BLOCK - 1)
    state = np.zeros((len(body.frequencies), 3))
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        if naive:
            history = np.concatenate([history[BLOCK:], force])
            for c in range(2):
                out[:, c] = np.convolve(history, kernels[c], mode="valid")
        else:
            body_block(force, coefficients, body.gains, state, out)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_bodies(quick: bool) -> dict:
    """Print each shipped body's cost and its instrument's voices with the body and bare."""
    blocks = 100 if quick else 1000
    print("bodies: one modal bank per instrument, stereo, whatever the voice count; naive: "
          "direct convolution with its impulse response (-60 dB)")
    results = {}
    for path in shipped_presets():
        preset = load_preset(path)
        if preset.body is None:
            continue
        ours = body_block_time(preset.body, blocks, naive=False) / PERIOD
        naive = body_block_time(preset.body, max(blocks // 20, 5), naive=True) / PERIOD
        voices, _ = max_voices(lambda n, p=preset: block_time(p, n, blocks // 5), MAX_NOTES)
        bare = dataclasses.replace(preset, body=None)
        bare_voices, _ = max_voices(lambda n, p=bare: block_time(p, n, blocks // 5), MAX_NOTES)
        print(f"  {path.stem:16} {len(preset.body.frequencies):4d} modes: {ours:6.2%} of a core "
              f"| naive {naive:7.1%} ({naive / ours:5.0f}x) | voices {voices:3d} with the "
              f"body, {bare_voices:3d} bare")
        results[path.stem] = {"load": ours, "naive_load": naive, "voices": voices,
                              "bare_voices": bare_voices}
    return results


def stop_jack(server) -> None:
    """Shut PortAudio down before its JACK server, which it would otherwise trip over at
    exit, then stop the server."""
    import sounddevice

    sounddevice._terminate()
    server.terminate()
    server.wait(timeout=10)


def start_jack():
    """Start a JACK dummy server (48 kHz, 128 frames) for this process, before PortAudio
    looks for devices."""
    import os
    import shutil
    import subprocess

    from synth.errors import AudioError

    jackd = shutil.which("jackd")
    if jackd is None:
        raise AudioError("--jack needs jackd (Debian package jackd2)")
    name = "ns-bench"
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    server = subprocess.Popen([jackd, "--no-realtime", "-n", name, "-d", "dummy", "-r",
                               str(FS), "-p", str(BLOCK)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(100):
        if subprocess.run(["jack_lsp", "-s", name], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    import sounddevice

    sounddevice._terminate()  # let PortAudio see the new server
    sounddevice._initialize()
    return server

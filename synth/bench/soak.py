"""`neural-strings bench engine --soak SECONDS`: a long real-time run under random abuse.

Random notes, velocities, pedal changes, pitch bends, controller and parameter moves
(extremes included) and preset switches, at full polyphony, through the compiled callback on
an audio device (a JACK dummy server with --jack). It checks that no output sample is ever
non-finite and that resident memory stays flat, and reports underruns.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from synth import params
from synth.engine.engine import Engine
from synth.presets import shipped_presets

EVENTS_PER_SECOND = 60
PRESET_SWITCH_SECONDS = 60.0
STATUS_SECONDS = 10.0


def resident_megabytes() -> float:
    """This process's resident set size (MB), from /proc."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def abuse(engine: Engine, stop: threading.Event, counts: dict, seed: int = 0) -> None:
    """Send random musical and unmusical control events until stopped."""
    rng = np.random.default_rng(seed)
    names = sorted(params.PARAMS)
    held: list[int] = []
    while not stop.is_set():
        time.sleep(rng.exponential(1.0 / EVENTS_PER_SECOND))
        choice = rng.random()
        if choice < 0.45 or not held:
            note = int(rng.integers(21, 109))
            engine.note_on(note, int(rng.integers(1, 128)))
            held.append(note)
        elif choice < 0.75:
            engine.note_off(held.pop(int(rng.integers(len(held)))))
        elif choice < 0.82:
            engine.control_change(64, int(rng.choice([0, 127])))
        elif choice < 0.88:
            engine.pitch_bend(float(rng.uniform(-1, 1)))
        elif choice < 0.93:
            engine.control_change(int(rng.choice([1, 74])), int(rng.integers(0, 128)))
        elif choice < 0.995:
            p = params.PARAMS[names[int(rng.integers(len(names)))]]
            value = rng.choice([p.minimum, p.maximum, rng.uniform(p.minimum, p.maximum)])
            engine.set_param(p.name, float(value))
        else:
            engine.all_notes_off()
            held.clear()
        counts["events"] += 1


def run(seconds: float, jack: bool = False, polyphony: int = 16) -> dict:
    """Soak the real-time path for `seconds`; prints progress and returns the figures."""
    from synth.bench.engine import start_jack, stop_jack

    server = start_jack() if jack else None
    try:
        return _soak(seconds, polyphony)
    finally:
        if server is not None:
            stop_jack(server)


def _soak(seconds: float, polyphony: int) -> dict:
    from synth.audio import AudioStream, choose_device

    device = choose_device(None)
    presets = shipped_presets()
    engine = Engine(presets[0], fs=device["samplerate"], polyphony=polyphony,
                    max_block=1024)
    stream = AudioStream(engine, device=device["index"], blocksize=128).start()
    counts = {"events": 0, "bad_scope_reads": 0, "switches": 0}
    stop = threading.Event()
    controller = threading.Thread(target=abuse, args=(engine, stop, counts), daemon=True)
    time.sleep(2.0)  # settle: first blocks, allocator warm
    rss_start = resident_megabytes()
    rss_peak = rss_start
    print(f"soak: {seconds:g} s on {device['name']!r}, {polyphony} voices, "
          f"~{EVENTS_PER_SECOND} random events/s; resident memory {rss_start:.1f} MB")
    controller.start()
    start = time.monotonic()
    next_status, next_switch = STATUS_SECONDS, PRESET_SWITCH_SECONDS
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            time.sleep(0.25)
            if not np.isfinite(engine.scope(8192)).all():
                counts["bad_scope_reads"] += 1
            if not stream.active:
                raise RuntimeError("the audio stream stopped during the soak")
            rss_peak = max(rss_peak, resident_megabytes())
            if elapsed >= next_switch:
                next_switch += PRESET_SWITCH_SECONDS
                counts["switches"] += 1
                engine.load_preset(presets[counts["switches"] % len(presets)])
            if elapsed >= next_status:
                next_status += STATUS_SECONDS
                s = engine.stats()
                print(f"  {elapsed:6.0f} s: voices {s['voices']:3d}, load "
                      f"{100 * s['load_avg']:4.1f}% (max {100 * s['load_max']:5.1f}%), "
                      f"underruns {s['underruns']}, resets {s['voice_resets']}, "
                      f"non-finite {s['nonfinite_samples']}, rss {resident_megabytes():.1f} MB",
                      flush=True)
    finally:
        stop.set()
        controller.join(timeout=2)
        stats = engine.stats()
        stream.stop()
    rss_end = resident_megabytes()
    figures = {"seconds": seconds, "events": counts["events"], "preset_switches":
               counts["switches"], "blocks": stats["callbacks"], "underruns":
               stats["underruns"], "late_callbacks": stats["late_callbacks"],
               "load_avg": stats["load_avg"], "load_max": stats["load_max"],
               "voice_resets": stats["voice_resets"],
               "nonfinite_samples": stats["nonfinite_samples"],
               "nonfinite_scope_reads": counts["bad_scope_reads"], "rss_start_mb": rss_start,
               "rss_end_mb": rss_end, "rss_peak_mb": rss_peak}
    print(f"soak done: {counts['events']} events, {counts['switches']} preset switches, "
          f"{stats['callbacks']} blocks, {stats['underruns']} underruns, "
          f"{stats['late_callbacks']} late callbacks, load avg {100 * stats['load_avg']:.1f}% "
          f"max {100 * stats['load_max']:.1f}%; non-finite samples "
          f"{stats['nonfinite_samples']}, voice resets {stats['voice_resets']}, non-finite "
          f"scope reads {counts['bad_scope_reads']}; resident memory {rss_start:.1f} MB at the "
          f"start, {rss_end:.1f} MB at the end (peak {rss_peak:.1f} MB)")
    return figures

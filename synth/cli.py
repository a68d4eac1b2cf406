"""`neural-strings`: the command line, the package's front door.

Each subcommand imports what it needs inside its handler, so a command that only plays or
simulates never imports torch (docs/design.md, "Layers"). User errors print one clear line and
exit with status 2; warnings (such as dropped modes) print as `warning: ...`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from synth import __version__
from synth.errors import (
    AudioError,
    DatasetError,
    OutputError,
    ParameterError,
    PresetError,
    one_line,
)

MAX_RENDER_SECONDS = 4 * 3600.0  # render's default --max-length
USER_ERRORS = (ParameterError, DatasetError, PresetError, AudioError, OutputError,
               FileNotFoundError, IsADirectoryError, PermissionError)


def _simulate(args: argparse.Namespace) -> None:
    from synth.files import check_output
    from synth.physics.simulate import SimulationSpec, simulate

    check_output(args.out, (".npz",), "simulate's output")
    if args.wav:
        check_output(args.wav, (".wav",), "--wav")
    if args.every < 1:
        raise ParameterError(f"--every must be at least 1, got {args.every}")
    text = sys.stdin.read() if args.params == "-" else Path(args.params).read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(f"{args.params}: not valid JSON: {error}") from None
    except RecursionError:
        raise ParameterError(f"{args.params}: JSON nested too deeply") from None
    spec = SimulationSpec.from_dict(data)
    potential = None
    if spec.model is not None:  # a SAV preset's potential in place of the nonlinearity
        from synth.kinds.sav_string import potential_of
        from synth.presets import find_preset, load_preset

        try:
            potential = potential_of(load_preset(find_preset(spec.model)), n_modes=spec.n_modes)
        except ValueError as error:
            raise ParameterError(f"model: {error}") from None
    sim = simulate(spec, potential=potential, record_dtype=np.dtype(args.state_dtype))
    sim.save(args.out, state=not args.only_w, every=args.every, state_dtype=args.state_dtype)
    print(f"wrote {args.out}: {sim.n_active} of {spec.n_modes} modes, {spec.n_steps} samples "
          f"at {spec.fs:g} Hz")
    if args.wav:
        from synth.audiofile import write_normalised_wav

        write_normalised_wav(args.wav, sim.w, spec.fs)
        print(f"wrote {args.wav}")


def _dataset(args: argparse.Namespace) -> None:
    from synth.dataset import DatasetConfig, generate

    if args.jobs is not None and args.jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {args.jobs}")
    config = DatasetConfig.load(args.config)
    directory = generate(config, root=args.root, jobs=args.jobs, overwrite=args.overwrite,
                         progress=not args.quiet)
    print(f"dataset {config.name}: {config.count} strings in {directory}")


def _play(args: argparse.Namespace) -> None:
    import time

    from synth.audio import AudioStream, choose_device
    from synth.midi import MidiInput
    from synth.params import MAX_POLYPHONY, check_rate
    from synth.warm import ready_engine

    if args.rate is not None:
        check_rate(args.rate)
    if not 1 <= args.block <= 1 << 16:
        raise ParameterError(f"--block must be from 1 to 65536 frames, got {args.block}")
    if not 1 <= args.polyphony <= MAX_POLYPHONY:
        raise ParameterError(f"--polyphony must be from 1 to {MAX_POLYPHONY} voices, got "
                             f"{args.polyphony}")
    device = choose_device(args.device)
    rate = device["samplerate"] if args.rate is None else args.rate
    engine = ready_engine(args.preset, fs=rate, polyphony=args.polyphony,
                          max_block=max(1024, args.block), real_time=True, say=_say)
    _remember_preset(engine.preset)
    print(f"preset {engine.preset.name!r} ({engine.preset.kind}), {args.polyphony} voices, "
          f"{rate:g} Hz, {args.block} frames on {device['name']!r}")
    midi, lost = None, None
    stream = AudioStream(engine, device=device["index"], blocksize=args.block,
                         callback=args.callback)
    stream.start()
    try:
        try:
            midi = MidiInput(engine, api=args.midi_api, ports=args.midi_port,
                             report=lambda text: print(text, flush=True))
            print(f"MIDI: play into {midi.port_name!r} ({midi.api_name})")
        except (RuntimeError, ValueError) as error:
            print(f"warning: no MIDI input: {error}", file=sys.stderr)
        print("playing; Ctrl-C to stop", flush=True)
        next_status = time.monotonic() + args.status_every
        while (lost := stream.problem()) is None:
            time.sleep(0.1)
            if time.monotonic() >= next_status:
                next_status += args.status_every
                s = engine.stats()
                print(f"voices {s['voices']:3d}  load {100 * s['load_avg']:5.1f}% "
                      f"(max {100 * s['load_max']:5.1f}%)  underruns {s['underruns']}  "
                      f"resets {s['voice_resets']}  non-finite {s['nonfinite_samples']}",
                      flush=True)
    finally:
        if midi is not None:
            midi.close()
        if not stream.stop():
            # PortAudio waits forever on a stream whose server died, at exit too: leave now.
            print(f"error: {lost or 'the audio device did not stop'}; exiting without "
                  f"closing it", file=sys.stderr, flush=True)
            os._exit(2)
    raise AudioError(lost)


def _render(args: argparse.Namespace) -> None:
    from synth.audiofile import BYTES_PER_SAMPLE, SUFFIXES
    from synth.engine.engine import CHANNELS
    from synth.files import check_output, check_space
    from synth.params import check_rate
    from synth.render import demo_events, length, midi_file_events, notes_in, render_to_file
    from synth.warm import ready_engine

    if args.demo == (args.midi is not None):
        raise ParameterError("give either a MIDI file or --demo, not both or neither")
    check_output(args.out, SUFFIXES, "render's output")
    check_rate(args.rate)
    if not (np.isfinite(args.tail) and 0.0 <= args.tail <= 3600.0):
        raise ParameterError(f"--tail must be from 0 to 3600 seconds, got {args.tail:g}")
    if not 1 <= args.block <= 1 << 16:
        raise ParameterError(f"--block must be from 1 to 65536 frames, got {args.block}")
    if not (np.isfinite(args.max_length) and args.max_length > 0):
        raise ParameterError(f"--max-length must be a positive number of seconds, got "
                             f"{args.max_length:g}")
    timeline = demo_events(args.rate) if args.demo else midi_file_events(args.midi, args.rate)
    if not notes_in(timeline):
        warnings.warn(f"{args.midi} has no notes: the render is {args.tail:g} s of silence",
                      stacklevel=1)
    frames = length(timeline, args.rate, args.tail)
    seconds = frames / args.rate
    if seconds > args.max_length:
        raise ParameterError(
            f"{args.midi or 'the demo'}: the render would last {_duration(seconds)} (its "
            f"last event is at {_duration(seconds - args.tail)}), more than the "
            f"{_duration(args.max_length)} limit; allow it with --max-length "
            f"{math.ceil(seconds)}")
    check_space(args.out, frames * CHANNELS * BYTES_PER_SAMPLE,
                f"a {_duration(seconds)} render")
    engine = ready_engine(args.preset, fs=args.rate, polyphony=args.polyphony,
                          max_block=max(1024, args.block), say=_say)
    peak = render_to_file(engine, timeline, args.out, frames, block=args.block,
                          progress=not args.quiet)
    stats = engine.stats()
    print(f"wrote {args.out}: {frames / args.rate:.1f} s with {engine.preset.name!r}, "
          f"peak {20 * np.log10(max(peak, 1e-9)):.1f} dBFS, "
          f"{stats['stolen']} voices stolen, {stats['voice_resets']} reset"
          + (f", {stats['dropped_events']} events dropped" if stats["dropped_events"] else ""))


def _body(args: argparse.Namespace) -> None:
    from synth.engine.levels import on_body
    from synth.files import check_output
    from synth.presets import body_of, find_preset, load_preset, save_preset

    if (args.source is None) == (not args.bare):
        raise ParameterError("give either --from PRESET (whose body to use) or --bare")
    out = check_output(args.out, (".safetensors",), "a preset")
    preset = load_preset(find_preset(args.preset))
    body = None if args.bare else body_of(args.source)
    saved = save_preset(on_body(preset, body, args.name or out.stem), out)
    print(f"wrote {saved}: {preset.name}'s string "
          f"{'bare' if body is None else 'on the body of a ' + body.name}")


def _fit(args: argparse.Namespace) -> None:
    from synth.files import check_output
    from synth.fit import choose_base, fit_in_stages, report
    from synth.physics.strings import note_number
    from synth.presets import save_preset, writable_user_directory
    from synth.progress import Bars
    from synth.recording import read_note

    hints = [note_number(text) for text in args.note or []]
    if hints and len(hints) != len(args.recordings):
        raise ParameterError(f"give --note once per recording ({len(args.recordings)}), in "
                             f"their order, or not at all; got {len(hints)}")
    if args.seconds is not None and not args.seconds > 0:
        raise ParameterError(f"--seconds must be > 0, got {args.seconds}")
    if args.nonlinearity_steps is not None and not (
            args.learn_nonlinearity and 1 <= args.nonlinearity_steps <= 1000):
        raise ParameterError("--nonlinearity-steps goes with --learn-nonlinearity and is 1 to "
                             f"1000, got {args.nonlinearity_steps}")
    name = args.name or (Path(args.out).stem if args.out else
                         f"fitted-{Path(args.recordings[0]).stem}")
    out = check_output(args.out or writable_user_directory() / f"{name}.safetensors",
                       (".safetensors",), "a preset")
    stages = _fit_stages(args, _plugins())
    notes = [read_note(path, hints[i] if hints else None, args.seconds)
             for i, path in enumerate(args.recordings)]
    base = choose_base(notes, args.kind, args.start)
    bars = Bars(enabled=not args.quiet)
    try:
        fit = fit_in_stages(notes, base, name, stages, bars, command=" ".join(sys.argv))
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"fit interrupted: nothing was written to {out}") from None
    finally:
        bars.close()
    saved = save_preset(fit.preset, out)
    print(report(fit))
    print(f"wrote {saved}: play it with `neural-strings play --preset {saved}`")


def _fit_stages(args: argparse.Namespace, plugins: list) -> list:
    """What follows the fit, as asked (`synth.fit.Stage`s), from the training side's
    `fit_stages` (`models.cli`); ParameterError without it."""
    if not (args.refine or args.learn_nonlinearity):
        return []
    maker = next((p.fit_stages for p in plugins if hasattr(p, "fit_stages")), None)
    if maker is None:
        options = " and ".join(o for o, asked in (("--refine", args.refine),
                                                   ("--learn-nonlinearity",
                                                    args.learn_nonlinearity)) if asked)
        raise ParameterError(f"{options} need{'s' * (' and ' not in options)} the training "
                             "side (torch): pip install 'neural-strings[train]'")
    return maker(args.refine, args.learn_nonlinearity, getattr(args, "nonlinearity_steps", None))


def _duration(seconds: float) -> str:
    """A length for people: 12.5 s, 20 min 5 s, 3 h 0 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    if seconds < 1e7:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    return f"{seconds / 86400 / 365.25:.3g} years"


def _say(text: str) -> None:
    """A progress message (stderr, so the output of a command stays its own)."""
    print(text, file=sys.stderr, flush=True)


def _remember_preset(preset) -> None:
    """Record the preset as the last one played (bare `neural-strings` opens it)."""
    from synth.settings import Settings

    settings = Settings.load()
    if settings.problem is None and preset.path is not None:
        settings.preset = str(preset.path)
        try:
            settings.save()
        except OutputError as error:
            warnings.warn(f"the last preset is not remembered: {error}", stacklevel=1)


def _devices(args: argparse.Namespace) -> None:
    from synth.audio import output_devices
    from synth.midi_systems import input_ports

    print("audio outputs:")
    devices = output_devices()
    for d in devices:
        print(f"  {d['index']:3d}  {d['name']}  ({d['hostapi']}, {d['channels']} ch, "
              f"{d['samplerate']:g} Hz)")
    if not devices:
        print("  none: no sound card or sound server was found (start PipeWire, PulseAudio "
              "or JACK, e.g. `jackd -d dummy` headless; or render offline)")
    print("MIDI inputs:")
    for api, ports in input_ports().items():
        if isinstance(ports, str):
            print(f"  {api}: {ports}")
        else:
            print(f"  {api}: " + (", ".join(repr(p) for p in ports) or "no ports"))


def _plugins() -> list:
    """The installed command plugins (entry points "neural_strings.plugins"; `models.cli`
    comes with the package). synth never imports the training side itself, so the player
    runs without torch; a plugin that cannot load is reported and skipped."""
    from synth.plugins import load

    return [plugin for _, plugin, _ in load("neural_strings.plugins", "command plugin")]


def _window(args: argparse.Namespace) -> None:
    on_linux = sys.platform.startswith("linux")
    if on_linux and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                         or os.environ.get("QT_QPA_PLATFORM")):
        raise AudioError("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are "
                         "unset); play headless with `neural-strings play`, or set "
                         "QT_QPA_PLATFORM=offscreen")
    if args.screenshot is not None:
        from synth.files import check_output

        check_output(args.screenshot, (".png",), "the screenshot")
    from gui.app import run

    status = run(preset=args.preset, settings_path=args.settings, screenshot=args.screenshot,
                 settle=args.settle)
    if status:
        raise SystemExit(status)


def _bench(args: argparse.Namespace) -> None:
    if args.repeats is not None and args.repeats < 1:
        raise ParameterError(f"--repeats must be at least 1, got {args.repeats}")
    if not (np.isfinite(args.seconds) and args.seconds >= 0):
        raise ParameterError(f"--seconds must be 0 or more, got {args.seconds:g}")
    plugins = _plugins()
    if not args.repeats:  # not given
        args.repeats = {"startup": 1 if args.quick else 3, "render": 1}.get(args.what, 7)
    if args.what == "window":
        from gui.bench import run

        run(seconds=args.seconds, jack=args.jack, repeats=args.repeats)
        return
    if args.what == "widths":
        if not plugins:
            raise ParameterError("bench widths needs the training side: pip install "
                                 "'neural-strings[train]'")
        plugins[0].bench_widths(args)
        return
    # the naive torch loops to compare against, when torch is installed
    baselines = next((b for b in (p.torch_baselines() for p in plugins) if b), None)
    if args.what == "hammer":
        from synth.bench import hammer

        hammer.run(figure_path=args.figures and f"{args.figures}/hammer.png")
        return
    if args.what == "realism":
        from synth.bench import realism

        realism.run(args.preset, args.reference, figures=args.figures,
                    make=args.make_reference, listening=args.listening, prefix=args.prefix,
                    soundfont=args.soundfont)
        return
    if args.what == "fit":
        from synth.bench import fit

        if not args.reference:
            raise ParameterError("bench fit needs --reference DIR (recordings NOTE-80.wav)")
        fit.run(args.reference, args.kind, args.notes, args.held_out, args.make_reference,
                figures=args.figures, listening=args.listening,
                stages=_fit_stages(args, plugins), soundfont=args.soundfont)
        return
    if args.preset is not None:
        raise ParameterError(f"bench {args.what} takes no preset (only bench realism does)")
    if args.what == "render":
        from synth.bench import render

        if not (np.isfinite(args.minutes) and args.minutes > 0):
            raise ParameterError(f"--minutes must be positive, got {args.minutes:g}")
        render.run(minutes=args.minutes, repeats=args.repeats, quick=args.quick)
    elif args.what == "startup":
        from synth.bench import startup

        startup.run(repeats=args.repeats, jack=args.jack, quick=args.quick)
    elif args.what == "physics":
        from synth.bench import physics

        physics.run(repeats=args.repeats, quick=args.quick,
                    torch_scheme=baselines.time_torch_loop if baselines else None)
    elif args.soak:
        from synth.bench import soak

        soak.run(args.soak, jack=args.jack, polyphony=args.polyphony)
    else:
        from synth.bench import engine

        engine.run(quick=args.quick, seconds=args.seconds, jack=args.jack,
                   torch_gradnet=baselines.time_torch_gradnet_loop if baselines else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neural-strings",
        description="Simulate, train and play learned physical models of nonlinear strings.")
    parser.add_argument("--version", action="version", version=f"neural-strings {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="also show the sound libraries' own messages (ALSA, JACK)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = commands.add_parser(
        "simulate", help="simulate one string offline and write its states to .npz",
        description="Simulate one string with the SAV scheme. PARAMS is a JSON object with "
                    "keys gamma, kappa, nu, sigma0, sigma1, x_e, x_o, amplitude, t_e (s), "
                    "excitation ('pluck'|'strike'), fs (Hz), duration (s), n_modes, "
                    "nonlinearity ('exact'|'kc'|'linear') and optionally warp (bool) and model (a "
                    "preset whose potential replaces the nonlinearity). OUT gets "
                    "q, p (M x N), psi and w (N) in float64; sample n is the state after n + 1 "
                    "steps from rest.")
    sim.add_argument("params", metavar="PARAMS.json", help="parameter file, or - for stdin")
    sim.add_argument("out", metavar="OUT.npz")
    sim.add_argument("--wav", metavar="OUT.wav", help="also write the output w, normalised")
    sim.add_argument("--only-w", action="store_true",
                     help="write only w (and the description), not the state q, p, psi")
    sim.add_argument("--every", type=int, default=1, metavar="N",
                     help="keep every N-th sample of q, p and psi (w keeps every one)")
    sim.add_argument("--state-dtype", default="float64", choices=["float64", "float32"],
                     help="dtype of the recorded q, p and psi (w stays float64)")
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

    play = commands.add_parser(
        "play", help="play from MIDI on an audio device, headless",
        description="Open a virtual MIDI input (ALSA, else JACK), connect the hardware MIDI "
                    "inputs, and play the preset on an audio device until Ctrl-C.")
    play.add_argument("--preset", help="preset name or .safetensors file (default: "
                                       "nylon-guitar)")
    play.add_argument("--device", help="audio output: index or name part (default: system)")
    play.add_argument("--rate", type=float, help="sample rate in Hz (default: the device's)")
    play.add_argument("--block", type=int, default=128, help="frames per callback (128)")
    play.add_argument("--polyphony", type=int, default=16, help="voices at once (16)")
    play.add_argument("--midi-api", default="auto", choices=["auto", "alsa", "jack"],
                      help="MIDI system for the virtual input and the hardware ports: ALSA, "
                           "JACK, or auto (ALSA, else JACK where only a JACK server runs)")
    play.add_argument("--midi-port", action="append",
                      help="connect only MIDI inputs whose name contains this (repeatable)")
    play.add_argument("--callback", default="native", choices=["native", "python"],
                      help="compiled GIL-free callback (default) or a Python one")
    play.add_argument("--status-every", type=float, default=2.0, help=argparse.SUPPRESS)
    play.set_defaults(handler=_play)

    window = commands.add_parser(
        "window", help="open the instrument window (what neural-strings alone does)",
        description="Play and shape strings live: presets, physical controls, displays, an "
                    "on-screen keyboard and audio/MIDI set-up. Settings persist in the user "
                    "config directory.")
    window.add_argument("--preset", help="preset name or file (default: the last one played)")
    window.add_argument("--settings", metavar="FILE",
                        help="settings file (default: in the user config directory)")
    window.add_argument("--screenshot", metavar="OUT.png",
                        help="play a chord, save a picture of the window, and quit")
    window.add_argument("--settle", type=float, default=2.0,
                        help="screenshot: seconds between the chord and the picture (2)")
    window.set_defaults(handler=_window)

    for plugin in _plugins():  # the training side adds train, evaluate and export
        plugin.add_commands(commands)

    render = commands.add_parser(
        "render", help="render a MIDI file (or --demo) to WAV offline",
        description="Render with the same engine and kernels as real time.")
    render.add_argument("midi", metavar="IN.mid", nargs="?", help="MIDI file")
    render.add_argument("out", metavar="OUT.wav")
    render.add_argument("--demo", action="store_true", help="render a built-in phrase")
    render.add_argument("--preset", help="preset name or file (default: nylon-guitar)")
    render.add_argument("--rate", type=int, default=48000, help="sample rate (48000)")
    render.add_argument("--block", type=int, default=128, help="engine block (128)")
    render.add_argument("--polyphony", type=int, default=32, help="voices at once (32)")
    render.add_argument("--tail", type=float, default=3.0, help="seconds after the end (3)")
    render.add_argument("--max-length", type=float, default=MAX_RENDER_SECONDS,
                        metavar="SECONDS",
                        help="refuse a render longer than this, before starting (default: "
                             f"{MAX_RENDER_SECONDS:g}, 4 hours); the file is written as it "
                             "renders, so memory stays flat at any length")
    render.add_argument("--quiet", action="store_true", help="no progress bar")
    render.set_defaults(handler=_render)

    body = commands.add_parser(
        "body", help="put a preset's string on another preset's body (or take it off)",
        description="Write PRESET's string on the body of --from's instrument (bridge, body, "
                    "two microphones), or bare with --bare, as a new preset; its output gain "
                    "is measured again so a velocity-100 note at its reference pitch peaks at "
                    "-12 dBFS.")
    body.add_argument("preset", metavar="PRESET", help="preset name or file")
    body.add_argument("out", metavar="OUT.safetensors")
    body.add_argument("--from", dest="source", metavar="PRESET",
                      help="the preset whose body to use (e.g. steel-guitar)")
    body.add_argument("--bare", action="store_true", help="the string alone, no body")
    body.add_argument("--name", help="preset name (default: OUT's stem)")
    body.set_defaults(handler=_body)

    fit = commands.add_parser(
        "fit", help="fit a playable preset to recorded notes",
        description="Fit a preset to recordings of single notes of one instrument (WAV, "
                    "FLAC, OGG, MP3 or AIFF; mono or stereo; any rate): starting from the "
                    "closest shipped instrument (or --from), the engine plays each recorded "
                    "key and its velocity, excitation position, string stiffness and losses "
                    "are fitted until its partials' levels, inharmonicity and decays match "
                    "the recording's; keys between the recorded ones are interpolated. "
                    "Silence, noise, chords, files under 0.3 s and files that are not audio "
                    "are refused before any work; a clipped file is fitted after its "
                    "clipping.")
    fit.add_argument("recordings", metavar="NOTE.wav", nargs="+",
                     help="one recorded note a file, each let ring")
    fit.add_argument("--out", metavar="OUT.safetensors",
                     help="where to write the preset (default: NAME.safetensors in the user "
                          "preset directory, where `play --preset NAME` finds it)")
    fit.add_argument("--name", help="preset name (default: OUT's stem, or fitted-FIRST)")
    fit.add_argument("--note", action="append", metavar="NOTE",
                     help="the recorded note, a MIDI number or a name (G3, C#4, Bb2), where "
                          "its pitch is not found (once per file, in order)")
    fit.add_argument("--kind", default="auto", choices=["auto", "guitar", "piano"],
                     help="which shipped instruments to start from (default: auto, the "
                          "closest of all)")
    fit.add_argument("--from", dest="start", metavar="PRESET",
                     help="start from this preset instead (name or file)")
    fit.add_argument("--seconds", type=float,
                     help="use this much of each recording from its onset (default: all, "
                          "decays from the first 3 s)")
    fit.add_argument("--refine", action="store_true",
                     help="then refine the body's modes by gradient through its torch twin, "
                          "all the notes at once (needs torch; about 15 s more a note)")
    fit.add_argument("--learn-nonlinearity", action="store_true",
                     help="then give the string a GradNet potential, started as its fitted "
                          "one and fine-tuned through the SAV scheme on the recordings; the "
                          "preset plays as sav-gradnet (needs torch; plucked strings only; "
                          "about 7 min at 44.1 kHz: the notes at one rate step together)")
    fit.add_argument("--nonlinearity-steps", type=int, metavar="N",  # models.nonlinearity's
                     help="--learn-nonlinearity's gradient steps (default: 20)")  # ITERATIONS
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(handler=_fit)

    devices = commands.add_parser(
        "devices", help="list audio outputs and MIDI inputs",
        description="List the audio outputs PortAudio sees (index, name, host API, channels, "
                    "default rate) and the MIDI inputs of each MIDI system: what `play "
                    "--device` and `--midi-port` choose from.")
    devices.set_defaults(handler=_devices)

    bench = commands.add_parser(
        "bench", help="benchmark against the naive way, in one run",
        description="Print medians and ratios against naive implementations measured in the "
                    "same run.")
    bench.add_argument("what", choices=["physics", "engine", "window", "widths", "startup",
                                        "render", "realism", "hammer", "fit"])
    bench.add_argument("preset", nargs="?", help="realism: the preset to measure (default: "
                                                 "nylon-guitar)")
    bench.add_argument("--reference", metavar="DIR",
                       help="realism, fit: reference recordings NOTE-VELOCITY.wav to compare "
                            "with (fit: to fit and to hold out)")
    bench.add_argument("--kind", default="guitar", choices=["guitar", "piano"],
                       help="fit: the instrument recorded (default: guitar)")
    bench.add_argument("--notes", type=int, nargs="+", metavar="NOTE",
                       help="fit: the MIDI notes to fit (default: guitar 45 55 64, piano 36 "
                            "55 72)")
    bench.add_argument("--held-out", type=int, nargs="+", metavar="NOTE",
                       help="fit: the notes to compare (default: guitar 50 59 69, piano 43 "
                            "60 79)")
    bench.add_argument("--refine", action="store_true",
                       help="fit: refine the fitted body by gradient (as `fit --refine`)")
    bench.add_argument("--learn-nonlinearity", action="store_true",
                       help="fit: learn the string's nonlinearity (as `fit "
                            "--learn-nonlinearity`)")
    bench.add_argument("--make-reference", type=int, metavar="PROGRAM",
                       help="realism, fit: first make the references in DIR from the FluidR3 "
                            "General MIDI soundfont with fluidsynth, dry, with this GM "
                            "program (0-based: 0 piano, 24 nylon guitar, 25 steel guitar)")
    bench.add_argument("--soundfont", metavar="SF2",
                       help="realism, fit: with --make-reference, the General MIDI soundfont "
                            "to make them from instead of FluidR3 (another sample set: "
                            "Debian's musescore-general-soundfont-lossless, for one)")
    bench.add_argument("--figures", metavar="DIR",
                       help="realism: draw spectrograms and onsets into DIR; fit: a fitted and "
                            "a held-out note's spectrograms and waveforms; hammer: its force "
                            "pulses (DIR/hammer.png)")
    bench.add_argument("--listening", metavar="DIR",
                       help="realism: write FLAC files of the reference note at velocity "
                            "80, rendered and reference, into DIR (fit: a fitted and a "
                            "held-out note, recording and fit)")
    bench.add_argument("--prefix", default="",
                       help="realism: put this before the names of the FLAC files (e.g. "
                            "before-)")
    bench.add_argument("--repeats", type=int,
                       help="timed repeats (default: 7; startup: 3; render: 1)")
    bench.add_argument("--minutes", type=float, default=120.0,
                       help="render: length of the piece (default: 120; --quick: 5)")
    bench.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    bench.add_argument("--seconds", type=float, default=30.0,
                       help="engine, window: length of each underrun run (default: 30)")
    bench.add_argument("--jack", action="store_true",
                       help="engine, window, startup: start a JACK dummy server (48 kHz, 128 "
                            "frames) to play on")
    bench.add_argument("--soak", type=float, metavar="SECONDS",
                       help="engine: play random notes, pedals, bends and parameter moves at "
                            "full polyphony in real time for this long")
    bench.add_argument("--polyphony", type=int, default=16, help="soak: voices (default: 16)")
    bench.add_argument("--recipe", help="widths: the recipe to train at every width")
    bench.add_argument("--widths", type=int, nargs="+", help="widths: hidden sizes "
                                                              "(default: 32 64 128 256)")
    bench.add_argument("--test-set", default="paper-test", help="widths: test set")
    bench.add_argument("--strings", type=int, default=10,
                       help="widths: evaluate on the first N test strings (default: 10)")
    bench.add_argument("--out", default="evaluations/widths", help="widths: output directory")
    bench.set_defaults(handler=_bench)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the instrument itself
        args = parser.parse_args([*(["--verbose"] if args.verbose else []), "window"])
    if not args.verbose:
        from synth.library_messages import silence

        silence()
    previous, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        args.handler(args)
    except USER_ERRORS as error:
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(str(interrupt) or "interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the preset browser shows of a preset: kind, string, body, keyboard, test metrics and
provenance (HTML).

Only what the file stores is shown, and what its kind says of it (`synth.kinds.Kind.title`
and `describe`): a physics preset's physical string and cited sources; an instrument's body
and the sources of its numbers; a learned preset's
normalised string, training recipe, dataset, training time and the relMSE it measured on its
test set at each rate, next to the linear model's.
"""

from __future__ import annotations

import html

from synth.bodies import Body
from synth.keyboards import Keyboard
from synth.kinds import find_kind
from synth.presets import NEURAL_STRINGS, Preset

METRIC_COLUMNS = (("q", "q"), ("w", "output w"), ("q_0.1s", "q, 0.1 s"),
                  ("w_0.1s", "w, 0.1 s"))


def summary_html(preset: Preset) -> str:
    """A self-contained HTML description of `preset` for a rich-text view."""
    parts = [f"<h3>{_e(preset.name)}</h3>"]
    if preset.description:
        parts.append(f"<p>{_e(preset.description)}</p>")
    kind = find_kind(preset.kind)
    model = f"{kind.title}; {kind.describe(preset)}"
    if kind.package != NEURAL_STRINGS:
        model += f" (from the package {kind.package})"
    parts.append(f"<p><b>Model:</b> {_e(model)}</p>")
    parts.append(_string_table(preset))
    if preset.body is not None:
        parts.append(_body_html(preset.body))
    if preset.keyboard is not None:
        parts.append(_keyboard_html(preset.keyboard))
    provenance = dict(preset.provenance)
    metrics = provenance.pop("metrics", None)
    if metrics:
        parts.append(_metrics_table(metrics))
    if provenance:
        parts.append("<p><b>Provenance</b></p>" + _nested_list(provenance))
    if preset.path is not None:
        parts.append(f"<p><small>{_e(str(preset.path))}</small></p>")
    return "\n".join(parts)


def _string_table(preset: Preset) -> str:
    rows = []
    physical = preset.physical
    if physical is not None:
        rows += [("length", f"{physical.length:.3f} m"), ("tension", f"{physical.tension:.1f} N"),
                 ("linear density", f"{1e3 * physical.linear_density:.3g} g/m"),
                 ("Young's modulus", f"{physical.youngs_modulus / 1e9:.3g} GPa"),
                 ("radius", f"{1e3 * physical.radius:.3g} mm"),
                 ("T60", f"{physical.t60_low[1]:.2g} s at {physical.t60_low[0]:.0f} Hz, "
                         f"{physical.t60_high[1]:.2g} s at {physical.t60_high[0]:.0f} Hz")]
    s = preset.string
    rows += [("normalised", f"gamma {s.gamma:.4g}, kappa {s.kappa:.3g}, nu {s.nu:.4g}, "
                            f"sigma0 {s.sigma0:.3g}, sigma1 {s.sigma1:.3g}"),
             ("reference note", f"MIDI {preset.reference_note:g}"),
             ("excitation", f"{preset.excitation_type} at {preset.pluck_position:.2f} L, "
                            f"{preset.excitation_width_ms:g} ms; pickup {preset.pickup:.2f} L")]
    if preset.hammer is not None:
        h = preset.hammer
        rows.append(("hammer", f"{1e3 * h.mass:.3g} g, felt K {h.stiffness:.3g} N/m^"
                               f"{h.exponent:g}, {1e3 * h.width:g} mm wide, {h.speeds[0]:g} to "
                               f"{h.speeds[1]:g} m/s"))
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<p><b>String</b></p><table cellspacing='4'>{body}</table>"


def _body_html(body: Body) -> str:
    """The body: what instrument, its modes, its lowest ones and where its numbers come
    from."""
    order = body.frequencies.argsort()[:3]
    lowest = ", ".join(f"{body.frequencies[k]:.0f} Hz (T60 {body.t60s()[k]:.2f} s)"
                       for k in order)
    rows = [("instrument", body.name),
            ("modes", f"{len(body.frequencies)}, {body.frequencies.min():.0f} to "
                      f"{body.frequencies.max():.0f} Hz; lowest {lowest}"),
            ("stereo", f"two microphones; strings spread over {100 * body.spread:.0f} % of "
                       f"the field")]
    table = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    sources = ("<p><i>Body sources</i></p>" + _nested_list(body.provenance)
               if body.provenance else "")
    return f"<p><b>Body</b></p><table cellspacing='4'>{table}</table>{sources}"


def _keyboard_html(keyboard: Keyboard) -> str:
    """The keyboard: what instrument, its keys, and where its numbers come from."""
    low, high = (int(note) for note in keyboard.range)
    what = "string, hammer and strike point" if keyboard.hammered() else "string"
    sources = ("<p><i>Keyboard sources</i></p>" + _nested_list(keyboard.provenance)
               if keyboard.provenance else "")
    return (f"<p><b>Keyboard</b>: {_e(keyboard.name)}, MIDI {low} to {high}, every key its "
            f"own {what}</p>{sources}")


def _metrics_table(metrics: dict) -> str:
    """relMSE mean (median) per test set and rate, the model's row and the linear one's."""
    head = "".join(f"<th>{_e(title)}</th>" for _, title in METRIC_COLUMNS)
    rows = []
    for test, result in metrics.items():
        if not isinstance(result, dict):
            continue
        strings = result.get("strings", "?")
        for model in ("model", "linear"):
            values = result.get(model)
            if not isinstance(values, dict):
                continue
            cells = "".join(f"<td>{_metric(values.get(key))}</td>" for key, _ in METRIC_COLUMNS)
            rows.append(f"<tr><td>{_e(test)} ({strings} strings)</td><td>{model}</td>"
                        f"{cells}</tr>")
    return ("<p><b>Test metrics</b> (relMSE, mean / median)</p><table cellspacing='4'>"
            f"<tr><th>test set</th><th></th>{head}</tr>{''.join(rows)}</table>")


def _metric(value) -> str:
    if isinstance(value, dict) and "mean" in value:
        return f"{value['mean']:.3g} / {value.get('median', float('nan')):.3g}"
    return "-"


def _nested_list(value) -> str:
    if isinstance(value, dict):
        items = "".join(f"<li><i>{_e(str(k))}</i>: {_nested_list(v)}</li>"
                        for k, v in value.items())
        return f"<ul>{items}</ul>"
    if isinstance(value, list):
        return ", ".join(_e(str(v)) for v in value)
    return _e(str(value))


def _e(text: str) -> str:
    return html.escape(text, quote=False)

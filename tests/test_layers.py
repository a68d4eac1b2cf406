"""The dependency rule (docs/design.md, "Layers"): no import circle among the project's
modules, and no module imports one from a higher layer. Imports inside functions count too;
those under `if TYPE_CHECKING:` do not (they never run)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("synth", "models", "gui", "presets")
# Layers, lowest first. A module's layer is that of the longest name listed that is the
# module or one of its packages (a package's own __init__ included).
LAYERS = [
    ("leaves", ["synth.errors", "synth.progress", "synth.native", "synth.params", "synth.acoustics",
                "synth.bodies", "synth.keyboards", "synth.files", "synth.settings",
                "synth.plugins",
                "synth.kernels.options", "synth.kernels.aligned", "synth.library_messages",
                "synth.engine.events"]),
    ("formulas", ["synth.physics.strings", "synth.physics.modes", "synth.physics.hammer",
                  "synth.physics.losses", "synth.physics.pluck"]),
    ("kernels", ["synth.kernels"]),
    ("physics", ["synth.physics", "synth.audiofile", "synth.dataset", "synth.recording"]),
    ("kinds", ["synth.kinds"]),
    ("presets", ["synth.presets"]),
    ("engine", ["synth.engine"]),
    ("io", ["synth.callback", "synth.audio", "synth.portaudio", "synth.midi_systems",
            "synth.midi", "synth.render",
            "synth.warm", "synth.fit", "synth.bench"]),
    ("training contracts", ["models.family", "models.strings", "models.sav", "models.segments",
                            "models.body", "models.hammer", "models.losses", "models.pluck",
                            "models.windows", "models.schemes", "models.oscillators",
                            "models.objective", "models"]),
    ("training families", ["models.gradnet", "models.koopman", "models.ssm", "models.verlet",
                           "models.baselines"]),
    ("training", ["models.recipe", "models.train"]),
    ("training commands", ["models.export", "models.evaluate", "models.compare", "models.refine",
                           "models.nonlinearity",
                           "models.widths", "models.bench", "presets.bodies", "presets.keyboards",
                           "presets.make_physics_presets"]),
    ("training front", ["models.cli"]),
    ("window parts", ["gui.units", "gui.analysis", "gui.keyboard", "gui.midi_learn",
                      "gui.preset_info", "gui"]),
    ("window widgets", ["gui.controls", "gui.displays", "gui.piano", "gui.browser",
                        "gui.audio_setup"]),
    ("window dialogs", ["gui.fit_dialog"]),
    ("window", ["gui.window"]),
    ("window front", ["gui.app", "gui.bench"]),
    ("front door", ["synth.cli", "synth.__main__"]),
]
PACKAGE_ROOTS = {"synth": 0, "presets": 0}  # the bare packages: nothing but a docstring


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def layer(module: str) -> int:
    if module in PACKAGE_ROOTS:
        return PACKAGE_ROOTS[module]
    best, rank = "", None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            matches = module == name or module.startswith(name + ".")
            if matches and len(name) > len(best):
                best, rank = name, index
    assert rank is not None, f"{module} has no layer in test_layers.LAYERS"
    return rank


def imports(path: Path, known: dict[str, Path], importer: str) -> set[str]:
    """The project modules `path` (module `importer`) imports: a `from package import name`
    of a submodule counts as that submodule, and importing a submodule also imports the
    packages above it (their __init__ runs), except those the importer lives in."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    parents = {".".join(name.split(".")[:i]) for name in found
               for i in range(1, name.count(".") + 1)}
    found |= {p for p in parents if p in known and imports_anything(known[p])
              and not (importer == p or importer.startswith(p + "."))}
    return {name for name in found if name in known}


def imports_anything(path: Path) -> bool:
    """Whether a module imports anything (a package whose __init__ is only a docstring
    costs nothing to import)."""
    return any(isinstance(node, ast.Import | ast.ImportFrom)
               for node in ast.walk(ast.parse(path.read_text())))


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known, name) - {name} for name, path in known.items()}


def test_no_module_imports_one_from_a_higher_layer():
    upward = [f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]})"
              for a, targets in graph().items() for b in targets if layer(b) > layer(a)]
    assert not upward, "\n".join(upward)


def test_there_is_no_import_circle():
    edges = graph()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not circles, circles


def test_the_runtime_never_imports_the_training_side_or_the_window():
    edges = graph()
    front = {"synth.cli", "synth.__main__"}
    offending = [f"{a} imports {b}" for a, targets in edges.items()
                 if a.startswith("synth") and a not in front
                 for b in targets if b.split(".")[0] in ("models", "gui")]
    assert not offending, offending


def test_every_physics_module_the_kernels_compile_in_invalidates_the_compile_cache():
    import synth
    from synth.engine import block, state
    from synth.kernels import formulas

    compiled = {path.name for path in synth._sources()}
    physics = {module.__name__ for module in vars(formulas).values()
               if getattr(module, "__name__", "").startswith("synth.physics.")}
    assert physics and all(name.rsplit(".", 1)[1] + ".py" in compiled for name in physics)
    layouts = {module.__name__ for source in (block, state) for module in vars(source).values()
               if getattr(module, "__name__", "") in ("synth.keyboards", "synth.params")}
    assert layouts == {"synth.keyboards", "synth.params"}
    assert {"keyboards.py", "params.py"} <= compiled

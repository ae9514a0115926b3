"""The house rules of the code, checked by walking its source: rooms, sizes, imports, literals."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest

from backrx.model import vocabulary
from backrx.model.profile import RedFlag
from backrx.pack.load import read_pack
from backrx.pack.model import Pack

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "backrx"
MAX_LINES = 600

# The rooms, from the bottom up: a room imports only from rooms at its level or below.
ROOMS: tuple[tuple[str, ...], ...] = (
    ("_version", "readers", "errors"),
    ("lang",),
    ("model",),
    ("pack",),
    ("engine",),
    ("run",),
    ("workers",),
    ("ruleset",),
    ("followup", "overrides"),
    ("render", "interop"),
    ("audit", "batch", "testing"),
    ("cli",),
    ("__init__",),
)
# The model holds the Profile's own vocabulary of allowed values; it is not a duplicate of the pack.
MODEL_VOCABULARY = {"model/profile.py", "model/vocabulary.py", "model/feedback.py",
                    "model/recommendation.py", "model/measures.py"}
# Each line that is not yet clean names its owner; the list must only shrink.


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["backrx", *parts])] = path
    return out


MODULES = _modules()


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (inside functions and type-checker blocks too)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _package_of(module: str) -> str:
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rsplit(".", 1)[0]


def _resolve(module: str, node: ast.ImportFrom) -> str | None:
    if node.level:
        base = _package_of(module).split(".")
        base = base[: len(base) - node.level + 1]
        return ".".join([*base, node.module] if node.module else base)
    return node.module


def _edges(module: str, tree: ast.AST) -> Iterator[tuple[str, str, int]]:
    """(imported module, imported name or '', line) for each import of a backrx module."""
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("backrx"):
                    yield alias.name, "", node.lineno
            continue
        target = _resolve(module, node)
        if not target or not target.startswith("backrx"):
            continue
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            if sub in MODULES:
                yield sub, "", node.lineno
            else:
                yield target, alias.name, node.lineno


def _trees() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


TREES = _trees()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, tree in TREES.items():
        for target, _, _ in _edges(name, tree):
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp: list[str] = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    """No backrx module imports, directly or through others, a module that imports it back."""
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_sees_a_cycle() -> None:
    """The cycle check itself reports a two-module circle (so a pass above means something)."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_only_the_durable_adapter_imports_durable_rules() -> None:
    """durable_rules is imported by backrx/engine/_durable.py alone (it does not import on 3.13+)."""
    importers = sorted(
        name for name, tree in TREES.items() for node in _imports(tree)
        if any(n.startswith("durable") for n in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])))
    assert importers == ["backrx.engine._durable"]


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _level(room: str) -> int:
    for level, rooms in enumerate(ROOMS):
        if room in rooms:
            return level
    raise AssertionError(f"room {room!r} is not in the house plan of tests/test_architecture.py")


def test_rooms_import_only_downwards() -> None:
    """A room imports only from rooms at its own level or below it in the house plan."""
    wrong = []
    for name, tree in TREES.items():
        here = _level(_room(name))
        for target, _, line in _edges(name, tree):
            if target in MODULES and _level(_room(target)) > here:
                wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line}: {name} imports {target}")
    assert not wrong, "imports that run up the house:\n" + "\n".join(wrong)


def _private_imports(files: dict[str, Path], trees: dict[str, ast.Module]) -> list[str]:
    wrong = []
    for name, tree in trees.items():
        where = files[name]
        for target, imported, line in _edges(name, tree) if name in MODULES else _test_edges(tree):
            if imported.startswith("_") and not imported.startswith("__"):
                wrong.append(f"{where.relative_to(ROOT)}:{line}: {imported} from {target}")
            last = target.rsplit(".", 1)
            if name in MODULES and len(last) == 2 and last[1].startswith("_") and target in MODULES:
                owner = last[0]
                if not (name == owner or name.startswith(owner + ".")):
                    wrong.append(f"{where.relative_to(ROOT)}:{line}: the private module {target} "
                                 f"from outside {owner}")
        aliases = _module_aliases(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and f"{aliases[node.value.id]}.{node.attr}" not in MODULES):
                wrong.append(f"{where.relative_to(ROOT)}:{node.lineno}: "
                             f"{aliases[node.value.id]}.{node.attr}")
    return wrong


def _test_edges(tree: ast.AST) -> Iterator[tuple[str, str, int]]:
    for node in _imports(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("backrx"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield (sub, "", node.lineno) if sub in MODULES else (node.module, alias.name, node.lineno)


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """Local names bound to backrx modules by import statements."""
    out: dict[str, str] = {}
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("backrx") and alias.asname:
                    out[alias.asname] = alias.name
        elif node.module and node.module.startswith("backrx"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in MODULES:
                    out[alias.asname or alias.name] = sub
    return out


def test_no_module_imports_another_modules_private_name() -> None:
    """No module (tests and benchmarks included) imports or reaches a name private to another module."""
    files = dict(MODULES)
    trees = dict(TREES)
    for folder in ("tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            key = f"{folder}:{path.name}"
            files[key] = path
            trees[key] = ast.parse(path.read_text(encoding="utf-8"))
    wrong = _private_imports(files, trees)
    assert not wrong, "private names used across modules:\n" + "\n".join(wrong)


def test_private_import_check_sees_one() -> None:
    """The private-name check reports ``from backrx.x import _y`` (so a pass above means something)."""
    tree = ast.parse("from backrx.run.planner import _secret\n")
    wrong = _private_imports({"tests:t.py": ROOT / "tests" / "t.py"}, {"tests:t.py": tree})
    assert wrong == ["tests/t.py:1: _secret from backrx.run.planner"]


# argparse offers no public way to list a parser's actions; the CLI reference generator reads them.
STDLIB_PRIVATE = {"_actions", "_choices_actions", "_HelpAction", "_SubParsersAction"}


def _reached_private_attributes(rel: str, tree: ast.AST) -> list[str]:
    """``obj._name`` where ``obj`` is not ``self``/``cls`` and this module never defines ``_name``."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            own.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            own.add(node.target.id)
    return [f"{rel}:{node.lineno}: {ast.unparse(node)}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_")
            and not node.attr.startswith("__") and node.attr not in own | STDLIB_PRIVATE
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]


def test_no_module_reaches_into_another_modules_objects() -> None:
    """No module in src/ reads a private attribute of an object another module made (``rules._engine``)."""
    wrong = [line for name, path in MODULES.items()
             for line in _reached_private_attributes(str(path.relative_to(SRC)), TREES[name])]
    assert not wrong, "private attributes reached across modules:\n" + "\n".join(wrong)


def test_reach_check_sees_one() -> None:
    """The reach check reports reading ``rules._engine`` and writing ``rules._seen`` from outside."""
    tree = ast.parse("def f(rules):\n    rules._seen = 1\n    return rules._engine.match(0, {})\n")
    found = sorted(_reached_private_attributes("x.py", tree))
    assert found == ["x.py:2: rules._seen", "x.py:3: rules._engine"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_600_lines(module: str) -> None:
    """Every module stays small enough to hold one job (at most 600 lines)."""
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(ROOT)} has {lines} lines"


#: A function holds one job: at most this many lines, def line to last line (decorators not counted).
MAX_FUNCTION_LINES = 80
#: A function may be longer only where a comment says why a split would hurt reading: its def line,
#: or a comment line between the def (or its docstring) and the first statement, carries
#: ``# long: <reason>``, e.g. a declarative table that reads best whole. The reason must not be empty.
LONG_MARKER = re.compile(r"#\s*long:\s*\S")


def _long_functions(path: str, source: str) -> list[str]:
    """Every function over MAX_FUNCTION_LINES lines that carries no ``# long: <reason>`` comment."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.end_lineno is None:
            continue
        size = node.end_lineno - node.lineno + 1
        if size <= MAX_FUNCTION_LINES:
            continue
        body = node.body[1:] if ast.get_docstring(node) is not None and len(node.body) > 1 else node.body
        head = lines[node.lineno - 1:body[0].lineno - 1]  # the def line(s), docstring and comments
        if any(LONG_MARKER.search(line) for line in head):
            continue
        found.append(f"{path}:{node.name} has {size} lines (line {node.lineno})")
    return found


def test_no_function_is_over_80_lines() -> None:
    """Every function in src/ is at most 80 lines, unless a ``# long:`` comment says why."""
    found = [f for path in sorted(MODULES.values())
             for f in _long_functions(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))]
    assert found == []


def test_long_function_check_sees_one() -> None:
    """The check reports a planted 81-line function, and spares one of 80 and one marked long."""
    def planted(name: str, size: int, mark: str = "") -> str:
        return f"def {name}() -> None:{mark}\n" + "    x = 1\n" * (size - 1)
    marked = ('def table() -> None:\n    """A table."""\n    # long: a table reads best whole\n'
              + "    x = 1\n" * 80)
    source = planted("big", 81) + planted("fits", 80) + planted("flagged", 90, "  # long: a table") + marked
    assert _long_functions("x.py", source) == ["x.py:big has 81 lines (line 1)"]
    assert _long_functions("x.py", planted("bare", 81, "  # long:")) == ["x.py:bare has 81 lines (line 1)"]


# ----------------------------------------------------------------- clinical literals stay in the pack

def _pack_words(pack: Pack) -> dict[str, set[str]]:
    """Closed lists whose membership is a clinical decision of the pack."""
    equipment = {e for entry in pack.exercises.values() for e in entry.equipment}
    return {
        "red flag": set(get_args(RedFlag)),
        "equipment": equipment,
        "urgency": set(vocabulary.URGENCIES),
        "direction": set(vocabulary.DIRECTIONS),
    }


def _literal_strings(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(node, ast.Dict):
        keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        values = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        return keys + values
    return []


CLINICAL_NAMES = ("pain", "intensity", "age", "odi", "rmdq", "nprs", "psfs", "tolerance", "weeks",
                  "duration", "sitting", "hours")


def _clinical_literals(rel: str, tree: ast.AST, words: dict[str, set[str]]) -> list[str]:
    wrong = []
    for node in ast.walk(tree):
        strings = _literal_strings(node)
        for kind, members in words.items():
            hit = sorted({s for s in strings if s in members})
            if 2 <= len(hit) < len(members):  # a selection is a decision; the whole list is vocabulary
                wrong.append(f"{rel}:{node.lineno}: a list of {kind} values {hit}")
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            numbers = [s.value for s in sides if isinstance(s, ast.Constant)
                       and isinstance(s.value, (int, float)) and not isinstance(s.value, bool)
                       and s.value not in (0, 1, -1)]
            named = [n for s in sides for n in ast.walk(s)
                     if isinstance(n, (ast.Name, ast.Attribute, ast.Constant))]
            text = " ".join(n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute)
                            else str(n.value) for n in named).lower()
            if numbers and any(word in text for word in CLINICAL_NAMES):
                wrong.append(f"{rel}:{node.lineno}: a clinical threshold {numbers} in "
                             f"{ast.unparse(node)!r}")
    return wrong


def test_no_python_literal_restates_a_decision_of_the_pack() -> None:
    """Which red flags refer, what a gym holds, which urgencies block and clinical thresholds live in
    the pack: no literal in src/ restates them (the model's own vocabulary of allowed values aside)."""
    words = _pack_words(read_pack())
    wrong = []
    for name, path in MODULES.items():
        rel = str(path.relative_to(SRC))
        if rel in MODEL_VOCABULARY:
            continue
        wrong.extend(_clinical_literals(rel, TREES[name], words))
    assert not wrong, "clinical decisions restated in Python:\n" + "\n".join(wrong)


def test_literal_check_sees_a_restated_threshold_and_a_gym() -> None:
    """The literal check reports ``pain >= 7`` and a tuple of equipment (so a pass above means something)."""
    words = {"equipment": {"mat", "band", "ball"}}
    tree = ast.parse("if profile.pain_intensity >= 7:\n    GYM = ('mat', 'band')\n")
    wrong = _clinical_literals("x.py", tree, words)
    assert len(wrong) == 2 and "threshold [7]" in wrong[0] and "equipment" in wrong[1]


# ------------------------------------------------------------ import strings do not reach up the house

#: A string that names a backrx module, or a ``module:attribute`` in it, as entry points and lazy
#: loaders do: ``"backrx.render.account"``, ``"backrx.render:explain"``.
IMPORT_STRING = re.compile(r"^(backrx(?:\.[A-Za-z_]\w*)*)(?::[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?\Z")
DYNAMIC_IMPORTS = ("import_module", "__import__", "resolve_name")
TOP = ROOMS[-1]  # the top room imports everything; nothing above it can be reached by a string


def _named_module(text: str) -> str | None:
    """The backrx module an import string names (the longest known prefix), or None for a string
    that only looks like one (``backrx.cds_hooks``, a service id; ``backrx``, the program)."""
    found = IMPORT_STRING.match(text)
    if not found or text == "backrx":  # the program's own name
        return None
    parts = found.group(1).split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES and (end > 1 or len(parts) == 1):
            return candidate
    return None


def _import_strings(module: str, rel: str, tree: ast.AST) -> list[str]:
    """Strings that name a module in a room above ``module``'s, and dynamic imports of a name
    computed at run time (which no reader can check), outside the top room."""
    here = _level(_room(module))
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            target = _named_module(node.value)
            if target is not None and _level(_room(target)) > here:
                wrong.append(f"{rel}:{node.lineno}: the string {node.value!r} names {target}, above")
        elif isinstance(node, ast.Call) and _room(module) not in TOP:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            literal = bool(node.args) and isinstance(node.args[0], ast.Constant)
            if called in DYNAMIC_IMPORTS and not literal:
                wrong.append(f"{rel}:{node.lineno}: {ast.unparse(node)} imports a computed name")
    return wrong


def test_no_import_string_reaches_up_the_house() -> None:
    """No module names a module of a room above it in a string (``importlib.import_module``, a lazy
    ``"module:function"`` target) or imports a computed name: registries are filled from above."""
    wrong = [line for name, path in MODULES.items()
             for line in _import_strings(name, str(path.relative_to(SRC)), TREES[name])]
    assert not wrong, "import strings that run up the house:\n" + "\n".join(wrong)


def test_import_string_check_sees_three() -> None:
    """The string check reports a literal import, a lazy target and a computed import in the model."""
    tree = ast.parse("import importlib\n"
                     "texts = importlib.import_module('backrx.pack.texts')\n"
                     "TARGET = 'backrx.render:explain'\n"
                     "def load(name):\n    return __import__(name)\n"
                     "SAME_ROOM = 'backrx.model.measures'\nNOT_A_MODULE = 'backrx.cds_hooks'\n")
    wrong = _import_strings("backrx.model.formats", "model/formats.py", tree)
    assert sorted(int(w.split(":")[1]) for w in wrong) == [2, 3, 5], wrong


# ------------------------------------------------------------ no registry that a user can change by accident

MUTABLE_CALLS = ("dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque")
MUTATORS = ("append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "clear",
            "remove", "discard", "__setitem__", "__delitem__")


def _is_mutable(value: ast.expr | None) -> bool:
    if isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        return (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) in MUTABLE_CALLS
    return False


def _mutable_globals(tree: ast.Module) -> dict[str, int]:
    """Names the module binds, at its top level, to a dict, list or set (display, comprehension or
    constructor call), with their lines. ``__all__`` is a list by convention and is left out."""
    out: dict[str, int] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        for target in targets:
            if isinstance(target, ast.Name) and target.id != "__all__" and _is_mutable(value):
                out[target.id] = node.lineno
    return out


def _exported(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                 for t in node.targets)
                and isinstance(node.value, (ast.List, ast.Tuple))):
            return {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
    return set()


def _mutated_names(tree: ast.AST) -> Iterator[tuple[ast.expr, int]]:
    """Each expression that a statement changes in place: ``x[k] = v``, ``del x[k]``, ``x += y``,
    ``x.update(...)`` and friends, ``monkeypatch.setitem(x, ...)``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript):
                    yield target.value, node.lineno
                elif isinstance(node, ast.AugAssign):
                    yield target, node.lineno
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in MUTATORS:
                yield node.func.value, node.lineno
            elif node.func.attr in ("setitem", "delitem") and node.args:
                yield node.args[0], node.lineno


def _mutable_registries(owners: dict[str, ast.Module], users: dict[str, tuple[str, ast.Module]]) -> list[str]:
    """Module-level dicts, lists and sets of a backrx module that are exported in its ``__all__``,
    or changed in place by another module (``users``: key -> (shown path, tree))."""
    containers = {module: _mutable_globals(tree) for module, tree in owners.items()}
    wrong = [f"{module}:{line}: {name} is a mutable {module} global in __all__"
             for module, tree in owners.items() for name, line in containers[module].items()
             if name in _exported(tree)]
    for key, (where, tree) in users.items():
        bound = {alias.asname or alias.name: (node.module, alias.name) for node in _imports(tree)
                 if isinstance(node, ast.ImportFrom) and node.module in containers
                 for alias in node.names if alias.name in containers[node.module]}
        modules = _module_aliases(tree)
        for expr, line in _mutated_names(tree):
            if isinstance(expr, ast.Name) and expr.id in bound:
                owner, name = bound[expr.id]
            elif (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name)
                  and modules.get(expr.value.id) in containers
                  and expr.attr in containers[modules[expr.value.id]]):
                owner, name = modules[expr.value.id], expr.attr
            else:
                continue
            if owner != key:
                wrong.append(f"{where}:{line}: changes {owner}.{name} in place")
    return wrong


def test_no_mutable_registry_is_public() -> None:
    """No module-level dict, list or set of src/ is exported in ``__all__`` or changed in place by
    another module (tests and benchmarks included): tables are read-only views with a function that
    validates what is added."""
    users = {name: (str(MODULES[name].relative_to(ROOT)), tree) for name, tree in TREES.items()}
    for folder in ("tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            users[f"{folder}:{path.name}"] = (str(path.relative_to(ROOT)),
                                              ast.parse(path.read_text(encoding="utf-8")))
    wrong = _mutable_registries(TREES, users)
    assert not wrong, "mutable registries:\n" + "\n".join(wrong)


def test_mutable_registry_check_sees_three() -> None:
    """The registry check reports a dict in ``__all__``, a dict changed by an importer and one
    patched by a test, and not a private dict its own module changes through a function."""
    owner = ast.parse("TABLE = {}\nOTHER: dict[str, int] = dict()\n_own = {}\n"
                      "def add(k):\n    _own[k] = 1\n__all__ = ['TABLE', 'add']\n")
    user = ast.parse("from backrx.x import OTHER\nimport backrx.x as x\nOTHER['a'] = 1\n"
                     "def test(monkeypatch):\n    monkeypatch.setitem(x.OTHER, 'b', 2)\n")
    wrong = _mutable_registries({"backrx.x": owner}, {"backrx.x": ("x.py", owner),
                                                      "tests:t.py": ("tests/t.py", user)})
    assert wrong == ["backrx.x:1: TABLE is a mutable backrx.x global in __all__",
                     "tests/t.py:3: changes backrx.x.OTHER in place",
                     "tests/t.py:5: changes backrx.x.OTHER in place"], wrong

"""The layout's rules, read from the source (AST, no Spark): no import cycles, no private names across
modules, entry points that only parse and call, transforms that do no I/O."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jobs", "pipeline", "adapters", "transforms", "schemas", "conf")


def _modules() -> dict[str, ast.Module]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts): ast.parse(p.read_text())
            for package in PACKAGES for p in sorted((ROOT / package).glob("*.py"))}


def _imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, function-level ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return found


def _graph(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    graph = {}
    for name, tree in modules.items():
        targets = set()
        for module, names in _imports(tree):
            if module in modules:
                targets.add(module)
            targets |= {f"{module}.{x}" for x in names if f"{module}.{x}" in modules}
        graph[name] = targets - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [node])):
                return found
        state[node] = 2
        return None
    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_import_cycles():
    graph = _graph(_modules())
    assert len(graph) > 30
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_a_private_name_of_another():
    modules = _modules()
    private = [(name, module, x) for name, tree in modules.items() for module, names in _imports(tree)
               for x in names if x.startswith("_") and module.split(".")[0] in PACKAGES]
    assert not private


def test_entry_points_only_parse_arguments_and_call_the_pipeline():
    for name, tree in _modules().items():
        if name.startswith("jobs.") and name != "jobs.__init__":
            imported = {module.split(".")[0] for module, _ in _imports(tree)}
            assert imported <= {"argparse", "sys", "datetime", "pathlib", "pipeline"}, (name, imported)


def test_transforms_do_no_io():
    for name, tree in _modules().items():
        if name.startswith("transforms."):
            calls = {node.func.attr for node in ast.walk(tree)
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
            assert not calls & {"save", "saveAsTable", "write_text", "mkdir", "open"}, name
            assert not {m for m, _ in _imports(tree)} & {"adapters", "adapters.lake", "requests", "pysolr"}, name

"""The structure holds: no import circle anywhere (imports inside functions and for type checking
count), no module imports a package root that imports it back, and every operation has the one
signature the entry points call it with."""

import importlib
import inspect
import pkgutil

import grimp
import pytest

import workflows.operations

PACKAGES = ("engine", "workflows", "web")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES)


def _cycles(graph):
    """Every strongly connected group of more than one module (Tarjan, without recursion)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules) for m in graph.modules}
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter[0]
                counter[0] += 1
                stack.append(node)
                on_stack.add(node)
            for next_position in range(position, len(edges[node])):
                target = edges[node][next_position]
                if target not in index:
                    work.append((node, next_position + 1))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found


def test_there_is_no_import_circle(graph):
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    made = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        made.add_module(module)
    made.add_import(importer="pkg.a", imported="pkg.b")
    made.add_import(importer="pkg.b", imported="pkg.c")
    made.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(made) == [["pkg.a", "pkg.b", "pkg.c"]]


@pytest.mark.parametrize("root", ["web", "workflows", "engine", "engine.spiff", "web.staff", "web.cli"])
def test_no_module_imports_a_package_root_that_imports_it(graph, root):
    inside = {m for m in graph.find_descendants(root)}
    importers = {m for m in graph.find_modules_that_directly_import(root) if m in inside}
    # A package's __main__ runs it; nothing else below a package goes back up to its root.
    assert importers <= {f"{root}.__main__"}


def _operations():
    for info in pkgutil.iter_modules(workflows.operations.__path__):
        module = importlib.import_module(f"workflows.operations.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                yield f"{info.name}.{name}", function


def test_every_operation_takes_engine_session_actor_first():
    # run_due (and run_due_work, which runs it as if at a given time) opens a unit of work per
    # job, as a worker does: it is given the engine only. So does a batch of case migrations (one
    # transaction per case).
    whole_runs = {"jobs.run_due", "due_work.run_due_work", "migration.run_batch", "migration.run_next_batch"}
    signatures = {name: list(inspect.signature(f).parameters)[:3] for name, f in _operations() if name not in whole_runs}
    assert len(signatures) >= 20
    assert {name: params for name, params in signatures.items() if params != ["engine", "session", "actor"]} == {}

"""The package's shape, checked on its source with `ast` (nothing is imported or run).

Every import counts, the ones inside functions too: a lazy import hides a cycle from the
interpreter until the day the import order changes, so it is a cycle all the same. The layering
rules are the ones docs/architecture.md states: data flows sources -> ingest -> store -> search
/ ranking -> digest -> web / cli, and the imports follow the same direction.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "paperwire"
MAX_LINES = 500
ISSUE_RE = re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE)
# the start of a statement as the store writes them (upper-case keywords), not an English sentence
SQL_RE = re.compile(r"^\s*(SELECT\s.*\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
                    r"|(CREATE|DROP)\s+(TABLE|INDEX|TRIGGER|VIEW)\s|PRAGMA\s|WITH\s+\w+\s+AS\s)", re.DOTALL)
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}

# The direction of the data flow (docs/architecture.md): each stage imports only the shared base
# modules and the stages before it.
BASE = ["paperwire.config", "paperwire.models", "paperwire.text", "paperwire.mailer", "paperwire.validate"]
STAGES = ["paperwire.store", "paperwire.ingest", "paperwire.search", "paperwire.ranking", "paperwire.digest",
          "paperwire.schedule", "paperwire.web", "paperwire.cli"]
# earlier stages a stage must not import all the same: search reads the store and never harvests;
# the store sends no mail
ALSO_FORBIDDEN = {"paperwire.search": ["paperwire.ingest"], "paperwire.store": ["paperwire.mailer"]}
# the modules that may hold a SQLite handle, and the ones that may render templates
SQL_LAYER = "paperwire.store"
RENDER_LAYERS = ["paperwire.web", "paperwire.digest"]


def forbidden_imports(package: str) -> list[str]:
    if package in BASE:
        return STAGES
    return STAGES[STAGES.index(package) + 1:] + ALSO_FORBIDDEN.get(package, [])


@dataclass
class Module:
    name: str
    path: Path
    source: str
    tree: ast.Module
    is_package: bool
    imports: list[tuple[str, int]] = field(default_factory=list)  # (imported name, line)


def module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def resolve_from(module: Module, node: ast.ImportFrom) -> str:
    """The absolute name a `from X import ...` reads from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]  # a module's relative imports start at its package
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(module: Module) -> list[tuple[str, int]]:
    """Every name an import statement anywhere in the module (functions included) loads:
    `import a.b` -> a.b; `from a import b` -> a.b (target_of maps a name that is not a module to
    its package)."""
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = resolve_from(module, node)
            found += [(f"{origin}.{alias.name}" if alias.name != "*" else origin, node.lineno)
                      for alias in node.names]
    return found


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name, is_package = module_name(path)
        source = path.read_text(encoding="utf-8")
        found[name] = Module(name, path, source, ast.parse(source, str(path)), is_package)
    for module in found.values():
        module.imports = imported_names(module)
    return found


def target_of(name: str, known: dict[str, Module]) -> str | None:
    """The paperwire module an imported name loads: the longest known prefix (a name imported
    from a package that is not a submodule is an edge to the package's __init__)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


@cache
def graph() -> dict[str, dict[str, int]]:
    """module -> {imported paperwire module: line of the first import}; self-edges dropped."""
    known = modules()
    edges: dict[str, dict[str, int]] = {name: {} for name in known}
    for name, module in known.items():
        for imported, line in module.imports:
            target = target_of(imported, known) if within(imported, "paperwire") else None
            if target and target != name:
                edges[name].setdefault(target, line)
    return edges


def knots(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle path per knot."""
    return [cycle_path(component, edges) for component in knots(edges)]


def cycle_path(component: list[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first, within the component)."""
    start, members = component[0], set(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node]):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return path[::-1] + [start]
                if nxt in members and nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    return component  # unreachable for a strongly connected component


def describe(path: list[str], edges: dict[str, dict[str, int]]) -> str:
    hops = [f"{a} (line {edges[a][b]})" for a, b in zip(path, path[1:])]
    return " -> ".join(hops + [path[-1]])


def test_no_import_cycle():
    edges = graph()
    found = []
    for knot in knots(edges):
        others = sorted(set(knot) - set(cycle_path(knot, edges)))
        found.append(describe(cycle_path(knot, edges), edges) + (f" (also in this knot: {', '.join(others)})"
                                                                  if others else ""))
    assert not found, "import cycles among paperwire's modules:\n" + "\n".join(found)


def test_cycle_finder_reports_the_path():
    # the checker itself: a three-module loop and a two-module loop are found, a chain is not
    edges = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"e": 4}, "e": {"d": 5}, "f": {"a": 6}}
    assert sorted(cycles(edges)) == [["a", "b", "c", "a"], ["d", "e", "d"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


def guarded_imports(module: Module) -> list[str]:
    found = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Try):
            continue
        caught = set()
        for handler in node.handlers:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught |= {t.id for t in types if isinstance(t, ast.Name)}
        if not caught & IMPORT_ERRORS:
            continue
        for inner in (n for stmt in node.body for n in ast.walk(stmt)):
            if isinstance(inner, ast.ImportFrom) and (inner.level or within(inner.module or "", "paperwire")):
                found.append(inner.lineno)
            elif isinstance(inner, ast.Import) and any(within(a.name, "paperwire") for a in inner.names):
                found.append(inner.lineno)
    return [f"{module.path.relative_to(PACKAGE.parent)}:{line}" for line in sorted(found)]


def test_no_import_error_guard_around_paperwire_modules():
    # paperwire's own modules always ship: a guard only hides a broken import (or swaps in dead code)
    found = [hit for module in modules().values() for hit in guarded_imports(module)]
    assert not found, "try/except ImportError around paperwire's own modules:\n" + "\n".join(found)


def test_no_module_over_500_lines():
    found = [f"{m.path.relative_to(PACKAGE.parent)}: {len(m.source.splitlines())} lines"
             for m in modules().values() if len(m.source.splitlines()) > MAX_LINES]
    assert not found, f"modules over {MAX_LINES} lines:\n" + "\n".join(found)


def comments_and_docstrings(module: Module) -> list[tuple[int, str]]:
    texts = [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(module.source).readline)
             if tok.type == tokenize.COMMENT]
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                texts.append((node.body[0].lineno, doc))
    return texts


def sql_comments(path: Path) -> list[tuple[int, str]]:
    return [(number, line.split("--", 1)[1]) for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if "--" in line]


def test_no_comment_points_at_an_issue_number():
    # the tracker's numbering is not the code's: a comment says why, not which ticket
    texts = [(m.path, line, text) for m in modules().values() for line, text in comments_and_docstrings(m)]
    texts += [(path, line, text) for path in sorted(PACKAGE.rglob("*.sql")) for line, text in sql_comments(path)]
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {ISSUE_RE.search(text).group(0)}"
             for path, line, text in sorted(texts) if ISSUE_RE.search(text)]
    assert not found, "comments naming an issue number:\n" + "\n".join(found)


def test_imports_follow_the_layers():
    found = []
    for name, targets in graph().items():
        for layer in BASE + STAGES:
            if not within(name, layer):
                continue
            found += [f"{name} (line {line}) imports {target}" for target, line in targets.items()
                      if any(within(target, above) for above in forbidden_imports(layer))]
    assert not found, "imports against the layering (docs/architecture.md):\n" + "\n".join(sorted(found))


def test_only_the_store_touches_sqlite():
    # a web handler, a parser or a ranker asks the store; it never holds a connection of its own
    found = [f"{m.name} (line {line})" for m in modules().values() if not within(m.name, SQL_LAYER)
             for imported, line in m.imports if within(imported, "sqlite3")]
    assert not found, "sqlite3 imported outside paperwire.store:\n" + "\n".join(sorted(found))


def test_only_web_pages_and_digests_render_templates():
    # a ranker or a search returns data; the page or the e-mail decides how it looks
    found = [f"{m.name} (line {line})" for m in modules().values()
             if not any(within(m.name, layer) for layer in RENDER_LAYERS)
             for imported, line in m.imports if within(imported, "jinja2")]
    assert not found, "jinja2 imported outside paperwire.web and paperwire.digest:\n" + "\n".join(sorted(found))


def sql_literals(module: Module) -> list[int]:
    return [node.lineno for node in ast.walk(module.tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_RE.match(node.value)]


def test_ingest_writes_no_sql():
    found = [f"{m.path.relative_to(PACKAGE.parent)}:{line}" for m in modules().values()
             if within(m.name, "paperwire.ingest") for line in sql_literals(m)]
    assert not found, "SQL text in paperwire.ingest (the store's functions do the SQL):\n" + "\n".join(found)


def test_the_checker_sees_lazy_and_relative_imports():
    # the walk must count an import inside a function and resolve `from . import x`
    source = "def f():\n    from . import papers\n    import paperwire.web.app\n"
    module = Module("paperwire.store.listings", Path("x.py"), source, ast.parse(source), False)
    names = {name for name, _ in imported_names(module)}
    assert {"paperwire.store.papers", "paperwire.web.app"} <= names
    known = modules()
    assert target_of("paperwire.store.papers", known) == "paperwire.store.papers"
    assert target_of("paperwire.store.Store", known) == "paperwire.store"
    # and on the real package it finds edges that are there
    assert {"paperwire.models", "paperwire.store.sqlite"} <= set(graph()["paperwire.store.papers"])


def test_the_checker_tells_sql_from_prose():
    assert SQL_RE.match("SELECT 1 FROM papers LIMIT 1") and SQL_RE.match("\n  INSERT OR IGNORE INTO links(url) ")
    assert SQL_RE.match("UPDATE papers SET hidden=1") and SQL_RE.match("CREATE TABLE t (x)")
    assert not SQL_RE.match("Update the store with what the harvest found")
    assert not SQL_RE.match("With e-mail off, select what to log")

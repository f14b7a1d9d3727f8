"""For the hooks: what a part of the site depends on, and a cache keyed on it.

Only `mkdocs serve` uses the cache; `mkdocs build` (and so `make test`) computes
everything afresh, so a stale entry can never hide a broken snippet. An entry
records the files it was computed from with their hashes, and is used only while
every one of them is unchanged: the code found by reading the imports,
transitively, and what the caller adds (data files it read, the library pins).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.util
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

_INSTALLED = tuple(
    str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
)
# notebook magics and shell escapes are not Python; blank them before parsing
_MAGIC = re.compile(r"^\s*[%!].*$", re.M)


def _project_file(spec) -> Path | None:
    """The module's source file if it is the project's own (not installed)."""
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py"):
        return None
    path = Path(origin).resolve()
    return None if str(path).startswith(_INSTALLED) else path


def _find(name: str):
    """The spec of a module, found without importing it or its parents."""
    parts, spec = name.split("."), None
    for i in range(len(parts)):
        try:
            if i == 0:
                spec = importlib.util.find_spec(parts[0])
            elif spec and spec.submodule_search_locations:
                spec = importlib.machinery.PathFinder.find_spec(
                    ".".join(parts[: i + 1]), spec.submodule_search_locations
                )
            else:
                return None
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
    return spec


def _imported_names(source: str, package: str) -> set[str]:
    """Module names a source imports, with every parent package (they run too).
    Nothing for a source that does not parse: running it will say why."""
    try:
        tree = ast.parse(_MAGIC.sub("", source))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[
                    : len(package.split(".")) - node.level + 1
                ]
                base = ".".join([*filter(None, parent), *filter(None, [base])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    full = set()
    for name in filter(None, names):
        parts = name.split(".")
        full.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return full


def project_imports(source: str, package: str = "") -> set[Path]:
    """The project's own modules that `source` imports, transitively, read from the
    import statements (nothing is executed). `package` resolves relative imports."""
    found: set[Path] = set()
    todo = [(source, package)]
    while todo:
        text, pkg = todo.pop()
        for name in _imported_names(text, pkg):
            spec = _find(name)
            path = _project_file(spec)
            if path is None or path in found:
                continue
            found.add(path)
            is_package = path.name == "__init__.py"
            todo.append(
                (
                    path.read_text(encoding="utf-8"),
                    name if is_package else name.rpartition(".")[0],
                )
            )
    return found


def digest(path: Path) -> str:
    if path.is_dir():
        h = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{child.relative_to(path)}\0{digest(child)}\0".encode())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def digests(paths: Iterable[Path]) -> dict[str, str]:
    return {str(p): digest(Path(p)) for p in set(map(str, paths))}


class Cache:
    """JSON entries in `directory`, each valid while its files are unchanged."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / (
            hashlib.sha256(name.encode()).hexdigest() + ".json"
        )

    def get(self, name: str):
        path = self._path(name)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if entry.get("name") != name or any(
            digest(Path(dep)) != sha for dep, sha in entry["deps"].items()
        ):
            return None
        return entry["value"]

    def put(self, name: str, deps: dict[str, str], value) -> Path:
        """Store `value`, valid while each file of `deps` keeps its digest (take
        them with `digests` before computing, so an edit made meanwhile counts)."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"name": name, "deps": dict(sorted(deps.items())), "value": value}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        tmp.replace(path)  # atomic: a watcher never sees half an entry
        return path

"""
The layout table of docs/layout.md is the package's true map: every module of
src/authgate is in it, every row names a module that exists, and imports run only down
its groups (a module imports from its own group or an earlier one, never a later one),
counting every import: at the top, inside a function, or for type checking only.
"""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "authgate"
LAYOUT = REPO / "docs" / "layout.md"

# Files that are no module of their own: empty package faces, and what a row of a folder
# (`migrations/`, `management/`) already covers.
UNLISTED = {"account/__init__.py", "contrib/__init__.py", "db/__init__.py", "db/postgresql/__init__.py"}


def _groups() -> dict[str, int]:
    """Row (a file, or a folder ending in "/") -> the index of its group."""
    rows: dict[str, int] = {}
    group = -1
    for line in LAYOUT.read_text(encoding="utf-8").splitlines():
        if line.startswith("| **"):
            group += 1
            continue
        row = re.match(r"\| `([^`]+)` \| \d+ \|", line)
        if row:
            assert group >= 0, f"a row before the first group: {line}"
            rows[row.group(1)] = group
    return rows


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _row_of(path: Path, rows: dict[str, int]) -> str | None:
    relative = path.relative_to(PACKAGE).as_posix()
    if relative in rows:
        return relative
    folders = [f"{'/'.join(relative.split('/')[:i])}/" for i in range(relative.count("/"), 0, -1)]
    return next((folder for folder in folders if folder in rows), None)


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `module` imports, anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                submodule = f"{prefix}.{alias.name}"
                named.add(submodule if submodule in modules else prefix)
    return {name for name in named if name in modules}


def test_every_module_of_the_package_has_a_row_and_every_row_a_module():
    rows = _groups()
    modules = _modules()
    unlisted = [
        path.relative_to(PACKAGE).as_posix()
        for path in modules.values()
        if _row_of(path, rows) is None and path.relative_to(PACKAGE).as_posix() not in UNLISTED
    ]
    assert not unlisted, f"add these to docs/layout.md: {sorted(unlisted)}"
    missing = [row for row in rows if not (PACKAGE / row).exists()]
    assert not missing, f"docs/layout.md names what is not there: {missing}"


def test_imports_run_only_down_the_groups_of_the_layout():
    rows = _groups()
    modules = _modules()
    upward = []
    for module, path in sorted(modules.items()):
        own = _row_of(path, rows)
        if own is None:
            continue
        for target in sorted(_imports(module, path, modules)):
            theirs = _row_of(modules[target], rows)
            if theirs is not None and rows[theirs] > rows[own]:
                upward.append(f"{module} -> {target}")
    assert not upward, f"imports that run back up: {upward}"


def test_the_line_counts_of_the_layout_are_roughly_true():
    """Within a quarter (and 40 lines) of today's: the table may lag small edits, not a redraw."""
    for row in _groups():
        path = PACKAGE / row
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        actual = sum(len(file.read_text(encoding="utf-8").splitlines()) for file in files)
        stated = _stated_lines(row)
        assert abs(actual - stated) <= max(40, actual // 4), f"{row}: {stated} in docs/layout.md, {actual} today"


def _stated_lines(row: str) -> int:
    match = re.search(rf"\| `{re.escape(row)}` \| (\d+) \|", LAYOUT.read_text(encoding="utf-8"))
    assert match, row
    return int(match.group(1))

"""Folders of generated documents (schemas, OpenAPI): compare with what the code generates, or rewrite them."""

from pathlib import Path


def folder_differences(directory: Path, wanted: dict[str, str]) -> list[str]:
    """One line per file that is missing, extra or different."""
    present = {path.name for path in directory.glob("*.json")} if directory.is_dir() else set()
    problems = []
    for name in sorted(wanted.keys() | present):
        path = directory / name
        if name not in present:
            problems.append(f"missing: {path}")
        elif name not in wanted:
            problems.append(f"extra: {path}")
        elif path.read_text(encoding="utf-8") != wanted[name]:
            problems.append(f"differs: {path}")
    return problems


def write_folder(directory: Path, wanted: dict[str, str]) -> list[Path]:
    """Writes what changed and removes stale files; returns the files written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in wanted.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in sorted(directory.glob("*.json")):
        if path.name not in wanted:
            path.unlink()
            changed.append(path)
    return changed

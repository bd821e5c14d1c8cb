"""Reading a spec from a file or a folder, pulling in the modules it ``use``s, and merging.

* A folder: every ``*.yaml``/``*.yml`` file below it (sorted; not those in ``custom/``, the app's
  own code) is part of one spec. Two files may
  add to the same mapping (say both add entities), but may not both set the same value.
* ``use: [contacts, deals]`` loads modules from crmgen's ``specs/`` library (or a path relative to
  the spec, like ``./common.yaml``). The user's spec extends them: mappings merge, and what the user
  writes (a label, a field's options) replaces what the module said.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from crmgen.bundled import specs_dir
from crmgen.diagnostics import Diagnostic, Position, did_you_mean
from crmgen.language.custom_code import FOLDER as CUSTOM
from crmgen.language.yaml_loader import LoadedYaml, Path, SourceMap, load_yaml

MAX_FILE_BYTES = 2_000_000
SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass
class Sources:
    data: dict[str, Any]
    source: SourceMap
    diagnostics: list[Diagnostic]
    files: list[str]


def _display(path: FsPath) -> str:
    """A path as people see it in messages: relative to the working folder when inside it."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def spec_files(root: FsPath) -> list[FsPath]:
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in SPEC_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.relative_to(root).parts[0] != CUSTOM  # the app's own code, not the spec
    )


def read_file(path: FsPath) -> LoadedYaml:
    name = _display(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return _failed(
                name, "spec-file", f"the file is too large ({size} bytes; at most {MAX_FILE_BYTES})"
            )
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        head = exc.object[: exc.start]
        line = head.count(b"\n") + 1
        column = len(head[head.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        return LoadedYaml(
            None,
            SourceMap(),
            [
                Diagnostic(
                    Position(name, line, column),
                    "error",
                    "spec-file",
                    f"the file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}: {exc.reason}); save it as UTF-8",
                )
            ],
        )
    except OSError as exc:
        return _failed(name, "spec-file", f"cannot read the file: {exc.strerror}")
    if "\x00" in text:
        return _failed(name, "spec-file", "the file contains NUL characters; is it a binary file?")
    loaded = load_yaml(text, name)
    if loaded.data is not None and not isinstance(loaded.data, dict):
        loaded.diagnostics.append(
            Diagnostic(
                Position(name, 1, 1),
                "error",
                "spec-not-mapping",
                "a spec file must be a mapping of sections (app:, entities:, ...)",
            )
        )
        loaded.data = None
    return loaded


def _failed(name: str, code: str, message: str) -> LoadedYaml:
    return LoadedYaml(None, SourceMap(), [Diagnostic(Position(name, 1, 1), "error", code, message)])


def load_sources(root: FsPath) -> Sources:
    """Read the spec at ``root`` with every module it uses, merged into one tree."""
    state = _Loader()
    data, source = state.load_spec(root.resolve(), chain=())
    return Sources(data, source, state.diagnostics, state.files)


class _Loader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.files: list[str] = []
        self.merged: set[FsPath] = set()  # modules already merged into this spec

    def load_spec(
        self, root: FsPath, chain: tuple[FsPath, ...]
    ) -> tuple[dict[str, Any], SourceMap]:
        if not root.exists():
            name = _display(root)
            self.diagnostics.append(
                Diagnostic(Position(name, 1, 1), "error", "spec-missing", "no such file or folder")
            )
            return {}, SourceMap()
        files = spec_files(root)
        if not files:
            self.diagnostics.append(
                Diagnostic(
                    Position(_display(root), 1, 1),
                    "error",
                    "spec-empty",
                    "the folder holds no .yaml or .yml files",
                )
            )
            return {}, SourceMap()
        data: dict[str, Any] = {}
        source = SourceMap()
        uses: list[tuple[str, Position, FsPath]] = []
        for path in files:
            self.files.append(_display(path))
            loaded = read_file(path)
            self.diagnostics.extend(loaded.diagnostics)
            if not isinstance(loaded.data, dict):
                continue
            # A `use` that is not a list stays in the data, so the schema reports it where it is.
            raw_use = loaded.data.pop("use") if isinstance(loaded.data.get("use"), list) else []
            for i, name in enumerate(raw_use):
                at = loaded.source.value(("use", i)) or Position(_display(path), 1, 1)
                if isinstance(name, str):
                    uses.append((name, at, path))
                else:
                    self.diagnostics.append(
                        Diagnostic(
                            at,
                            "error",
                            "spec-use",
                            "a module in use: is a name (like contacts) or a path (like ./common.yaml)",
                        )
                    )
            _merge_parts(data, source, loaded.data, loaded.source, (), self.diagnostics)
        if not uses:
            return data, source
        base: dict[str, Any] = {}
        base_source = SourceMap()
        for name, pos, origin in uses:
            module = self.resolve_module(name, pos, origin)
            if module is None:
                continue
            if module in chain or module == root:
                loop = (chain + (root,))[(chain + (root,)).index(module) :] + (module,)
                shown = " -> ".join(_display(p) for p in loop)
                self.diagnostics.append(
                    Diagnostic(
                        pos,
                        "error",
                        "spec-use-cycle",
                        f"'{name}' is already being loaded (a cycle of use: {shown})",
                    )
                )
                continue
            if module in self.merged:
                continue  # used before in this spec: merged once, like an import
            self.merged.add(module)
            mdata, msource = self.load_spec(module, chain + (root,))
            _override(base, base_source, mdata, msource)
        _override(base, base_source, data, source)
        return base, base_source

    def resolve_module(self, name: str, pos: Position, origin: FsPath) -> FsPath | None:
        if name.startswith((".", "/")) or name.endswith(SPEC_SUFFIXES):
            path = (origin.parent / name).resolve()
            if path.exists():
                return path
            self.diagnostics.append(
                Diagnostic(pos, "error", "spec-use-missing", f"no spec module at '{name}'")
            )
            return None
        library = specs_dir()
        for candidate in (library / f"{name}.yaml", library / name):
            if candidate.exists():
                return candidate
        available = sorted(p.stem for p in library.glob("*.yaml"))
        hint = did_you_mean(name, available)
        listing = hint or f" (available: {', '.join(available)})"
        self.diagnostics.append(
            Diagnostic(pos, "error", "spec-use-missing", f"unknown spec module '{name}'{listing}")
        )
        return None


def _merge_parts(
    into: dict[str, Any],
    into_source: SourceMap,
    part: dict[str, Any],
    part_source: SourceMap,
    path: Path,
    diagnostics: list[Diagnostic],
) -> None:
    """Merge one file of a folder spec: mappings combine, a value set twice is an error."""
    for key, value in part.items():
        sub = path + (key,)
        if key not in into:
            into[key] = value
            _copy_positions(into_source, part_source, sub, value)
        elif isinstance(into[key], dict) and isinstance(value, dict):
            _merge_parts(into[key], into_source, value, part_source, sub, diagnostics)
        else:
            first = into_source.key(sub)
            pos = part_source.key(sub) or Position("<spec>", 1, 1)
            where = f" (first set at {first.file}:{first.line}:{first.column})" if first else ""
            diagnostics.append(
                Diagnostic(
                    pos,
                    "error",
                    "spec-conflict",
                    f"'{'.'.join(map(str, sub))}' is set in two files{where}",
                )
            )


def _override(
    into: dict[str, Any],
    into_source: SourceMap,
    over: dict[str, Any],
    over_source: SourceMap,
    path: Path = (),
) -> None:
    """Extend a module with the user's spec: mappings merge; other values are replaced."""
    for key, value in over.items():
        sub = path + (key,)
        if _is_field(sub) and isinstance(into.get(key), str) and isinstance(value, dict):
            into[key] = {"type": into[key]}  # the module's one-word form, so options can be added
        if isinstance(into.get(key), dict) and isinstance(value, dict):
            pos = over_source.keys.get(sub)
            if pos:
                into_source.keys[sub] = pos
            _override(into[key], into_source, value, over_source, sub)
        else:
            into[key] = value
            _copy_positions(into_source, over_source, sub, value)


def _is_field(path: Path) -> bool:
    return len(path) == 4 and path[0] == "entities" and path[2] == "fields"


def _copy_positions(into: SourceMap, source: SourceMap, prefix: Path, value: Any) -> None:
    """Copy the positions of ``prefix`` and of everything inside ``value`` (the data there).

    Walking the value rather than scanning the whole map keeps merging linear in the spec size.
    """
    for table_into, table in ((into.values, source.values), (into.keys, source.keys)):
        pos = table.get(prefix)
        if pos is not None:
            table_into[prefix] = pos
    if isinstance(value, dict):
        for key, item in value.items():
            _copy_positions(into, source, prefix + (key,), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _copy_positions(into, source, prefix + (i,), item)

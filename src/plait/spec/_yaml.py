"""YAML text → plain Python values, remembering the line of every value and refusing duplicates.

PyYAML's constructors keep the last of two equal keys without a word and forget lines, so the
loader composes nodes (libyaml when available) and builds the values itself.
"""

from __future__ import annotations

from plait.errors import Problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from yaml.nodes import MappingNode, Node

__all__ = ["Document", "Path", "parse_documents", "show_path"]

Path = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_CONSTRUCTED_TAGS = frozenset({_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null"})
_MAX_NODES = 1_000_000  # alias bombs expand exponentially; stop long before memory does


class Document:
    """One ``---`` document: its value, the line of each path, the source text of non-strings."""

    def __init__(self, value: object, line: int, lines: dict[Path, int], raw: dict[Path, str]):
        self.value = value
        self.line = line
        self.lines = lines
        self.raw = raw


class _TooLarge(Exception):
    """Raised when alias expansion would build an unreasonable number of values."""


def parse_documents(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """Parse every document of ``text``; a syntax error becomes one Problem with its line."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        nodes = list(yaml.compose_all(text, Loader=loader))
    except yaml.MarkedYAMLError as exc:
        return [], [_syntax_problem(exc, file)]
    except yaml.YAMLError as exc:
        return [], [Problem(file, None, "", f"YAML error: {exc}")]
    documents: list[Document] = []
    problems: list[Problem] = []
    for node in nodes:
        builder = _Builder(file, problems)
        try:
            value = builder.convert(node, ())
        except _TooLarge:
            problems.append(Problem(file, node.start_mark.line + 1, "", "document is too large"))
            continue
        doc = Document(value, node.start_mark.line + 1, builder.lines, builder.raw)
        documents.append(doc)
    return documents, problems


def _syntax_problem(exc: Any, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return Problem(file, None, "", f"YAML syntax error: {what}")
    return Problem(file, mark.line + 1, "", f"YAML syntax error: {what} (column {mark.column + 1})")


class _Builder:
    """Walks one document's nodes into values, filling the line and raw-text maps."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        from yaml.constructor import SafeConstructor

        self.file = file
        self.problems = problems
        self.lines: dict[Path, int] = {}
        self.raw: dict[Path, str] = {}
        self._constructor = SafeConstructor()
        self._active: set[int] = set()
        self._count = 0

    def convert(self, node: Node, path: Path) -> object:
        self._count += 1
        if self._count > _MAX_NODES:
            raise _TooLarge
        self.lines.setdefault(path, node.start_mark.line + 1)
        if _kind(node) == "scalar":
            return self._scalar(node, path)
        if id(node) in self._active:
            self._problem(node, path, "an alias refers to itself")
            return None
        self._active.add(id(node))
        try:
            if _kind(node) == "sequence":
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)  # type: ignore[arg-type]
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: Node, path: Path) -> object:
        if node.tag not in _CONSTRUCTED_TAGS:
            return node.value  # strings, and timestamps or custom tags kept as written
        self.raw.setdefault(path, "" if node.tag == _TAG + "null" else str(node.value))
        return self._constructor.construct_object(node)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, object]:
        explicit: dict[str, object] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.extend(self._merge_sources(value_node, path))
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in first_line:
                message = f"duplicate key `{key}` (first at line {first_line[key]})"
                self.problems.append(Problem(self.file, line, show_path((*path, key)), message))
                continue
            first_line[key] = line
            self.lines.setdefault((*path, key), line)  # explicit keys come before merged ones
            explicit[key] = self.convert(value_node, (*path, key))
        return self._apply_merges(merges, explicit, path)

    def _apply_merges(
        self, merges: list[Node], explicit: dict[str, object], path: Path
    ) -> dict[str, object]:
        if not merges:
            return explicit
        result: dict[str, object] = {}
        for source in merges:
            merged = self.convert(source, path)
            if not isinstance(merged, dict):
                continue
            for key, value in merged.items():
                result.setdefault(key, value)  # the earlier source wins, as YAML says
        result.update(explicit)
        return result

    def _merge_sources(self, node: Node, path: Path) -> list[Node]:
        if _kind(node) == "mapping":
            return [node]
        if _kind(node) == "sequence" and all(_kind(item) == "mapping" for item in node.value):
            return list(node.value)
        self._problem(node, path, "`<<` must merge a mapping or a list of mappings")
        return []

    def _key(self, node: Node, path: Path) -> str | None:
        if _kind(node) != "scalar":
            self._problem(node, path, "a mapping key must be a plain string")
            return None
        return str(node.value)

    def _problem(self, node: Node, path: Path, message: str) -> None:
        line = node.start_mark.line + 1
        self.problems.append(Problem(self.file, line, show_path(path), message))


def _kind(node: Node) -> str:
    """``scalar``, ``sequence`` or ``mapping`` (a class attribute the stubs do not declare)."""
    return str(getattr(node, "id", ""))


def show_path(path: Path) -> str:
    """Readable field path: ``steps[2].depends``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out

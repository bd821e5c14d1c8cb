"""The ER diagram of a spec: Mermaid source and an SVG drawn here, from a layout of our own.

The SVG is made by crmgen itself rather than by Graphviz: ``dot`` lays out differently from one
version to the next and is not installed everywhere, and the generated app (and its committed
snapshots) must be the same bytes on every machine, with no network and no extra tool. The
layout is simple and fixed: the entities in spec order on a grid, each a table of its fields;
each relation a line from the field that holds it to the target's header, drawn only in the
gaps between the tables (each line its own lane there), with the cardinality at both ends.

Names reach the Mermaid source as they are (validated names are plain ASCII identifiers; anything
else is refused here), a plugin's type name with anything but letters, digits and ``_`` replaced;
the SVG gets every text through ``markdown.xml_text``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from crmgen.language.model import Entity, Field, Spec
from crmgen.render.errors import GenerateError
from crmgen.render.markdown import xml_text

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# Mermaid's cardinality markers, target side first: (required, optional).
_MERMAID = {
    "many_to_one": ("||--o{", "|o--o{"),
    "one_to_one": ("||--o|", "|o--o|"),
    "many_to_many": ("}o--o{", "}o--o{"),
}


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise GenerateError(f"{value!r} cannot name a part of the ER diagram")
    return value


def _type(value: str) -> str:
    """A field type as a Mermaid attribute type: a plugin's type may be named anyhow."""
    word = re.sub(r"[^A-Za-z0-9_]", "_", value)
    return word if _NAME.match(word) else f"t_{word}"


def mermaid(spec: Spec) -> str:
    """``erDiagram`` source: every entity with its fields and types, every relation.

    Mermaid's lexer is case-insensitive and takes the first rule that matches, so an entity
    named ``Topic`` or ``Style`` would start with its keywords ``to`` and ``style``: entity names
    are always quoted. A field named ``pk``, ``fk`` or ``uk`` would be a key marker: such a name
    is written in backticks.
    """
    lines = ["erDiagram"]
    for entity in spec.entities:
        lines.append(f'    "{_name(entity.name)}" {{')
        lines.append("        integer id PK")
        for field in entity.fields:
            key = " FK" if field.relation is not None and field.column else ""
            lines.append(f"        {_type(field.type)} {_attribute(field.name)}{key}")
        lines.append("    }")
    for entity in spec.entities:
        for field in entity.fields:
            if field.relation is None:
                continue
            required, optional = _MERMAID[field.relation.kind]
            marker = required if field.required else optional
            label = _name(field.name)
            if field.relation.back:
                label += f" / {_name(field.relation.back)}"
            lines.append(
                f'    "{_name(field.relation.target)}" {marker} "{_name(entity.name)}" : "{label}"'
            )
    return "\n".join(lines) + "\n"


def _attribute(name: str) -> str:
    return f"`{_name(name)}`" if name.lower() in ("pk", "fk", "uk") else _name(name)


def cardinality(field: Field) -> tuple[str, str]:
    """(at the holder's end, at the target's end): how many of each relate to one other."""
    assert field.relation is not None
    target = "1" if field.required else "0..1"
    if field.relation.kind == "many_to_many":
        return "*", "*"
    if field.relation.kind == "one_to_one":
        return "0..1", target
    return "*", target


# -- the SVG ----------------------------------------------------------------------------------

CHAR = 8  # px per column of the 12 px monospace font (DejaVu Sans Mono: 7.2, with room; wide: 2)
ROW = 18  # px per field row
HEAD = 40  # px of a table's header (name and label)
LANE = 8  # px between two lines in a gap
GAP = 16  # px of a gap without lines or labels
LABEL = 30  # px kept free for the cardinality labels at each side of a column gap
MAX_COLUMNS = 34  # display columns a table shows of a field (then an ellipsis)


@dataclass
class _Box:
    entity: Entity
    column: int
    row: int
    x: int = 0
    y: int = 0
    entries: int = 0  # lines that end here

    @property
    def height(self) -> int:
        return HEAD + ROW * max(len(self.entity.fields) + 1, self.entries - 1) + 6

    def field_y(self, name: str) -> int:
        index = next(i for i, f in enumerate(self.entity.fields) if f.name == name) + 1
        return self.y + HEAD + ROW * index + ROW // 2 + 2


@dataclass
class _Edge:
    source: _Box
    field: Field
    target: _Box
    out_lane: int = 0  # in the gap right of the source's column
    in_lane: int = 0  # in the gap left of the target's column
    row_lane: int = -1  # in the gap above the target's row (-1: a straight route, no row gap)
    entry: int = 0  # which of the target's incoming lines this is (they enter one below another)


def svg(spec: Spec, default_locale: str) -> bytes:
    """The diagram as a standalone SVG document (UTF-8, deterministic)."""
    entities = spec.entities
    columns = max(1, math.ceil(math.sqrt(len(entities))))
    boxes = {e.name: _Box(e, i % columns, i // columns) for i, e in enumerate(entities)}
    rows = max((b.row for b in boxes.values()), default=0) + 1
    widest = max((len(f.name) + len(f.type) + 4 for e in entities for f in e.fields), default=10)
    box_width = CHAR * max(24, min(widest, MAX_COLUMNS + 10)) + 16
    edges = [
        _Edge(boxes[e.name], f, boxes[f.relation.target])
        for e in entities
        for f in e.fields
        if f.relation is not None and f.relation.target in boxes
    ]
    for edge in edges:
        edge.entry = edge.target.entries
        edge.target.entries += 1
    column_lanes = [0] * (columns + 1)  # gap g lies left of column g
    row_lanes = [0] * (rows + 1)  # gap r lies above row r
    for edge in edges:
        exit_gap, entry_gap = edge.source.column + 1, edge.target.column
        edge.out_lane = column_lanes[exit_gap]
        column_lanes[exit_gap] += 1
        if exit_gap == entry_gap:  # the target's column is the next one: the gap goes straight
            edge.in_lane = edge.out_lane
            continue
        edge.in_lane = column_lanes[entry_gap]
        column_lanes[entry_gap] += 1
        edge.row_lane = row_lanes[edge.target.row]
        row_lanes[edge.target.row] += 1
    gap_width = [GAP + 2 * LABEL + LANE * n for n in column_lanes]
    gap_height = [2 * GAP + LANE * n for n in row_lanes]
    heights = [
        max(b.height for b in boxes.values() if b.row == r) if entities else 0 for r in range(rows)
    ]
    column_x = [sum(gap_width[: c + 1]) + box_width * c for c in range(columns + 1)]
    row_y = [sum(gap_height[: r + 1]) + sum(heights[:r]) for r in range(rows + 1)]
    for box in boxes.values():
        box.x, box.y = column_x[box.column], row_y[box.row]
    total_width = column_x[columns]
    total_height = row_y[rows]

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" '
            f'height="{total_height}" viewBox="0 0 {total_width} {total_height}" '
            'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">'
        ),
        f"<title>{xml_text(spec.app.title.get(default_locale, default_locale))}: data model</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        '<g fill="none" stroke="#5b6b7f" stroke-width="1.2">',
    ]
    labels = []
    for edge in edges:
        points, (near_source, near_target) = _route(edge, column_x, row_y, box_width, gap_width)
        path = " ".join(f"{x},{y}" for x, y in points)
        out.append(f'<polyline points="{path}"><title>{_edge_title(edge)}</title></polyline>')
        at_source, at_target = cardinality(edge.field)
        labels.append(_label(near_source, at_source, "start"))
        labels.append(_label(near_target, at_target, "end"))
    out.append("</g>")
    out.append('<g fill="#1f3a5f" font-size="10">')
    out += labels
    out.append("</g>")
    for box in boxes.values():
        out += _table(box, box_width, default_locale)
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode("utf-8")


def _route(
    edge: _Edge, column_x: list[int], row_y: list[int], box_width: int, gap_width: list[int]
) -> tuple[list[tuple[int, int]], tuple[tuple[int, int], tuple[int, int]]]:
    """The polyline of a relation (source field -> right gap -> row gap -> left gap -> target
    header) and the points its two cardinality labels hang from."""
    source, target = edge.source, edge.target
    start = (source.x + box_width, source.field_y(edge.field.name))
    end = (target.x, target.y + HEAD // 2 + ROW * edge.entry)
    exit_gap, entry_gap = source.column + 1, target.column
    out_x = column_x[exit_gap] - gap_width[exit_gap] + LABEL + GAP // 2 + LANE * edge.out_lane
    if edge.row_lane < 0:
        points = [start, (out_x, start[1]), (out_x, end[1]), end]
    else:
        in_x = column_x[entry_gap] - gap_width[entry_gap] + LABEL + GAP // 2 + LANE * edge.in_lane
        channel_y = row_y[target.row] - GAP - LANE * edge.row_lane
        points = [start, (out_x, start[1]), (out_x, channel_y), (in_x, channel_y)]
        points += [(in_x, end[1]), end]
    return points, ((start[0] + 3, start[1] - 3), (end[0] - 3, end[1] - 3))


def _label(at: tuple[int, int], text: str, anchor: str) -> str:
    return f'<text x="{at[0]}" y="{at[1]}" text-anchor="{anchor}">{xml_text(text)}</text>'


def _edge_title(edge: _Edge) -> str:
    relation = edge.field.relation
    assert relation is not None
    back = f" (back: {relation.back})" if relation.back else ""
    kind = relation.kind.replace("_", " ")
    return xml_text(
        f"{edge.source.entity.name}.{edge.field.name} -> {relation.target}{back}: {kind}"
    )


def _table(box: _Box, box_width: int, locale: str) -> list[str]:
    entity = box.entity
    label = entity.label.get(locale, locale)
    x, y = box.x, box.y
    parts = [
        f'<g id="entity-{_name(entity.name)}">',
        (
            f'<rect x="{x}" y="{y}" width="{box_width}" height="{box.height}" rx="4" '
            'fill="#f8fafc" stroke="#5b6b7f" stroke-width="1.2"/>'
        ),
        (
            f'<rect x="{x}" y="{y}" width="{box_width}" height="{HEAD}" rx="4" fill="#dbe5f1" '
            'stroke="#5b6b7f" stroke-width="1.2"/>'
        ),
        f'<text x="{x + 8}" y="{y + 16}" font-weight="bold">{xml_text(entity.name)}</text>',
        (
            f'<text x="{x + 8}" y="{y + 32}" fill="#44546a">'
            f"{xml_text(label, (box_width - 16) // CHAR)}</text>"
        ),
    ]
    rows = [("id", "integer", "PK")] + [
        (f.name, f.type, "FK" if f.relation is not None else ("*" if f.required else ""))
        for f in entity.fields
    ]
    name_room = (box_width - 16) // CHAR - 14
    for i, (name, type_name, key) in enumerate(rows):
        line_y = y + HEAD + ROW * i + ROW // 2 + 6
        shown = f"{key} {type_name}".strip()
        parts.append(
            f'<text x="{x + 8}" y="{line_y}">{xml_text(name, max(name_room, 8))}</text>'
            f'<text x="{x + box_width - 8}" y="{line_y}" text-anchor="end" fill="#44546a">'
            f"{xml_text(shown, 13)}</text>"
        )
    parts.append("</g>")
    return parts

"""The blast-radius picture: the service call graph as an SVG, the root cause and what it reached marked.

Plain SVG text (no plotting library): services are laid out in layers by call depth
(callers above callees), the root cause red, services in the blast radius orange with
their lag, the rest grey; a thick blue ring marks the services the round's incident has
signals on (its members); arrows are calls.
"""

from __future__ import annotations

from html import escape

import networkx as nx

WIDTH, LAYER_GAP, TOP = 1000, 130, 70


def _layers(graph: nx.DiGraph) -> dict[str, int]:
    depth: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        depth[node] = max((depth[p] + 1 for p in graph.predecessors(node)), default=0)
    return depth


MEMBER_RING = "#2e86c1"


def blast_radius_svg(graph: nx.DiGraph, root: str, blast: dict[str, int], title: str,
                     members: frozenset[str] | set[str] = frozenset()) -> str:
    """``blast``: service -> lag in minutes behind the root cause; ``members``: the incident's services.

    >>> svg = blast_radius_svg(nx.DiGraph([("web", "db")]), "db", {"web": 1}, "t", members={"web"})
    >>> svg.count(f'stroke="{MEMBER_RING}" stroke-width="4"')
    1
    """
    depth = _layers(graph)
    rows: dict[int, list[str]] = {}
    for node in sorted(graph.nodes):
        rows.setdefault(depth[node], []).append(node)
    where = {}
    for level, nodes in rows.items():
        gap = WIDTH / (len(nodes) + 1)
        for i, node in enumerate(nodes):
            where[node] = (gap * (i + 1), TOP + 40 + level * LAYER_GAP)
    height = TOP + 40 + (max(rows) + 1) * LAYER_GAP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#888"/></marker></defs>',
             f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
             f'<text x="{WIDTH / 2}" y="32" font-size="20" text-anchor="middle" font-weight="bold">'
             f'{escape(title)}</text>',
             f'<text x="{WIDTH / 2}" y="56" font-size="13" text-anchor="middle" fill="#555">'
             'red: root cause - orange: blast radius (minutes behind it) - blue ring: the incident\'s members - '
             'arrows: caller to callee</text>']
    radius = 34
    for caller, callee in graph.edges:
        (x1, y1), (x2, y2) = where[caller], where[callee]
        length = max(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5, 1)
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        hot = callee == root or callee in blast
        parts.append(f'<line x1="{x1 + ux * radius:.1f}" y1="{y1 + uy * radius:.1f}" x2="{x2 - ux * radius:.1f}" '
                     f'y2="{y2 - uy * radius:.1f}" stroke="{"#e67e22" if hot else "#bbb"}" '
                     f'stroke-width="{3 if hot else 1.5}" marker-end="url(#arrow)"/>')
    for node, (x, y) in where.items():
        fill = "#e74c3c" if node == root else "#f39c12" if node in blast else "#ecf0f1"
        ink = "white" if node == root or node in blast else "#333"
        ring = f'stroke="{MEMBER_RING}" stroke-width="4"' if node in members else 'stroke="#555" stroke-width="1.5"'
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{fill}" {ring}/>')
        parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="middle" fill="{ink}">'
                     f'{escape(node)}</text>')
        if node in blast:
            parts.append(f'<text x="{x:.1f}" y="{y + radius + 16:.1f}" font-size="12" text-anchor="middle" '
                         f'fill="#b9770e">+{blast[node]} min</text>')
        elif node == root:
            parts.append(f'<text x="{x:.1f}" y="{y + radius + 16:.1f}" font-size="12" text-anchor="middle" '
                         f'fill="#c0392b" font-weight="bold">root cause</text>')
    parts.append("</svg>")
    return "\n".join(parts)

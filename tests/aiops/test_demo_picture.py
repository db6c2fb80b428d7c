"""The demo's picture rings the incident's members; its verdicts ask for one incident per round holding the fault."""

from __future__ import annotations

import doctest

from aiops.demo import picture as module
from aiops.demo.picture import MEMBER_RING, blast_radius_svg
from aiops.demo.runner import RoundResult, verdicts
from aiops.demo.system import System

RING = f'stroke="{MEMBER_RING}" stroke-width="4"'


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def test_the_incidents_members_are_ringed_and_only_they() -> None:
    graph = System(7).graph
    members = {"frontend", "checkout", "payment"}
    svg = blast_radius_svg(graph, "payment", {"checkout": 1, "frontend": 2}, "round 1", members=members)
    assert svg.count(RING) == 3
    for service in members:
        circle = svg.split(f">{service}</text>")[0].rsplit("<circle", 1)[1]
        assert RING in circle, service
    assert blast_radius_svg(graph, "payment", {}, "no incident").count(RING) == 0


def _round(incidents: int, services: list[str]) -> RoundResult:
    result = RoundResult(1, "CPU saturation", "payment", root_causes=[{"service_id": "payment"}])
    result.incidents = incidents
    result.members = [{"signal_id": f"s-{s}", "kind": "watchdog_episode", "service_id": s, "started_at": ""}
                      for s in services]
    return result


def test_verdicts_want_one_incident_per_round_holding_the_faulty_service() -> None:
    assert verdicts([_round(1, ["frontend", "payment"])]) == []
    assert verdicts([_round(2, ["frontend", "payment"])]) == ["round 1: 2 incidents, not one"]
    assert verdicts([_round(1, ["frontend"])]) == ["round 1: the incident's members (frontend) miss payment"]

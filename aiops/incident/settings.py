"""How signals are grouped into incidents: the ``incident_grouping`` block of ``configs/engine.yaml``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IncidentGroupingSettings(BaseModel):
    """Grouping rules and the caps on what one tenant's grouping holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Two signals overlap in time when each began no later than this after the other ended.
    slack_seconds: float = Field(300.0, ge=0, le=86_400)
    # A signal is connected to a member when their services are at most this many call
    # edges apart (either direction); 0 means the same service only.
    max_hops: int = Field(1, ge=0, le=5)
    # An incident resolves once every member has ended and neither an end nor any update came for this long.
    quiet_seconds: float = Field(600.0, ge=0, le=7 * 86_400)
    # A signal that fits several open incidents merges them into the oldest (False: it
    # joins the oldest and the others stay apart).
    merge: bool = True
    # A re-run of an incident's RCA waits at least this long after the last request.
    rca_rerun_min_seconds: float = Field(60.0, ge=0, le=86_400)
    # How far along call edges an RCA's picture reaches when a new member arrives: a member
    # on a service calling the root within this many edges is an expected victim; one on a
    # service the root calls within it may be the real cause (a re-run). As rca.blast_depth.
    explain_depth: int = Field(3, ge=1, le=10)
    # Caps per tenant: open incidents (a signal that would open one more is dropped and
    # counted), members per incident (more are counted, not kept), resolved incidents kept
    # in memory for late updates and echoes, timeline events per incident (oldest dropped).
    max_open_incidents: int = Field(1000, ge=1, le=1_000_000)
    max_members: int = Field(500, ge=1, le=100_000)
    max_resolved_kept: int = Field(1000, ge=0, le=1_000_000)
    max_timeline_events: int = Field(1000, ge=10, le=100_000)
    # The incident manager (live engine): whether it runs, how often it reads new signals
    # (anomalies written since its cursor) and ticks while they flow, how far it (and the
    # notifier) back off, doubling, while passes find nothing (new signals, finished RCAs and
    # new outbox rows wake them at once; a lost wake-up costs at most this), and when a
    # watchdog episode that has not been seen anomalous for this long counts as ended
    # (episodes have no end of their own).
    enabled: bool = True
    poll_seconds: float = Field(0.25, gt=0, le=60)
    idle_poll_seconds: float = Field(2.0, gt=0, le=60)
    episode_quiet_seconds: float = Field(300.0, gt=0, le=86_400)
    max_signals_per_poll: int = Field(5000, ge=1, le=1_000_000)

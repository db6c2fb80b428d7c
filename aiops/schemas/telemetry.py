"""Traces, log records and their templates read back (``/api/v1/traces``, ``/api/v1/logs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SpanKind = Literal["unspecified", "internal", "server", "client", "producer", "consumer"]
SpanStatus = Literal["unset", "ok", "error"]
Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNSPECIFIED"]


class SpanNode(BaseModel):
    span_id: str
    parent_span_id: str | None = Field(description="None for a root span")
    service_id: str
    operation: str
    kind: SpanKind
    start: datetime
    start_unix_nano: int
    duration_ms: float
    status: SpanStatus
    status_message: str
    attributes: dict[str, str]
    children: list[SpanNode] = Field(description="spans whose parent this is, oldest first")


class TraceOut(BaseModel):
    trace_id: str
    spans: int
    services: list[str]
    start: datetime
    duration_ms: float
    roots: list[SpanNode] = Field(description="spans without a parent in the trace (its root, and any whose "
                                              "parent was not received), each with its subtree")


class TraceSummaryOut(BaseModel):
    trace_id: str
    root_service: str
    root_operation: str
    start: datetime
    duration_ms: float
    spans: int
    errors: int
    services: list[str]


class TracesResponse(BaseModel):
    traces: list[TraceSummaryOut]


class LogOut(BaseModel):
    timestamp: datetime
    timestamp_unix_nano: int
    service_id: str
    severity: Level
    severity_number: int
    body: str
    trace_id: str | None
    span_id: str | None
    attributes: dict[str, str]
    template_id: int | None = Field(description="None until the record's minute has been mined")
    template: str | None


class TemplateOut(BaseModel):
    template_id: int
    template: str
    records: int = Field(description="records of this template among those matching the query")
    first_seen: datetime


class LogsResponse(BaseModel):
    logs: list[LogOut]
    templates: list[TemplateOut]

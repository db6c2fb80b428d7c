"""A simulated tenant with traces, logs and metrics, for the RCA bench and tests.

Services form a call tree (``svc-00`` is the entry; each service calls up to ``fanout``
children). Every request walks from the entry down one random branch to a leaf: each service
on the way writes a server span, a client span per call it makes, and one log line. After
``fault_minute`` one service misbehaves in its spans and logs only (its metrics, like
everyone's, stay ordinary noise), in one of three ways:

- ``slow``: its own work takes ``slowdown`` times longer;
- ``exception``: it stops calling on, logs an error with an exception name instead of its
  usual line, and (with ``status``) its span and its callers' spans end in error;
- ``network``: every call into it waits ``delay_ms`` more between caller and callee.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.telemetry import LogTable, MetricFrame, SpanTable

KINDS = ("slow", "exception", "network")


@dataclass
class TracedTenant:
    frame: MetricFrame
    spans: SpanTable
    logs: LogTable
    start: float  # unix seconds the fault began
    root_cause: str
    services: list[str]


def traced_tenant(services: int = 6, *, fault: str = "slow", faulty: int | None = None, minutes: int = 30,
                  fault_minute: int = 20, requests_per_minute: int = 30, fanout: int = 2, slowdown: float = 8.0,
                  delay_ms: float = 25.0, status: bool = False, seed: int = 0,
                  origin: float = 1_700_000_000.0) -> TracedTenant:
    if fault not in KINDS:
        raise ValueError(f"fault must be one of {KINDS}")
    rng = np.random.default_rng(seed)
    names = [f"svc-{i:02d}" for i in range(services)]
    children = {i: [c for c in range(i * fanout + 1, i * fanout + fanout + 1) if c < services] for i in range(services)}
    faulty = services - 1 if faulty is None else faulty
    own_ms = rng.uniform(1.0, 6.0, services)
    start = origin + 60.0 * fault_minute
    rows: dict[str, list] = {k: [] for k in ("trace", "span", "parent", "service", "operation", "start", "end",
                                             "status", "kind")}
    logs: dict[str, list] = {k: [] for k in ("at", "service", "trace", "span", "severity", "body")}
    counter = iter(range(1, 1 << 62))  # span ids

    def serve(trace: str, parent: str, service: int, begin: float, after: bool) -> tuple[float, bool]:
        """Run ``service``'s handler from ``begin`` (ns); returns its end and whether it failed."""
        broken = after and service == faulty
        work = own_ms[service] * rng.lognormal(0, 0.2) * (slowdown if broken and fault == "slow" else 1.0)
        at = begin + work * 5e5  # half its own work before calling on
        failed = False
        calls = [] if broken and fault == "exception" else children[service]
        server = f"{next(counter):016x}"  # reserve the id: children point at it
        if calls:
            callee = calls[int(rng.integers(len(calls)))]
            gap = 0.3 + rng.exponential(0.2) + (delay_ms if after and callee == faulty and fault == "network" else 0)
            client_begin = at
            client = f"{next(counter):016x}"
            done, failed = serve(trace, client, callee, at + gap * 5e5, after)
            client_end = done + gap * 5e5
            _append(rows, trace, client, server, names[service], f"call {names[callee]}", client_begin, client_end,
                    2 if failed and status else 0, 3)
            at = client_end
        end = at + work * 5e5
        failed = failed or (broken and fault == "exception")
        _append(rows, trace, server, parent, names[service], f"handle {names[service]}", begin, end,
                2 if failed and status else 0, 2)
        if broken and fault == "exception":
            line = (f"ERROR request {int(rng.integers(1_000_000))} failed: java.lang.IllegalStateException: "
                    f"state {int(rng.integers(100))} is not valid")
            severity = "ERROR"
        else:
            line = f"INFO handled request {int(rng.integers(1_000_000))} in {work:.2f} ms"
            severity = "INFO"
        for key, value in (("at", int(end)), ("service", names[service]), ("trace", trace), ("span", server),
                           ("severity", severity), ("body", line)):
            logs[key].append(value)
        return end, failed

    for minute in range(minutes):
        for _ in range(requests_per_minute):
            begin = (origin + 60.0 * minute + rng.uniform(0, 60)) * 1e9
            trace = f"{int(rng.integers(1 << 62)):032x}"
            serve(trace, "", 0, begin, begin >= start * 1e9)
    spans = SpanTable.from_columns(trace_id=rows["trace"], span_id=rows["span"], parent_span_id=rows["parent"],
                                   service=rows["service"], operation=rows["operation"],
                                   start_unix_nano=rows["start"], end_unix_nano=rows["end"],
                                   status_code=rows["status"] if status else None, kind=rows["kind"])
    log_table = LogTable.from_columns(timestamp_unix_nano=logs["at"], service=logs["service"],
                                      trace_id=logs["trace"], span_id=logs["span"], severity=logs["severity"],
                                      body=logs["body"])
    return TracedTenant(noise_frame(names, minutes, origin, rng), spans, log_table, start, names[faulty], names)


def _append(rows: dict[str, list], trace: str, span: str, parent: str, service: str, operation: str, begin: float,
            end: float, status_code: int, kind: int) -> None:
    for key, value in (("trace", trace), ("span", span), ("parent", parent), ("service", service),
                       ("operation", operation), ("start", int(begin)), ("end", int(end)), ("status", status_code),
                       ("kind", kind)):
        rows[key].append(value)


def noise_frame(names: list[str], minutes: int, origin: float, rng: np.random.Generator) -> MetricFrame:
    """Per-minute CPU and server latency of every service: ordinary noise, no fault in them."""
    columns = [(n, m) for n in names for m in ("cpu_usage_percent", "server_latency_p95_ms")]
    values = np.vstack([rng.normal(40 if m.startswith("cpu") else 20, 2, minutes) for _, m in columns])
    return MetricFrame(origin + 60.0 * np.arange(minutes), 60.0, columns, values)

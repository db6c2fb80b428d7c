"""The demo's story, told through the engine's real interfaces (HTTP on 8080, the webhook on 9093).

A tenant is created, its call graph declared and its detector set; two hours of normal
metrics stream in, and with them the shop's requests as OTLP spans (``POST /v1/traces`` with
the tenant's ingestion key), so each round's RCA reads traces as well as metrics; then,
round after round, a fault is injected into one service, the watchdog flags it, an
Alertmanager-format alert about the front end goes to 9093, the RCA is awaited, the rest of
the round streams in, and the round's incident (the watchdog's episodes on the faulty service
and on each service it slowed, and the alert, grouped into one) is read back with its
members and resolved with a resolution written down (``incident_id``: the incident memory is
made of resolved incidents). The last round repeats the first fault, so its RCA should
suggest the first round's incident and fix.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from aiops.demo.system import CALLS, FAULTS, Fault, System
from aiops.demo.traces import export_request, shop_spans
from models.telemetry import SpanTable

T = TypeVar("T")

MINUTE = 60
HISTORY = 120  # minutes of normal traffic first
SEGMENT = 40  # minutes per round
FAULT_AT = 20  # minutes into a round
FAULT_MINUTES = 12
ALERT_DELAY = 2  # the alert rule's "for"
# The shop's requests a minute. At 8, the error burst in catalogue-db (which few requests reach)
# failed about three spans in the minutes its analysis reads: trace evidence barely beyond chance.
REQUESTS_PER_MINUTE = 24

ROUNDS = [
    ("cpu_saturation", "payment", "frontend p99 latency above 1 s, checkout requests slow",
     "payment pods were pinned at 100% CPU by a runaway fraud-scoring batch job; killed the job, moved it to its "
     "own node pool and raised payment's CPU limit."),
    ("latency_leak", "orders-db", "frontend latency rising steadily for several minutes",
     "orders-db queries slowed steadily: a missing index after the v5 migration made order lookups scan the whole "
     "table; added the index and analysed the table."),
    ("error_burst", "catalogue-db", "frontend error ratio above 5%",
     "catalogue-db refused connections after its TLS certificate expired; renewed the certificate and restarted "
     "the catalogue connection pool."),
    ("cpu_saturation", "payment", "frontend p99 latency above 1 s, checkout requests slow", None),
]


@dataclass
class Target:
    http_url: str
    webhook_url: str
    token: Callable[[str, str], str]  # (tenant, role) -> JWT


@dataclass
class RoundResult:
    number: int
    fault: str
    injected: str
    flagged_after_s: float | None = None
    anomaly_id: str = ""
    rca_status: str = ""
    root_causes: list[dict] = field(default_factory=list)
    blast_radius: list[dict] = field(default_factory=list)
    similar: list[dict] = field(default_factory=list)
    summary: str = ""
    rca_seconds: float | None = None
    incident_id: str = ""  # the incident holding the round's alert
    members: list[dict] = field(default_factory=list)  # its signals: signal_id, kind, service_id, started_at
    incidents: int = 0  # incidents (not merged into another) whose first signal began in the round

    @property
    def root(self) -> str:
        return self.root_causes[0]["service_id"] if self.root_causes else "-"

    @property
    def correct(self) -> bool:
        return self.root == self.injected

    @property
    def member_services(self) -> list[str]:
        return sorted({m["service_id"] for m in self.members})


def _series(data: dict, start_unix: float, first: int, last: int) -> list[dict]:
    return [{"service_id": s, "metric_name": m,
             "points": [[start_unix + MINUTE * i, round(float(v[i]), 4)] for i in range(first, last)]}
            for (s, m), v in data.items()]


class Demo:
    def __init__(self, target: Target, step: Callable[[str], None] = lambda _: None, seed: int = 7,
                 timeout: float = 90.0) -> None:
        self.target = target
        self.system = System(seed)
        self.tenant = f"demo-{secrets.token_hex(3)}"
        self._step = step
        self._timeout = timeout
        self._http = httpx.Client(base_url=target.http_url, timeout=60)
        self._webhook = httpx.Client(base_url=target.webhook_url, timeout=60)
        self._ingestion_key = ""
        self._spans = SpanTable.empty()

    def close(self) -> None:
        self._http.close()
        self._webhook.close()

    def _auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.target.token(self.tenant, role)}"}

    def _ok(self, response: httpx.Response, *, json: bool = True) -> dict:
        if response.status_code >= 300:
            raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                               f"{response.text[:300]}")
        return response.json() if json else {}

    def _wait(self, what: str, check: Callable[[], T | None]) -> T:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.25)
        raise RuntimeError(f"timed out waiting for {what}")

    def _ingest(self, data: dict, start_unix: float, first: int, last: int) -> None:
        """Minutes ``[first, last)``: the metrics as JSON, the requests begun in them as OTLP spans."""
        for chunk in range(first, last, 30):
            self._ok(self._http.post("/api/v1/ingest/metrics", headers=self._auth("operator"),
                                     json={"series": _series(data, start_unix, chunk, min(last, chunk + 30))}))
            since, until = (int((start_unix + MINUTE * m) * 1e9) for m in (chunk, min(last, chunk + 30)))
            spans = self._spans.between(since, until)
            if len(spans):
                response = self._http.post("/v1/traces", content=export_request(spans).SerializeToString(),
                                           headers={"Content-Type": "application/x-protobuf",
                                                    "X-API-Key": self._ingestion_key})
                self._ok(response, json=False)  # OTLP answers in protobuf
                rejected = ExportTraceServiceResponse.FromString(response.content).partial_success
                if rejected.rejected_spans:
                    raise RuntimeError(f"POST /v1/traces: {rejected.rejected_spans} spans rejected: "
                                       f"{rejected.error_message[:300]}")

    def setup(self) -> None:
        root = {"Authorization": f"Bearer {self.target.token('root', 'super_admin')}"}
        self._ok(self._http.post("/api/v1/tenants", headers=root,
                                 json={"tenant_id": self.tenant, "name": "Demo shop", "plan": "pro"}))
        # Two hours of history are too short for daily seasonality: the demo uses the EWMA detector.
        self._ok(self._http.put("/api/v1/models/detector", headers=self._auth(), json={"name": "ewma", "config": {}}))
        edges = [{"caller": a, "callee": b} for a, b in CALLS]
        self._ok(self._http.put("/api/v1/topology", headers=self._auth(), json={"edges": edges}))
        self._ingestion_key = self._ok(self._http.post("/api/v1/apikeys", headers=self._auth(), json={
            "name": "demo shop telemetry", "scope": "ingestion", "rate_limit_rps": 1000}))["api_key"]

    def run(self) -> list[RoundResult]:
        self._step(f"creating tenant {self.tenant}, declaring its call graph")
        self.setup()
        total = HISTORY + SEGMENT * len(ROUNDS)
        start_unix = (int(time.time()) // MINUTE) * MINUTE - (total + 1) * MINUTE
        faults = [Fault(kind, service, HISTORY + SEGMENT * i + FAULT_AT, FAULT_MINUTES)
                  for i, (kind, service, _, _) in enumerate(ROUNDS)]
        data, own_ms, own_errors = self.system.simulate(start_unix, total, faults, seed=11)
        self._spans = shop_spans(self.system, own_ms, own_errors, start_unix, total,
                                 requests_per_minute=REQUESTS_PER_MINUTE)
        self._step(f"streaming {HISTORY} minutes of normal traffic from {len(self.system.services)} services "
                   "(metrics and OTLP spans)")
        self._ingest(data, start_unix, 0, HISTORY)
        results: list[RoundResult] = []
        for number, ((kind, service, alert_text, resolution), fault) in enumerate(zip(ROUNDS, faults, strict=True), 1):
            results.append(self._round(number, kind, service, alert_text, resolution, fault, data, start_unix,
                                       results))
        return results

    def _round(self, number: int, kind: str, service: str, alert_text: str, resolution: str | None, fault: Fault,
               data: dict, start_unix: float, earlier: list[RoundResult]) -> RoundResult:
        result = RoundResult(number, FAULTS[kind], service)
        segment = HISTORY + SEGMENT * (number - 1)
        fault_unix = start_unix + MINUTE * fault.start
        self._step(f"round {number}: {FAULTS[kind]} in {service}")
        self._ingest(data, start_unix, segment, fault.start + 6)
        began = time.monotonic()

        def flagged() -> list[dict]:
            found = self._ok(self._http.get("/api/v1/anomalies", headers=self._auth("viewer"),
                                            params={"service_id": service, "since": _rfc3339(fault_unix)}))
            return found["anomalies"]

        self._wait(f"the watchdog to flag {service}", flagged)
        result.flagged_after_s = time.monotonic() - began
        alert = {"status": "firing", "startsAt": _rfc3339(fault_unix + ALERT_DELAY * MINUTE),
                 "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.demo/graph",
                 "labels": {"alertname": "FrontendSLO", "service_id": "frontend", "severity": "critical",
                            "tenant_id": self.tenant},
                 "annotations": {"summary": alert_text}}
        self._step(f"round {number}: Alertmanager alert to 9093, waiting for the RCA")
        sent = time.monotonic()
        answer = self._ok(self._webhook.post("/api/v1/alerts/webhook", json={
            "version": "4", "status": "firing", "receiver": "aiops", "groupLabels": {"alertname": "FrontendSLO"},
            "commonLabels": {"alertname": "FrontendSLO"}, "alerts": [alert]}))
        result.anomaly_id = answer["anomaly_id"]

        def rca() -> dict | None:
            body = self._ok(self._http.get(f"/api/v1/rca/{result.anomaly_id}", headers=self._auth("viewer")))
            return body if body["status"] != "pending" else None

        body = self._wait("the RCA", rca)
        result.rca_seconds = time.monotonic() - sent
        result.rca_status, result.summary = body["status"], body["summary"]
        result.root_causes, result.blast_radius = body["root_causes"], body["blast_radius"]
        result.similar = body["similar_incidents"]
        self._ingest(data, start_unix, fault.start + 6, segment + SEGMENT)
        self._step(f"round {number}: the round's incident and its members")
        incident = self._wait("the incident holding the alert", lambda: self._incident_of(result.anomaly_id))
        result.incident_id = incident["incident_id"]
        result.members = [{k: m[k] for k in ("signal_id", "kind", "service_id", "started_at")}
                          for m in incident["member_signals"]]
        result.incidents = self._incidents_between(start_unix + MINUTE * segment,
                                                   start_unix + MINUTE * (segment + SEGMENT))
        if resolution is not None:
            self._ok(self._http.post("/api/v1/resolutions/webhook", headers=self._auth("operator"), json={
                "incident_id": result.incident_id, "service_id": service, "resolution": resolution,
                "resolved_by": "sre-on-call@demo.shop", "time_to_recovery_minutes": FAULT_MINUTES,
                "tags": [kind, service]}))
        return result

    def _incidents(self) -> list[dict]:
        listed = self._ok(self._http.get("/api/v1/incidents", headers=self._auth("viewer"), params={"limit": 100}))
        return [i for i in listed["incidents"] if i["merged_into"] is None]

    def _incident_of(self, signal_id: str) -> dict | None:
        """The (not merged) incident that has ``signal_id`` among its members, whole, once its analysis is in
        (an analysis naming another incident's root cause merges the two); None until then."""
        for listed in self._incidents():
            if listed["root_cause"] is None:
                continue
            detail = self._ok(self._http.get(f"/api/v1/incidents/{listed['incident_id']}",
                                             headers=self._auth("viewer")))
            if any(m["signal_id"] == signal_id for m in detail["member_signals"]):
                return detail
        return None

    def _incidents_between(self, since_unix: float, until_unix: float) -> int:
        """Incidents whose earliest signal began in ``[since, until)`` (simulated time, unix seconds)."""
        return sum(since_unix <= datetime.fromisoformat(i["started_at"]).timestamp() < until_unix
                   for i in self._incidents())


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_similar(results: list[RoundResult]) -> str | None:
    """The incident the repeated fault should be matched with: the first round's."""
    return results[0].incident_id if results else None


def verdicts(results: list[RoundResult]) -> list[str]:
    """What the engine got wrong (empty when everything was right)."""
    wrong = [f"round {r.number}: root cause {r.root}, but the fault was in {r.injected}" for r in results
             if not r.correct]
    wrong += [f"round {r.number}: {r.incidents} incidents, not one" for r in results if r.incidents != 1]
    wrong += [f"round {r.number}: the incident's members ({', '.join(r.member_services)}) miss {r.injected}"
              for r in results if r.injected not in r.member_services]
    last, first = results[-1], expected_similar(results)
    top = last.similar[0]["incident_id"] if last.similar else None
    if first and top != first:
        wrong.append(f"round {last.number}: the first round's resolution ({first}) was not suggested first "
                     f"(got {top})")
    return wrong


def lag_of(result: RoundResult) -> dict[str, int]:
    return {b["service_id"]: int(b["lag_minutes"]) for b in result.blast_radius}

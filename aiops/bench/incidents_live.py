"""The incident replay through a live engine: noise cut, purity and signal-to-notification latency.

See :mod:`aiops.bench.incidents` for the replay and what is measured.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from aiops.bench.engine_process import bench_engine, free_port
from aiops.bench.incident_metrics import METRICS, ReplayMetrics, simulate_metrics
from aiops.bench.incidents import TENANT, main_fault, signal_end, simulate
from aiops.incident.settings import IncidentGroupingSettings
from aiops.notify.webhook import SIGNATURE_HEADER, verify_signature

SECRET = "bench-webhook-secret-0123456789"
MAX_QUIET = str(7 * 86_400)  # incident_grouping.quiet_seconds at its maximum (see the module docstring)
SETTLE_MARGIN_SECONDS = 15.0


# The watchdog is kept learning and never flags (EWMA scores nothing before its warm-up), so
# that the replay's signals are the only ones; the metrics are there for the RCA.
MUTED_DETECTOR = {"name": "ewma", "config": {"warmup": 100_000_000}}
SERIES_PER_BODY = 10


@dataclass(frozen=True)
class LiveScore:
    signals: int
    incidents_opened: int
    noise_reduction: float
    purity: float
    latencies: list[float]  # seconds, one per incident opened
    unsigned: int  # webhooks whose signature did not verify
    root_cause_right: float  # share of incidents left whose root cause is their (main) fault's service
    analysed: int  # incidents left with a root cause
    settled: bool  # False: scored at the timeout, with analyses or notifications still missing


def metric_bodies(metrics: ReplayMetrics, shift_seconds: float, until: float) -> list[bytes]:
    """The replay's metrics as JSON ingest bodies, times shifted by ``shift_seconds``, none after ``until``."""
    times = metrics.times + shift_seconds
    keep = times <= until
    series = [{"service_id": service, "metric_name": name, "labels": {},
               "points": [[float(t), float(v)] for t, v in zip(times[keep], values[i][keep], strict=True)]}
              for i, service in enumerate(metrics.services)
              for name, values in zip(METRICS, (metrics.latency, metrics.errors), strict=True)]
    return [orjson.dumps({"series": series[at:at + SERIES_PER_BODY]})
            for at in range(0, len(series), SERIES_PER_BODY)]


class _Inbox:
    """The receiver: every webhook with the time it arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.opened: dict[str, float] = {}  # incident id -> arrival (perf_counter)
        self.bad = 0
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrived = time.perf_counter()
                try:
                    verify_signature(SECRET, self.headers.get(SIGNATURE_HEADER), body, now=time.time())
                except ValueError:
                    inbox.bad += 1
                payload = orjson.loads(body)
                if payload["change"]["kind"] == "opened":
                    inbox.opened.setdefault(payload["incident"]["incident_id"], arrived)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _alert(signal, status: str, shift) -> dict:
    body = {"status": status, "startsAt": (signal.started_at + shift).isoformat(),
            "labels": {"alertname": f"Bench{signal.kind.value}", "service_id": signal.service_id,
                       "tenant_id": TENANT, "severity": signal.severity.label, "signal": signal.signal_id},
            "annotations": {"summary": f"{signal.service_id} unwell"}}
    body["endsAt"] = (signal.ended_at + shift).isoformat() if status == "resolved" else "0001-01-01T00:00:00Z"
    return {"version": "4", "status": status, "alerts": [body]}


def ingest(http, body: bytes, headers: dict[str, str], patience: float = 120.0) -> None:
    """Post one metric batch as a remote-write client does: a 503 is retried after its Retry-After."""
    deadline = time.monotonic() + patience
    while True:
        answer = http.post("/api/v1/ingest/metrics", content=body,
                           headers={**headers, "Content-Type": "application/json"})
        if answer.status_code != 503 or time.monotonic() > deadline:
            answer.raise_for_status()
            return
        time.sleep(float(answer.headers.get("Retry-After", "1")))


def live_replay(seed: int = 0, timeout: float = 300.0) -> LiveScore:
    replay = simulate(seed)
    inbox = _Inbox()
    try:
        with bench_engine(AIOPS_INCIDENT_GROUPING__QUIET_SECONDS=MAX_QUIET) as engine, engine.client() as http:
            import httpx

            root = {"Authorization": f"Bearer {engine.token('root')}"}
            http.post("/api/v1/tenants", json={"tenant_id": TENANT, "name": "bench", "plan": "enterprise"},
                      headers=root).raise_for_status()
            headers = {"Authorization": f"Bearer {engine.token(TENANT)}"}
            edges = [{"caller": a, "callee": b} for a, callees in replay.calls.items() for b in callees]
            http.put("/api/v1/topology", json={"edges": edges}, headers=headers).raise_for_status()
            http.post("/api/v1/notifications/channels", headers=headers, json={
                "name": "bench", "type": "webhook", "url": f"http://127.0.0.1:{inbox.port}/hook",
                "secret": SECRET}).raise_for_status()
            http.put("/api/v1/models/detector", json=MUTED_DETECTOR, headers=headers).raise_for_status()
            shift = datetime.now(UTC) - max(signal_end(s) for s in replay.signals)
            for body in metric_bodies(simulate_metrics(replay, seed), shift.total_seconds(), time.time()):
                ingest(http, body, headers)
            events = sorted([(s.started_at, 0, s) for s in replay.signals] +
                            [(s.ended_at, 1, s) for s in replay.signals], key=lambda e: (e[0], e[1], e[2].signal_id))
            posted: dict[str, float] = {}  # anomaly id -> when its firing POST began
            fault_of: dict[str, int] = {}
            with httpx.Client(base_url=engine.webhook_url, timeout=60) as webhook:
                for _, ended, signal in events:
                    began = time.perf_counter()
                    answer = webhook.post("/api/v1/alerts/webhook",
                                          json=_alert(signal, "resolved" if ended else "firing", shift))
                    answer.raise_for_status()
                    if not ended:
                        anomaly_id = answer.json()["anomaly_id"]
                        posted[anomaly_id] = began
                        fault_of[anomaly_id] = replay.fault_of[signal.signal_id]
            # Every incident the engine opened, its members, and its analysis: settled when every
            # signal is a member, every incident was notified, and no incident's root cause has
            # changed for longer than a deferred re-run can wait (an analysis that failed or found
            # nothing leaves its incident without one: scored as not right).
            quiet = IncidentGroupingSettings().rca_rerun_min_seconds + SETTLE_MARGIN_SECONDS
            deadline = time.monotonic() + timeout
            seen, since, settled = None, time.monotonic(), False
            while not settled and time.monotonic() < deadline:
                listed = http.get("/api/v1/incidents", params={"limit": 1000}, headers=headers).json()
                left_now = [i for i in listed["incidents"] if i["merged_into"] is None]
                roots = sorted((i["incident_id"], i["root_cause"] or "") for i in left_now)
                if roots != seen:
                    seen, since = roots, time.monotonic()
                settled = sum(i["members"] for i in left_now) >= len(posted) and \
                    len(inbox.opened) >= listed["total"] and time.monotonic() - since >= quiet
                if not settled:
                    time.sleep(0.5)
            latencies, pure, left, right, analysed = [], 0, 0, 0, 0
            for incident in listed["incidents"]:
                detail = http.get(f"/api/v1/incidents/{incident['incident_id']}", headers=headers).json()
                opener = next(e["signal_id"] for e in detail["timeline"] if e["kind"] == "opened")
                if incident["incident_id"] in inbox.opened and opener in posted:
                    latencies.append(inbox.opened[incident["incident_id"]] - posted[opener])
                if incident["merged_into"] is None:
                    left += 1
                    faults = Counter(fault_of.get(m["signal_id"]) for m in detail["member_signals"])
                    pure += len(faults) == 1
                    main = main_fault(faults)
                    analysed += incident["root_cause"] is not None
                    right += main is not None and incident["root_cause"] == replay.faults[main].root
    finally:
        inbox.close()
    opened = listed["total"]
    return LiveScore(len(posted), opened, 1 - opened / max(1, len(posted)), pure / max(1, left), latencies, inbox.bad,
                     right / max(1, left), analysed, settled)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values[0] if values else float("nan"))

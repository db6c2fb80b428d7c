"""The incident replay through a live engine: noise cut, purity and signal-to-notification latency.

See :mod:`aiops.bench.incidents` for the replay and what is measured.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from aiops.bench.engine_process import bench_engine, free_port
from aiops.bench.incidents import TENANT, Replay, simulate
from aiops.notify.webhook import SIGNATURE_HEADER, verify_signature

SECRET = "bench-webhook-secret-0123456789"
MAX_QUIET = str(7 * 86_400)  # incident_grouping.quiet_seconds at its maximum (see the module docstring)


@dataclass(frozen=True)
class LiveScore:
    signals: int
    incidents_opened: int
    noise_reduction: float
    purity: float
    latencies: list[float]  # seconds, one per incident opened
    unsigned: int  # webhooks whose signature did not verify


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


def live_replay(replay: Replay | None = None, timeout: float = 120.0) -> LiveScore:
    replay = replay or simulate(0)
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
            shift = datetime.now(UTC) - max(s.ended_at for s in replay.signals)
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
            # Every incident the engine opened, and its members.
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                listed = http.get("/api/v1/incidents", params={"limit": 1000}, headers=headers).json()
                members = sum(i["members"] for i in listed["incidents"] if i["merged_into"] is None)
                if members >= len(posted) and len(inbox.opened) >= listed["total"]:
                    break
                time.sleep(0.5)
            latencies, pure, left = [], 0, 0
            for incident in listed["incidents"]:
                detail = http.get(f"/api/v1/incidents/{incident['incident_id']}", headers=headers).json()
                opener = next(e["signal_id"] for e in detail["timeline"] if e["kind"] == "opened")
                if incident["incident_id"] in inbox.opened and opener in posted:
                    latencies.append(inbox.opened[incident["incident_id"]] - posted[opener])
                if incident["merged_into"] is None:
                    left += 1
                    pure += len({fault_of.get(m["signal_id"]) for m in detail["member_signals"]}) == 1
    finally:
        inbox.close()
    opened = listed["total"]
    return LiveScore(len(posted), opened, 1 - opened / max(1, len(posted)), pure / max(1, left), latencies, inbox.bad)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values[0] if values else float("nan"))

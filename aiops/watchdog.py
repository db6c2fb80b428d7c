"""Streaming detection for one tenant: series rows, detector state, anomaly episodes.

A :class:`TenantWatch` maps each series to a row of its detector's state arrays, feeds
every new point through the detector in time order (all series of a step at once), and
folds consecutive anomalous points of a series into one episode with a stable id, so an
incident is one anomaly that grows, not hundreds. Points at or before a series' newest
seen timestamp are skipped, which makes replays (client retries, catch-up after a
restart) harmless. Plain Python and numpy: the watchdog shard actor owns instances of it,
checkpoints them and writes what they report.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from aiops.ingest.batch import PointBatch
from aiops.storage.records import AnomalyRecord
from models.detectors.base import Detector, State
from models.detectors.threshold import ThresholdFilter
from models.registry import build


def anomaly_id(tenant_id: str, series_id: int, started_ms: int) -> str:
    """Deterministic: replaying the same points re-creates the same episode id."""
    digest = hashlib.blake2b(f"{tenant_id}\x00{series_id}\x00{started_ms}".encode(), digest_size=6).hexdigest()
    return f"anom-{digest}"


@dataclass
class Episode:
    anomaly_id: str
    started_ms: int
    last_ms: int
    score: float
    z: float
    quiet: int = 0  # normal points seen since the last anomalous one


@dataclass
class Observation:
    """What one batch did: anomalies opened or grown, and how many points were new."""

    anomalies: list[AnomalyRecord] = field(default_factory=list)
    fresh_points: int = 0


class TenantWatch:
    RUN_CELLS = 1 << 20  # (step x series) cells per detector.run call: ~8 MiB per matrix

    def __init__(self, tenant_id: str, model: str, config: dict | None = None, *, close_after: int = 3,
                 rca_threshold: float = 0.95) -> None:
        self.tenant_id = tenant_id
        self.model = model
        self.model_config = dict(config or {})
        self.detector: Detector = build("detector", model, self.model_config)
        self.close_after = close_after
        self.rca_threshold = rca_threshold
        self.rows: dict[int, int] = {}  # series id -> row
        self.series_ids: list[int] = []
        self.meta: list[tuple[str, str, dict[str, str]]] = []  # service, metric, labels per row
        self.state: State = self.detector.init_state(0)
        self.last_ms = np.zeros(0, dtype=np.int64)
        self.gate = ThresholdFilter(self.detector)  # per-series thresholds, moved by feedback
        self.episodes: dict[int, Episode] = {}  # row -> open episode
        self.points_seen = 0
        self.dirty = False

    # -- series rows -------------------------------------------------------------------
    def _rows_for(self, batch: PointBatch) -> np.ndarray:
        rows = np.empty(batch.series, dtype=np.int64)
        added = 0
        for position in range(batch.series):
            identity = int(batch.series_ids[position])
            row = self.rows.get(identity)
            if row is None:
                row = self.rows[identity] = len(self.series_ids)
                self.series_ids.append(identity)
                self.meta.append((batch.service_ids[position], batch.metric_names[position],
                                  dict(batch.labels[position])))
                added += 1
            rows[position] = row
        if added:
            size = len(self.series_ids)
            self.state = self.detector.grow(self.state, size)
            self.last_ms = np.concatenate([self.last_ms, np.full(added, np.iinfo(np.int64).min)])
            self.gate.grow(size)
        return rows

    @property
    def size(self) -> int:
        return len(self.series_ids)

    @property
    def threshold(self) -> np.ndarray:
        """Each row's threshold (row ``i`` is ``series_ids[i]``), held by :attr:`gate`."""
        return self.gate.thresholds

    # -- detection -----------------------------------------------------------------------
    def observe(self, batch: PointBatch, *, emit: bool = True) -> Observation:
        """Score the batch's new points in time order; return the anomalies they touched."""
        rows = self._rows_for(batch)[batch.series_index]
        ts, values = batch.timestamps_ms, batch.values
        fresh = ts > self.last_ms[rows]
        rows, ts, values = rows[fresh], ts[fresh], values[fresh]
        result = Observation(fresh_points=int(rows.size))
        if rows.size == 0:
            return result
        order = np.lexsort((ts, rows))
        rows, ts, values = rows[order], ts[order], values[order]
        # Several points of one series at the same millisecond: keep the last.
        keep = np.r_[(rows[1:] != rows[:-1]) | (ts[1:] != ts[:-1]), True]
        rows, ts, values = rows[keep], ts[keep], values[keep]
        starts = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]
        counts = np.diff(np.r_[starts, rows.size])
        rank = np.arange(rows.size) - np.repeat(starts, counts)
        # The detector steps over the batch's own series only (their state rows gathered, then
        # written back): a batch costs its points, not its points times the tenant's series.
        present = rows[starts]
        local = np.repeat(np.arange(present.size), counts)
        state = {key: array[present] for key, array in self.state.items()}
        touched: dict[str, tuple[int, Episode]] = {}
        score, z = self._run(state, rank, local, values, ts)
        anomalous = self.gate.anomalous(score, rows)
        # Episodes concern only series with an anomalous point or an open episode; the points
        # are already ordered by series, then time, which is the order each episode grows in.
        busy = np.zeros(present.size, dtype=bool)
        busy[local[anomalous]] = True
        if self.episodes:
            busy |= np.isin(present, np.fromiter(self.episodes, dtype=np.int64, count=len(self.episodes)))
        if busy.any():
            pick = np.flatnonzero(busy[local])
            self._fold(rows[pick], ts[pick], anomalous[pick], score[pick], z[pick], touched)
        for key, array in state.items():
            self.state[key][present] = array
        self.last_ms[rows[np.r_[starts[1:] - 1, rows.size - 1]]] = ts[np.r_[starts[1:] - 1, rows.size - 1]]
        self.points_seen += int(rows.size)
        self.dirty = True
        if emit:
            result.anomalies = [self._record(row, episode) for row, episode in touched.values()]
        return result

    def _run(self, state: dict[str, np.ndarray], rank: np.ndarray, local: np.ndarray, values: np.ndarray,
             ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score every point through ``detector.run`` on (step, series) matrices; (score, z) per point.

        A series' n-th new point is in step n, so the series still stepping at step n are a
        subset of those at step n - 1. Steps are taken in chunks of at most ``RUN_CELLS``
        cells, each over the series still stepping at its first step: a batch with one long
        series and many short ones never builds a (long x many) matrix.
        """
        per_step = np.bincount(rank)
        by_step = np.argsort(rank, kind="stable")  # within a step, series stay in ascending order
        bounds = np.r_[0, np.cumsum(per_step)]
        score, z = np.zeros(rank.size), np.zeros(rank.size)
        column_of = np.empty(int(per_step[0]), dtype=np.int64)  # step 0 has every series of the batch
        first = 0
        while first < per_step.size:
            width = int(per_step[first])
            last = min(per_step.size, first + max(1, self.RUN_CELLS // width))
            columns = local[by_step[bounds[first]:bounds[first + 1]]]
            points = by_step[bounds[first]:bounds[last]]
            column_of[columns] = np.arange(width)
            r, c = rank[points] - first, column_of[local[points]]
            active = np.zeros((last - first, width), dtype=bool)
            active[r, c] = True
            step_values, step_ts = np.zeros(active.shape), np.zeros(active.shape)
            step_values[r, c] = values[points]
            step_ts[r, c] = ts[points] / 1000.0
            whole = width == column_of.size  # every series: the columns are 0..width-1 in order
            part = state if whole else {key: array[columns] for key, array in state.items()}
            scores = self.detector.run(part, step_values, step_ts, active)
            if not whole:
                for key, array in part.items():
                    state[key][columns] = array
            score[points], z[points] = scores.score[r, c], scores.z_score[r, c]
            first = last
        return score, z

    def _fold(self, rows: np.ndarray, stamps: np.ndarray, anomalous: np.ndarray, score: np.ndarray,
              z: np.ndarray, touched: dict[str, tuple[int, Episode]]) -> None:
        """Grow, open or quiet each row's episode, point by point (each row's points in time order).

        The caller passes only the points of rows with an anomalous point or an open
        episode: the others (nearly every point) have nothing to do here.
        """
        for row, at, hot, row_score, row_z in zip(rows.tolist(), stamps.tolist(), anomalous.tolist(),
                                                  score.tolist(), z.tolist(), strict=True):
            episode = self.episodes.get(row)
            if hot:
                if episode is None or episode.quiet >= self.close_after:
                    episode = self.episodes[row] = Episode(
                        anomaly_id(self.tenant_id, self.series_ids[row], at), at, at, row_score, row_z)
                else:
                    episode.last_ms, episode.quiet = at, 0
                    if row_score > episode.score:
                        episode.score, episode.z = row_score, row_z
                touched[episode.anomaly_id] = (row, episode)
            elif episode is not None:
                episode.quiet += 1
                if episode.quiet >= self.close_after:
                    del self.episodes[row]

    def _record(self, row: int, episode: Episode) -> AnomalyRecord:
        service, metric, labels = self.meta[row]
        return AnomalyRecord(
            tenant_id=self.tenant_id, anomaly_id=episode.anomaly_id, service_id=service, metric_name=metric,
            series_id=self.series_ids[row], labels=labels, source="watchdog", model=self.model,
            anomaly_score=round(episode.score, 6), z_score=round(episode.z, 4),
            detected_at=datetime.fromtimestamp(episode.started_ms / 1000, UTC),
            last_seen_at=datetime.fromtimestamp(episode.last_ms / 1000, UTC),
            rca_triggered=episode.score >= self.rca_threshold,
        )

    # -- feedback --------------------------------------------------------------------------
    def feedback(self, series_id: int, verdict: str) -> float | None:
        """Move one series' threshold after a person's verdict (:meth:`ThresholdFilter.feedback`);
        returns the new threshold, None for a series this watch has not seen."""
        row = self.rows.get(series_id)
        if row is None:
            return None
        self.dirty = True
        return self.gate.feedback(row, verdict)

    # -- checkpoints -----------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        """Everything needed to continue exactly here, as npz arrays plus JSON (no pickle)."""
        arrays: dict[str, Any] = {f"state.{key}": value for key, value in self.state.items()}  # savez keywords
        arrays["series_ids"] = np.array(self.series_ids, dtype=np.uint64)
        arrays["last_ms"] = self.last_ms
        arrays["threshold"] = self.gate.to_array()
        meta = {
            "model": self.model, "config": self.model_config, "meta": self.meta, "points_seen": self.points_seen,
            "episodes": {str(row): vars(e) for row, e in self.episodes.items()},
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def restore(cls, tenant_id: str, blob: bytes, **options) -> TenantWatch:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            watch = cls(tenant_id, meta["model"], meta["config"], **options)
            watch.state = {key.removeprefix("state."): data[key].copy() for key in data.files
                           if key.startswith("state.")}
            watch.series_ids = [int(i) for i in data["series_ids"]]
            watch.last_ms = data["last_ms"].copy()
            watch.gate = ThresholdFilter.from_array(watch.detector, data["threshold"])
        watch.rows = {identity: row for row, identity in enumerate(watch.series_ids)}
        watch.meta = [(m[0], m[1], dict(m[2])) for m in meta["meta"]]
        watch.points_seen = int(meta["points_seen"])
        watch.episodes = {int(row): Episode(**e) for row, e in meta["episodes"].items()}
        return watch

    @property
    def newest_ms(self) -> int | None:
        seen = self.last_ms[self.last_ms > np.iinfo(np.int64).min]
        return int(seen.max()) if seen.size else None

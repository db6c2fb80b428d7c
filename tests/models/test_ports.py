"""The rebuilt published detectors against their published results on the shared NAB files.

NAB hands each detector the file's minimum, maximum and length before it starts; the
ports take the same (``value_range``, ``probation``) here, so the comparison is like for
like. Skipped without ``../shared/data/nab``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from aiops.evaluation.detect import as_nab_runs_it, labelled_rows, read_corpus
from aiops.evaluation.nab import best_threshold

NAB = Path(os.environ.get("NAB_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "nab"))
pytestmark = pytest.mark.skipif(not (NAB / "published").is_dir(), reason="needs the shared NAB data")


def published(detector: str, series) -> dict[str, np.ndarray]:
    scores = {}
    for s in series:
        with (NAB / "published" / detector / s.name).open() as handle:
            rows = list(csv.DictReader(handle))
        stamps = np.array([np.datetime64(r["timestamp"].replace(" ", "T"), "s") for r in rows])
        values = np.array([float(r["anomaly_score"]) for r in rows])
        scores[s.name] = values[np.argsort(stamps, kind="stable")]  # our reader's order
    return scores


@pytest.mark.parametrize(("model", "original", "tolerance"), [("artime", "ARTime", 0.05),
                                                              ("contextual", "contextOSE", 3.0)])
def test_port_scores_within_tolerance_of_its_original(model: str, original: str, tolerance: float) -> None:
    series, labels = read_corpus(NAB / "data", NAB / "labels" / "combined_windows.json")
    ours = best_threshold(labelled_rows(series, labels, as_nab_runs_it(model, series))).score
    theirs = best_threshold(labelled_rows(series, labels, published(original, series))).score
    assert abs(ours - theirs) <= tolerance, (ours, theirs)


def test_artime_reproduces_the_published_scores_point_by_point() -> None:
    series, _ = read_corpus(NAB / "data", NAB / "labels" / "combined_windows.json")
    series = [s for s in series if s.name.startswith(("artificialWithAnomaly", "realAWSCloudwatch/ec2_cpu"))]
    ours, theirs = as_nab_runs_it("artime", series), published("ARTime", series)
    for s in series:
        np.testing.assert_allclose(ours[s.name], theirs[s.name], atol=5e-7, err_msg=s.name)  # theirs: 6 decimals

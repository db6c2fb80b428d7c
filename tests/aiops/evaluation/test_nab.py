"""The NAB scorer on small hand-made cases whose answers follow from the published method."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aiops.evaluation.nab import best_threshold, probation_length, scaled_sigmoid, score_at, score_rows

T0 = np.datetime64("2020-01-01T00:00")


def stamps(n: int) -> np.ndarray:
    return T0 + np.arange(n) * np.timedelta64(5, "m")


def window(first: int, last: int) -> tuple[np.datetime64, np.datetime64]:
    return T0 + first * np.timedelta64(5, "m"), T0 + last * np.timedelta64(5, "m")


def score_of(n: int, windows, detections) -> float:
    scores = np.zeros(n)
    scores[list(detections)] = 1.0
    return best_threshold([score_rows(stamps(n), scores, windows)]).score


def test_sigmoid_matches_the_published_values() -> None:
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(0.98661, abs=1e-5)
    assert float(scaled_sigmoid(-0.5)) == pytest.approx(0.84828, abs=1e-5)
    assert float(scaled_sigmoid(0.0)) == 0.0
    assert float(scaled_sigmoid(1.0)) == pytest.approx(-0.98661, abs=1e-5)
    assert float(scaled_sigmoid(3.0)) == -1.0


def test_probation_is_fifteen_percent_capped_at_750() -> None:
    assert probation_length(100) == 15
    assert probation_length(4000) == 600
    assert probation_length(20000) == 750


def test_detection_at_the_window_start_is_perfect() -> None:
    assert score_of(100, [window(50, 59)], [50]) == pytest.approx(100.0)


def test_no_detection_scores_zero() -> None:
    assert score_of(100, [window(50, 59)], []) == 0.0


def test_later_detections_in_a_window_are_worth_less() -> None:
    middle = score_of(100, [window(50, 59)], [55])
    last = score_of(100, [window(50, 59)], [59])
    # Row 55 sits at y = -(59 - 55 + 1) / 10 = -0.5; raw = S(-0.5) / S(-1); normalised over [-1, 1].
    expected_raw = float(scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0))
    assert middle == pytest.approx(100 * (expected_raw + 1) / 2)
    assert 50 < last < middle


def test_only_the_best_detection_of_a_window_counts() -> None:
    assert score_of(100, [window(50, 59)], [50, 51, 52, 58]) == pytest.approx(100.0)


def test_false_positive_before_any_window_costs_point_eleven() -> None:
    # One window detected perfectly, plus one detection before it: raw = 1 - 0.11.
    assert score_of(100, [window(50, 59)], [30, 50]) == pytest.approx(100 * (1 - 0.11 + 1) / 2)


def test_false_positive_right_after_a_window_costs_little() -> None:
    near = score_of(200, [window(50, 59)], [50, 60])
    far = score_of(200, [window(50, 59)], [50, 150])
    # 1 row past the edge: y = 1 / (width - 1) = 1/9; 91 rows past: y >= 3 gives the full -0.11.
    assert near == pytest.approx(100 * (1 + 0.11 * float(scaled_sigmoid(1 / 9)) + 1) / 2)
    assert far == pytest.approx(100 * (1 - 0.11 + 1) / 2)


def test_detections_during_probation_are_ignored() -> None:
    assert score_of(100, [window(50, 59)], [3, 50]) == pytest.approx(100.0)


def test_one_threshold_is_swept_over_the_whole_corpus() -> None:
    n = 100
    first = np.zeros(n)
    first[50] = 0.9  # a true detection
    first[30] = 0.5  # a false positive with a lower score
    second = np.zeros(n)
    second[70] = 0.6  # a true detection in another file
    files = [score_rows(stamps(n), first, [window(50, 59)]), score_rows(stamps(n), second, [window(70, 79)],
                                                                            first_window_id=1)]
    result = best_threshold(files)
    assert result.threshold == 0.6  # 0.6 takes both windows; 0.5 would add the false positive
    assert result.score == pytest.approx(100.0)
    assert (result.windows, result.true_positives, result.false_positives) == (2, 2, 0)
    assert result.null == -2 and result.perfect == 2
    assert math.isclose(result.raw, 2.0)


def test_a_fixed_threshold_scores_what_the_sweep_scores_there() -> None:
    rng = np.random.default_rng(7)
    files = [score_rows(stamps(300), rng.random(300), [window(100, 119), window(200, 219)]),
             score_rows(stamps(300), rng.random(300), [])]
    best = best_threshold(files)
    at_best = score_at(files, best.threshold)
    assert (at_best.score, at_best.true_positives, at_best.false_positives) == pytest.approx(
        (best.score, best.true_positives, best.false_positives))
    assert score_at(files, 1.5).score == 0.0  # nothing detected: the null score
    assert score_at(files, 0.0).score < best.score


def test_false_episodes_fold_alarms_as_the_watchdog_does() -> None:
    from aiops.evaluation.nab import false_episodes

    n = 300
    scores = np.zeros(n)
    scores[[100, 101, 103]] = 1.0  # one episode: gaps of fewer than 3 quiet rows
    scores[[110, 200]] = 1.0  # two more, each alone
    scores[[150, 160]] = 1.0  # inside the window: not false
    scored = score_rows(stamps(n), scores, [window(145, 165)])
    assert false_episodes(scored, 0.5) == 3
    assert false_episodes(scored, 0.5, close_after=10) == 2  # 100..110 is one episode when 10 rows close it
    assert false_episodes(scored, 1.5) == 0

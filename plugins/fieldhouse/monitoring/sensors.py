"""The sensor anomaly model's drift check: its training data against the latest window.

The feature table mixes units (degrees next to watts), so each metric is checked
on its own: a +8 °C calibration error is invisible in a column that also holds
kilowatts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from fieldhouse.config import StorageSettings
from fieldhouse.monitoring.drift import check_drift, record_checks, write_report
from fieldhouse.monitoring.workspace import publish_drift
from fieldhouse.storage.objects import ObjectStore

log = logging.getLogger(__name__)

# What the check compares: where the values are and how they spread, and how many arrive.
DRIFT_COLUMNS = (
    "value_mean",
    "value_p95",
    "value_min",
    "value_max",
    "value_stddev",
    "reading_count",
)
# Normed Wasserstein distance above half a standard deviation. With a few hundred
# rows Evidently would pick a K-S test, which flags ordinary multi-day weather;
# a calibration error worth retraining for moves values by more than that.
DRIFT_METHOD, DRIFT_METHOD_THRESHOLD = "wasserstein", 0.5


def check_sensor_feature_drift(
    store: ObjectStore,
    settings: StorageSettings,
    run_id: str,
    *,
    window_hours: int = 24,
    threshold: float = 0.5,
    max_rows: int = 20_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Check every metric's latest ``window_hours`` against the champion's training period.

    Writes one report per metric to the reports bucket and one row per metric to
    ``lake.main.drift_checks``; returns the metrics that drifted and why.
    """
    from fieldhouse.lake import duckdb_connect
    from fieldhouse.ml import anomaly, registry
    from fieldhouse.ml.training import SENSOR_ANOMALY_MODEL

    champion = registry.card(SENSOR_ANOMALY_MODEL)
    period = champion["training_period"]
    with duckdb_connect(settings) as con:
        features = anomaly.load_features(con)
    hours = pd.to_datetime(features["event_hour"], utc=True)
    reference = features[
        (hours >= pd.Timestamp(period["start"])) & (hours < pd.Timestamp(period["end"]))
    ]
    current = features[hours > hours.max() - pd.Timedelta(hours=window_hours)]

    checks = []
    for metric in sorted(set(current["metric"]) & set(reference["metric"])):
        result = check_drift(
            reference[reference["metric"] == metric],
            current[current["metric"] == metric],
            DRIFT_COLUMNS,
            threshold=threshold,
            max_rows=max_rows,
            seed=seed,
            method=DRIFT_METHOD,
            method_threshold=DRIFT_METHOD_THRESHOLD,
        )
        keys = write_report(store, f"{SENSOR_ANOMALY_MODEL}-{metric}", run_id, result)
        checked_at = datetime.now(UTC)
        publish_drift(
            SENSOR_ANOMALY_MODEL,
            result.snapshot,
            question=metric,
            run_id=run_id,
            champion_version=champion["version"],
            timestamp=checked_at,
        )
        drifted_columns = sorted(c for c, v in result.per_column.items() if v.drifted)
        checks.append(
            {
                "checked_at": checked_at,
                "run_id": run_id,
                "model_name": SENSOR_ANOMALY_MODEL,
                "champion_version": champion["version"],
                "metric": metric,
                "share_drifted": result.share_drifted,
                "drifted": result.drifted,
                "drifted_columns": ",".join(drifted_columns),
                "report_html": keys.html.uri,
            }
        )
        log.info(
            "%s %s: drift share %.2f%s (%s)",
            SENSOR_ANOMALY_MODEL,
            metric,
            result.share_drifted,
            " DRIFTED" if result.drifted else "",
            keys.html.uri,
        )
    record_checks(settings, checks)
    drifted = [c for c in checks if c["drifted"]]
    return {
        "model_name": SENSOR_ANOMALY_MODEL,
        "champion_version": champion["version"],
        "drifted_metrics": [c["metric"] for c in drifted],
        "reason": "; ".join(
            f"{c['metric']}: {c['share_drifted']:.0%} of columns drifted ({c['drifted_columns']})"
            for c in drifted
        ),
        "reports": [c["report_html"] for c in checks],
    }

"""A simulated fleet of sensors that stands in for real gateways.

The fleet has three kinds of device spread over a few sites (their metrics and
ranges are the catalog's, ``contracts/catalogs/sensors.yaml``):

- ``environmental`` sensors report ``temperature_c`` (a daily cycle peaking in the
  afternoon, plus multi-day weather) and ``humidity_pct`` (moving against it);
- ``machine`` sensors report ``vibration_mm_s`` and ``power_w``, high while the
  machine runs its shifts and near zero when it stands still;
- ``gps_tracker`` devices report ``latitude``, ``longitude`` and ``speed_kmh`` while
  driving a loop around their home site by day, parked at night.

On top of that the usual faults of a real fleet are injected (see
:class:`FaultRates`), and every spike, stuck reading, dropout and calibration shift
is written to a label frame so anomaly models can be scored against the truth.

A batch holds the readings that *arrive* during an interval, whatever their event
time, so a reading is delivered exactly once over consecutive intervals. Every
random draw is seeded from ``(seed, device_id, event hour)``: a device's readings do
not depend on which other devices are simulated with it, nor on the interval the
hour is requested through.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fieldhouse.quality import WIRE_COLUMNS
from fieldhouse.sources.simulation import SimulatedBatch, stable_hash
from fieldhouse.storage.keys import Interval

if TYPE_CHECKING:
    from fieldhouse.contracts.catalog import Catalog

ORIGIN = "fleet_simulator"
HOUR = 3600
DAY = 86_400
MAX_DELIVERY_DELAY = 55 * 60
"""No reading arrives later than this after its event time (less than an hour)."""

KIND_PREFIX = {"environmental": "env", "machine": "mach", "gps_tracker": "gps"}
PRIMARY_METRIC = {
    "environmental": "temperature_c",
    "machine": "vibration_mm_s",
    "gps_tracker": "speed_kmh",
}
# Ten slots give the fleet mix (50% environmental, 30% machine, 20% GPS) exactly for
# every ten devices, and keep build_fleet(n) a prefix of build_fleet(n + k).
_KIND_CYCLE = (
    "environmental",
    "machine",
    "environmental",
    "gps_tracker",
    "environmental",
    "machine",
    "environmental",
    "machine",
    "environmental",
    "gps_tracker",
)

_DECIMALS = {
    "temperature_c": 2,
    "humidity_pct": 1,
    "vibration_mm_s": 3,
    "power_w": 1,
    "latitude": 6,
    "longitude": 6,
    "speed_kmh": 1,
}
"""The metrics the simulator models, and the decimals it writes each with."""

_GARBAGE_TS = "2026-13-45T99:00"
_UNKNOWN_METRICS = ("battery_pct", "rssi_dbm")
_MALFORMATIONS = 7  # see _wire_frame: three bad values, bad ts, no device, two unknown metrics
LABEL_COLUMNS = ("event_id", "device_id", "metric", "event_ts", "fault")


@dataclass(frozen=True)
class Site:
    name: str
    latitude: float
    longitude: float
    base_temperature_c: float
    daily_amplitude_c: float
    peak_hour_utc: float
    utc_offset_minutes: int  # the offset its gateway writes timestamps in


SITES: tuple[Site, ...] = (
    Site("plant-north", 53.551, 9.994, 21.0, 1.5, 14.5, 0),
    Site("plant-south", 48.137, 11.575, 23.0, 2.0, 14.0, 60),
    Site("warehouse-east", 52.230, 21.012, 12.0, 4.0, 13.5, 0),
    Site("warehouse-west", 51.507, -0.128, 11.0, 3.5, 15.0, 0),
    Site("depot-central", 50.110, 8.682, 7.0, 6.0, 14.5, 60),
)
_SITE_BY_NAME = {site.name: site for site in SITES}


@dataclass(frozen=True)
class Device:
    device_id: str
    kind: str
    site: str
    latitude: float
    longitude: float
    installed_at: date


@dataclass(frozen=True)
class FaultRates:
    """How often each fault happens. Rates are per reading unless said otherwise."""

    spike: float = 0.001
    spike_out_of_range_share: float = 0.1  # of spikes, the share far outside the range
    stuck: float = 0.0005  # a stuck run starts
    stuck_length: tuple[int, int] = (5, 30)  # readings in a run, first one included
    dropout: float = 0.02  # per device-hour: the device goes silent for a while
    dropout_minutes: tuple[float, float] = (3.0, 20.0)
    duplicate: float = 0.005  # the gateway sends the reading twice
    late: float = 0.02  # delivered minutes late instead of seconds
    late_minutes: tuple[float, float] = (1.0, 50.0)
    out_of_order: float = 0.02  # shuffled within the batch beyond arrival order
    malformed: float = 0.003

    def __post_init__(self) -> None:
        if self.late_minutes[1] * 60 > MAX_DELIVERY_DELAY:
            raise ValueError(f"late delivery is capped at {MAX_DELIVERY_DELAY // 60} minutes")

    @classmethod
    def none(cls) -> FaultRates:
        """A fleet that behaves perfectly (still with network delay of seconds)."""
        return cls(
            spike=0.0,
            stuck=0.0,
            dropout=0.0,
            duplicate=0.0,
            late=0.0,
            out_of_order=0.0,
            malformed=0.0,
        )


DEFAULT_FAULTS = FaultRates()


@dataclass(frozen=True)
class _Metrics:
    """The fleet's kinds and metrics as the catalog defines them, numbered for array work."""

    of_kind: Mapping[str, tuple[str, ...]]
    names: tuple[str, ...]  # a reading's metric is an index into this
    code: Mapping[str, int]
    low: np.ndarray
    high: np.ndarray


def _metrics() -> _Metrics:
    from fieldhouse.contracts.catalog import load_catalog

    return _fleet_metrics(load_catalog())


@functools.lru_cache(maxsize=4)
def _fleet_metrics(catalog: Catalog) -> _Metrics:
    missing = [kind for kind in KIND_PREFIX if kind not in catalog.device_kinds]
    if missing:
        raise ValueError(f"the fleet simulates device kinds {missing}, which no catalog defines")
    of_kind = {kind: catalog.device_kinds[kind].metrics for kind in KIND_PREFIX}
    names = tuple(dict.fromkeys(m for metrics in of_kind.values() for m in metrics))
    unmodelled = sorted(set(names) - set(_DECIMALS))
    if unmodelled:
        raise ValueError(
            f"the catalog gives the fleet's kinds metrics it does not model: {unmodelled}"
        )
    return _Metrics(
        of_kind=of_kind,
        names=names,
        code={metric: code for code, metric in enumerate(names)},
        low=np.array([catalog.metrics[m].low for m in names]),
        high=np.array([catalog.metrics[m].high for m in names]),
    )


def build_fleet(n_devices: int, seed: int) -> list[Device]:
    """A deterministic fleet; the first ``k`` devices do not depend on ``n_devices``."""
    counters = dict.fromkeys(KIND_PREFIX, 0)
    devices = []
    for index in range(n_devices):
        kind = _KIND_CYCLE[index % len(_KIND_CYCLE)]
        counters[kind] += 1
        rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
        site = SITES[int(rng.integers(len(SITES)))]
        devices.append(
            Device(
                device_id=f"{KIND_PREFIX[kind]}-{counters[kind]:04d}",
                kind=kind,
                site=site.name,
                latitude=round(site.latitude + rng.normal(0, 0.01), 6),
                longitude=round(site.longitude + rng.normal(0, 0.015), 6),
                installed_at=date(2023, 1, 1) + timedelta(days=int(rng.integers(730))),
            )
        )
    return devices


def devices_frame(devices: Sequence[Device]) -> pd.DataFrame:
    """The device registry as a typed frame (the reference table of the sensor source)."""
    return pd.DataFrame(
        {
            "device_id": pd.Series([d.device_id for d in devices], dtype=object),
            "device_kind": pd.Series([d.kind for d in devices], dtype=object),
            "site": pd.Series([d.site for d in devices], dtype=object),
            "latitude": pd.Series([d.latitude for d in devices], dtype="float64"),
            "longitude": pd.Series([d.longitude for d in devices], dtype="float64"),
            "installed_at": pd.Series(
                [d.installed_at for d in devices], dtype="datetime64[s]"
            ).dt.date,
        }
    )


def simulate_interval(
    devices: Sequence[Device],
    interval: Interval,
    seed: int,
    *,
    sample_seconds: int = 60,
    faults: FaultRates = DEFAULT_FAULTS,
    calibration_shift: Mapping[str, float] | None = None,
) -> SimulatedBatch:
    """The readings that arrive during ``interval``, and labels of the faults they carry.

    ``calibration_shift`` maps a device id or a device kind to an additive offset on
    that device's primary metric (temperature, vibration or speed); a device id entry
    wins over its kind's.
    """
    if sample_seconds < 1:
        raise ValueError("sample_seconds must be at least 1")
    start = interval.start.timestamp()
    end = interval.end.timestamp()
    first_hour = (math.floor(start) - MAX_DELIVERY_DELAY) // HOUR * HOUR
    event_hours = range(first_hour, math.ceil(end), HOUR)
    shifts = calibration_shift or {}

    parts: list[_Chunk] = []
    gaps: list[tuple[int, int]] = []  # (device index, first missing second)
    for index, device in enumerate(devices):
        shift = float(shifts.get(device.device_id, shifts.get(device.kind, 0.0)))
        for hour in event_hours:
            chunk, hour_gaps = _simulate_hour(
                device, index, hour, seed, sample_seconds, faults, shift
            )
            arrived = (chunk.arrival >= start) & (chunk.arrival < end)
            parts.append(chunk.select(arrived))
            gaps.extend((index, second) for second in hour_gaps if start <= second < end)

    batch = _Chunk.concat(parts)
    return SimulatedBatch(
        readings=_wire_frame(batch, devices),
        labels=_labels(batch, gaps, devices),
    )


# --- one device, one event hour ------------------------------------------------------


@dataclass
class _Chunk:
    """Readings as parallel arrays, before they are rendered as text."""

    device: np.ndarray  # index into the device list
    metric: np.ndarray  # index into _Metrics.names
    second: np.ndarray  # event time, epoch seconds
    value: np.ndarray
    arrival: np.ndarray  # epoch seconds, float
    order: np.ndarray  # sort key within the batch
    spike: np.ndarray
    stuck: np.ndarray
    shifted: np.ndarray
    malformed: np.ndarray  # -1, or which malformation
    duplicate_order: np.ndarray  # NaN, or the sort key of the copy sent again

    def select(self, mask: np.ndarray) -> _Chunk:
        return _Chunk(**{name: array[mask] for name, array in vars(self).items()})

    @classmethod
    def concat(cls, chunks: Sequence[_Chunk]) -> _Chunk:
        if not chunks:
            return _empty_chunk()
        return cls(
            **{name: np.concatenate([vars(c)[name] for c in chunks]) for name in vars(chunks[0])}
        )


def _empty_chunk() -> _Chunk:
    ints, floats, flags = (np.empty(0, dtype=t) for t in (np.int64, np.float64, bool))
    return _Chunk(ints, ints, ints, floats, floats, floats, flags, flags, flags, ints, floats)


@dataclass(frozen=True)
class _Profile:
    """Constants of one device's behaviour, stable across hours."""

    phase: float  # sampling phase, as a fraction of the sample period
    offset: float  # sensor bias (temperature) or level (vibration)
    a: float  # humidity base / rated power / cruising speed
    b: float  # humidity coupling / standby power / loop radius (km)
    start_hour: float  # shift start / daily departure
    active_hours: float  # shift length / hours on the road
    weekends: bool  # machine runs on weekends
    wobble: float  # phase of short oscillations, radians


@functools.lru_cache(maxsize=65_536)
def _profile(device: Device, seed: int) -> _Profile:
    rng = np.random.default_rng(np.random.SeedSequence([seed, stable_hash(device.device_id), 1]))
    u = rng.random(8)
    if device.kind == "environmental":
        return _Profile(
            phase=u[0],
            offset=rng.normal(0, 1.2),
            a=40 + 25 * u[1],
            b=1.5 + 1.5 * u[2],
            start_hour=0.0,
            active_hours=24.0,
            weekends=True,
            wobble=2 * np.pi * u[3],
        )
    if device.kind == "machine":
        runs_around_the_clock = u[4] < 0.2
        return _Profile(
            phase=u[0],
            offset=2.5 + 5.0 * u[1],
            a=3_000 + 27_000 * u[2],
            b=40 + 110 * u[3],
            start_hour=5.0 + float(rng.integers(3)),
            active_hours=24.0 if runs_around_the_clock else 16.0,
            weekends=runs_around_the_clock or u[5] < 0.3,
            wobble=2 * np.pi * u[6],
        )
    return _Profile(
        phase=u[0],
        offset=1.0 if u[7] < 0.5 else -1.0,  # direction around the loop
        a=35 + 50 * u[1],
        b=3 + 22 * u[2],
        start_hour=5.0 + 3.0 * u[3],
        active_hours=9.0 + 4.0 * u[4],
        weekends=True,
        wobble=2 * np.pi * u[5],
    )


def _simulate_hour(
    device: Device,
    index: int,
    hour: int,
    seed: int,
    sample_seconds: int,
    faults: FaultRates,
    shift: float,
) -> tuple[_Chunk, list[int]]:
    """All readings of one device whose event time falls in ``[hour, hour + 1h)``."""
    profile = _profile(device, seed)
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, stable_hash(device.device_id), 2, hour // HOUR])
    )
    phase = int(profile.phase * sample_seconds)
    first = hour + (phase - hour) % sample_seconds
    seconds = np.arange(first, hour + HOUR, sample_seconds, dtype=np.int64)
    table = _metrics()
    metrics = table.of_kind[device.kind]
    n = len(seconds) * len(metrics)
    noise = rng.standard_normal(n)
    # One row of uniforms per random decision, drawn at once because small draws are slow:
    # 0-3 spike (whether, how far, size, side), 4-5 malformed (whether, how), 6 duplicate,
    # 7-8 late (whether, delay), 9-10 reordered (whether, shift), 11 copy delay, 12 network.
    u = rng.random((13, n))

    series = _clean_values(device, profile, seconds, noise)
    value = np.concatenate([series[m] for m in metrics])
    metric = np.repeat(np.array([table.code[m] for m in metrics]), len(seconds))
    second = np.tile(seconds, len(metrics))

    shifted = np.zeros(n, dtype=bool)
    if shift:
        shifted = metric == table.code[PRIMARY_METRIC[device.kind]]
        value[shifted] += shift

    stuck = _inject_stuck(rng, value, len(seconds), len(metrics), faults)
    # Not on a stuck reading, nor on the one a stuck run repeats.
    spike = (u[0] < faults.spike) & ~stuck & ~np.roll(stuck, -1)
    _inject_spikes(
        value,
        metric,
        spike,
        table,
        far=u[1] < faults.spike_out_of_range_share,
        size=u[2],
        side=u[3],
    )

    labelled = spike | stuck | shifted
    # Labelled readings stay well-formed, so every label points at a reading that can be scored.
    malformed = np.where(
        (u[4] < faults.malformed) & ~labelled, (u[5] * _MALFORMATIONS).astype(np.int64), -1
    )

    network = -2.0 * np.log1p(-u[12])  # exponential, mean 2 s
    late = u[7] < faults.late
    low, high = faults.late_minutes
    delay = np.where(late, 60 * (low + (high - low) * u[8]), network)
    arrival = second + delay
    order = np.where(u[9] < faults.out_of_order, arrival + 1800 * (u[10] - 0.5), arrival)
    duplicate_order = np.where(u[6] < faults.duplicate, order + 30 * u[11], np.nan)

    kept, gaps = _dropouts(rng, second, hour, faults)
    chunk = _Chunk(
        device=np.full(n, index, dtype=np.int64),
        metric=metric,
        second=second,
        value=value,
        arrival=arrival,
        order=order,
        spike=spike,
        stuck=stuck,
        shifted=shifted,
        malformed=malformed,
        duplicate_order=duplicate_order,
    )
    return (chunk if kept is None else chunk.select(kept)), gaps


def _clean_values(
    device: Device, profile: _Profile, seconds: np.ndarray, noise: np.ndarray
) -> dict[str, np.ndarray]:
    """The true signal plus sensor noise of each metric of the device's kind."""
    t = seconds.astype(np.float64)
    k = len(t)
    hour_of_day = (t % DAY) / HOUR
    site = _SITE_BY_NAME.get(device.site, SITES[0])

    if device.kind == "environmental":
        daily = site.daily_amplitude_c * np.cos(2 * np.pi * (hour_of_day - site.peak_hour_utc) / 24)
        weather = 1.5 * np.sin(2 * np.pi * t / (3.3 * DAY) + profile.wobble)
        temperature = site.base_temperature_c + profile.offset + daily + weather + 0.15 * noise[:k]
        humidity = profile.a - profile.b * (daily + weather) + 0.8 * noise[k:]
        return {"temperature_c": temperature, "humidity_pct": np.clip(humidity, 3.0, 99.0)}

    if device.kind == "machine":
        weekday = (t // DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        on_shift = (hour_of_day - profile.start_hour) % 24 < profile.active_hours
        running = on_shift & (profile.weekends | (weekday < 5))
        swing = np.sin(2 * np.pi * t / 900 + profile.wobble)
        vibration = np.where(
            running,
            profile.offset * (1 + 0.1 * swing) + 0.25 * noise[:k],
            0.15 + 0.05 * noise[:k],
        )
        load = 0.75 + 0.15 * np.sin(2 * np.pi * t / 1800 + profile.wobble)
        power = np.where(running, profile.a * (load + 0.02 * noise[k:]), profile.b + 5 * noise[k:])
        return {"vibration_mm_s": np.maximum(vibration, 0.0), "power_w": np.maximum(power, 0.0)}

    return _gps_values(device, profile, t, hour_of_day, noise)


_GPS_PERIOD = 1200.0  # seconds of one speed oscillation; divides a day
_KM_PER_DEGREE = 111.32


def _gps_values(
    device: Device, profile: _Profile, t: np.ndarray, hour_of_day: np.ndarray, noise: np.ndarray
) -> dict[str, np.ndarray]:
    """Position on a loop around home, consistent with the reported speed."""
    k = len(t)
    cruise, radius = profile.a, profile.b
    window = profile.active_hours * HOUR
    departure = profile.start_hour * HOUR
    since = np.clip((hour_of_day * HOUR - departure) % DAY, 0, None)
    driving = since < window
    since = np.minimum(since, window)
    day_start = t - (hour_of_day * HOUR)
    leave = day_start + departure
    # Distance is the integral of cruise * (1 + 0.25 sin(2 pi t / P)) over driving time.
    w = 2 * np.pi / _GPS_PERIOD

    def travelled(start: np.ndarray, duration: np.ndarray) -> np.ndarray:
        wave = 0.25 / w * (np.cos(w * start) - np.cos(w * (start + duration)))
        return cruise / HOUR * (duration + wave)

    # A trip started yesterday may still be on the road after midnight.
    leave = np.where((hour_of_day * HOUR) < departure, leave - DAY, leave)
    days = np.floor((leave - _EPOCH_2020) / DAY)
    km = days * travelled(np.array(departure), np.array(window)) + travelled(leave, since)
    angle = profile.offset * km / radius
    north = radius * np.sin(angle)
    east = radius * (1 - np.cos(angle))
    latitude = device.latitude + north / _KM_PER_DEGREE + 4e-5 * noise[:k]
    longitude = (
        device.longitude
        + east / (_KM_PER_DEGREE * math.cos(math.radians(device.latitude)))
        + 4e-5 * noise[k : 2 * k]
    )
    speed = np.where(
        driving,
        cruise * (1 + 0.25 * np.sin(w * t)) + 1.5 * noise[2 * k :],
        np.abs(0.3 * noise[2 * k :]),
    )
    return {"latitude": latitude, "longitude": longitude, "speed_kmh": np.maximum(speed, 0.0)}


_EPOCH_2020 = 1_577_836_800.0


def _inject_stuck(
    rng: np.random.Generator, value: np.ndarray, per_metric: int, n_metrics: int, faults: FaultRates
) -> np.ndarray:
    """Freeze runs of readings at the value the run started with; flags the repeats."""
    stuck = np.zeros(len(value), dtype=bool)
    if faults.stuck <= 0 or per_metric == 0:
        return stuck
    runs = rng.binomial(per_metric, faults.stuck, size=n_metrics)
    low, high = faults.stuck_length
    for m in np.flatnonzero(runs):
        begins = np.sort(rng.integers(per_metric, size=runs[m]))
        lengths = rng.integers(low, high + 1, size=runs[m])
        base = m * per_metric
        # In time order, so a run that starts inside another one carries its value on.
        for begin, length in zip(begins, lengths, strict=True):
            stop = min(begin + length, per_metric)
            value[base + begin + 1 : base + stop] = value[base + begin]
            stuck[base + begin + 1 : base + stop] = True
    return stuck


def _inject_spikes(
    value: np.ndarray,
    metric: np.ndarray,
    spike: np.ndarray,
    table: _Metrics,
    *,
    far: np.ndarray,
    size: np.ndarray,
    side: np.ndarray,
) -> None:
    """Jump spiked readings towards the farther bound, or far beyond the range."""
    if not spike.any():
        return
    low, high = table.low[metric[spike]], table.high[metric[spike]]
    current = value[spike]
    upward = (high - current) >= (current - low)
    within = np.where(
        upward,
        current + (0.3 + 0.6 * size[spike]) * (high - current),
        current - (0.3 + 0.6 * size[spike]) * (current - low),
    )
    span = (high - low) * (0.5 + 1.5 * size[spike])
    beyond = np.where(side[spike] < 0.5, high + span, low - span)
    value[spike] = np.where(far[spike], beyond, within)


def _dropouts(
    rng: np.random.Generator, second: np.ndarray, hour: int, faults: FaultRates
) -> tuple[np.ndarray | None, list[int]]:
    """Silence the device for random gaps; returns what is kept and each gap's first loss.

    Gaps that overlap or touch are one gap in the data, so they get one label.
    """
    if faults.dropout <= 0:
        return None, []
    count = int(rng.poisson(faults.dropout))
    if count == 0:
        return None, []
    low, high = faults.dropout_minutes
    lost = np.zeros(len(second), dtype=bool)
    for _ in range(count):
        begin = hour + rng.random() * HOUR
        stop = begin + 60 * rng.uniform(low, high)
        lost |= (second >= begin) & (second < stop)
    ticks = np.unique(second)  # the sampling grid, shared by the device's metrics
    silent = np.isin(ticks, second[lost])
    starts = silent & ~np.concatenate([[False], silent[:-1]])
    return ~lost, [int(t) for t in ticks[starts]]


# --- rendering -------------------------------------------------------------------------


def _wire_frame(batch: _Chunk, devices: Sequence[Device]) -> pd.DataFrame:
    """Render the batch as text, add the duplicate copies, and order it as it arrived."""
    copies = ~np.isnan(batch.duplicate_order)
    rows = np.concatenate([np.arange(len(batch.order)), np.flatnonzero(copies)])
    keys = np.concatenate([batch.order, batch.duplicate_order[copies]])
    rows = rows[np.argsort(keys, kind="stable")]

    device, metric, second = batch.device[rows], batch.metric[rows], batch.second[rows]
    n = len(rows)
    if n == 0:
        return pd.DataFrame({column: pd.Series([], dtype=object) for column in WIRE_COLUMNS})

    device_ids = np.array([d.device_id for d in devices], dtype=object)
    names = np.array(_metrics().names, dtype=object)
    base = int(second.min())
    span = int(second.max()) - base + 1
    event_id = _event_ids(devices, device, metric, second)

    site_offsets = [_SITE_BY_NAME.get(d.site, SITES[0]).utc_offset_minutes for d in devices]
    offsets = np.array(site_offsets)[device]
    ts = np.empty(n, dtype=object)
    for offset in np.unique(offsets):
        at = offsets == offset
        ts[at] = _timestamp_table(base, span, int(offset))[second[at] - base]

    value = _value_text(batch.value[rows], metric)
    device_text = device_ids[device]
    metric_text = names[metric]

    malformed = batch.malformed[rows]
    value[malformed == 0] = "err"
    value[malformed == 1] = ""
    value[malformed == 2] = "NaN"
    ts[malformed == 3] = _GARBAGE_TS
    device_text[malformed == 4] = None
    metric_text[malformed == 5] = _UNKNOWN_METRICS[0]
    metric_text[malformed == 6] = _UNKNOWN_METRICS[1]

    return pd.DataFrame(
        {
            "event_id": event_id,
            "device_id": device_text,
            "ts": ts,
            "metric": metric_text,
            "value": value,
            "origin": np.full(n, ORIGIN, dtype=object),
            "parse_error": np.full(n, None, dtype=object),
            "raw_record": np.full(n, None, dtype=object),
        }
    )


def _event_ids(
    devices: Sequence[Device], device: np.ndarray, metric: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """``f"{device_id}-{metric}-{epoch seconds}"``, built from small tables, not per row."""
    if len(second) == 0:
        return np.empty(0, dtype=object)
    names = _metrics().names
    prefixes = np.array([f"{d.device_id}-{m}-" for d in devices for m in names], dtype=object)
    base = int(second.min())
    epoch_text = np.array([str(s) for s in range(base, int(second.max()) + 1)], dtype=object)
    return prefixes[device * len(names) + metric] + epoch_text[second - base]


def _timestamp_table(base: int, span: int, offset_minutes: int) -> np.ndarray:
    """ISO-8601 text of each second in ``[base, base + span)``, in local time with offset."""
    local = np.arange(base, base + span, dtype=np.int64) + 60 * offset_minutes
    text = np.datetime_as_string(local.astype("datetime64[s]").astype("datetime64[ms]"))
    if offset_minutes == 0:
        suffix = "Z"
    else:
        sign = "+" if offset_minutes > 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        suffix = f"{sign}{hours:02d}:{minutes:02d}"
    return np.char.add(text, suffix).astype(object)


def _value_text(value: np.ndarray, metric: np.ndarray) -> np.ndarray:
    rounded = np.empty_like(value)
    for code, name in enumerate(_metrics().names):
        at = metric == code
        rounded[at] = np.round(value[at], _DECIMALS[name])
    return (rounded + 0.0).astype(str).astype(object)  # + 0.0 turns -0.0 into 0.0


def _labels(batch: _Chunk, gaps: list[tuple[int, int]], devices: Sequence[Device]) -> pd.DataFrame:
    device_ids = np.array([d.device_id for d in devices], dtype=object)
    names = np.array(_metrics().names, dtype=object)
    frames = []
    for fault, flags in (
        ("spike", batch.spike),
        ("stuck", batch.stuck),
        ("calibration_shift", batch.shifted),
    ):
        at = np.flatnonzero(flags)
        device, metric, second = batch.device[at], batch.metric[at], batch.second[at]
        frames.append(
            pd.DataFrame(
                {
                    "event_id": _event_ids(devices, device, metric, second),
                    "device_id": device_ids[device],
                    "metric": names[metric],
                    "second": second,
                    "fault": fault,
                }
            )
        )
    frames.append(
        pd.DataFrame(
            {
                "event_id": [None] * len(gaps),
                "device_id": [device_ids[d] for d, _ in gaps],
                "metric": [None] * len(gaps),
                "second": np.array([s for _, s in gaps], dtype=np.int64),
                "fault": "dropout",
            }
        )
    )
    labels = pd.concat(frames, ignore_index=True)
    labels["event_ts"] = pd.to_datetime(labels["second"].astype(np.int64), unit="s", utc=True)
    labels["event_ts"] = labels["event_ts"].astype("datetime64[us, UTC]")
    labels = labels.sort_values(["second", "device_id", "fault", "metric"], kind="stable")
    labels = labels.reset_index(drop=True)[list(LABEL_COLUMNS)]
    for column in ("event_id", "device_id", "metric", "fault"):
        labels[column] = labels[column].astype(object)
    return labels


# --- seeding ---------------------------------------------------------------------------

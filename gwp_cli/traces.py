"""Real 5G bandwidth traces (Raca et al., MMSys 2020) and their replay (SPEC §6).

A trace is one value per second of downlink throughput. Rows whose State is I
(idle: no traffic, so 0 says nothing about capacity) are skipped; kbit/s becomes
bytes/s. Each device replays its own file from a seeded start offset, wrapping
around at the end. Where no trace root is given, a log-normal AR(1) process with
parameters fitted to the real Download traces stands in (numbers in the config).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GwpError

KBIT_TO_BYTES = 1000.0 / 8.0


def read_trace(path, column: str = "DL_bitrate") -> tuple[np.ndarray, int]:
    """Bytes/s per second of one trace CSV, and the number of idle seconds skipped.

    Columns are selected by name; others are ignored. '-' or empty values are skipped.
    """
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if column not in header:
                raise GwpError(path, column, "column is missing from this trace",
                               "give a 5G trace CSV with a DL_bitrate column (or set traces.column)")
            has_state = "State" in header
            values, idle = [], 0
            for row in reader:
                if has_state and (row.get("State") or "").strip() == "I":
                    idle += 1
                    continue
                text = (row.get(column) or "").strip()
                if text in ("", "-"):
                    continue
                try:
                    values.append(float(text))
                except ValueError:
                    raise GwpError(path, column, f"has a non-numeric value {text!r} on line {reader.line_num}",
                                   "fix or remove that row") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GwpError(path, "", f"cannot be read ({exc.__class__.__name__})", "check the file") from None
    series = np.asarray(values, dtype=float) * KBIT_TO_BYTES
    if series.size == 0 or not np.isfinite(series).all() or (series < 0).any() or series.sum() <= 0:
        raise GwpError(path, column, "has no usable (non-idle, non-negative, non-zero) seconds",
                       "use a trace with State = D rows carrying throughput")
    return series, idle


def trace_files(directory) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise GwpError(directory, "", "is not a folder", "give the folder that holds the trace CSVs")
    files = sorted(directory.rglob("*.csv"))
    if not files:
        raise GwpError(directory, "", "holds no trace CSV files",
                       "point --traces / GWP_TRACES at the 5G dataset root (the folder holding Download/)")
    return files


def summarize_traces(directory, column: str = "DL_bitrate"):
    """One row per file: rows used, median, p10 and p90 Mbit/s, idle seconds skipped."""
    import pandas as pd

    rows = []
    for path in trace_files(directory):
        series, idle = read_trace(path, column)
        mbit = series * 8 / 1e6
        rows.append({"file": str(path.relative_to(directory)), "rows": series.size,
                     "median_mbps": float(np.median(mbit)), "p10_mbps": float(np.percentile(mbit, 10)),
                     "p90_mbps": float(np.percentile(mbit, 90)), "idle_skipped": idle})
    return pd.DataFrame(rows)


def split_files(files: list[Path], use: str) -> list[Path]:
    """Disjoint train / eval halves of a file list: even indices train, odd ones evaluate."""
    if use == "all" or len(files) < 2:
        return files
    return files[0::2] if use == "train" else files[1::2]


def synthetic_series(rng: np.random.Generator, length: int, log_mean: float, log_std: float,
                     rho: float, outage: float) -> np.ndarray:
    """Log-normal AR(1) bytes/s with outage seconds, the stand-in for a real trace."""
    from scipy.signal import lfilter

    z = np.empty(length)
    z[0] = rng.standard_normal() * log_std  # start in the stationary distribution
    noise = rng.standard_normal(length - 1) * log_std * np.sqrt(1.0 - rho ** 2)
    z[1:] = lfilter([1.0], [1.0, -rho], noise, zi=[rho * z[0]])[0]
    series = np.exp(log_mean + z)
    series[rng.random(length) < outage] = 0.0
    return series


@dataclass
class BandwidthReplay:
    """Per-device bandwidth, one value per second, each device on its own wrapped series."""

    series: list[np.ndarray]  # bytes/s per second, per device
    offsets: np.ndarray  # start second, per device
    sources: list[str]  # file name, or "model:<kind>"
    scale: float = 1.0

    def __post_init__(self):
        self._cum = [np.concatenate([[0.0], np.cumsum(s)]) for s in self.series]

    @property
    def n_devices(self) -> int:
        return len(self.series)

    def at(self, t) -> np.ndarray:
        """Bandwidth (bytes/s) of every device at simulated time t (seconds)."""
        sec = int(np.floor(t))
        return np.array([s[(sec + o) % s.size] for s, o in zip(self.series, self.offsets)]) * self.scale

    def grid(self, seconds: int) -> np.ndarray:
        """(seconds, M) bandwidth for t = 0, 1, ..., seconds - 1."""
        idx = np.arange(seconds)
        return np.stack([s[(idx + o) % s.size] for s, o in zip(self.series, self.offsets)], axis=1) * self.scale

    def _delivered(self, i: int, t) -> float:
        """Bytes device i could move from its time 0 to t (the integral of B)."""
        s, cum = self.series[i], self._cum[i]
        pos = t + self.offsets[i]
        whole, frac = divmod(pos, 1.0)
        whole = int(whole)
        laps, rest = divmod(whole, s.size)
        return (laps * cum[-1] + cum[rest] + frac * s[rest]) * self.scale

    def mean_rate(self, t0: float, seconds: float) -> np.ndarray:
        """Mean bandwidth of every device over [t0, t0 + seconds] (bytes/s)."""
        return np.array([(self._delivered(i, t0 + seconds) - self._delivered(i, t0)) / seconds
                         for i in range(self.n_devices)])

    def transfer_time(self, i: int, t0: float, nbytes: float) -> float:
        """Seconds for device i to move nbytes starting at t0: the t with ∫_{t0}^{t0+t} B = nbytes.

        Outage seconds (B = 0) stall the transfer instead of dividing by zero.
        """
        if nbytes <= 0:
            return 0.0
        s, cum = self.series[i], self._cum[i]
        target = self._delivered(i, t0) / self.scale + nbytes / self.scale
        lap_total = cum[-1]
        laps, rest = divmod(target, lap_total)
        # first second k (in the lap) whose cumulative delivery reaches the remainder
        k = max(int(np.searchsorted(cum, rest, side="left")) - 1, 0)
        frac = (rest - cum[k]) / s[k] if s[k] > 0 else 0.0
        end = laps * s.size + k + frac - self.offsets[i]
        return max(float(end - t0), 0.0)


def kind_files(tcfg: dict, root: Path, kind: str) -> list[Path]:
    """The trace files a device of this kind draws from: its subfolders, then the train / eval half."""
    files = []
    for sub in tcfg["subdirs"][kind]:
        if not (root / sub).is_dir():
            raise GwpError(root / sub, f"traces.subdirs.{kind}", "folder does not exist under the trace root",
                           "point --traces / GWP_TRACES at the 5G dataset root (the folder holding Download/)")
        files += trace_files(root / sub)
    return split_files(files, tcfg["use"])


def build_replay(config: dict, device_kinds: list[str], rng: np.random.Generator, root: Path | None) -> BandwidthReplay:
    """Assign every device a trace (a real file from its kind's subfolders, or the fitted model) and an offset."""
    tcfg = config["traces"]
    series, sources = [], []
    horizon = int(config["dynamics"]["horizon_s"])
    for kind in device_kinds:
        if root is None:
            m = tcfg["model"][kind]
            series.append(synthetic_series(rng, horizon, m["log_mean"], m["log_std"], m["rho"], m["outage"]))
            sources.append(f"model:{kind}")
            continue
        files = kind_files(tcfg, root, kind)
        path = files[int(rng.integers(len(files)))]
        values, _ = read_trace(path, tcfg["column"])
        series.append(values)
        sources.append(str(path.relative_to(root)))
    offsets = np.array([int(rng.integers(s.size)) for s in series], dtype=np.int64)
    return BandwidthReplay(series, offsets, sources, float(tcfg.get("scale", 1.0)))

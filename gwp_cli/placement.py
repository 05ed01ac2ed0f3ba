"""A placement for one iteration (SPEC §3): consecutive stages, disjoint device sets, local data."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GwpError


@dataclass(frozen=True)
class Placement:
    stages: tuple  # ((s, e), ...) inclusive block ranges
    devices: tuple  # ((i, ...), ...) per stage
    samples: tuple  # ((n, ...), ...) per stage, per device

    @classmethod
    def build(cls, stages, devices, samples) -> "Placement":
        return cls(tuple((int(s), int(e)) for s, e in stages),
                   tuple(tuple(int(i) for i in d) for d in devices),
                   tuple(tuple(int(n) for n in d) for d in samples))

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    def to_json(self) -> dict:
        return {"stages": [list(r) for r in self.stages], "devices": [list(d) for d in self.devices],
                "samples": [list(d) for d in self.samples]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, obj, source="placement") -> "Placement":
        if not isinstance(obj, dict):
            raise GwpError(source, "", "must be a JSON object with stages, devices and samples", "see docs/formats.md")
        for key in ("stages", "devices", "samples"):
            if not isinstance(obj.get(key), list):
                raise GwpError(source, key, "is missing or not a list", "see docs/formats.md for the placement format")
        def whole(key, value):
            if isinstance(value, bool) or not isinstance(value, int):
                raise GwpError(source, key, f"holds {value!r}, not a whole number", "see docs/formats.md")
            return value

        def rows(key, pairs=False):
            out = []
            for row in obj[key]:
                if not isinstance(row, list) or (pairs and len(row) != 2):
                    raise GwpError(source, key, f"holds {row!r}, not a list{' [start, end]' if pairs else ''}",
                                   "see docs/formats.md")
                out.append([whole(key, v) for v in row])
            return out

        stages, devices, samples = rows("stages", pairs=True), rows("devices"), rows("samples")
        return cls.build(stages, devices, samples)

    def device_stage(self, n_devices: int) -> np.ndarray:
        """Stage index of every device, -1 where idle."""
        out = np.full(n_devices, -1, dtype=np.int64)
        for l, devs in enumerate(self.devices):
            out[list(devs)] = l
        return out

    def device_samples(self, n_devices: int) -> np.ndarray:
        out = np.zeros(n_devices)
        for devs, counts in zip(self.devices, self.samples):
            out[list(devs)] = counts
        return out

    def device_ranges(self, n_devices: int) -> list:
        """(s, e) held by each device, None where idle."""
        out = [None] * n_devices
        for rng, devs in zip(self.stages, self.devices):
            for i in devs:
                out[i] = rng
        return out


def load_placement(path) -> Placement:
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except OSError:
        raise GwpError(path, "", "cannot be read", "pass an existing placement JSON file") from None
    except json.JSONDecodeError as exc:
        raise GwpError(path, f"line {exc.lineno}", "is not valid JSON", "fix the JSON syntax") from None
    return Placement.from_json(obj, path)


def stage_memory(placement: Placement, workload, cluster) -> np.ndarray:
    """Bytes each device needs (SPEC §3): params * (2 + opt_state_factor) + samples * act_bytes."""
    need = np.zeros(cluster.n_devices)
    for (s, e), devs, counts in zip(placement.stages, placement.devices, placement.samples):
        params = workload.range_sum("param_bytes", s, e)
        acts = workload.range_sum("act_bytes", s, e)
        for i, n in zip(devs, counts):
            need[i] = params * (2 + cluster.opt_state_factor) + n * acts
    return need


def validate_placement(placement: Placement, workload, cluster, max_stages: int | None = None,
                       source="placement") -> None:
    """Raise GwpError unless the placement is feasible for this workload and cluster."""
    n, m, batch = workload.n_blocks, cluster.n_devices, cluster.batch_size
    if placement.n_stages == 0:
        raise GwpError(source, "stages", "is empty", "give at least one stage")
    if max_stages is not None and placement.n_stages > max_stages:
        raise GwpError(source, "stages", f"has {placement.n_stages} stages, more than max_stages = {max_stages}",
                       "merge stages or raise cost.max_stages")
    if not (len(placement.devices) == len(placement.samples) == placement.n_stages):
        raise GwpError(source, "devices", "and samples must have one entry per stage", "see docs/formats.md")
    expected = 0
    for l, (s, e) in enumerate(placement.stages):
        if s != expected or e < s:
            raise GwpError(source, f"stages[{l}]", f"is {[s, e]}, but stages must be consecutive from block 0",
                           f"start stage {l} at block {expected}")
        expected = e + 1
    if expected != n:
        raise GwpError(source, "stages", f"cover blocks 0..{expected - 1}, not 0..{n - 1}",
                       f"end the last stage at block {n - 1}")
    used: dict[int, int] = {}
    for l, (devs, counts) in enumerate(zip(placement.devices, placement.samples)):
        if not devs:
            raise GwpError(source, f"devices[{l}]", "is empty", "give every stage at least one device")
        if len(devs) != len(counts):
            raise GwpError(source, f"samples[{l}]", "must have one count per device of the stage", "see docs/formats.md")
        for i in devs:
            if not 0 <= i < m:
                raise GwpError(source, f"devices[{l}]", f"names device {i}, but the cluster has {m} (0..{m - 1})",
                               "use device indices of the cluster")
            if i in used:
                raise GwpError(source, f"devices[{l}]", f"reuses device {i}, already in stage {used[i]}",
                               "give each device to at most one stage")
            used[i] = l
        if any(c < 1 for c in counts):
            raise GwpError(source, f"samples[{l}]", "has a count below 1", "give each device at least one sample")
        if sum(counts) != batch:
            raise GwpError(source, f"samples[{l}]", f"sums to {sum(counts)}, not batch_size = {batch}",
                           f"make stage {l}'s samples sum to {batch}")
    need = stage_memory(placement, workload, cluster)
    over = np.flatnonzero(need > cluster.memory_bytes)
    if over.size:
        i = int(over[0])
        name = cluster.device_names()[i]
        raise GwpError(source, "samples", f"device {i} ({name}) needs {int(need[i])} bytes but has "
                       f"{int(cluster.memory_bytes[i])}", "give it fewer samples or fewer blocks")

"""The paper's four baselines (SPEC §8): random [28], static [29], rule-based [30], heuristic [31]."""
from __future__ import annotations

import numpy as np

from ..costmodel import evaluate_paper, memory_caps
from ..placement import Placement
from ..solver import round_samples, split_samples
from .base import Observation, Policy
from .optimal import solve_placement


def proportional_split(weights, caps, batch: int) -> np.ndarray | None:
    """Integer samples proportional to weights, none above its cap (water-filling); None if caps < batch."""
    weights = np.asarray(weights, dtype=float)
    caps = np.asarray(caps, dtype=float)
    if caps.sum() < batch:
        return None
    share = np.zeros_like(weights)
    free = caps > 0
    remaining = float(batch)
    while remaining > 1e-9 and free.any():
        portion = remaining * weights * free / (weights * free).sum()
        capped = free & (share + portion >= caps)
        if not capped.any():
            share += portion
            break
        remaining -= (caps[capped] - share[capped]).sum()
        share[capped] = caps[capped]
        free &= ~capped
    return round_samples(share, caps, batch)


def equal_flop_cuts(flops: np.ndarray, n_stages: int) -> list[tuple[int, int]]:
    """Consecutive block ranges of as-equal-as-possible FLOPs."""
    cum = np.cumsum(flops)
    targets = cum[-1] * np.arange(1, n_stages) / n_stages
    cuts = sorted(set(int(np.argmin(np.abs(cum - t))) for t in targets))
    cuts = [c for c in cuts if c < len(flops) - 1]
    starts = [0] + [c + 1 for c in cuts]
    ends = cuts + [len(flops) - 1]
    return list(zip(starts, ends))


def build_placement(ranges, groups, samples) -> Placement:
    """Drop devices with 0 samples and stages left empty."""
    stages, devices, counts = [], [], []
    for rng, devs, n in zip(ranges, groups, samples):
        keep = [(int(i), int(c)) for i, c in zip(devs, n) if c > 0]
        stages.append(rng)
        devices.append([i for i, _ in keep])
        counts.append([c for _, c in keep])
    return Placement.build(stages, devices, counts)


class RandomPolicy(Policy):
    """Random L and cuts; devices in index order into stages; samples split evenly. Re-drawn each epoch."""

    name = "random"

    def reset(self, scenario, rng):
        super().reset(scenario, rng)
        self.caps = memory_caps(scenario.workload, scenario.cluster)

    def draw(self) -> Placement | None:
        sc = self.scenario
        n, m, batch = sc.workload.n_blocks, sc.cluster.n_devices, sc.cluster.batch_size
        n_stages = int(self.rng.integers(1, min(sc.max_stages, n, m) + 1))
        cuts = np.sort(self.rng.choice(np.arange(n - 1), n_stages - 1, replace=False))
        ranges = list(zip([0] + [int(c) + 1 for c in cuts], [int(c) for c in cuts] + [n - 1]))
        groups = np.array_split(np.arange(m), n_stages)
        samples = []
        for (s, e), devs in zip(ranges, groups):
            split = proportional_split(np.ones(len(devs)), self.caps[s, e, devs], batch)
            if split is None:
                return None
            samples.append(split)
        return build_placement(ranges, groups, samples)

    def decide(self, obs: Observation) -> Placement:
        if self.placement is None or obs.new_epoch:
            attempts = int(self.scenario.config["policies"]["random"]["max_attempts"])
            for _ in range(attempts):
                placement = self.draw()
                if placement is not None:
                    break
            else:  # one stage on every device that fits the whole model
                m, n = self.scenario.cluster.n_devices, self.scenario.workload.n_blocks
                devs = np.arange(m)
                split = proportional_split(np.ones(m), self.caps[0, n - 1, devs], self.scenario.cluster.batch_size)
                placement = build_placement([(0, n - 1)], [devs], [split])
            self.placement = placement
        return self.placement


class StaticPolicy(Policy):
    """Solves the optimisation once, for f, u, B constant at class means and trace medians."""

    name = "static"

    def decide(self, obs: Observation) -> Placement:
        if self.placement is None:
            sc = self.scenario
            B = np.array([np.median(s) for s in sc.conditions.replay.series]) * sc.conditions.replay.scale
            B = np.maximum(B, sc.conditions.floor_Bps)
            self.placement, _ = solve_placement(self, sc.cluster.f_nominal, sc.cluster.u_nominal, B)
        return self.placement


class RulePolicy(Policy):
    """Experience-driven rules, fixed for the job: equal-FLOP stages, the fastest devices on the
    heaviest stage, samples in proportion to nominal speed."""

    name = "rule"

    def decide(self, obs: Observation) -> Placement:
        if self.placement is None:
            self.placement = self.rule_placement(int(self.scenario.config["policies"]["rule"]["stages"]))
        return self.placement

    def rule_placement(self, n_stages: int) -> Placement:
        sc = self.scenario
        cl, wl = sc.cluster, sc.workload
        caps = memory_caps(wl, cl)
        speed = cl.f_nominal * cl.u_nominal / cl.sigma
        for stages in range(min(n_stages, sc.max_stages), 0, -1):
            ranges = equal_flop_cuts(wl.flops, stages)
            order = sorted(range(len(ranges)), key=lambda l: -wl.range_sum("flops", *ranges[l]))
            groups = [[] for _ in ranges]
            # fastest devices first, each to the heaviest stage still short of its share of speed
            for i in np.argsort(-speed, kind="stable"):
                fits = [l for l in order if caps[ranges[l][0], ranges[l][1], i] >= 1]
                if not fits:
                    continue
                need = [wl.range_sum("flops", *ranges[l]) / (1e-12 + sum(speed[groups[l]])) for l in fits]
                groups[fits[int(np.argmax(need))]].append(int(i))
            samples = [proportional_split(speed[g], caps[r[0], r[1], g], cl.batch_size) if g else None
                       for r, g in zip(ranges, groups)]
            if all(s is not None for s in samples):
                return build_placement(ranges, groups, samples)
        raise ValueError("no device holds the whole model; the rule baseline cannot place it")


class HeuristicPolicy(Policy):
    """Greedy on the conditions observed at each epoch start: for every stage count, equal-FLOP cuts,
    devices added fastest-first to the stage that needs speed most, cost-optimal split per stage,
    then devices dropped while that lowers cost (10); the cheapest stage count wins."""

    name = "heuristic"

    def decide(self, obs: Observation) -> Placement:
        if self.placement is None or obs.new_epoch:
            self.placement = self.greedy(obs.f, obs.u, obs.B)
        return self.placement

    def greedy(self, f, u, B) -> Placement:
        sc = self.scenario
        cl, wl, w = sc.cluster, sc.workload, sc.weights
        tau, eps, cap = self.coefficients(f, u, B)
        best, best_cost = None, np.inf
        for stages in range(1, sc.max_stages + 1):
            ranges = equal_flop_cuts(wl.flops, stages)
            groups = [[] for _ in ranges]
            for i in np.argsort(tau[0, -1], kind="stable"):
                fits = [l for l, (s, e) in enumerate(ranges) if cap[s, e, i] >= 1]
                if fits:
                    groups[max(fits, key=lambda l: self.need(ranges[l], groups[l], tau, cap))].append(int(i))
            placement = self.split(ranges, groups, tau, eps, cap)
            if placement is None:
                continue
            cost = self.cost(placement, f, u, B)
            improved = True
            while improved:  # drop devices one at a time while the cost falls
                improved = False
                for l, devs in enumerate(placement.devices):
                    for i in devs:
                        trial_groups = [list(d) for d in placement.devices]
                        trial_groups[l].remove(i)
                        trial = self.split(list(placement.stages), trial_groups, tau, eps, cap)
                        if trial is not None and (c := self.cost(trial, f, u, B)) < cost - 1e-12:
                            placement, cost, improved = trial, c, True
                            break
                    if improved:
                        break
            if cost < best_cost:
                best, best_cost = placement, cost
        if best is None:
            raise ValueError("no feasible placement: no device holds any stage")
        return best

    def need(self, rng, group, tau, cap):
        """(short of memory for the batch, ideal stage time): the stage that gets the next device."""
        s, e = rng
        short = cap[s, e, group].sum() < self.scenario.cluster.batch_size
        throughput = (1.0 / tau[s, e, group]).sum()
        return bool(short), np.inf if throughput == 0 else self.scenario.cluster.batch_size / throughput

    def split(self, ranges, groups, tau, eps, cap) -> Placement | None:
        sc = self.scenario
        samples = []
        for (s, e), devs in zip(ranges, groups):
            if not devs or cap[s, e, devs].sum() < sc.cluster.batch_size:
                return None
            relaxed, _ = split_samples(tau[s, e, devs], eps[s, e, devs], cap[s, e, devs], sc.cluster.batch_size,
                                       sc.weights.w_time, sc.weights.w_energy)
            samples.append(round_samples(relaxed, cap[s, e, devs], sc.cluster.batch_size))
        return build_placement(ranges, groups, samples)

    def cost(self, placement, f, u, B) -> float:
        sc = self.scenario
        return float(evaluate_paper(placement, sc.workload, sc.cluster, f, u, B, sc.weights, sc.comm_factor)["cost"])

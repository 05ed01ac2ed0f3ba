"""Placement policies by their command-line names (SPEC §8)."""
from __future__ import annotations

from ..errors import GwpError
from .base import Observation, Policy
from .baselines import HeuristicPolicy, RandomPolicy, RulePolicy, StaticPolicy
from .optimal import Myopic, Oracle

BASELINES = ["random", "static", "rule", "heuristic"]
POLICY_NAMES = BASELINES + ["gwp", "myopic", "oracle"]
_CLASSES = {cls.name: cls for cls in (RandomPolicy, StaticPolicy, RulePolicy, HeuristicPolicy, Myopic, Oracle)}


def make_policy(name: str, agent: str | None = None) -> Policy:
    """A fresh policy by name; `gwp` needs the path of a trained agent."""
    if name == "gwp":
        from .gwp import GwpPolicy

        return GwpPolicy(agent)
    if name not in _CLASSES:
        raise GwpError("--policy", "policy", f"unknown policy {name!r}", f"choose one of {', '.join(POLICY_NAMES)}")
    return _CLASSES[name]()


__all__ = ["Observation", "Policy", "make_policy", "POLICY_NAMES", "BASELINES"]

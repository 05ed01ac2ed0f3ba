"""Placement policies by their command-line names (SPEC §8)."""
from __future__ import annotations

from ..errors import GwpError
from .base import Observation, Policy
from .baselines import HeuristicPolicy, RandomPolicy, RulePolicy, StaticPolicy
from .optimal import Myopic, Oracle

BASELINES = ["random", "static", "rule", "heuristic"]
POLICY_NAMES = BASELINES + ["gwp", "myopic", "oracle"]
_CLASSES = {cls.name: cls for cls in (RandomPolicy, StaticPolicy, RulePolicy, HeuristicPolicy, Myopic, Oracle)}


def register_policy(cls: type) -> type:
    """Make a Policy subclass available by its ``name`` to every command (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Policy)) or cls.name in ("base", "gwp"):
        raise TypeError("register_policy takes a Policy subclass with its own name")
    _CLASSES[cls.name] = cls
    if cls.name not in POLICY_NAMES:
        POLICY_NAMES.append(cls.name)
    return cls


def load_plugins() -> None:
    """Import the modules or .py files named in GWP_PLUGINS (comma-separated); they call register_policy."""
    import importlib
    import importlib.util
    import os
    import sys
    from pathlib import Path

    for item in filter(None, (x.strip() for x in os.environ.get("GWP_PLUGINS", "").split(","))):
        if item in _LOADED:
            continue
        try:
            if item.endswith(".py"):
                path = Path(item)
                spec = importlib.util.spec_from_file_location(f"gwp_plugin_{path.stem}", path)
                if spec is None or not path.is_file():
                    raise FileNotFoundError(item)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(item)
        except Exception as exc:  # a user's plugin: say which and why, in one line
            raise GwpError("GWP_PLUGINS", item, f"cannot be loaded ({exc.__class__.__name__}: {exc})",
                           "give an importable module name or the path of a .py file") from None
        _LOADED.add(item)


_LOADED: set[str] = set()


def make_policy(name: str, agent: str | None = None) -> Policy:
    """A fresh policy by name; `gwp` needs the path of a trained agent."""
    load_plugins()
    if name == "gwp":
        from .gwp import GwpPolicy

        return GwpPolicy(agent)
    if name not in _CLASSES:
        raise GwpError("--policy", "policy", f"unknown policy {name!r}", f"choose one of {', '.join(POLICY_NAMES)}")
    return _CLASSES[name]()


__all__ = ["Observation", "Policy", "make_policy", "register_policy", "POLICY_NAMES", "BASELINES"]

"""`gwp`: the paper's method, a trained multi-action PPO agent (SPEC §8, docs/agent.md).

Before every iteration the agent sees the normalised state (k, L_k, u, f, B), takes its
deterministic action, and the env's decoder (``env.PlacementCodec``) turns it into a feasible
placement: the same code path the agent was trained on.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import GwpError
from .base import Observation, Policy

TRAIN_HINT = "train one with `gwp agent train --config FILE --out results/agents/gwp.zip` and pass --agent"


class GwpPolicy(Policy):
    name = "gwp"

    def __init__(self, agent_path=None):
        if not agent_path:
            raise GwpError("--agent", "", "the gwp policy needs a trained agent file", TRAIN_HINT)
        path = Path(agent_path)
        if not path.is_file():
            raise GwpError(path, "", "agent file not found", TRAIN_HINT)
        from ..agent import load_model, read_sidecar

        self.path = path
        self.meta = read_sidecar(path)
        self.model = load_model(path)

    def reset(self, scenario, rng):
        from ..env import PlacementCodec, loss_source

        super().reset(scenario, rng)
        meta, cl = self.meta, scenario.cluster
        if int(meta["n_devices"]) != cl.n_devices:
            raise GwpError(self.path, "", f"was trained for a cluster of {meta['n_devices']} devices, but this "
                           f"config has {cl.n_devices}",
                           "train an agent for this cluster: `gwp agent train --config <this config> --out ...`")
        if list(meta["device_classes"]) != list(cl.classes):
            raise GwpError(self.path, "", "was trained for another cluster (device classes "
                           f"{','.join(meta['device_classes'])}, this config has {','.join(cl.classes)})",
                           "train an agent for this cluster: `gwp agent train --config <this config> --out ...`")
        if int(meta["n_blocks"]) != scenario.workload.n_blocks or int(meta["max_stages"]) > scenario.max_stages:
            raise GwpError(self.path, "", f"was trained for {meta['n_blocks']} blocks and up to {meta['max_stages']} "
                           f"stages; this config has {scenario.workload.n_blocks} blocks and max_stages "
                           f"{scenario.max_stages}", "train an agent for this config")
        self.codec = PlacementCodec(scenario.workload, cl, scenario.weights, int(meta["max_stages"]),
                                    scenario.comm_factor, scenario.config, meta["partitions"])
        obs_space, act_space = self.model.observation_space, self.model.action_space
        if getattr(obs_space, "shape", None) != (self.codec.obs_dim,) or \
                list(getattr(act_space, "nvec", [])) != self.codec.nvec.tolist():
            raise GwpError(self.path, "", "does not match its metadata file (observation or action space)",
                           "retrain with `gwp agent train --config ... --out ...`")
        self.loss = loss_source(scenario.config)

    def decide(self, obs: Observation) -> object:
        loss = obs.loss if obs.loss is not None else float(self.loss(obs.k))
        state = self.codec.observe(obs.k, loss, obs.f, obs.u, obs.B)
        self.placement = self.codec.decode(self.act(state), obs.f, obs.u, obs.B)
        return self.placement

    def act(self, state) -> np.ndarray:
        """The deterministic action: the most likely value of every MultiDiscrete part.

        Equal to ``model.predict(state, deterministic=True)`` (tested), without building the
        torch distribution objects, which cost more than the network itself.
        """
        import torch

        policy = self.model.policy
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(state, dtype=np.float32)[None])
            latent = policy.mlp_extractor.forward_actor(policy.pi_features_extractor(x))
            logits = policy.action_net(latent)[0]
        parts = torch.split(logits, [int(n) for n in self.codec.nvec])
        return np.array([int(torch.argmax(part)) for part in parts], dtype=np.int64)

"""The GWP agent's env, decoder and agent (issue 3, items 3 and 4): docs/agent.md."""
import copy
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import gymnasium as gym
from gymnasium.utils.env_checker import check_env

from gwp_cli.cli import main
from gwp_cli.config import load_config
from gwp_cli.costmodel import evaluate_paper, per_sample_coefficients
import itertools

from gwp_cli.env import ENV_ID, GreenPlacementEnv, GreenPlacementVecEnv
from gwp_cli.solver import integer_split, lp_split, round_split
from gwp_cli.placement import validate_placement
from gwp_cli.scenario import build_scenario
from gwp_cli.solver import split_samples, stage_objective

from .conftest import one_line_error

SMALL_AGENT = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "episode_iterations": 32}


def small_config(**over):
    base = {"agent": SMALL_AGENT, "job": {"iterations": 200}, "dynamics": {"horizon_s": 600}}
    for key, value in over.items():
        base[key] = value
    return load_config(None, base)


@pytest.fixture(scope="module")
def env():
    return GreenPlacementEnv(small_config())


def test_registered_and_passes_the_env_checker():
    made = gym.make(ENV_ID, config=small_config())
    check_env(made.unwrapped, skip_render_check=True)
    assert isinstance(made.unwrapped, GreenPlacementEnv)


def test_env_checker_on_real_traces(trace_root):
    check_env(GreenPlacementEnv(small_config(), traces=str(trace_root)), skip_render_check=True)


def run_random_actions(env, n, seed):
    """(placement, conditions, reward) for n random actions, across episode boundaries."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    out = []
    for _ in range(n):
        action = env.action_space.sample()
        ep, j = env._ep, env._j
        placement = env.placement(action)
        _, reward, _, truncated, _ = env.step(action)
        out.append((placement, (ep["f"][j], ep["u"][j], ep["B"][j]), reward))
        if truncated:
            env.reset()
    return out


@pytest.mark.parametrize("batch_size", [64, 256])  # 256: memory binds, the repair works hard
def test_random_actions_decode_to_feasible_placements_and_reward_is_minus_cost(batch_size):
    env = GreenPlacementEnv(small_config(cluster={"batch_size": batch_size}))
    sc = env.core.scenario
    for placement, (f, u, B), reward in run_random_actions(env, 400, seed=batch_size):
        validate_placement(placement, sc.workload, sc.cluster, sc.max_stages, "decoder")
        cost = evaluate_paper(placement, sc.workload, sc.cluster, f, u, B, sc.weights, sc.comm_factor)["cost"]
        assert reward == pytest.approx(-float(cost), rel=1e-9)


def test_vec_env_matches_single_env_rewards(env):
    vec = GreenPlacementVecEnv(3, small_config(), seed=5)
    vec.reset()
    rng = np.random.default_rng(0)
    for _ in range(40):
        actions = np.stack([rng.integers(0, vec.codec.nvec) for _ in range(3)])
        r, j = np.arange(3), vec.j.copy()
        f, u, B = vec.f[r, j], vec.u[r, j], vec.B[r, j]
        _, rewards, _, _ = vec.step(actions)
        sc = vec.core.scenario
        for e in range(3):
            placement = vec.codec.decode(actions[e], f[e], u[e], B[e])
            cost = evaluate_paper(placement, sc.workload, sc.cluster, f[e], u[e], B[e], sc.weights, sc.comm_factor)
            assert -rewards[e] == pytest.approx(float(cost["cost"]), rel=1e-5)  # float32 rewards


def test_lp_split_is_the_solver_split(env):
    sc, codec = env.core.scenario, env.codec
    rng = np.random.default_rng(1)
    w = sc.weights
    for _ in range(200):
        f = np.array([rng.choice(levels) for levels in sc.cluster.f_levels])
        u = rng.uniform(0.2, 1.0, sc.cluster.n_devices)
        B = np.exp(rng.normal(14.5, 2.5, sc.cluster.n_devices))
        tau, eps, cap = per_sample_coefficients(sc.workload, sc.cluster, f, u, B, sc.comm_factor)
        p = int(rng.integers(len(codec.partitions)))
        s, e = codec.partitions[p][0]
        member = rng.random(sc.cluster.n_devices) < 0.7
        if cap[s, e, member].sum() < sc.cluster.batch_size:
            continue
        _, best = split_samples(tau[s, e, member], eps[s, e, member], cap[s, e, member], sc.cluster.batch_size,
                                w.w_time, w.w_energy)
        x = lp_split(tau[s, e][None], eps[s, e][None], cap[s, e][None], member[None], sc.cluster.batch_size,
                     w.w_time, w.w_energy)[0]
        assert x[~member].sum() == 0 and x.sum() == pytest.approx(sc.cluster.batch_size)
        assert (x <= cap[s, e] + 1e-9).all()
        ours = stage_objective(x[member], tau[s, e, member], eps[s, e, member], w.w_time, w.w_energy)
        assert ours == pytest.approx(best, rel=1e-9)


def test_integer_split_against_brute_force():
    rng = np.random.default_rng(4)
    exact = 0
    trials = 0
    for _ in range(300):
        M, B = int(rng.integers(2, 5)), int(rng.integers(2, 12))
        tau, eps = rng.uniform(0.1, 1, (1, M)), rng.uniform(0.1, 1, (1, M))
        cap = rng.integers(0, B + 1, (1, M)).astype(float)
        member = rng.random((1, M)) < 0.8
        if cap[member].sum() < B:
            continue
        wt, we = rng.uniform(0, 2), rng.uniform(0, 2)
        relaxed = lp_split(tau, eps, cap, member, B, wt, we)
        x = integer_split(tau, eps, cap, member, B, wt, we, relaxed)[0]
        assert x.sum() == B and (x <= cap[0]).all() and (x[~member[0]] == 0).all() and (x == np.round(x)).all()

        def cost(D):
            on = D > 0
            return stage_objective(D[on], tau[0, on], eps[0, on], wt, we)

        best = min(cost(np.array(D, dtype=float)) for D in itertools.product(
            *[range(int(cap[0, i]) + 1) if member[0, i] else [0] for i in range(M)]) if sum(D) == B)
        rounded = round_split(relaxed, cap, member, B)[0]
        assert best - 1e-12 <= cost(x) <= cost(rounded) + 1e-12
        exact += cost(x) <= best + 1e-12
        trials += 1
    assert exact >= 0.95 * trials


def test_episode_conditions_equal_build_scenario(env):
    core = env.core
    short = copy.deepcopy(core.config)
    short["dynamics"]["horizon_s"] = core.factory.horizon
    for seed in (0, 11):
        ours = core.factory.conditions(seed)
        ref = build_scenario(short, seed=seed).conditions
        for name in ("f", "u", "bandwidth"):
            assert np.array_equal(getattr(ours, name), getattr(ref, name))


def test_resets_draw_fresh_scenarios_and_are_seeded(env):
    seeds = {env.reset(seed=3)[1]["scenario_seed"]}
    seeds |= {env.reset()[1]["scenario_seed"] for _ in range(4)}
    assert len(seeds) == 5
    assert env.reset(seed=3)[1] == GreenPlacementEnv(small_config()).reset(seed=3)[1]


def test_loss_from_a_training_log(tmp_path):
    log = tmp_path / "iterations.csv"
    pd.DataFrame({"iteration": range(5), "loss": [2.0, 1.5, 1.0, 0.5, 0.25]}).to_csv(log, index=False)
    env = GreenPlacementEnv(small_config(agent={**SMALL_AGENT, "random_start": False}), loss_log=str(log))
    obs, _ = env.reset(seed=0)
    assert obs[1] == pytest.approx(2.0 / 2.5)
    obs, *_ = env.step(env.action_space.sample())
    assert obs[1] == pytest.approx(1.5 / 2.5)


# --- gwp agent train, gwp simulate --policy gwp --------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("agent")
    cfg = root / "small.yaml"
    cfg.write_text(yaml.safe_dump({"agent": SMALL_AGENT, "job": {"iterations": 200},
                                   "dynamics": {"horizon_s": 600}}))
    out = root / "gwp.zip"
    result = CliRunner().invoke(main, ["agent", "train", "--config", str(cfg), "--steps", "512", "--seed", "0",
                                       "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return cfg, out


def test_train_writes_agent_sidecar_and_log(trained):
    cfg, out = trained
    assert out.is_file() and out.with_name("gwp.json").is_file()
    log = pd.read_csv(out.with_name("gwp.log.csv"))
    assert list(log["update"]) == [1, 2, 3, 4] and log.timesteps.iloc[-1] == 512
    assert (log.mean_reward == -log.mean_cost).all()


def test_resume_continues_and_keeps_the_log(trained, tmp_path):
    cfg, out = trained
    copy_out = tmp_path / "again.zip"
    shutil.copy(out, copy_out)
    shutil.copy(out.with_name("gwp.json"), tmp_path / "again.json")
    shutil.copy(out.with_name("gwp.log.csv"), tmp_path / "again.log.csv")
    result = CliRunner().invoke(main, ["agent", "train", "--config", str(cfg), "--steps", "768", "--out",
                                       str(copy_out), "--resume", "--no-progress"])
    assert result.exit_code == 0, result.output
    log = pd.read_csv(tmp_path / "again.log.csv")
    assert list(log["update"]) == [1, 2, 3, 4, 5, 6] and log.timesteps.iloc[-1] == 768


def test_simulate_with_the_agent(trained, tmp_path):
    cfg, out = trained
    csv = tmp_path / "gwp.csv"
    result = CliRunner().invoke(main, ["simulate", "--config", str(cfg), "--policy", "gwp", "--agent", str(out),
                                       "--iterations", "12", "--seed", "1", "--out", str(csv)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(csv)
    assert len(table) == 12 and (table.policy == "gwp").all() and (table.cost > 0).all()


def simulate_gwp(cfg, agent, tmp_path):
    args = ["simulate", "--config", str(cfg), "--policy", "gwp", "--iterations", "3", "--out",
            str(tmp_path / "x.csv")]
    return CliRunner().invoke(main, args + (["--agent", str(agent)] if agent else []))


def test_gwp_without_an_agent_says_how_to_train(trained, tmp_path):
    cfg, _ = trained
    one_line_error(simulate_gwp(cfg, None, tmp_path), "needs a trained agent", "gwp agent train")
    one_line_error(simulate_gwp(cfg, tmp_path / "none.zip", tmp_path), "none.zip", "not found", "gwp agent train")


def test_corrupt_agent_is_named(trained, tmp_path):
    cfg, out = trained
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    one_line_error(simulate_gwp(cfg, bad, tmp_path), "bad.zip", "bad.json")  # no sidecar
    shutil.copy(out.with_name("gwp.json"), tmp_path / "bad.json")
    one_line_error(simulate_gwp(cfg, bad, tmp_path), "bad.zip", "not a readable")


def test_agent_for_another_cluster_size(trained, tmp_path):
    cfg, out = trained
    data = yaml.safe_load(cfg.read_text())
    classes = copy.deepcopy(load_config(None)["cluster"]["classes"])
    classes["phone"]["count"] = 2
    data["cluster"] = {"classes": classes}
    other = tmp_path / "eight.yaml"
    other.write_text(yaml.safe_dump(data))
    one_line_error(simulate_gwp(other, out, tmp_path), "gwp.zip", "cluster of 9 devices", "has 8",
                   "gwp agent train")


def test_policy_action_is_the_deterministic_predict(trained):
    from gwp_cli.policies.gwp import GwpPolicy

    cfg, out = trained
    policy = GwpPolicy(out)
    policy.reset(build_scenario(load_config(cfg), seed=0), np.random.default_rng(0))
    rng = np.random.default_rng(2)
    for _ in range(50):
        state = rng.uniform(-1, 1, policy.codec.obs_dim).astype(np.float32)
        expected, _ = policy.model.predict(state, deterministic=True)
        assert np.array_equal(policy.act(state), expected)

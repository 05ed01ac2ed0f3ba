"""`gwp agent train`: train (or resume) the GWP agent, PPO on the placement env (docs/agent.md)."""
import click

from ..config import load_config


@click.group()
def agent():
    """The GWP agent: multi-action PPO actor-critic (Stable-Baselines3)."""


@agent.command("train")
@click.option("--config", "config_path", type=click.Path(), default=None, help="Default: experiments/paper.yaml.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Environment steps in all (default: agent.steps); with --resume, the total to reach.")
@click.option("--seed", type=int, default=None, help="Default: the config's seed.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Agent zip, e.g. results/agents/gwp.zip.")
@click.option("--traces", type=click.Path(), default=None, help="5G dataset root (else GWP_TRACES, else the fitted model).")
@click.option("--loss-log", type=click.Path(dir_okay=False), default=None,
              help="iterations.csv of `gwp train` for L_k (default: agent.loss_log, else the fitted curve).")
@click.option("--resume", is_flag=True, help="Continue training the agent in --out (its log is kept).")
@click.option("--progress/--no-progress", default=True, help="Show the tqdm bar.")
def train(config_path, steps, seed, out, traces, loss_log, resume, progress):
    """Train the agent on traces.use: train and save it to OUT (plus a .json sidecar and a .log.csv)."""
    from ..agent import train_agent

    config = load_config(config_path)
    summary = train_agent(config, steps, seed, out, traces, resume, progress=progress, loss_log=loss_log)
    cost = summary["last_mean_cost"]
    click.echo(f"wrote {summary['out']}: {summary['timesteps']} steps in {summary['wall_s']:.1f} s, "
               f"last update's mean cost {'-' if cost is None else f'{cost:.4f}'} (log {summary['log']})", err=True)


COMMANDS = [agent]

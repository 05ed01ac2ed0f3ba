"""`gwp train`: real MobileNetV2 training with a placement policy alongside (docs/training.md)."""
import click

from ..config import load_config
from ..train import TrainOptions, sweep, train as run_training


@click.command()
@click.option("--config", "config_path", type=click.Path(), default=None, help="Default: experiments/paper.yaml.")
@click.option("--dataset", type=click.Choice(["fashion-mnist", "cifar100"]), default=None,
              help="Default: the config's dataset.")
@click.option("--data-dir", type=click.Path(), default=None,
              help="Where the dataset is (searched first; then $GWP_DATA, then the system copy).")
@click.option("--download/--no-download", default=None,
              help="Let torchvision download a dataset not found locally (default: Fashion-MNIST yes, CIFAR-100 no).")
@click.option("--policy", default="heuristic", show_default=True, help="Placement policy (random, static, rule, heuristic, gwp, myopic, oracle).")
@click.option("--agent", type=click.Path(), default=None, help="Trained agent, for --policy gwp.")
@click.option("--traces", type=click.Path(), default=None, help="5G trace root (else $GWP_TRACES, else the config).")
@click.option("--seed", type=int, default=None, help="Default: the config's seed.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Planned epochs; the cosine schedule spans them (default: train.epochs).")
@click.option("--max-iterations", type=click.IntRange(min=1), default=None, help="Stop after this many iterations.")
@click.option("--until-loss", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after the first iteration whose training loss is <= this (the paper's (11)).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--sweep", "sweep_factor", type=click.Choice(["f", "u", "B"]), default=None,
              help="Do not train: replay the run in --out under low/medium/high settings of f, u or B (Fig. 4).")
@click.option("--limit-train", type=click.IntRange(min=1), default=None, help="Use the first N training samples.")
@click.option("--limit-test", type=click.IntRange(min=1), default=None, help="Use the first N test samples.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads (default: torch's).")
@click.option("--progress/--no-progress", default=True, help="Show the tqdm bar.")
def train(config_path, dataset, data_dir, download, policy, agent, traces, seed, epochs, max_iterations,
          until_loss, out_dir, resume, sweep_factor, limit_train, limit_test, threads, progress):
    """Train MobileNetV2 for real while POLICY places every iteration on the simulated cluster."""
    config = load_config(config_path)

    def echo(message):
        click.echo(message, err=True)

    if sweep_factor:
        path = sweep(out_dir, sweep_factor, config=config, echo=echo, progress=progress)
        click.echo(str(path))
        return
    options = TrainOptions(dataset=dataset, data_dir=data_dir, download=download, policy=policy, agent=agent,
                           traces=traces, seed=seed, epochs=epochs, max_iterations=max_iterations,
                           until_loss=until_loss, limit_train=limit_train, limit_test=limit_test,
                           threads=threads, progress=progress)
    summary = run_training(config, out_dir, options, resume=resume, echo=echo)
    acc = summary["test_acc"]
    click.echo(f"{summary['out']}: {summary['iterations']} iterations, {summary['epochs']} epochs, "
               f"stop rule {summary['stop_rule']}, test acc {'-' if acc is None else f'{100 * acc:.2f}%'}, "
               f"simulated {summary['sim_time_s'] / 3600:.3f} h, energy {summary['energy_j']:.1f} J")


COMMANDS = [train]

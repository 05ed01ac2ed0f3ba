"""`gwp bench`: simulator throughput, decision latency vs cluster size, training overhead (docs/benchmarks.md)."""
import click

from ..config import load_config


@click.command()
@click.option("--quick", is_flag=True, help="Smaller sizes (a few minutes on 2 cores).")
@click.option("--out", type=click.Path(dir_okay=False), default="results/bench.json", show_default=True,
              help="JSON with every figure (see docs/benchmarks.md for the keys).")
@click.option("--figure", type=click.Path(dir_okay=False), default=None,
              help="Latency plot (default: figures/bench_latency.png beside --out).")
@click.option("--config", "config_path", type=click.Path(), default=None, help="Default: experiments/paper.yaml.")
@click.option("--only", type=click.Choice(["cost", "env", "latency", "train"]), multiple=True,
              help="Run only these benchmarks (repeatable; default: all).")
@click.option("--data-dir", type=click.Path(), default=None,
              help="Fashion-MNIST for the training benchmark (else $GWP_DATA, else the system copy).")
def bench(quick, out, figure, config_path, only, data_dir):
    """Benchmark the cost model, the env, each policy's decision time and the training loop."""
    from ..bench import FULL, QUICK, format_table, run_benchmarks

    config = load_config(config_path)
    res = run_benchmarks(config, QUICK if quick else FULL, out=out, figure=figure, only=only or None,
                         data_dir=data_dir, echo=lambda msg: click.echo(msg, err=True))
    click.echo(format_table(res))
    click.echo(f"wrote {out}" + (f" and {res['figure']}" if res.get("figure") else ""), err=True)


COMMANDS = [bench]

"""`gwp plot`: the paper's Figs. 4-6 and results/summary.md, from the result CSVs alone.

Inputs (under ``--results``):

* ``compare/summary.csv`` and the per-cell CSVs it names (Figs. 5c, 6b, 6c; the table);
* ``compare/sweep_width.csv``, ``sweep_stages.csv``, ``sweep_workload.csv`` (Figs. 5a, 5b, 6a);
* ``train/epochs.csv``, ``train/iterations.csv``, ``train/sweep_{f,u,B}.csv`` (Fig. 4, accuracy
  and loss reached) and ``train/run.json`` (the training subset, for the list of assumptions).

A figure whose input is missing is still written, as a panel that says what is missing and
which command makes it, so a reader never mistakes an absent result for an empty one.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import GwpError
from .io import write_bytes_atomic, write_text_atomic

FIGURES = ["fig4a", "fig4b", "fig5a", "fig5b", "fig5c", "fig6a", "fig6b", "fig6c"]
BASELINES = ["heuristic", "rule", "static", "random"]
PAPER_SPEEDUP = {"heuristic": 1.48, "rule": 2.07, "static": 3.45, "random": 4.67}
PAPER_SAVING = {"heuristic": 40.63, "rule": 61.97, "static": 65.46, "random": 68.92}
PAPER_ACCURACY, PAPER_LOSS = 90.70, 0.2
POLICY_ORDER = ["gwp", "oracle", "myopic", "heuristic", "rule", "static", "random"]
STYLE = {  # colour, line style, marker, label
    "gwp": ("#d62728", "-", "o", "GWP"),
    "oracle": ("#000000", "--", "s", "oracle (clairvoyant optimum)"),
    "myopic": ("#7f7f7f", ":", "D", "myopic optimum"),
    "heuristic": ("#1f77b4", "-", "^", "heuristic [31]"),
    "rule": ("#2ca02c", "-", "v", "rule-based [30]"),
    "static": ("#9467bd", "-", "P", "static [29]"),
    "random": ("#ff7f0e", "-", "X", "random [28]"),
}
DATASET_LABEL = {"fashion-mnist": "Fashion-MNIST", "cifar100": "CIFAR-100"}
SETTING_COLOR = {"low": "#d62728", "medium": "#7f7f7f", "high": "#1f77b4"}
FACTOR_TITLE = {"f": "CPU frequency f", "u": "remaining capacity u", "B": "bandwidth B"}
WIDTH_FULL, HEIGHT = 7.0, 2.6  # inches: a two-column paper figure


def _style(policy):
    return STYLE.get(policy, ("#17becf", "-", "o", policy))


def _order(policies) -> list[str]:
    policies = list(dict.fromkeys(policies))
    return [p for p in POLICY_ORDER if p in policies] + sorted(p for p in policies if p not in POLICY_ORDER)


def time_unit(seconds: float) -> tuple[float, str]:
    """Divisor and unit so that the largest value reads naturally."""
    if not np.isfinite(seconds) or seconds < 120:
        return 1.0, "s"
    if seconds < 2 * 3600:
        return 60.0, "min"
    return 3600.0, "h"


def energy_unit(joules: float) -> tuple[float, str]:
    if np.isfinite(joules) and joules >= 5000:
        return 1000.0, "kJ"
    return 1.0, "J"


def _read(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise GwpError(path, "", f"cannot be read as CSV ({type(exc).__name__})", "rerun the step that writes it") from None
    return table if not table.empty else None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------------------------
# the numbers of summary.md (pure functions of summary.csv)


def paired_ratios(summary: pd.DataFrame, ref: str = "gwp") -> pd.DataFrame:
    """Per (dataset, mode, baseline): mean over seeds of baseline jct / ref jct and 1 - ref energy / baseline energy.

    Seeds are paired: the baseline and ``ref`` of one seed met the same conditions.
    """
    rows = []
    mine = summary[summary["policy"] == ref]
    for (dataset, mode), part in summary.groupby(["dataset", "mode"], sort=False):
        own = mine[(mine["dataset"] == dataset) & (mine["mode"] == mode)].set_index("seed")
        for baseline in BASELINES:
            theirs = part[part["policy"] == baseline].set_index("seed")
            seeds = sorted(set(own.index) & set(theirs.index))
            if not seeds:
                continue
            speed = theirs.loc[seeds, "jct_s"] / own.loc[seeds, "jct_s"]
            saving = 1.0 - own.loc[seeds, "energy_j"] / theirs.loc[seeds, "energy_j"]
            rows.append({"dataset": dataset, "mode": mode, "baseline": baseline, "speedup": float(speed.mean()),
                         "saving": float(saving.mean()), "seeds": len(seeds)})
    return pd.DataFrame(rows, columns=["dataset", "mode", "baseline", "speedup", "saving", "seeds"])


def cost_gaps(summary: pd.DataFrame, ref: str = "gwp") -> pd.DataFrame:
    """Per (dataset, mode, other): mean over seeds of (ref mean cost / other mean cost - 1), in %."""
    rows = []
    for (dataset, mode), part in summary.groupby(["dataset", "mode"], sort=False):
        own = part[part["policy"] == ref].set_index("seed")
        for other, policy, column in (("oracle", "oracle", "mean_cost"), ("myopic", "myopic", "mean_cost"),
                                      ("oracle's relaxed bound", "oracle", "mean_bound")):
            theirs = part[part["policy"] == policy].set_index("seed")
            seeds = sorted(set(own.index) & set(theirs.index))
            if not seeds or theirs.loc[seeds, column].isna().any():
                continue
            gap = 100.0 * (own.loc[seeds, "mean_cost"] / theirs.loc[seeds, column] - 1.0)
            rows.append({"dataset": dataset, "mode": mode, "other": other,
                         "ref_cost": float(own.loc[seeds, "mean_cost"].mean()),
                         "other_cost": float(theirs.loc[seeds, column].mean()),
                         "gap_pct": float(gap.mean()), "seeds": len(seeds)})
    return pd.DataFrame(rows, columns=["dataset", "mode", "other", "ref_cost", "other_cost", "gap_pct", "seeds"])


def _row_label(dataset: str, mode: str, modes: int) -> str:
    name = DATASET_LABEL.get(dataset, dataset)
    return f"{name}, {mode} mode" if modes > 1 else name


def _table(ratios: pd.DataFrame, title: str, modes: int) -> list[str]:
    lines = ["| vs | " + " | ".join(BASELINES) + " |", "|---|" + "---|" * len(BASELINES),
             "| job completion, paper | " + " | ".join(f"{PAPER_SPEEDUP[b]:.2f}×" for b in BASELINES) + " faster |"]
    groups = list(ratios.groupby(["dataset", "mode"], sort=False))
    for (dataset, mode), part in groups:
        by = part.set_index("baseline")
        cells = [f"{by.loc[b, 'speedup']:.2f}×" if b in by.index else "—" for b in BASELINES]
        lines.append(f"| job completion, {title}, {_row_label(dataset, mode, modes)} | " + " | ".join(cells) + " |")
    lines.append("| energy, paper | " + " | ".join(f"{PAPER_SAVING[b]:.2f}%" for b in BASELINES) + " saved |")
    for (dataset, mode), part in groups:
        by = part.set_index("baseline")
        cells = [f"{100 * by.loc[b, 'saving']:.2f}%" if b in by.index else "—" for b in BASELINES]
        lines.append(f"| energy, {title}, {_row_label(dataset, mode, modes)} | " + " | ".join(cells) + " |")
    return lines


def training_facts(train_dir: Path) -> dict | None:
    epochs = _read(train_dir / "epochs.csv")
    if epochs is None:
        return None
    iterations = _read(train_dir / "iterations.csv")
    run = _read_json(train_dir / "run.json")
    best = epochs.loc[epochs["test_acc"].idxmax()]
    facts = {"epochs": int(epochs["epoch"].nunique()), "top_acc": 100.0 * float(best["test_acc"]),
             "top_epoch": int(best["epoch"]), "final_train_loss": float(epochs["train_loss"].iloc[-1]),
             "final_test_loss": float(epochs["test_loss"].iloc[-1]),
             "iterations": int(len(iterations)) if iterations is not None else None,
             "min_loss": float(iterations["loss"].min()) if iterations is not None else None,
             "dataset": str(epochs["dataset"].iloc[0]) if "dataset" in epochs.columns else "fashion-mnist",
             "limit_train": run.get("limit_train"), "limit_test": run.get("limit_test"),
             "data_source": run.get("data_source"), "policy": run.get("policy"),
             "until_loss": (run.get("config") or {}).get("job", {}).get("until_loss")}
    return facts


def summary_markdown(results: Path, train_dir: Path) -> str:
    summary = _read(results / "compare" / "summary.csv")
    if summary is None:
        raise GwpError(results / "compare" / "summary.csv", "", "not found",
                       f"run `gwp compare --results {results}` first")
    modes = summary["mode"].nunique()
    out = ["# Results summary", ""]
    seeds = sorted(summary["seed"].unique())
    out.append(f"Policies: {', '.join(_order(summary['policy'].unique()))}. Seeds: {', '.join(map(str, seeds))} "
               f"(every policy of a seed meets the same conditions). Config hash: "
               f"{', '.join(sorted(summary['config_hash'].astype(str).unique()))}.")
    out.append("")
    out.append("Speed-up = baseline job completion time / GWP job completion time; energy saving = "
               "1 − GWP energy / baseline energy; each computed per seed, then averaged over seeds, per dataset.")
    out.append("")
    has_gwp = (summary["policy"] == "gwp").any()
    out.append("## GWP against the paper's baselines (the paper's headline table)")
    out.append("")
    if has_gwp:
        out += _table(paired_ratios(summary, "gwp"), "ours", modes)
    else:
        out.append("GWP was not run (no trained agent): summary.csv has no gwp rows. Train one with "
                   "`gwp agent train --steps N --out results/agents/gwp.zip` and rerun `gwp compare`.")
    out.append("")
    oracle = paired_ratios(summary, "oracle")
    if not oracle.empty:
        out.append("## The clairvoyant oracle against the same baselines (the per-iteration optimum, for reference; not GWP)")
        out.append("")
        out += _table(oracle, "oracle", modes)
        out.append("")

    out.append("## GWP's gap to the exact optima (mean cost (10), per seed, averaged)")
    out.append("")
    gaps = cost_gaps(summary, "gwp") if has_gwp else pd.DataFrame()
    if gaps.empty:
        out.append("Not available: " + ("GWP was not run." if not has_gwp else "no oracle or myopic rows."))
    else:
        out.append("| dataset | vs | GWP mean cost | its mean cost | GWP's gap |")
        out.append("|---|---|---|---|---|")
        for _, g in gaps.iterrows():
            out.append(f"| {_row_label(g['dataset'], g['mode'], modes)} | {g['other']} | {g['ref_cost']:.4f} | "
                       f"{g['other_cost']:.4f} | {g['gap_pct']:+.2f}% |")
    if not gaps.empty:
        out.append("")
        out.append("The oracle and myopic optima are exact for sample counts relaxed to reals and then rounded to "
                   "whole samples; a policy that rounds better can cost slightly less (a negative gap). Only the "
                   "relaxed bound is a true lower bound on every policy's cost.")
    ora = summary[summary["policy"] == "oracle"]
    if not ora.empty and ora["mean_bound"].notna().any():
        rounding = 100.0 * (ora["mean_cost"] / ora["mean_bound"] - 1.0)
        out.append("")
        out.append(f"Rounding the oracle's relaxed optimum to whole samples costs {rounding.mean():.2f}% on average "
                   f"(its mean cost over its `bound`).")
    out.append("")

    out.append("## Every policy (mean over seeds; ± is the standard deviation)")
    out.append("")
    out.append("| dataset | policy | K | job completion (s) | energy (J) | compute (J) | heat (J) | waiting (device-s) | mean cost |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for (dataset, mode), part in summary.groupby(["dataset", "mode"], sort=False):
        for policy in _order(part["policy"].unique()):
            p = part[part["policy"] == policy]

            def ms(col, fmt="{:.1f}"):
                sd = p[col].std(ddof=0) if len(p) > 1 else 0.0
                return fmt.format(p[col].mean()) + (f" ± {fmt.format(sd)}" if len(p) > 1 else "")

            out.append(f"| {_row_label(dataset, mode, modes)} | {policy} | {int(p['iterations'].iloc[0])} | "
                       f"{ms('jct_s')} | {ms('energy_j')} | {ms('energy_comp_j')} | {ms('energy_heat_j')} | "
                       f"{ms('waiting_s')} | {ms('mean_cost', '{:.4f}')} |")
    out.append("")

    out.append("## Training (real MobileNetV2)")
    out.append("")
    facts = training_facts(train_dir)
    if facts is None:
        out.append(f"No training run found in {train_dir} (run `gwp train --out {train_dir}`).")
    else:
        subset = ""
        if facts["limit_train"] or facts["limit_test"]:
            subset = (f" on a subset ({facts['limit_train'] or 'all'} training, {facts['limit_test'] or 'all'} "
                      f"test samples)")
        out.append(f"{DATASET_LABEL.get(facts['dataset'], facts['dataset'])}, {facts['epochs']} epoch(s), "
                   f"{facts['iterations']} iterations{subset}.")
        out.append("")
        out.append("| | ours | paper |")
        out.append("|---|---|---|")
        out.append(f"| top test accuracy | {facts['top_acc']:.2f}% (epoch {facts['top_epoch']}) | {PAPER_ACCURACY:.2f}% |")
        out.append(f"| final training loss (last epoch's mean) | {facts['final_train_loss']:.4f} | < {PAPER_LOSS} |")
        if facts["min_loss"] is not None:
            out.append(f"| lowest mini-batch loss | {facts['min_loss']:.4f} | |")
    out.append("")

    out.append("## What was assumed rather than measured")
    out.append("")
    for (dataset,), part in summary.groupby(["dataset"], sort=False):
        row = part.iloc[0]
        assumed = str(row["k_assumed"]).lower() in ("true", "1")
        out.append(f"- K for {DATASET_LABEL.get(dataset, dataset)}: {int(row['iterations'])} iterations, "
                   + (f"**assumed** ({row['k_source']}), not measured by a training run" if assumed
                      else f"from the training log {row['k_source']}"
                      + (f" ({row['k_note']})" if "k_note" in row and isinstance(row["k_note"], str) else "")))
    for bw in summary["bandwidth"].astype(str).unique():
        if bw.startswith("fitted"):
            out.append("- Bandwidth: **no trace root was given**, so it came from the log-normal model fitted to the "
                       "real 5G traces (config `traces.model`), not from replaying the traces.")
        else:
            out.append(f"- Bandwidth: replayed from {bw}.")
    out.append("- Device constants (σ, η, γ, p_idle, memory, frequency levels, load processes): the paper's Fig. 2 cluster with plausible "
               "values, not measurements (docs/assumptions.md).")
    if facts is not None and (facts["limit_train"] or facts["limit_test"]):
        out.append(f"- Training used a subset of the data (limit_train={facts['limit_train']}, "
                   f"limit_test={facts['limit_test']}), so accuracy and loss are below a full run's.")
    if facts is not None:
        out.append("- Fig. 4 replays one real training run's losses under each setting of f, u and B: the loss and "
                   "accuracy per iteration are the run's own, only the simulated time changes.")
    if not has_gwp:
        out.append("- GWP: not run (no agent).")
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# figures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
                         "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.grid": True, "grid.alpha": 0.3,
                         "savefig.bbox": "tight", "pdf.fonttype": 42, "figure.dpi": 100})
    return plt


def _save(fig, out: Path, name: str) -> list[Path]:
    import io

    paths = []
    for ext, kwargs in (("png", {"dpi": 200}), ("pdf", {})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, **kwargs)
        paths.append(write_bytes_atomic(buffer.getvalue(), out / f"{name}.{ext}"))
    fig.clf()
    return paths


def _missing(plt, title: str, what: str):
    fig, ax = plt.subplots(figsize=(WIDTH_FULL / 2, HEIGHT))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, what, ha="center", va="center", wrap=True, transform=ax.transAxes, fontsize=8)
    return fig


def _log_if_wide(ax, values, axis="y", ratio=30.0):
    values = np.asarray([v for v in values if np.isfinite(v) and v > 0])
    if values.size and values.max() / values.min() > ratio:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        return True
    return False


def _setting_label(factor: str, setting: str, value) -> str:
    """Legend text of one sweep setting, e.g. 'high: B × 4'."""
    try:
        number = f"{float(value):g}"
    except (TypeError, ValueError):
        number = str(value)
    if factor == "f":
        return f"{setting}: {number} level of each device"
    if factor == "u":
        return f"{setting} u: background load {number}"
    return f"{setting}: traces × {number}"


def _settings(sweep: pd.DataFrame) -> list[str]:
    names = list(dict.fromkeys(sweep["setting"]))
    order = [s for s in ("low", "medium", "high") if s in names]
    return order + [s for s in names if s not in order]


def fig4(plt, train_dir: Path, which: str):
    """Fig. 4a (test accuracy) or 4b (training loss) vs simulated time under settings of f, u and B."""
    sweeps = {f: _read(train_dir / f"sweep_{f}.csv") for f in ("f", "u", "B")}
    run = _read_json(train_dir / "run.json")
    title = "Fig. 4a: test accuracy" if which == "a" else "Fig. 4b: training loss"
    if all(s is None for s in sweeps.values()):
        return _missing(plt, title, f"no sweep_f/u/B.csv in {train_dir}:\nrun `gwp train --out {train_dir}`,\n"
                                    f"then `gwp train --sweep f|u|B --out {train_dir}`")
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH_FULL, HEIGHT + 0.3), sharey=True)
    longest = max(float(s["sim_time_s"].max()) for s in sweeps.values() if s is not None)
    div, unit = time_unit(longest)
    eps = (run.get("config") or {}).get("job", {}).get("until_loss")
    window = 1
    for ax, factor in zip(axes, ("f", "u", "B")):
        sweep = sweeps[factor]
        ax.set_title(FACTOR_TITLE[factor])
        ax.set_xlabel(f"simulated training time ({unit})")
        if sweep is None:
            ax.text(0.5, 0.5, f"no sweep_{factor}.csv:\nrun `gwp train --sweep {factor}`", ha="center",
                    va="center", transform=ax.transAxes)
            continue
        for setting in _settings(sweep):
            part = sweep[sweep["setting"] == setting].sort_values("iteration")
            label = _setting_label(factor, setting, part["value"].iloc[0])
            color = SETTING_COLOR.get(setting)
            if which == "a":
                ends = part.groupby("epoch").tail(1)
                ax.plot(ends["sim_time_s"] / div, 100 * ends["test_acc"], marker="o", ms=3.5, color=color,
                        lw=1.0, label=label)
            else:
                window = max(1, len(part) // 40)
                smooth = part["loss"].rolling(window, min_periods=1).mean()
                ax.plot(part["sim_time_s"] / div, smooth, color=color, lw=1.0, label=label)
        if which == "b" and eps is not None:
            ax.axhline(float(eps), color="k", lw=0.7, ls="--", label=f"ε = {float(eps):g} (stop threshold)")
        ax.set_xlim(left=0)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.24), frameon=False, fontsize=6.5)
    if which == "a":
        axes[0].set_ylabel("test accuracy (%)")
    else:
        axes[0].set_ylabel("training loss" + (f" (mean of {window} iterations)" if window > 1 else ""))
    first = next(s for s in sweeps.values() if s is not None)
    dataset = first["dataset"].iloc[0] if "dataset" in first.columns else ""
    policy = first["policy"].iloc[0] if "policy" in first.columns else ""
    note = "; a point per epoch" if which == "a" else ""
    fig.suptitle(f"{title} vs simulated time under settings of f, u and B\n"
                 f"({DATASET_LABEL.get(dataset, dataset)}, placed by {policy}{note})", y=1.09)
    return fig


def _legend_below(ax, ncol=3, **kwargs):
    """The legend under the axes, so it never covers a line."""
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, frameon=False, fontsize=6.5,
                     **kwargs)


def _width(policy: str) -> dict:
    """GWP is drawn wide and underneath, so it stays visible where it lies on the optimum's line."""
    return {"lw": 2.4, "zorder": 1.5, "alpha": 0.8} if policy == "gwp" else {"lw": 1.0, "zorder": 2}


def _policy_lines(ax, table: pd.DataFrame, x: str, y: str, ydiv: float = 1.0):
    for policy in _order(table["policy"].unique()):
        part = table[(table["policy"] == policy)].sort_values(x)
        color, ls, marker, label = _style(policy)
        ax.plot(part[x], part[y] / ydiv, ls=ls, marker=marker, ms=3.5 if policy != "gwp" else 5, color=color,
                label=label, **_width(policy))


def _ok(table: pd.DataFrame | None) -> pd.DataFrame | None:
    if table is None:
        return None
    if "status" in table.columns:
        table = table[table["status"] == "ok"]
    return table if not table.empty else None


def _top_axis(ax, positions, labels, title):
    """Tick labels of a second quantity along the top edge (e.g. the width multiplier of each point)."""
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(positions))
    top.set_xticklabels(labels)
    top.set_xlabel(title, fontsize=6.5, labelpad=2)
    top.tick_params(labelsize=6.5, pad=1)
    top.minorticks_off()


def fig5a(plt, compare: Path):
    table = _ok(_read(compare / "sweep_width.csv"))
    if table is None:
        return _missing(plt, "Fig. 5a", "no compare/sweep_width.csv:\nrun `gwp compare` (with sweeps)")
    fig, ax = plt.subplots(figsize=(WIDTH_FULL / 2, HEIGHT + 0.3))
    table = table.assign(params_m=table["params"] / 1e6)
    _policy_lines(ax, table, "params_m", "time_s")
    _log_if_wide(ax, table["time_s"])
    ax.set_xscale("log")
    ticks = sorted(table["params_m"].unique())
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:.2g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("parameters of MobileNetV2 (millions, log scale)")
    ax.set_ylabel("time per iteration (s)")
    widths = table.drop_duplicates("width").sort_values("params_m")
    _top_axis(ax, widths["params_m"], [f"{w:g}" for w in widths["width"]], "width multiplier")
    ax.set_title(f"Fig. 5a: per-iteration time vs model size ({_dataset_of(table)})", pad=6)
    _legend_below(ax, ncol=2)
    return fig


def _dataset_of(table) -> str:
    return ", ".join(DATASET_LABEL.get(d, d) for d in table["dataset"].unique())


def fig5b(plt, compare: Path):
    table = _ok(_read(compare / "sweep_stages.csv"))
    if table is None:
        return _missing(plt, "Fig. 5b", "no compare/sweep_stages.csv:\nrun `gwp compare` (with sweeps)")
    rows = []
    for (policy, n), part in table.groupby(["policy", "n_stages"]):
        w = part["iterations"].to_numpy(dtype=float)
        rows.append({"policy": policy, "n_stages": int(n), "iterations": int(w.sum()),
                     "waiting_s": float(np.average(part["waiting_s"], weights=w))})
    agg = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(WIDTH_FULL / 2, HEIGHT + 0.3))
    _policy_lines(ax, agg, "n_stages", "waiting_s")
    _log_if_wide(ax, agg["waiting_s"])
    ax.set_xticks(sorted(agg["n_stages"].unique()))
    ax.set_xlabel("number of layers (pipeline stages L) in the placement")
    ax.set_ylabel("waiting per iteration (device-s, summed over devices)")
    ax.set_title(f"Fig. 5b: waiting time vs layers ({_dataset_of(table)})", pad=4)
    _legend_below(ax, ncol=2)
    return fig


def _summary(compare: Path) -> pd.DataFrame | None:
    return _read(compare / "summary.csv")


def fig5c(plt, compare: Path):
    summary = _summary(compare)
    if summary is None:
        return _missing(plt, "Fig. 5c", "no compare/summary.csv:\nrun `gwp compare`")
    modes = list(dict.fromkeys(summary["mode"]))
    fig, axes = plt.subplots(1, len(modes), figsize=(WIDTH_FULL / 2 * max(1, len(modes)) * 1.15, HEIGHT + 0.3),
                             squeeze=False)
    div, unit = time_unit(summary.groupby(["policy", "dataset", "mode"])["jct_s"].mean().max())
    for ax, mode in zip(axes[0], modes):
        part = summary[summary["mode"] == mode]
        policies = _order(part["policy"].unique())
        datasets = list(dict.fromkeys(part["dataset"]))
        width = 0.8 / len(datasets)
        hatches = ["", "//", "xx"]
        for j, dataset in enumerate(datasets):
            for i, policy in enumerate(policies):
                vals = part[(part["dataset"] == dataset) & (part["policy"] == policy)]["jct_s"].to_numpy() / div
                if vals.size == 0:
                    continue
                x = i + (j - (len(datasets) - 1) / 2) * width
                color = _style(policy)[0]
                ax.bar(x, vals.mean(), width * 0.92, color=color, alpha=0.85 if j == 0 else 0.45,
                       hatch=hatches[j % 3], edgecolor="k", lw=0.4)
                if vals.size > 1:
                    ax.errorbar(x, vals.mean(), yerr=[[vals.mean() - vals.min()], [vals.max() - vals.mean()]],
                                color="k", lw=0.7, capsize=2)
                    ax.plot(np.full(vals.size, x), vals, ".", color="k", ms=2)
        ax.set_xticks(range(len(policies)))
        ax.set_xticklabels([_style(p)[3].split(" (")[0].replace(" optimum", "") for p in policies], rotation=30,
                           ha="right")
        _log_if_wide(ax, part["jct_s"] / div, ratio=20)
        ax.set_ylabel(f"job completion time ({unit})")
        ks = part.drop_duplicates("dataset").set_index("dataset")["iterations"]
        ax.set_title(f"Fig. 5c: job completion, {mode} mode\n(K: "
                     + ", ".join(f"{DATASET_LABEL.get(d, d)} {int(ks[d])}" for d in datasets) + " iterations)", pad=4)
        from matplotlib.patches import Patch

        handles = [Patch(facecolor="#bbbbbb", alpha=0.85 if j == 0 else 0.45, hatch=hatches[j % 3], edgecolor="k",
                         label=DATASET_LABEL.get(d, d)) for j, d in enumerate(datasets)]
        spread = " (bars: mean; whiskers: min–max over seeds)" if part.groupby(["policy", "dataset"]).size().max() > 1 else ""
        ax.legend(handles=handles, frameon=False, title=spread.strip(" ()") or None, title_fontsize=6.5)
    return fig


def _cells(compare: Path, summary: pd.DataFrame) -> dict:
    """{(policy, dataset, mode): [cell tables]} for the cells summary.csv names."""
    out = {}
    for _, row in summary.iterrows():
        table = _read(compare / str(row["cell"]))
        if table is None:
            continue
        out.setdefault((row["policy"], row["dataset"], row["mode"]), []).append(table)
    return out


def _seed_mean(tables: list[pd.DataFrame], column: str) -> np.ndarray:
    n = min(len(t) for t in tables)
    return np.mean([t[column].to_numpy(dtype=float)[:n] for t in tables], axis=0)


def _panels(summary):
    keys = summary.drop_duplicates(["dataset", "mode"])[["dataset", "mode"]].itertuples(index=False)
    return list(keys)


def fig6a(plt, compare: Path):
    table = _ok(_read(compare / "sweep_workload.csv"))
    if table is None:
        return _missing(plt, "Fig. 6a", "no compare/sweep_workload.csv:\nrun `gwp compare` (with sweeps)")
    fig, ax = plt.subplots(figsize=(WIDTH_FULL / 2, HEIGHT + 0.3))
    _policy_lines(ax, table, "workload_gflop", "energy_comp_j")
    ax.set_xlabel("workload per iteration (GFLOP, forward + backward)")
    ax.set_ylabel("compute energy per iteration (J)")
    sizes = table.drop_duplicates("batch_size").sort_values("workload_gflop")
    _top_axis(ax, sizes["workload_gflop"], [f"{int(b)}" for b in sizes["batch_size"]], "mini-batch size (samples)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_title(f"Fig. 6a: compute energy vs workload ({_dataset_of(table)})", pad=6)
    _legend_below(ax, ncol=2)
    return fig


def _per_dataset_panels(plt, compare: Path, label: str, sharey: bool):
    """(summary, cells, panels, fig, axes) for a figure with a panel per dataset and mode; a
    placeholder figure instead when there is no compare output."""
    summary = _summary(compare)
    if summary is None:
        return _missing(plt, label, "no compare/summary.csv:\nrun `gwp compare`")
    panels = _panels(summary)
    fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH_FULL, HEIGHT + 0.4), squeeze=False, sharey=sharey)
    return summary, _cells(compare, summary), panels, fig, axes


def fig6b(plt, compare: Path):
    made = _per_dataset_panels(plt, compare, "Fig. 6b", sharey=True)
    if not isinstance(made, tuple):
        return made
    summary, cells, panels, fig, axes = made
    values = []
    n = max(len(t) for ts in cells.values() for t in ts) if cells else 1
    window = max(1, n // 30)  # one window for every panel, so the label holds for all
    for ax, (dataset, mode) in zip(axes[0], panels):
        for policy in _order(summary["policy"].unique()):
            tables = cells.get((policy, dataset, mode))
            if not tables:
                continue
            heat = _seed_mean(tables, "energy_heat_j")
            smooth = pd.Series(heat).rolling(window, min_periods=1).mean().to_numpy()
            values += list(smooth)
            color, ls, _, label = _style(policy)
            ax.plot(np.arange(1, len(heat) + 1), smooth, color=color, ls=ls, label=label, **_width(policy))
        ax.set_title(f"{DATASET_LABEL.get(dataset, dataset)}" + (f", {mode} mode" if len(set(summary['mode'])) > 1 else ""))
        ax.set_xlabel("iteration")
        ax.set_xlim(left=1)
    for ax in axes[0]:
        _log_if_wide(ax, values, ratio=5)
    axes[0][0].set_ylabel("heat energy per iteration (J)" + (f"\n(mean of {window} iterations)" if window > 1 else ""))
    for ax in axes[0]:
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=4, frameon=False, fontsize=6.5)
    seeds = summary["seed"].nunique()
    fig.suptitle(f"Fig. 6b: heat energy per iteration per policy" + (f" (mean over {seeds} seeds)" if seeds > 1 else ""),
                 y=1.0)
    return fig


def fig6c(plt, compare: Path):
    made = _per_dataset_panels(plt, compare, "Fig. 6c", sharey=False)
    if not isinstance(made, tuple):
        return made
    summary, cells, panels, fig, axes = made
    ediv, eunit = energy_unit(summary.groupby(["policy", "dataset", "mode"])["energy_j"].mean().max())
    for ax, (dataset, mode) in zip(axes[0], panels):
        ends = []
        for policy in _order(summary["policy"].unique()):
            tables = cells.get((policy, dataset, mode))
            if not tables:
                continue
            clock = _seed_mean(tables, "sim_time_s")
            energy = np.cumsum(_seed_mean(tables, "energy_j"))
            ends.append(clock[-1])
            color, ls, marker, label = _style(policy)
            ax.plot(clock, energy / ediv, color=color, ls=ls, label=label, **_width(policy))
            ax.plot(clock[-1:], energy[-1:] / ediv, marker=marker, color=color, ms=4)
        if ends and max(ends) / max(min(ends), 1e-9) > 20:
            ax.set_xscale("log")
            ax.set_xlabel("simulated time (s, log scale)")
        else:
            ax.set_xlabel("simulated time (s)")
            ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.set_title(f"{DATASET_LABEL.get(dataset, dataset)}" + (f", {mode} mode" if len(set(summary['mode'])) > 1 else ""))
    axes[0][0].set_ylabel(f"cumulative energy ({eunit})")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=4, frameon=False, fontsize=6.5)
    fig.suptitle("Fig. 6c: cumulative energy until job completion (marker: completion)", y=1.0)
    return fig


def plot(results, out=None, train_dir=None, echo=None) -> dict:
    """Write the eight figures (PNG and PDF) and results/summary.md; returns their paths."""
    import warnings

    echo = echo or print
    results = Path(results)
    out = Path(out) if out else results / "figures"
    train_dir = Path(train_dir) if train_dir else results / "train"
    compare = results / "compare"
    if not (compare / "summary.csv").is_file():
        raise GwpError(compare / "summary.csv", "", "not found", f"run `gwp compare --results {results}` first")
    plt = _plt()
    makers = {"fig4a": lambda: fig4(plt, train_dir, "a"), "fig4b": lambda: fig4(plt, train_dir, "b"),
              "fig5a": lambda: fig5a(plt, compare), "fig5b": lambda: fig5b(plt, compare),
              "fig5c": lambda: fig5c(plt, compare), "fig6a": lambda: fig6a(plt, compare),
              "fig6b": lambda: fig6b(plt, compare), "fig6c": lambda: fig6c(plt, compare)}
    paths = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for name in FIGURES:
            fig = makers[name]()
            paths[name] = _save(fig, out, name)
            plt.close(fig)
    text = summary_markdown(results, train_dir)
    paths["summary"] = write_text_atomic(text, results / "summary.md")
    echo(f"gwp plot: {len(FIGURES)} figures (PNG and PDF) in {out}; table in {paths['summary']}")
    return paths

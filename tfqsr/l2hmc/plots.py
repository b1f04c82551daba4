"""Plots of a sampling run (charge histories, plaquette, autocorrelation of Q_int) and of a
training run (acceptance, |dQ_int|, plaquette error, loss against the step)."""
import os

import numpy as np

from tfqsr.l2hmc.autocorrelation import autocorrelation_function


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    return pyplot


def plot_sampling(directory, trace, summary, chains_shown=4):
    """charge_history.png, plaquette.png, autocorrelation.png in ``directory``."""
    plt = _pyplot()
    burn_in = summary["burn_in"]
    steps = np.arange(1, trace["q_int"].shape[0] + 1)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for c in range(min(chains_shown, trace["q_int"].shape[1])):
        ax.plot(steps, trace["q_int"][:, c], lw=0.8, label=f"chain {c}")
    ax.axvline(burn_in, color="gray", ls=":", lw=0.8)
    ax.set(xlabel="trajectory", ylabel="$Q_{int}$", title=f"{summary['sampler']} at beta={summary['beta']}")
    ax.legend(fontsize=7)
    fig.tight_layout(), fig.savefig(os.path.join(directory, "charge_history.png"), dpi=100), plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(steps, trace["plaquette"].mean(1), lw=0.8, label="mean over chains")
    if summary["exact_plaquette"] is not None:  # U(1); none for SU(3)
        ax.axhline(summary["exact_plaquette"], color="k", ls="--", lw=0.8, label="exact (finite volume)")
    ax.axvline(burn_in, color="gray", ls=":", lw=0.8)
    ax.set(xlabel="trajectory", ylabel="plaquette")
    ax.legend(fontsize=7)
    fig.tight_layout(), fig.savefig(os.path.join(directory, "plaquette.png"), dpi=100), plt.close(fig)

    series = trace["q_int"][burn_in:]
    lags = min(100, max(1, series.shape[0] // 2))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(lags + 1) * summary["gradient_evaluations"], autocorrelation_function(series, lags))
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="gradient evaluations", ylabel=r"$\rho_{Q_{int}}$",
           title=rf"$\tau_{{int}}$ = {summary['tau_int']:.3g} trajectories")
    fig.tight_layout(), fig.savefig(os.path.join(directory, "autocorrelation.png"), dpi=100), plt.close(fig)


def plot_training(run_dir, rows):
    """training.png in ``run_dir`` from its metrics rows."""
    plt = _pyplot()
    steps = [r["step"] for r in rows]
    keys = [("accepted", "accepted fraction"), ("dq_int", r"$|\Delta Q_{int}|$"),
            ("plaquette_error", "plaquette - exact") if "plaquette_error" in rows[-1]
            else ("plaquette", "plaquette"), ("loss", "loss")]
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 8), sharex=True)
    for ax, (key, label) in zip(axes, keys):
        ax.plot(steps, [r[key] for r in rows], lw=0.8)
        ax.set_ylabel(label)
    axes[-1].set_xlabel("training step")
    fig.tight_layout(), fig.savefig(os.path.join(run_dir, "training.png"), dpi=100), plt.close(fig)

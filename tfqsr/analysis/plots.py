"""PNG figures of an analysis (matplotlib, Agg backend: no display needed).

Every function takes plain arrays and a path, draws one figure and closes it.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_DPI = 120


def _save(figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)


def plot_energy(steps, energy, error, path, *, exact_energy=None, title="VMC energy"):
    """Energy (± standard error) against optimization step, with the exact energy as a line and,
    when it is known, the relative error |E - E0| / |E0| on a log scale below."""
    steps, energy, error = (np.asarray(a, float) for a in (steps, energy, error))
    rows = 1 if exact_energy is None else 2
    figure, axes = plt.subplots(rows, 1, figsize=(6.4, 2.6 + 2.2 * rows), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.plot(steps, energy, lw=1, label="VMC")
    ax.fill_between(steps, energy - error, energy + error, alpha=0.3, lw=0)
    if exact_energy is not None:
        ax.axhline(exact_energy, color="k", ls="--", lw=1, label=f"exact {exact_energy:.6g}")
        low, high = min(np.nanmin(energy - error), exact_energy), np.nanpercentile(energy, 95)
        ax.set_ylim(low - 0.1 * (high - low), high)
        relative = np.abs(energy - exact_energy) / abs(exact_energy)
        axes[1, 0].semilogy(steps, np.where(relative > 0, relative, np.nan), lw=1)
        axes[1, 0].set_ylabel("relative error |E - E0| / |E0|")
    ax.set_ylabel("energy E (Pauli units)")
    ax.set_title(title)
    ax.legend()
    axes[-1, 0].set_xlabel("optimization step")
    _save(figure, path)


def plot_correlations(curves, path, *, title="Correlations against distance"):
    """|C(r)| against distance r >= 1 on a log scale, one curve per entry of ``curves``:
    name -> (distances, value, error[, exact value]). Zero or non-finite points are skipped."""
    figure, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, (distance, value, error, *exact) in curves.items():
        distance, value, error = (np.asarray(a, float) for a in (distance, value, error))
        keep = (distance >= 1) & np.isfinite(value) & (np.abs(value) > 0)
        line = ax.errorbar(distance[keep], np.abs(value[keep]), yerr=error[keep], marker="o",
                           ms=3, capsize=2, lw=1, label=name)
        if exact and exact[0] is not None:
            reference = np.abs(np.asarray(exact[0], float))
            ax.plot(distance[keep], reference[keep], ls="--", color=line[0].get_color(), lw=1,
                    label=f"{name}, exact")
    ax.set_yscale("log")
    ax.set_xlabel("distance r = |i - j| (sites)")
    ax.set_ylabel("|C(r)|, average over pairs at distance r")
    ax.set_title(title)
    ax.legend(fontsize="small")
    _save(figure, path)


def plot_entropy(cuts, value, error, path, *, exact=None, order=2):
    """Rényi entropy S_n of the left block {0..l-1} against the cut position l."""
    figure, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.errorbar(cuts, value, yerr=error, marker="o", ms=3, capsize=2, lw=1, label="swap estimator")
    if exact is not None:
        ax.plot(cuts, exact, "k--", lw=1, label="exact")
    ax.set_xlabel("cut position l (region A = sites 0..l-1)")
    ax.set_ylabel(f"Rényi entropy S_{order} (nats)")
    ax.set_title(f"S_{order} across all cuts")
    ax.legend()
    _save(figure, path)


def plot_saliency(maps, path, *, titles=None):
    """Heatmaps of [T, T] saliency matrices, predicted position i (rows) against input token j."""
    figure, axes = plt.subplots(1, len(maps), figsize=(4.6 * len(maps), 4.2), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], maps.items()):
        image = ax.imshow(np.asarray(matrix), origin="upper", cmap="viridis", interpolation="nearest")
        ax.set_title((titles or {}).get(name, name))
        ax.set_xlabel("input token j")
        ax.set_ylabel("predicted position i")
        figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    _save(figure, path)

"""Measurement snapshots of the exact Rydberg ground state of a small array, for data-enhanced VMC.

    python -m tfqsr.vmc.snapshots --Lx=3 --Ly=3 --samples=20000 --output=rydberg3x3.npz

Diagonalizes the Rydberg Hamiltonian exactly (``tfqsr.exact``, up to 20 atoms), draws
``--samples`` configurations from |psi_0(x)|^2 (projective measurements of every atom, x = 1
excited) with ``--seed``, and writes them as a 0/1 array [samples, Lx*Ly] under the key
``samples`` of an .npz file, the ``--data`` of ``python -m tfqsr.model_builder``. An existing
file is refused unless --overwrite.

From Python: ``tfqsr.vmc.data.rydberg_snapshots(Lx, Ly, n_samples, seed=0, V=7.0, omega=1.0,
delta=1.0)``.
"""
import os

from absl import flags

from tfqsr import validation
from tfqsr.runtime import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_integer("Lx", 3, "Rows of the array.")
    flags.DEFINE_integer("Ly", 3, "Columns of the array (Lx * Ly <= 20 atoms).")
    flags.DEFINE_float("V", 7.0, "Van der Waals strength V (interaction V / r^6).")
    flags.DEFINE_float("omega", 1.0, "Rabi frequency Omega.")
    flags.DEFINE_float("delta", 1.0, "Detuning delta.")
    flags.DEFINE_integer("samples", 20000, "Number of snapshots.")
    flags.DEFINE_integer("seed", 0, "Random seed of the measurements.")
    flags.DEFINE_string("output", None, "The .npz file to write.")
    flags.DEFINE_boolean("overwrite", False, "Replace an existing output file.")


def validate():
    from tfqsr.exact import MAX_ED_SITES
    lx = validation.integer("--Lx", FLAGS.Lx, minimum=1)
    ly = validation.integer("--Ly", FLAGS.Ly, minimum=1)
    validation.check(2 <= lx * ly <= MAX_ED_SITES, "--Lx * --Ly", f"in [2, {MAX_ED_SITES}] (exact "
                     "diagonalization)", lx * ly)
    for name in ("V", "omega", "delta"):
        validation.real(f"--{name}", FLAGS[name].value)
    validation.integer("--samples", FLAGS.samples, minimum=1)
    validation.check(bool(FLAGS.output) and FLAGS.output.endswith(".npz"), "--output",
                     "the path of an .npz file", FLAGS.output)
    validation.check(FLAGS.overwrite or not os.path.exists(FLAGS.output), "--output",
                     "a new file (or pass --overwrite)", FLAGS.output)
    return dict(Lx=lx, Ly=ly, n_samples=FLAGS.samples, seed=FLAGS.seed, V=FLAGS.V,
                omega=FLAGS.omega, delta=FLAGS.delta)


def main(arguments):
    from tfqsr.vmc.data import rydberg_snapshots, save_snapshots
    samples, _ = rydberg_snapshots(**arguments)
    save_snapshots(FLAGS.output, samples)
    print(f"wrote {samples.shape[0]} snapshots of the {arguments['Lx']}x{arguments['Ly']} Rydberg "
          f"ground state to {FLAGS.output} (excited fraction {samples.mean():.4f})")
    return 0


COMMAND = cli.Command(validate=validate, main=main, define_flags=define_flags)

if __name__ == "__main__":
    cli.run(COMMAND)

"""Neighbour groups (the NN-QSR code's ``NLOOPS``): how the connected configurations of an
operator are split for an autoregressive model's prefix-reusing evaluation.

A model's ``log_psi_connected`` recomputes each connected configuration from the first token
it changes, reusing the conditionals before it, with configurations grouped by where their
recomputation starts. ``NeighbourGroups(operator, layout, n_groups)`` is the same operator
whose columns declare larger changed-site sets: the T tokens of ``layout`` are cut into
``n_groups`` blocks of T / n_groups consecutive tokens, and every column whose first changed
token lies in block g declares the sites of the block's first token as changed too, so all the
columns of a block form one group, evaluated in one call and recomputed from the block's first
token. One group (``n_groups = 1``) is the plain full pass over every configuration; T groups
recompute each configuration only from its own first changed token (the least work; more,
smaller calls). Declaring more changed sites than a column has is always valid
(``Operator.changed_sites``), so local energies are unchanged.
"""
from tfqsr import validation
from tfqsr.operators.base import Operator


def grouped_changed_sites(changed_sites, layout, n_groups):
    """The changed-site sets of the module docstring: a tuple of site tuples, the diagonal's
    ``()`` kept."""
    block = layout.n_tokens // n_groups
    grouped = []
    for sites in changed_sites:
        if not sites:
            grouped.append(())
            continue
        first = layout.first_changed_token(sites) // block * block
        grouped.append(tuple(sorted(set(sites) | set(int(s) for s in layout.token_sites[first]))))
    return tuple(grouped)


class NeighbourGroups(Operator):
    """``operator`` with its connected configurations evaluated in ``n_groups`` groups of the
    tokens of ``layout`` (module docstring); ``n_groups`` must divide ``layout.n_tokens``."""

    def __init__(self, operator, layout, n_groups):
        validation.check(layout.n_sites == operator.n_sites, "layout",
                         f"a layout of the operator's {operator.n_sites} sites", layout)
        self.n_groups = validation.integer("NLOOPS", n_groups, minimum=1)
        validation.check(layout.n_tokens % self.n_groups == 0, "NLOOPS",
                         f"a divisor of the number of tokens {layout.n_tokens}", n_groups)
        self.operator, self.layout = operator, layout
        super().__init__(operator.n_sites, operator.max_conn,
                         grouped_changed_sites(operator.changed_sites, layout, self.n_groups))

    @property
    def flip_masks(self):
        return self.operator.flip_masks

    @property
    def conserves_magnetization(self):
        return self.operator.conserves_magnetization

    def connected(self, x):
        return self.operator.connected(x)

    def __getattr__(self, name):  # the wrapped operator's own attributes (shape, V, ...)
        if name in ("operator", "__setstate__"):
            raise AttributeError(name)
        return getattr(self.operator, name)

    def __repr__(self):
        return f"NeighbourGroups({self.operator!r}, n_groups={self.n_groups})"

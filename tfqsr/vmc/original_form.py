"""The NN-QSR code's command line (``ModelBuilder.py``), translated into the absl flags of
``python -m tfqsr.model_builder``, and the help of each of its groups.

Its form is groups of ``name=value`` arguments: a group starts with ``--train`` (or
``--training``), ``--rnn``, ``--ptf``, ``--lptf``, ``--rydberg`` or ``--tfim``; arguments before
the first group are training arguments (the original silently dropped them: here they count).
Any other ``--flag`` passes through to absl unchanged, after the translated ones (so it wins). The model is the ``--lptf`` group when
present, with the ``--rnn`` or ``--ptf`` group as its subsampler, else the ``--rnn`` or
``--ptf`` group. ``_2D=True patch=p`` is a p x p patch; ``patch=pxq`` a 2D patch. A group's
``L`` must agree with the atoms it covers (the lattice, or an LPTF's large patch).

Unknown names, and values of a known name that the original did not take, are ConfigErrors
naming the group and the argument; values themselves are checked by absl and the
configuration (``tfqsr.vmc.lattice_config``), so every error is one line before any work.
"""
from tfqsr.validation import ConfigError

# Group names as typed (lower case) -> canonical group.
GROUPS = {"train": "train", "training": "train", "rnn": "rnn", "ptf": "ptf", "lptf": "lptf",
          "rydberg": "rydberg", "tfim": "tfim"}

# Each group's arguments: name -> (flag of model_builder, meaning). None: handled specially.
_TRAIN = {
    "L": ("L", "int: the number of atoms; the lattice is sqrt(L) x sqrt(L) (8x8: L=64)"),
    "Q": ("Q", "int: minibatches per batch"),
    "K": ("K", "int: samples per minibatch (default 256, 512 for the RNN)"),
    "B": ("B", "int: the batch, Q*K (any other value is an error)"),
    "NLOOPS": ("NLOOPS", "int: groups the single-flip neighbours are evaluated in, each group in one "
                         "call recomputed from its first token. More groups need less memory and "
                         "recompute less; it must divide the number of tokens (L / patch size)"),
    "steps": ("steps", "int: training steps"),
    "dir": ("run_dir", "str: the run directory (a run there resumes)"),
    "sub_directory": (None, "str: appended to the run directory"),
    "lr": ("lr", "float: the learning rate of Adam (constant, default 5e-4)"),
    "seed": ("seed", "int: the random seed"),
    "sgrad": ("sgrad", "bool: sample with gradients: log psi for the gradient kept from the sampling "
                       "pass (True) or recomputed by a pass over the samples (False)"),
    "true_grad": (None, "bool: only False (the gradient is the usual VMC estimate)"),
    "kl": ("kl", "float >= 0: weight of the data term, kl * NLL of a minibatch of snapshots (needs data)"),
    "data": ("data", "str: snapshots (.npz holding a 0/1 array [M, L]) for kl and pretrain_steps"),
    "pretrain_steps": ("pretrain_steps", "int: steps on the data alone before the VMC steps"),
    "hamiltonian": ("hamiltonian", "str: Rydberg (default) or TFIM"),
}
_PATCH = {
    "L": (None, "int: the atoms the model covers (the lattice; an LPTF subsampler: the large patch)"),
    "patch": (None, "str: atoms per token, p (p consecutive atoms) or a 2D patch pxq (e.g. 2x2)"),
    "_2D": (None, "bool: with patch=p, p x p patches"),
}
_TRANSFORMER = {
    "Nh": ("Nh", "int: the transformer width; patches are projected to it (default 128)"),
    "dropout": ("dropout", "float: dropout of the transformer layers"),
    "num_layers": ("num_layers", "int: transformer layers"),
    "nhead": ("nhead", "int: attention heads, a divisor of Nh"),
    "nheads": ("nhead", "int: the same as nhead"),
}
ARGUMENTS = {
    "train": _TRAIN,
    "rnn": {**_PATCH, "Nh": ("Nh", "int: the RNN hidden size (default 256)"),
            "rnntype": ("rnntype", "str: the RNN cell, GRU or ELMAN")},
    "ptf": {**_PATCH, **_TRANSFORMER},
    "lptf": {**_PATCH, **_TRANSFORMER,
             "Nh": ("Nh", "int: the transformer width; with an RNN subsampler it must equal the RNN's Nh")},
    "rydberg": {"Lx": ("Lx", "int: rows"), "Ly": ("Ly", "int: columns"),
                "V": ("V", "float: van der Waals strength (7.0)"),
                "Omega": ("omega", "float: Rabi frequency (1.0)"), "delta": ("delta", "float: detuning (1.0)")},
    "tfim": {"L": (None, "int: the number of spins"),
             "h_x": (None, "float: the transverse field term h_x sum X_i (-1.0: H = -sum ZZ - sum X)"),
             "J": (None, "float: the coupling; only 1.0 (H = -J sum ZZ + h_x sum X)")},
}
DESCRIPTIONS = {
    "train": "Training arguments",
    "rnn": "RNN: a GRU or Elman cell reads one patch token at a time; a softmax over the 2^p "
           "values of the next patch",
    "ptf": "Patched transformer (PTF): patch tokens projected to width Nh with a 2D positional "
           "encoding, a causal transformer, a softmax over the 2^p values of the next patch",
    "lptf": "Large-patched transformer (LPTF): a transformer over large patches whose output "
            "conditions a subsampler (the --rnn or --ptf group) that generates each large patch "
            "as a sequence of small patches",
    "rydberg": "Rydberg Hamiltonian: sum_{i<j} V/r_ij^6 n_i n_j - delta sum n_i - Omega/2 sum X_i",
    "tfim": "Transverse-field Ising model on the lattice: -J sum_<ij> Z_i Z_j + h_x sum X_i",
}
EXAMPLES = {
    "train": "L=64 NLOOPS=16 sgrad=False steps=4000 --ptf _2D=True patch=2",
    "rnn": "L=64 --rnn patch=2x2 Nh=128",
    "ptf": "L=64 --ptf _2D=True patch=2",
    "lptf": "L=256 --lptf _2D=True patch=4 --rnn L=16 patch=2 Nh=128",
    "rydberg": "L=16 --rydberg V=7.0 Omega=1.0 delta=1.0 --ptf patch=2x2",
    "tfim": "L=16 --tfim h_x=-1.0 --rnn patch=2",
}


def _group_of(arg):
    if arg.startswith("--") and "=" not in arg:
        return GROUPS.get(arg[2:].lower())
    return None


def group_help(args):
    """The help of the group named beside --help in ``args`` (None when there is no such
    pair): its arguments and their meaning, and an example."""
    if "--help" not in args and "-h" not in args:
        return None
    names = [GROUPS[a[2:].lower()] for a in args if _group_of(a)]
    if not names:
        return None
    name = names[0]
    lines = [f"{DESCRIPTIONS[name]}.", "", f"  --{name} arguments (name=value):"]
    for key, (_, meaning) in ARGUMENTS[name].items():
        kind, _, text = meaning.partition(": ")
        lines.append(f"    {key:<15}({kind}) {text}")
    lines += ["", f"Example: python -m tfqsr.model_builder {EXAMPLES[name]}"]
    return "\n".join(lines)


def is_original_form(args):
    """True when ``args`` use a group or a bare name=value argument."""
    return any(_group_of(a) or (not a.startswith("-") and "=" in a) for a in args)


def parse_groups(args):
    """({group: {name: value}}, other arguments) of an original command line; arguments
    before the first group belong to "train"."""
    groups, passthrough, current = {}, [], "train"
    for arg in args:
        group = _group_of(arg)
        if group is not None:
            current = group
            groups.setdefault(current, {})
        elif not arg.startswith("-") and "=" in arg:
            key, value = arg.split("=", 1)
            if key not in ARGUMENTS[current]:
                raise ConfigError(f"--{current} {key}: unknown argument; --{current} takes "
                                  f"{', '.join(ARGUMENTS[current])}")
            groups.setdefault(current, {})[key] = value
        else:
            passthrough.append(arg)
    return groups, passthrough


def _flag(name, value):
    return f"--{name}={value}"


def _boolean(group, key, value):
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ConfigError(f"--{group} {key} must be True or False, got {value!r}")
    return text == "true"


def _integer(group, key, value):
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--{group} {key} must be an integer, got {value!r}") from None


def _patch(group, options):
    """The patch string of a model group ("pxp" for _2D=True patch=p)."""
    patch = options.get("patch", "1")
    if _boolean(group, "_2D", options.get("_2D", "False")):
        if "x" in patch.lower():
            raise ConfigError(f"--{group} patch must be a single side p with _2D=True, got {patch!r}")
        patch = f"{patch}x{patch}"
    return patch


def _atoms(patch):
    sides = [int(side) for side in patch.lower().split("x") if side.isdigit()]
    return sides[0] * (sides[1] if len(sides) > 1 else 1) if sides else None


def to_flags(args):
    """The absl arguments of ``args`` (unchanged when they are not in the original form)."""
    if not is_original_form(args):
        return list(args)
    groups, passthrough = parse_groups(args)
    train, flags = groups.get("train", {}), []
    for key, value in train.items():
        target = ARGUMENTS["train"][key][0]
        if key == "true_grad" and _boolean("train", key, value):
            raise ConfigError("--train true_grad must be False (the usual VMC gradient), got True")
        if key == "hamiltonian":
            value = value.lower()
        if target is not None:
            flags.append(_flag(target, value))
    if "sub_directory" in train:
        flags.append(_flag("run_dir", train.get("dir", "runs/model_builder") + train["sub_directory"]))
    flags += _model_flags(groups, train)
    flags += _hamiltonian_flags(groups)
    return flags + passthrough  # flags given as flags win


def _model_flags(groups, train):
    models = [name for name in ("lptf", "rnn", "ptf") if name in groups]
    if not models:
        return []
    outer = models[0]
    options = groups[outer]
    if outer != "lptf" and len(models) > 1:
        raise ConfigError("--rnn and --ptf are two models: give one, or --lptf with one of them as its subsampler")
    flags = [_flag("model", outer), _flag("patch", _patch(outer, options))]
    if "L" in options:
        lattice_atoms = _integer("train", "L", train["L"]) if "L" in train else None
        if lattice_atoms is not None and _integer(outer, "L", options["L"]) != lattice_atoms:
            raise ConfigError(f"--{outer} L must equal the training L={lattice_atoms}, got {options['L']!r}")
        if lattice_atoms is None:
            flags.append(_flag("L", options["L"]))
    flags += [_flag(ARGUMENTS[outer][k][0], v) for k, v in options.items() if ARGUMENTS[outer][k][0]]
    if outer == "lptf":
        inner = [name for name in ("rnn", "ptf") if name in groups]
        if len(inner) != 1:
            raise ConfigError("--lptf needs one subsampler group, --rnn or --ptf, after it")
        sub, sub_options = inner[0], groups[inner[0]]
        sub_patch = _patch(sub, sub_options)
        large = _atoms(_patch(outer, options))
        if "L" in sub_options and _integer(sub, "L", sub_options["L"]) != large:
            raise ConfigError(f"--{sub} L must equal the atoms of the LPTF patch ({large}), got {sub_options['L']!r}")
        flags += [_flag("sub_model", sub), _flag("sub_patch", sub_patch)]
        renamed = {"Nh": "sub_Nh", "num_layers": "sub_num_layers", "nhead": "sub_nhead", "rnntype": "rnntype"}
        for key, value in sub_options.items():
            target = ARGUMENTS[sub][key][0]
            if target in renamed:
                flags.append(_flag(renamed[target], value))
            elif target == "dropout":
                flags.append(_flag("dropout", value))
    return flags


def _hamiltonian_flags(groups):
    flags = []
    if "rydberg" in groups and "tfim" in groups:
        raise ConfigError("--rydberg and --tfim are two Hamiltonians: give one")
    if "rydberg" in groups:
        flags.append(_flag("hamiltonian", "rydberg"))
        flags += [_flag(ARGUMENTS["rydberg"][k][0], v) for k, v in groups["rydberg"].items()]
    if "tfim" in groups:
        options = groups["tfim"]
        flags.append(_flag("hamiltonian", "tfim"))
        if "J" in options and options["J"].strip() not in ("1", "1.0"):
            raise ConfigError(f"--tfim J must be 1.0, got {options['J']!r}")
        if "h_x" in options:
            try:
                flags.append(_flag("field", -float(options["h_x"])))
            except ValueError:
                raise ConfigError(f"--tfim h_x must be a number, got {options['h_x']!r}") from None
        if "L" in options:
            flags.append(_flag("L", options["L"]))
    return flags

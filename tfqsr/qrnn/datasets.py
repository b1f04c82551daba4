"""The sequence tasks of RVQE (Bausch 2020), generated in code or shipped small.

A task makes batches ``(inputs, targets, scored)`` of numpy arrays: int tokens [B, T] (each
``input_width`` bits, qubit 0 the most significant) and bool [B, T-1], where ``scored[:, t]``
says whether the prediction of ``targets[:, t + 1]`` at step t counts (loss, character error;
sampled in evaluation, postselected otherwise).

=================  =====  ==================================================================
task               bits   sequences (scored positions)
=================  =====  ==================================================================
simple-seq         3      two fixed sequences, 0 1 2 3 0 1 ... and 4 4 4 ... (all); memorized:
                          (shards, batch) in {(2, 1), (1, 2)}
simple-quotes      5      six quotes, one character per step (vowels, spaces and punctuation:
                          consonants are given as advice); shards x batch = 6
elman-xor          2      triples a, b, a xor b of random bits; targets 2 ("unpredictable")
                          except at c (only c)
elman-letter       3      random b, d, g expanded to ba, dii, guuu; consonant targets are a
                          marker 7 (vowels)
dna                3      random bases 0-3; the base at a random early position 1..L/2-1 is
                          marked (+4) and is the target from there on (the last position)
text               5      windows of a text file (``text_file``; default: the opening of
                          Alice's Adventures in Wonderland), 32 characters (all)
digits01, digits36 2      8x8 handwritten digits of scikit-learn, binarized (pixel > 7), one
digits-even-odd    2      pixel of each of 2 or 3 scans per step (row-major, column-major,
digits             3      rotated); the targets are 0 except the label in the last steps
                          (the label steps). Batch size per digit.
digits01-gen       2      the label first, then the scanned pixels as targets (the pixels)
=================  =====  ==================================================================

The data of a batch is a pure function of a numpy random generator, so the trainer draws every
shard's batch from its own seed. Constraints (batch size, shards, sentence length, text file)
are checked by ``make_task`` and ``Task.check`` with ``tfqsr.validation`` (ConfigError naming the
flag). This module does not import TensorFlow.
"""
import math
import os

import numpy as np

from tfqsr.validation import ConfigError, check

CHARACTERS = "abcdefghijklmnopqrstuvwxyz,.?! \n"
CONSONANTS = "bcdfghjklmnpqrstvwxyz"
QUOTES = (
    "to keep your balance, you must keep moving.",
    "be yourself, everyone else is already taken.",
    "the future belongs to those who believe in the beauty of their dreams.",
    "you must be the change you wish to see in the world.",
    "the most certain way to succeed is always to try just one more time.",
    "wir muessen wissen, wir werden wissen.",
)
SPLITS = ("train", "validate", "test")


def encode_text(text):
    """Characters -> 5-bit tokens (index in ``CHARACTERS``; upper case folded, anything else a
    space)."""
    lookup = {c: i for i, c in enumerate(CHARACTERS)}
    return np.array([lookup.get(c, lookup[" "]) for c in text.lower()], np.int32)


class Task:
    """A sequence task (module docstring): ``input_width`` bits per token, ``batch(rng,
    batch_size, shard, num_shards, split)`` -> (inputs, targets, scored)."""
    name = ""
    input_width = 0
    fixed = False  # the same rows every batch (memorization), split among the shards

    def check(self, batch_size, num_shards):
        """ConfigError unless this task allows ``batch_size`` rows per shard on ``num_shards``."""

    def rows_per_shard(self, batch_size):
        return batch_size

    def batch(self, rng, batch_size, shard=0, num_shards=1, split="train"):
        raise NotImplementedError

    def describe(self, tokens):
        """A sequence of tokens as text (for validation samples)."""
        return " ".join(str(int(t)) for t in tokens)


def _scored_all(inputs):
    return np.ones((inputs.shape[0], inputs.shape[1] - 1), bool)


class FixedTask(Task):
    """Memorize a fixed set of sequences, split among shards (shards x batch = rows)."""
    fixed = True
    sequences = None  # int [rows, T]
    allowed = ()      # (num_shards, batch_size) pairs; () means shards x batch = rows

    def check(self, batch_size, num_shards):
        rows = len(self.sequences)
        if self.allowed:
            check((num_shards, batch_size) in self.allowed, "(--num_shards, --batch_size)",
                  f"one of {list(self.allowed)} for {self.name}", (num_shards, batch_size))
        check(num_shards * batch_size == rows, "--batch_size",
              f"{rows} / --num_shards for {self.name} ({rows} sequences)",
              batch_size)

    def scored(self, targets):
        return _scored_all(targets)

    def batch(self, rng, batch_size, shard=0, num_shards=1, split="train"):
        rows = self.sequences[shard * batch_size:(shard + 1) * batch_size]
        return rows, rows, self.scored(rows)


class SimpleSequences(FixedTask):
    name, input_width = "simple-seq", 3
    allowed = ((2, 1), (1, 2))

    def __init__(self, sentence_length):
        self.sequences = np.array([np.arange(sentence_length) % 4,
                                   np.full(sentence_length, 4)], np.int32)


class SimpleQuotes(FixedTask):
    name, input_width = "simple-quotes", 5

    def __init__(self, sentence_length=None):
        width = max(len(q) for q in QUOTES)
        self.sequences = np.stack([encode_text(q.ljust(width)) for q in QUOTES])

    def scored(self, targets):
        consonants = np.isin(targets[:, 1:], encode_text(CONSONANTS))
        return ~consonants

    def describe(self, tokens):
        return "".join(CHARACTERS[t] for t in tokens)


class ElmanXor(Task):
    name, input_width = "elman-xor", 2

    def __init__(self, sentence_length):
        self.length = sentence_length

    def batch(self, rng, batch_size, shard=0, num_shards=1, split="train"):
        triples = -(-self.length // 3)
        a, b = rng.integers(0, 2, (2, batch_size, triples))
        inputs = np.stack([a, b, a ^ b], axis=2).reshape(batch_size, -1)[:, :self.length]
        targets = np.where(np.arange(inputs.shape[1]) % 3 == 2, inputs, 2)
        scored = np.broadcast_to((np.arange(self.length - 1) + 2) % 3 == 0,
                                 (batch_size, self.length - 1))
        return inputs.astype(np.int32), targets.astype(np.int32), scored.copy()


class ElmanLetter(Task):
    name, input_width = "elman-letter", 3
    WORDS = {"b": "ba", "d": "dii", "g": "guuu"}
    TOKENS = {"b": 4, "d": 5, "g": 6, "a": 0, "i": 1, "u": 2}
    MARKER = 7  # target of a consonant: unpredictable

    def __init__(self, sentence_length):
        self.length = sentence_length

    def batch(self, rng, batch_size, shard=0, num_shards=1, split="train"):
        letters = np.array([[self.TOKENS[c] for c in "".join(
            self.WORDS["bdg"[i]] for i in row)[:self.length]]
            for row in rng.integers(0, 3, (batch_size, self.length))], np.int32)
        targets = np.where(letters >= 4, self.MARKER, letters).astype(np.int32)
        return letters, targets, targets[:, 1:] != self.MARKER

    def describe(self, tokens):
        return "".join("aiu?bdg·"[t] for t in tokens)


class DNA(Task):
    name, input_width = "dna", 3

    def __init__(self, sentence_length):
        self.length = sentence_length

    def batch(self, rng, batch_size, shard=0, num_shards=1, split="train"):
        bases = rng.integers(0, 4, (batch_size, self.length))
        marked = rng.integers(1, self.length // 2, batch_size)
        rows = np.arange(batch_size)
        base = bases[rows, marked]
        after = np.arange(self.length)[None, :] >= marked[:, None]
        targets = np.where(after, base[:, None], 0)
        targets[rows, marked] = base + 4
        inputs = bases.copy()
        inputs[rows, marked] = base + 4
        scored = np.zeros((batch_size, self.length - 1), bool)
        scored[:, -1] = True
        return inputs.astype(np.int32), targets.astype(np.int32), scored

    def describe(self, tokens):
        return "".join("GATCgatc"[t] for t in tokens)


class Text(Task):
    name, input_width = "text", 5

    def __init__(self, sentence_length, text_file=""):
        if text_file:
            check(os.path.isfile(text_file), "--text_file", "a readable text file", text_file)
            with open(text_file, encoding="utf-8", errors="replace") as f:
                text = f.read()
        else:
            from tfqsr.qrnn.sample_text import TEXT as text
        self.tokens = encode_text(text)
        self.length = sentence_length
        check(len(self.tokens) >= sentence_length, "--sentence_length",
              f"at most the text's length, {len(self.tokens)} characters", sentence_length)

    def batch(self, rng, batch_size, shard=0, num_shards=1, split="train"):
        starts = rng.integers(0, len(self.tokens) - self.length + 1, batch_size)
        rows = self.tokens[starts[:, None] + np.arange(self.length)]
        return rows, rows, _scored_all(rows)

    def describe(self, tokens):
        return "".join(CHARACTERS[t] for t in tokens).replace("\n", "¶")


def _load_digits():
    """scikit-learn's 1797 8x8 digits (shipped with it): binarized images [N, 8, 8], labels."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    return (digits.images > 7).astype(np.int32), digits.target


class Digits(Task):
    """Handwritten digits read as ``scans`` parallel pixel scans, one pixel of each per step
    (row-major, column-major, rotated by 90 degrees), labelled by ``label(digit)``; each split
    (train 60%, validate 20%, test 20%) is a fixed partition of every digit's images. A batch
    holds ``batch_size`` images of every digit."""
    PIXELS = 64

    def __init__(self, name, digits, scans, labels=None, generative=False):
        self.name, self.digits, self.input_width = name, tuple(digits), scans
        self.labels = labels or {d: i for i, d in enumerate(digits)}
        self.generative = generative
        classes = max(self.labels.values()) + 1
        bits = max(1, math.ceil(math.log2(classes)))
        self.label_steps = -(-bits // scans)
        self._split = None

    def rows_per_shard(self, batch_size):
        return batch_size * len(self.digits)

    def label_tokens(self, label):
        """The label's bits, zero-padded in front to whole tokens: int [label_steps]."""
        bits = self.label_steps * self.input_width
        return np.array([(label >> (bits - self.input_width * (s + 1))) & (2 ** self.input_width - 1)
                         for s in range(self.label_steps)], np.int32)

    def scans(self, images):
        """[N, 8, 8] -> tokens [N, 64]: bit k of a token (k = 0 most significant) is scan k."""
        views = [images, np.transpose(images, (0, 2, 1)), np.rot90(images, 1, axes=(1, 2))]
        bits = np.stack([v.reshape(len(images), -1) for v in views[:self.input_width]], axis=2)
        return (bits * (2 ** np.arange(self.input_width - 1, -1, -1))).sum(axis=2).astype(np.int32)

    def split(self, name):
        """{digit: images [n, 8, 8]} of a split (a permutation fixed by seed 0)."""
        if self._split is None:
            images, targets = _load_digits()
            self._split = {s: {} for s in SPLITS}
            for d in self.digits:
                mine = images[targets == d][np.random.default_rng(d).permutation((targets == d).sum())]
                cut = np.cumsum([0, int(0.6 * len(mine)), int(0.2 * len(mine)), len(mine)])
                for s, begin, end in zip(SPLITS, cut[:-1], cut[1:]):
                    self._split[s][d] = mine[begin:end]
        return self._split[name]

    def sequences(self, images, digits):
        """(inputs, targets, scored) of images of the given digits."""
        pixels = self.scans(images)
        labels = np.stack([self.label_tokens(self.labels[d]) for d in digits])
        n, steps = len(images), self.label_steps
        if self.generative:
            inputs = np.concatenate([labels, pixels], axis=1)
            scored = np.zeros((n, inputs.shape[1] - 1), bool)
            scored[:, steps - 1:] = True
            return inputs, inputs, scored
        targets = np.zeros_like(pixels)
        targets[:, -steps:] = labels
        scored = np.zeros((n, self.PIXELS - 1), bool)
        scored[:, -steps:] = True
        return pixels, targets, scored

    def batch(self, rng, batch_size, shard=0, num_shards=1, split="train"):
        data = self.split(split)
        images = np.concatenate([data[d][rng.integers(0, len(data[d]), batch_size)]
                                 for d in self.digits])
        return self.sequences(images, np.repeat(self.digits, batch_size))

    def examples(self, split):
        """Every image of a split, as one batch."""
        data = self.split(split)
        return self.sequences(np.concatenate([data[d] for d in self.digits]),
                              np.concatenate([[d] * len(data[d]) for d in self.digits]))

    def describe(self, tokens):
        return " ".join(str(int(t)) for t in tokens[-self.label_steps:])


MINIMUM_LENGTH = {"simple-seq": 2, "elman-xor": 3, "elman-letter": 2, "dna": 4, "text": 2}
TASKS = ("simple-seq", "simple-quotes", "elman-xor", "elman-letter", "dna", "text", "digits01",
         "digits36", "digits-even-odd", "digits", "digits01-gen")


def make_task(name, sentence_length=8, text_file=""):
    """The task ``name`` (one of ``TASKS``); ConfigError naming the flag for a bad value."""
    check(name in TASKS, "--dataset", f"one of {', '.join(TASKS)}", name)
    if name in MINIMUM_LENGTH:
        minimum = MINIMUM_LENGTH[name]
        check(isinstance(sentence_length, int) and sentence_length >= minimum,
              "--sentence_length", f"an integer >= {minimum} for {name}", sentence_length)
    if text_file and name != "text":
        raise ConfigError(f"--text_file is only used by --dataset=text, got --dataset={name}")
    if name == "simple-seq":
        return SimpleSequences(sentence_length)
    if name == "simple-quotes":
        return SimpleQuotes()
    if name == "elman-xor":
        return ElmanXor(sentence_length)
    if name == "elman-letter":
        return ElmanLetter(sentence_length)
    if name == "dna":
        return DNA(sentence_length)
    if name == "text":
        return Text(sentence_length, text_file)
    digit_tasks = {
        "digits01": dict(digits=(0, 1), scans=2),
        "digits36": dict(digits=(3, 6), scans=2),
        "digits-even-odd": dict(digits=tuple(range(10)), scans=2,
                                labels={d: d % 2 for d in range(10)}),
        "digits": dict(digits=tuple(range(10)), scans=3),
        "digits01-gen": dict(digits=(0, 1), scans=2, generative=True),
    }
    return Digits(name, **digit_tasks[name])

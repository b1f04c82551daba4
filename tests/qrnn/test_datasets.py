"""The sequence tasks: each task's rule checked on generated batches, the scored positions, and
every constraint error (its own test), without TensorFlow."""
import numpy as np
import pytest

from tfqsr.qrnn.config import QRNNConfig
from tfqsr.qrnn.datasets import CHARACTERS, CONSONANTS, QUOTES, make_task
from tfqsr.validation import ConfigError

RNG = np.random.default_rng(0)


def test_simple_seq_is_two_fixed_sequences_split_over_shards():
    task = make_task("simple-seq", 6)
    inputs, targets, scored = task.batch(RNG, 2)
    np.testing.assert_array_equal(inputs, [[0, 1, 2, 3, 0, 1], [4] * 6])
    assert (targets == inputs).all() and scored.all()
    first, second = (task.batch(RNG, 1, shard, 2)[0] for shard in (0, 1))
    np.testing.assert_array_equal(np.concatenate([first, second]), inputs)


def test_simple_quotes_scores_everything_but_consonants():
    task = make_task("simple-quotes")
    inputs, targets, scored = task.batch(RNG, 6)
    assert task.describe(inputs[1]).rstrip() == QUOTES[1]
    consonant = np.vectorize(lambda t: CHARACTERS[t] in CONSONANTS)(targets[:, 1:])
    np.testing.assert_array_equal(scored, ~consonant)


def test_elman_xor_scores_only_the_xor_of_each_triple():
    inputs, targets, scored = make_task("elman-xor", 12).batch(RNG, 50)
    a, b, c = inputs[:, 0::3], inputs[:, 1::3], inputs[:, 2::3]
    np.testing.assert_array_equal(c, a ^ b)
    np.testing.assert_array_equal(targets[:, 2::3], c)
    assert (np.delete(targets, np.s_[2::3], axis=1) == 2).all()
    assert set(np.flatnonzero(scored[0]) + 1) == {2, 5, 8, 11}  # positions of the c's
    assert scored.all(axis=0).sum() == 4


def test_elman_letter_expands_consonants_and_scores_vowels():
    task = make_task("elman-letter", 30)
    inputs, targets, scored = task.batch(RNG, 4)
    text = task.describe(inputs[0])
    for consonant, vowels in (("b", "a"), ("d", "ii"), ("g", "uuu")):
        for i in [i for i, ch in enumerate(text) if ch == consonant]:
            assert text[i + 1:i + 1 + len(vowels)] in vowels[:len(text) - i - 1]
    np.testing.assert_array_equal(scored, targets[:, 1:] < 4)
    assert (targets[inputs >= 4] == 7).all()


def test_dna_final_target_is_the_marked_base():
    inputs, targets, scored = make_task("dna", 12).batch(RNG, 200)
    marked = np.argmax(inputs >= 4, axis=1)
    assert (inputs >= 4).sum(axis=1).tolist() == [1] * 200
    assert 1 <= marked.min() and marked.max() < 6
    np.testing.assert_array_equal(targets[:, -1], inputs[np.arange(200), marked] - 4)
    assert scored[:, -1].all() and scored.sum() == 200


def test_text_windows_come_from_the_shipped_sample_or_a_file(tmp_path):
    task = make_task("text", 10)
    inputs, targets, scored = task.batch(RNG, 3)
    assert all(task.describe(row) in "".join(CHARACTERS[t] for t in task.tokens) for row in inputs)
    path = tmp_path / "text.txt"
    path.write_text("Hello, World!")
    rows = make_task("text", 13, str(path)).batch(RNG, 2)[0]
    assert task.describe(rows[0]) == "hello, world!"


@pytest.mark.parametrize("name,width,label_steps", [("digits01", 2, 1), ("digits", 3, 2),
                                                    ("digits-even-odd", 2, 1)])
def test_digits_scan_pixels_and_put_the_label_in_the_last_steps(name, width, label_steps):
    task = make_task(name)
    inputs, targets, scored = task.batch(RNG, 3)
    assert task.input_width == width and inputs.shape == (3 * len(task.digits), 64)
    assert (targets[:, :-label_steps] == 0).all()
    assert (scored.sum(axis=1) == label_steps).all() and scored[:, -label_steps:].all()
    image = task.split("train")[task.digits[0]][0]
    tokens = task.scans(image[None])[0]
    np.testing.assert_array_equal(tokens >> (width - 1), image.reshape(-1))          # row-major
    np.testing.assert_array_equal((tokens >> (width - 2)) & 1, image.T.reshape(-1))  # column-major


def test_digits_labels_and_splits_are_disjoint():
    task = make_task("digits")
    assert [task.label_tokens(d).tolist() for d in (0, 5, 9)] == [[0, 0], [0, 5], [1, 1]]
    train, test = task.split("train")[7], task.split("test")[7]
    assert not any((t == s).all() for t in test for s in train[:0]) and len(train) > 2 * len(test)
    inputs, targets, scored = task.examples("test")
    assert len(inputs) == sum(len(v) for v in task.split("test").values())


def test_generative_digits_start_with_the_label_and_score_the_pixels():
    task = make_task("digits01-gen")
    inputs, targets, scored = task.batch(RNG, 2)
    assert inputs.shape == (4, 65) and (targets == inputs).all()
    np.testing.assert_array_equal(inputs[:, 0], [0, 0, 1, 1])
    assert scored.all()


# --- constraints: one test each ---------------------------------------------------------------

def _error(**fields):
    with pytest.raises(ConfigError) as error:
        QRNNConfig(**fields).validate()
    return str(error.value)


def test_simple_seq_allows_only_two_rows_over_shards_and_batch():
    assert _error(dataset="simple-seq", batch_size=2, num_shards=2) == (
        "(--num_shards, --batch_size) must be one of [(2, 1), (1, 2)] for simple-seq, got (2, 2)")


def test_simple_quotes_needs_six_rows():
    assert _error(dataset="simple-quotes", batch_size=2, num_shards=2).startswith(
        "--batch_size must be 6 / --num_shards for simple-quotes")


def test_unknown_dataset():
    assert _error(dataset="mnist01").startswith("--dataset must be one of simple-seq,")


def test_dna_needs_a_sentence_of_four():
    assert _error(dataset="dna", sentence_length=3) == (
        "--sentence_length must be an integer >= 4 for dna, got 3")


def test_text_file_must_exist(tmp_path):
    assert _error(dataset="text", text_file=str(tmp_path / "missing.txt")).startswith(
        "--text_file must be a readable text file")


def test_text_file_only_with_the_text_dataset(tmp_path):
    assert _error(dataset="dna", text_file="x.txt").startswith("--text_file is only used by")


def test_text_shorter_than_the_sentence(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("abc")
    assert _error(dataset="text", text_file=str(path), sentence_length=8) == (
        "--sentence_length must be at most the text's length, 3 characters, got 8")


def test_too_many_qubits():
    assert _error(dataset="text", workspace=16) == (
        "--workspace must be at most 20 - 5 (the input width) qubits, got 16")


def test_degree_above_the_number_of_sources():
    assert _error(workspace=1, degree=4, dataset="elman-xor") == (
        "--degree must be at most the number of sources, 2, got 4")

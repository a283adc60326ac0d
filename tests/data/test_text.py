import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.data import TextOptions, TextTokenizer


@pytest.fixture
def vocabulary(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "bi", "##cycle", "a", "."])
    )
    return str(path)


def test_wordpiece_vocabulary_gives_bert_ids(vocabulary):
    tokenizer = TextTokenizer(TextOptions(sequence_length=8, vocabulary=vocabulary))
    out = tokenizer(tf.constant(["A red bicycle.", "Green"]))
    np.testing.assert_array_equal(
        out["token_ids"], [[2, 8, 5, 6, 7, 9, 3, 0], [2, 1, 3, 0, 0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(out["padding_mask"].numpy().sum(axis=1), [7, 3])
    assert tokenizer.vocabulary_size == 10


def test_builtin_tokenizer_is_deterministic_and_case_insensitive():
    tokenizer = TextTokenizer(TextOptions(sequence_length=6, hash_buckets=1000))
    a = tokenizer(tf.constant("Red bicycle, RED!"))["token_ids"].numpy()
    b = TextTokenizer(TextOptions(sequence_length=6, hash_buckets=1000))(
        tf.constant("red BICYCLE red")
    )["token_ids"].numpy()
    np.testing.assert_array_equal(a, b)
    assert a[0] == 2 and a[4] == 3 and a[5] == 0
    assert a[1] == a[3] != a[2] and all(4 <= t < 1000 for t in a[1:4])


def test_long_text_is_cut_and_unicode_words_survive():
    tokenizer = TextTokenizer(TextOptions(sequence_length=4))
    out = tokenizer(tf.constant("Ça été über naïve words"))
    assert out["token_ids"].shape == (4,) and out["token_ids"][-1] == 3
    assert bool(tf.reduce_all(out["padding_mask"]))


def test_works_inside_tf_data(vocabulary):
    tokenizer = TextTokenizer(TextOptions(sequence_length=5, vocabulary=vocabulary))
    ds = tf.data.Dataset.from_tensor_slices(["red", "a bicycle"]).map(tokenizer)
    assert [e["token_ids"].numpy().tolist() for e in ds] == [[2, 5, 3, 0, 0], [2, 8, 6, 7, 3]]


def test_options_are_validated(tmp_path):
    with pytest.raises(FileNotFoundError, match="vocabulary file"):
        TextOptions(vocabulary=str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="sequence_length must be at least 3"):
        TextOptions(sequence_length=2)

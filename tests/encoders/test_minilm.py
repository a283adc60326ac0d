from pathlib import Path

import numpy as np
import pytest
from pretrained import load_or_skip

from mmrec_tf.data import TextTokenizer

FIXTURE = Path(__file__).parent.parent / "fixtures" / "minilm_reference.npz"


@pytest.fixture(scope="module")
def minilm():
    from mmrec_tf.encoders import minilm

    return load_or_skip(lambda: minilm(sequence_length=256))


def test_matches_sentence_transformers(minilm):
    """Reference: sentence-transformers on the same weights (fixtures/make_reference_outputs.py)."""
    encoder, options = minilm
    reference = np.load(FIXTURE)
    tokens = TextTokenizer(options)(reference["sentences"].tolist())
    embeddings = encoder(tokens).numpy()
    np.testing.assert_allclose(embeddings, reference["embeddings"], atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    assert encoder.output_dim == 384


def test_similar_sentences_are_closer(minilm):
    encoder, options = minilm
    tokens = TextTokenizer(options)(
        ["a film about space travel", "astronauts fly to the moon", "a recipe for garlic bread"]
    )
    e = encoder(tokens).numpy()
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2

import numpy as np
import pytest
import tensorflow as tf
from quantization_reference import assert_reads_back, dequantized

from mmrec_tf.serving.vector_table import FUSED_PRODUCT_QUERIES, VectorTable


@pytest.mark.parametrize("quantize", [None, "float16", "int8"])
def test_products_combinations_rows_and_dense_read_the_stored_values(quantize):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype("float32")
    vectors[7] = 0.0  # a zero row keeps scale 1
    table = VectorTable(vectors, quantize)
    stored = dequantized(vectors, quantize)
    # Both products: the fused one (a few queries) and the widened table (many).
    for batch in (1, 3, FUSED_PRODUCT_QUERIES + 1):
        queries = rng.normal(size=(batch, 16)).astype("float32")
        products = tf.function(table.dot)(tf.constant(queries)).numpy()
        np.testing.assert_allclose(products, queries @ stored.T, rtol=1e-4, atol=1e-4)
        weights = rng.random((batch, 300)).astype("float32")
        combined = tf.function(table.combine)(tf.constant(weights)).numpy()
        np.testing.assert_allclose(combined, weights @ stored, rtol=1e-4, atol=1e-3)
    assert_reads_back(table, vectors, quantize)


def test_an_int8_table_is_stored_in_int8():
    table = VectorTable(np.ones((4, 2), "float32"), "int8")
    assert table.values.dtype == tf.int8 and table.scales.dtype == tf.float32


def test_an_unknown_quantization():
    with pytest.raises(ValueError, match="quantize must be one of"):
        VectorTable(np.ones((1, 2), "float32"), "int4")

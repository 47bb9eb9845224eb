"""train.optimizer=lazy_adam: Adam that moves only the rows of a lookup table that a batch uses."""
from __future__ import annotations

import numpy as np
import pytest


def lookup_model(rows: int, optimizer, dense: bool = False):
    """ids (batch, 3) -> sigmoid of the sum of their rows of a 1-D table read by lookup, as NaiveBayesLogit reads
    (a sparse gradient); dense: the same sum as one-hot rows times the table (a dense gradient)."""
    import keras
    import tensorflow as tf

    class Lookup(keras.layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(rows,), initializer="zeros", name="table")

        def call(self, ids):
            if dense:
                return keras.ops.sum(keras.ops.one_hot(ids, rows) * self.table, axis=(1, 2))[:, None]
            return keras.ops.sum(tf.gather(self.table.value, ids), axis=1, keepdims=True)

    inputs = keras.Input((3,), dtype="int32")
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(Lookup()(inputs)))
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    return model


def table_after(optimizer, batches, dense: bool = False) -> np.ndarray:
    model = lookup_model(10, optimizer, dense)
    for ids in batches:
        model.train_on_batch(np.array(ids, np.int32), np.ones(len(ids), np.float32))
    return model.layers[1].table.numpy()


def test_rows_a_batch_does_not_use_stay_where_they_are():
    """Adam keeps moving a row on its momentum after the batches stop using it; LazyAdam leaves it alone."""
    import keras

    from stages.lib.lazy_adam import LazyAdam

    batches = [[[1, 2, 3]], [[4, 5, 6]], [[4, 5, 6]]]  # rows 1-3 in the first step only
    lazy = table_after(LazyAdam(0.1), batches)
    dense = table_after(keras.optimizers.Adam(0.1), batches)
    first_step = table_after(LazyAdam(0.1), batches[:1])
    np.testing.assert_array_equal(lazy[1:4], first_step[1:4])
    assert (np.abs(dense[1:4]) > np.abs(first_step[1:4]) + 1e-3).all()  # Adam's momentum carried them on
    assert (lazy[[0, 7, 8, 9]] == 0).all() and (lazy[4:7] != 0).all()


def test_while_every_batch_uses_a_row_the_step_is_adams():
    import keras

    from stages.lib.lazy_adam import LazyAdam

    batches = [[[1, 2, 3], [4, 5, 6]]] * 4
    np.testing.assert_allclose(table_after(LazyAdam(0.05), batches),
                               table_after(keras.optimizers.Adam(0.05), batches), rtol=1e-6)


def test_a_row_met_twice_in_a_batch_gets_the_sum_of_its_gradients():
    """As Adam on the dense gradient. Keras' Adam on the sparse one squares each occurrence's gradient apart (its
    second moment sees g1^2 + g2^2, not (g1 + g2)^2), so its step for such a row differs: checked, so that this
    test can tell the two apart."""
    import keras

    from stages.lib.lazy_adam import LazyAdam

    batches = [[[1, 2, 3], [3, 3, 4]]] * 4
    reference = table_after(keras.optimizers.Adam(0.05), batches, dense=True)
    np.testing.assert_allclose(table_after(LazyAdam(0.05), batches), reference, rtol=1e-5)
    assert abs(table_after(keras.optimizers.Adam(0.05), batches)[3] - reference[3]) > 1e-2


def test_dense_gradients_take_adams_step():
    import keras

    from stages.lib.lazy_adam import LazyAdam

    def fit(optimizer):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=optimizer, loss="binary_crossentropy")
        x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
        model.fit(x, (x[:, 0] > 0).astype(np.float32), epochs=3, verbose=0, shuffle=False)
        return model.get_weights()

    for lazy, dense in zip(fit(LazyAdam(0.01)), fit(keras.optimizers.Adam(0.01))):
        np.testing.assert_array_equal(lazy, dense)

"""Adam that updates only the rows a batch uses, for weights read by lookup (embeddings, hashed n-gram weights).

Keras' Adam turns a lookup's sparse gradient into a dense update: every step decays the moments of, and moves,
all rows of a table, also the millions of n-gram rows the batch never saw. LazyAdam (as TensorFlow Addons' and
PyTorch's SparseAdam) updates the moments and the weights of the batch's rows only; dense gradients take Keras'
own Adam step. A row's moments then decay only on the steps that use it, which also changes the result a little.
"""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="imdb_embeddings")
class LazyAdam(keras.optimizers.Adam):
    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices) or self.amsgrad:  # AMSGrad's running maximum: Keras' step
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        rows, slot = tf.unique(gradient.indices)  # a row met twice in the batch gets the sum of its gradients
        grad = tf.math.unsorted_segment_sum(tf.cast(gradient.values, dtype), slot, tf.shape(rows)[0])
        step = tf.cast(self.iterations + 1, dtype)
        alpha = tf.cast(learning_rate, dtype) * tf.sqrt(1 - tf.pow(tf.cast(self.beta_2, dtype), step)) / (
            1 - tf.pow(tf.cast(self.beta_1, dtype), step))
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_rows = self.beta_1 * tf.gather(m.value, rows) + (1 - self.beta_1) * grad
        v_rows = self.beta_2 * tf.gather(v.value, rows) + (1 - self.beta_2) * tf.square(grad)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        self.assign_sub(variable, tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))

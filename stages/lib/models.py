"""The model zoo of `train.model`: the tutorials' architectures and a stronger fastText-style one.

Every model takes padded id sequences (batch, maxlen) and returns the probability of a positive review.
The first layer is always the word Embedding (named "embedding"), so `export` finds the trained vectors.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="imdb_embeddings")
class HashedBigrams(layers.Layer):
    """Appends to the word ids one id per adjacent pair, hashed into `buckets` ids after the vocabulary.

    As in the Keras fastText example, but computed inside the model, so the model that reads raw text gets
    the same bigrams for free. Pairs that touch padding become padding (0), and are masked downstream.
    """

    def __init__(self, vocab_size: int, buckets: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.buckets = vocab_size, buckets

    def call(self, ids):
        ids = ops.cast(ids, "int64")
        left, right = ids[:, :-1], ids[:, 1:]
        # A multiplicative hash of the pair; int64 cannot overflow for vocabularies below 2**31.
        pair = (left * 1_000_003 + right * 7_919) % self.buckets + self.vocab_size
        pair = ops.where((left == 0) | (right == 0), ops.zeros_like(pair), pair)
        return ops.cast(ops.concatenate([ids, pair], axis=1), "int32")

    def compute_output_shape(self, input_shape):
        batch, length = input_shape
        return (batch, None if length is None else 2 * length - 1)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "buckets": self.buckets}


@keras.saving.register_keras_serializable(package="imdb_embeddings")
class MaskedMean(layers.Layer):
    """Average over the time steps that are not masked (padding).

    GlobalAveragePooling1D divides by the number of unmasked steps, which is 0 for a review with no token
    left (emoji or punctuation only): 0 / 0 = NaN, and one NaN row poisons every weight. Here such a row
    averages to zeros, so the model falls back on its bias and still gives a probability.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return ops.mean(x, axis=1)
        weights = ops.cast(mask, x.dtype)[:, :, None]
        return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


class NonFiniteLossError(ArithmeticError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop training with an error, not a silent NaN model, as soon as a loss is not a finite number."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check((logs or {}).get("loss"), f"epoch {self.epoch + 1}, batch {batch + 1}: training loss")

    def on_epoch_end(self, epoch, logs=None):
        self._check((logs or {}).get("val_loss"), f"epoch {epoch + 1}: validation loss")

    @staticmethod
    def _check(value, where: str) -> None:
        if value is not None and not np.isfinite(float(value)):
            raise NonFiniteLossError(f"{where} is {float(value)}")


def build_model(name: str, vocab_size: int, dim: int, maxlen: int, dropout: float,
                embedding: np.ndarray | None, trainable: bool, bigram_buckets: int, seed: int) -> keras.Model:
    """Build (not compile) the model `name`; `embedding` (vocab_size x dim) initialises the word vectors."""
    masked = name in ("gap", "bilstm", "fasttext")  # Flatten and Conv1D would read the mask wrongly
    rows = vocab_size + (bigram_buckets if name == "fasttext" else 0)
    inputs = keras.Input(shape=(maxlen,), dtype="int32", name="token_ids")
    x = HashedBigrams(vocab_size, bigram_buckets, name="bigrams")(inputs) if name == "fasttext" else inputs
    embed = layers.Embedding(rows, dim, mask_zero=masked, trainable=trainable, name="embedding",
                             embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=seed))
    x = embed(x)
    if name == "flatten":      # Keras blog / Deep Learning with Python: Embedding -> Flatten -> Dense
        x = layers.Flatten()(x)
        x = layers.Dense(32, activation="relu")(x)
    elif name == "gap":        # TensorFlow word-embeddings tutorial
        x = MaskedMean(name="average")(x)
        x = layers.Dense(16, activation="relu")(x)
    elif name == "cnn":
        x = layers.Dropout(dropout, seed=seed)(x)
        x = layers.Conv1D(128, 5, activation="relu")(x)
        x = layers.GlobalMaxPooling1D()(x)
    elif name == "bilstm":
        x = layers.Bidirectional(layers.LSTM(32, seed=seed))(x)
    elif name == "fasttext":   # Keras fastText example: average of word and bigram vectors
        x = MaskedMean(name="average")(x)
    x = layers.Dropout(dropout, seed=seed)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="positive")(x)
    model = keras.Model(inputs, outputs, name=name)
    if embedding is not None:
        weights = embed.get_weights()[0]
        weights[:vocab_size] = embedding  # bigram rows (fasttext) keep their random start
        embed.set_weights([weights])
    return model

"""The model zoo of `train.model`: the tutorials' architectures, a fastText-style one and `nb_fasttext`, which adds
to fastText a tower of naive-Bayes-weighted n-grams (NBSVM, Wang & Manning 2012, as a Keras layer).

Every model takes padded id sequences (batch, maxlen) and returns the probability of a positive review.
The first layer is always the word Embedding (named "embedding"), so `export` finds the trained vectors.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from stages.lib.arrays import as_rows


# The models that mask padding: a review's probability does not depend on how much padding surrounds its ids
# (Flatten and Conv1D read every position, padding included).
MASKED = ("gap", "bilstm", "fasttext", "nb_fasttext")


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


@keras.saving.register_keras_serializable(package="imdb_embeddings")
class HashedNgrams(layers.Layer):
    """The set of word n-grams (1 to `orders` words) of each review, as ids: words keep their vocabulary id,
    longer n-grams are hashed into `buckets` ids after the vocabulary. Each n-gram appears once per review
    (binary features, as in NBSVM); repeats and n-grams that touch padding become 0. The ids come sorted, so
    the order of the set is fixed.
    """

    def __init__(self, vocab_size: int, buckets: int, orders: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.buckets, self.orders = vocab_size, buckets, orders

    def call(self, ids):
        ids = ops.cast(ids, "int64")
        grams, hashed, touches_padding = [ops.cast(ids, "int32")], ids, ids == 0
        for n in range(2, self.orders + 1):
            last = ids[:, n - 1:]
            # A rolling multiplicative hash of the n ids; modulo a prime below 2**31, so int64 never overflows.
            hashed = (hashed[:, :-1] * 1_000_003 + last * 7_919 + n) % 2_147_483_647
            touches_padding = touches_padding[:, :-1] | (last == 0)
            gram = ops.cast(hashed % self.buckets + self.vocab_size, "int32")  # the layer's output type
            grams.append(ops.where(touches_padding, ops.zeros_like(gram), gram))
        # sorted as int32: the same order as int64, in two thirds of the time (the sort is most of the layer's)
        ngrams = ops.sort(ops.concatenate(grams, axis=1), axis=1)
        repeat = ops.concatenate([ops.zeros_like(ngrams[:, :1]) > 0, ngrams[:, 1:] == ngrams[:, :-1]], axis=1)
        return ops.where(repeat, ops.zeros_like(ngrams), ngrams)

    def compute_output_shape(self, input_shape):
        batch, length = input_shape
        return (batch, None if length is None else self.orders * length - self.orders * (self.orders - 1) // 2)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "buckets": self.buckets,
                "orders": self.orders}


@keras.saving.register_keras_serializable(package="imdb_embeddings")
class NaiveBayesLogit(layers.Layer):
    """Sum over a review's n-gram ids of r[id] * w[id]: NBSVM's logistic regression on NB-scaled binary features.

    r, the naive-Bayes log-count ratio of each n-gram, is fixed from the training reviews (`set_ratios`); w is
    learned, starts at 0 and is pulled to 0 by an L2 penalty, as the C of a logistic regression does. Id 0
    (padding, repeats) has r = 0, so it adds nothing.
    """

    def __init__(self, rows: int, l2: float, scale_ngrams: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rows, self.l2, self.scale_ngrams = rows, l2, scale_ngrams

    def build(self, input_shape):
        self.ratios = self.add_weight(shape=(self.rows,), initializer="zeros", trainable=False, name="ratios")
        self.weights_ = self.add_weight(shape=(self.rows,), initializer="zeros", name="weights",
                                        regularizer=keras.regularizers.L2(self.l2) if self.l2 else None)

    def call(self, ngrams):
        # tf.gather on the variable reads only the rows it needs; ops.take would read the whole table first, which
        # TensorFlow copies on every step once an optimizer writes single rows of it (LazyAdam): 4x slower at 8M rows
        weights = tf.gather(self.weights_.value, ngrams)
        total = ops.sum(ops.take(self.ratios, ngrams) * weights, axis=1, keepdims=True)
        if self.scale_ngrams:  # as an L2-normalised row of binary features, times sqrt(scale_ngrams)
            count = ops.sum(ops.cast(ngrams > 0, total.dtype), axis=1, keepdims=True)
            total = total * ops.sqrt(self.scale_ngrams / ops.maximum(count, 1.0))
        return total

    def set_ratios(self, ratios: np.ndarray) -> None:
        self.ratios.assign(ratios.astype("float32"))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "rows": self.rows, "l2": self.l2, "scale_ngrams": self.scale_ngrams}


def naive_bayes_ratios(batches, rows: int, alpha: float) -> np.ndarray:
    """NBSVM's log-count ratios r = log((p / |p|) / (q / |q|)), p and q being alpha plus how many positive and
    negative reviews hold each n-gram; r = 0 for ids no training review holds (and for id 0).

    `batches` yields (n-gram ids of a batch of reviews, their 0/1 labels); counts are summed batch by batch.
    """
    positive, negative = np.zeros(rows, np.int64), np.zeros(rows, np.int64)
    for ids, y in batches:  # unweighted counts: half the time of counting with 0/1 weights
        positive += np.bincount(ids[y == 1].ravel(), minlength=rows)
        negative += np.bincount(ids[y != 1].ravel(), minlength=rows)
    seen = positive + negative > 0
    seen[0] = False
    p, q = positive[seen] + alpha, negative[seen] + alpha
    ratios = np.zeros(rows, np.float32)
    ratios[seen] = np.log(p / p.sum()) - np.log(q / q.sum())
    return ratios


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
                embedding: np.ndarray | None, trainable: bool, bigram_buckets: int, seed: int,
                ngram_buckets: int = 0, ngram_orders: int = 3, nb_l2: float = 0.0,
                nb_scale_ngrams: int | None = None) -> keras.Model:
    """Build (not compile) the model `name`; `embedding` (vocab_size x dim) initialises the word vectors.

    nb_fasttext's naive-Bayes ratios start at 0: `fit_naive_bayes` sets them from the training reviews.
    """
    fasttext = name in ("fasttext", "nb_fasttext")
    masked = name in MASKED
    inputs = keras.Input(shape=(maxlen,), dtype="int32", name="token_ids")
    bigrams = fasttext and bigram_buckets > 0  # 0: the word vectors alone
    rows = vocab_size + (bigram_buckets if bigrams else 0)
    x = HashedBigrams(vocab_size, bigram_buckets, name="bigrams")(inputs) if bigrams else inputs
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
    elif fasttext:             # Keras fastText example: average of word and bigram vectors
        x = MaskedMean(name="average")(x)
    x = layers.Dropout(dropout, seed=seed)(x)
    if name == "nb_fasttext":  # two towers, one logit each, added: fastText's and NBSVM's
        ngrams = HashedNgrams(vocab_size, ngram_buckets, ngram_orders, name="ngrams")(inputs)
        nb = NaiveBayesLogit(vocab_size + ngram_buckets, nb_l2, nb_scale_ngrams, name="naive_bayes")(ngrams)
        x = layers.Add(name="logits")([layers.Dense(1, name="word_logit")(x), nb])
        outputs = layers.Dense(1, activation="sigmoid", name="positive",
                               kernel_initializer="ones", bias_initializer="zeros")(x)
    else:
        outputs = layers.Dense(1, activation="sigmoid", name="positive")(x)
    model = keras.Model(inputs, outputs, name=name)
    if embedding is not None:
        weights = embed.get_weights()[0]
        weights[:vocab_size] = embedding  # bigram rows (fasttext) keep their random start
        embed.set_weights([weights])
    return model


def fit_naive_bayes(model: keras.Model, x, y: np.ndarray, alpha: float, rows: np.ndarray | None = None,
                    batch: int = 1024) -> None:
    """Set nb_fasttext's naive-Bayes ratios from the training reviews: padded ids x (an array, or a .npy file
    read `batch` rows at a time), labels y, and which rows count (default: all)."""

    x = as_rows(x)
    rows = np.arange(len(x)) if rows is None else rows
    ngrams, nb = model.get_layer("ngrams"), model.get_layer("naive_bayes")
    batches = ((np.asarray(ngrams(x.take(rows[i:i + batch]))), y[rows[i:i + batch]]) for i in range(0, len(rows), batch))
    nb.set_ratios(naive_bayes_ratios(batches, nb.rows, alpha))

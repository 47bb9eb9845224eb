"""nb_fasttext's parts: the n-gram set of a review, the naive-Bayes ratios, and that they come from training rows only."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_params import with_change


def ngram_sets(row: np.ndarray, orders: int) -> set[tuple]:
    """Reference: the distinct n-grams (1..orders) of a padded row, none of them touching padding."""
    return {tuple(row[i:i + n]) for n in range(1, orders + 1) for i in range(len(row) - n + 1)
            if (row[i:i + n] != 0).all()}


@pytest.mark.parametrize("orders", [1, 2, 3])
def test_hashed_ngrams_are_the_set_of_ngrams_of_each_review(orders):
    from stages.lib.models import HashedNgrams

    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, size=(20, 15)).astype(np.int32)  # few words: many repeated n-grams
    x[:, 11:] = 0
    x[3] = 0  # a review with no token at all
    ids = np.asarray(HashedNgrams(6, 10_000_019, orders)(x))
    assert ids.shape[1] == sum(15 - n + 1 for n in range(1, orders + 1))
    for row, out in zip(x, ids):
        kept = out[out != 0]
        assert (np.diff(kept) > 0).all()  # sorted, each n-gram once: binary features
        assert len(kept) == len(ngram_sets(row, orders))  # the bucket count makes collisions improbable
        assert set(kept[kept < 6].tolist()) == {w for w in row.tolist() if w}  # words keep their own ids
    assert (ids[3] == 0).all()


def test_hashed_ngrams_do_not_depend_on_padding_length():
    from stages.lib.models import HashedNgrams

    row = np.array([[4, 2, 9, 2, 4, 2]], dtype=np.int32)
    short = np.asarray(HashedNgrams(10, 1000, 3)(row))
    long = np.asarray(HashedNgrams(10, 1000, 3)(np.pad(row, ((0, 0), (0, 7)))))
    assert sorted(short[short > 0].tolist()) == sorted(long[long > 0].tolist())


def test_naive_bayes_ratios_by_hand():
    from stages.lib.models import naive_bayes_ratios

    # id 1 only in positive reviews, id 2 only in negative ones, id 3 in both, id 4 in none; 0 is padding
    ids = np.array([[1, 3, 0], [1, 0, 0], [2, 3, 0]])
    y = np.array([1, 1, 0])
    r = naive_bayes_ratios([(ids[:2], y[:2]), (ids[2:], y[2:])], rows=5, alpha=1.0)
    p = np.array([2 + 1, 0 + 1, 1 + 1])  # positive counts + alpha of ids 1, 2, 3
    q = np.array([0 + 1, 1 + 1, 1 + 1])
    expected = np.log(p / p.sum()) - np.log(q / q.sum())
    np.testing.assert_allclose(r[1:4], expected, rtol=1e-6)
    assert r[0] == 0 and r[4] == 0
    assert r[1] > r[3] > r[2]


def test_naive_bayes_ratios_come_from_the_training_rows_only(default_params):
    """A word that occurs only in the validation rows gets no ratio: the validation split stays unseen."""
    from stages.train import split_train_validation, train

    rng = np.random.default_rng(0)
    x = rng.integers(2, 40, size=(80, 10)).astype(np.int32)
    y = (x[:, 0] > 20).astype(np.int32)
    params = with_change(default_params, "train.model", "nb_fasttext")
    params["train"].update(epochs=1, batch_size=16, bigram_buckets=100, ngram_buckets=1000, ngram_orders=2)
    _, val = split_train_validation(len(x), params["train"]["validation_split"], None, params["seed"])
    x[val, 0] = 45  # word 45 in the validation rows only
    x[val[0], 1] = 46
    model, _ = train(params, x, y, rng.normal(size=(50, 50)).astype(np.float32))
    ratios = model.get_layer("naive_bayes").ratios.numpy()
    assert ratios[45] == 0 and ratios[46] == 0
    assert np.count_nonzero(ratios[2:40]) > 20  # training words do get ratios


@pytest.mark.parametrize("decay", [1.0, 0.5])
def test_the_learning_rate_decays_once_per_epoch(default_params, decay):
    """train.lr_decay multiplies the learning rate after each epoch, not after each step: after 3 epochs of
    5 steps the rate is learning_rate * decay ** 3 (1.0: the rate stays where it started)."""
    from stages.train import train

    rng = np.random.default_rng(0)
    x = rng.integers(2, 40, size=(89, 10)).astype(np.int32)  # 80 training rows after the 10% validation carve
    y = (x[:, 0] > 20).astype(np.int32)
    params = with_change(default_params, "train.model", "fasttext")
    params["train"].update(epochs=3, patience=None, batch_size=16, learning_rate=0.01, lr_decay=decay)
    model, history = train(params, x, y, rng.normal(size=(50, 50)).astype(np.float32))
    assert len(history["loss"]) == 3 and int(model.optimizer.iterations.numpy()) == 3 * 5
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01 * decay ** 3)


def test_nb_fasttext_saves_and_loads(tmp_path, default_params):
    import keras

    from stages.lib.models import build_model, fit_naive_bayes

    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, size=(32, 12)).astype(np.int32)
    y = (x[:, 0] % 2).astype(np.int32)
    model = build_model("nb_fasttext", 50, 8, 12, 0.1, None, True, 100, 1, 1000, 3, 1e-4, nb_scale_ngrams=16)
    fit_naive_bayes(model, x, y, 1.0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.get_layer("naive_bayes").ratios.numpy(),
                                  model.get_layer("naive_bayes").ratios.numpy())
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert again.get_layer("naive_bayes").scale_ngrams == 16


def test_the_naive_bayes_logit_is_scaled_as_an_l2_normalised_row():
    """sum(r * w) over a review's n-grams, times sqrt(scale / its number of n-grams): a review of 4 n-grams and
    one of 16 with the same sum per n-gram get logits in the ratio sqrt(16 / 4) / (16 / 4) = 1 / 2."""
    from stages.lib.models import NaiveBayesLogit

    layer = NaiveBayesLogit(rows=20, l2=0.0, scale_ngrams=16)
    layer.build((None, 16))
    ratios = np.ones(20, np.float32)
    ratios[0] = 0  # as naive_bayes_ratios gives: padding and repeats add nothing
    layer.set_ratios(ratios)
    layer.weights_.assign(np.full(20, 0.5, np.float32))
    short = np.array([[1, 2, 3, 4] + [0] * 12], np.int32)  # 4 n-grams, padding (id 0) is not one
    long = np.arange(1, 17, dtype=np.int32)[None, :]
    logits = np.asarray(layer(np.concatenate([short, long])))[:, 0]
    np.testing.assert_allclose(logits, [2.0 * np.sqrt(16 / 4), 8.0 * np.sqrt(16 / 16)], rtol=1e-6)
    empty = np.asarray(layer(np.zeros((1, 16), np.int32)))
    assert np.isfinite(empty).all() and empty[0, 0] == 0  # no n-gram at all: 0, not 0/0
    plain = NaiveBayesLogit(rows=20, l2=0.0)
    plain.build((None, 16))
    plain.set_ratios(ratios)
    plain.weights_.assign(np.full(20, 0.5, np.float32))
    np.testing.assert_allclose(np.asarray(plain(long))[:, 0], [8.0])  # null: the plain sum, as NBSVM

"""The layer that lets the exported model read raw review strings.

It runs the pipeline's own tokenizer (stages.lib.text: same standardisation, same vocabulary) inside the
model, then cuts and pads to `maxlen` exactly as the `pad` stage does (pre or post), so the served model
sees the ids that training saw. TensorFlow backend only, as is Keras' TextVectorization.
"""
from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from stages.lib.files import write_bytes

from stages.lib.text import make_vectorizer, tf_standardize

# The standardisation is a plain function; registering it lets a saved model find it again.
keras.saving.register_keras_serializable(package="imdb_embeddings", name="tf_standardize")(tf_standardize)


@keras.saving.register_keras_serializable(package="imdb_embeddings")
class RawTextToIds(keras.layers.Layer):
    def __init__(self, vocabulary: list[str], maxlen: int, padding: str = "post", truncating: str = "post",
                 **kwargs):
        super().__init__(**kwargs)
        self.vocabulary, self.maxlen, self.padding, self.truncating = list(vocabulary), maxlen, padding, truncating
        self.vectorizer = make_vectorizer(self.vocabulary)

    def build(self, input_shape=None):  # nothing to create: the vocabulary was set in __init__
        self.built = True

    def call(self, texts):
        ids = self.vectorizer(tf.reshape(texts, [-1]))  # ragged (batch, tokens)
        ids = ids[:, -self.maxlen:] if self.truncating == "pre" else ids[:, :self.maxlen]
        if self.padding == "pre":  # pad at the front: reverse, pad at the end, reverse back
            return tf.reverse(tf.reverse(ids, axis=[1]).to_tensor(0, shape=[None, self.maxlen]), axis=[1])
        return ids.to_tensor(0, shape=[None, self.maxlen])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.maxlen)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "maxlen": self.maxlen,
                "padding": self.padding, "truncating": self.truncating}


def raw_text_model(model: keras.Model, vocabulary: list[str], maxlen: int, padding: str, truncating: str):
    """Wrap a trained ids -> probability model into a raw string -> probability model."""
    texts = keras.Input(shape=(1,), dtype="string", name="review")
    ids = RawTextToIds(vocabulary, maxlen, padding, truncating, name="text_to_ids")(texts)
    return keras.Model(texts, model(ids), name="raw_text_" + model.name)


class _Serving(tf.Module):
    """What the SavedModel holds: the raw-text model (its variables tracked by attribute name) and one function."""

    def __init__(self, raw_model: keras.Model):
        super().__init__()
        self.model = raw_model
        self.ids = raw_model.get_layer("text_to_ids")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(self, texts):
        column = texts[:, None]
        return {"probability": self.model(column, training=False)[:, 0],
                "no_known_word": tf.reduce_all(self.ids(column) <= 1, axis=1)}


def export_saved_model(raw_model: keras.Model, folder) -> None:
    """Write `raw_model` as a TensorFlow SavedModel that needs neither Keras nor this project to load.

    Signature `serving_default` (also `serve`): `texts`, a batch of review strings, to `probability` and
    `no_known_word` (the review had no word of the vocabulary, so its probability is only the model's prior).
    TensorFlow Serving and `tf.saved_model.load` read it as it is.
    """
    module = _Serving(raw_model)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve, "serve": module.serve})
    _fix_fingerprint_uuid(Path(folder) / "fingerprint.pb")


def _fix_fingerprint_uuid(path: Path) -> None:
    """fingerprint.pb carries a random uuid; derive it from the content hashes so equal models give equal bytes."""
    from tensorflow.core.protobuf import fingerprint_pb2  # TensorFlow takes seconds to import

    fingerprint = fingerprint_pb2.FingerprintDef()
    fingerprint.ParseFromString(path.read_bytes())
    fingerprint.uuid = str(fingerprint.saved_model_checksum ^ fingerprint.checkpoint_hash)
    write_bytes(path, fingerprint.SerializeToString(deterministic=True))

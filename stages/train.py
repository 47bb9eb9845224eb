"""Stage `train`: fit the model chosen by `train.model` on the padded training reviews.

A seeded validation split carved from the training data drives early stopping (best weights restored);
the test set is never looked at. Training is deterministic on a CPU (seeded, deterministic ops), so the same
params give the same model and metrics. DVCLive logs loss and accuracy per epoch to reports/train/, which
dvc.yaml declares as plots and metrics.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys

import numpy as np

from stages.lib import catalog
from stages.lib.files import atomic_dir, write_json
from stages.lib.arrays import as_rows
from stages.lib.keras_files import save_keras_reproducibly
from stages.lib.loop import build_for_training, fit
from stages.lib.params import load_params
from stages.lib.progress import QUIET

READS = (catalog.PADDED_X, catalog.PADDED_Y, catalog.EMBEDDING_MATRIX)
WRITES, ENGINE = (catalog.MODEL, catalog.TRAIN_METRICS, catalog.TRAIN_PLOTS), False
LIVE_DIR = catalog.TRAIN_METRICS.path.parent  # DVCLive's folder: the metrics and the plots, written whole


def split_train_validation(n: int, validation_split: float, max_train_samples: int | None, seed: int):
    """Seeded indices (train, validation) into n rows; max_train_samples caps the training part."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * validation_split))
    train, val = order[n_val:], order[:n_val]
    if max_train_samples is not None:
        train = train[:max_train_samples]
    return np.sort(train), np.sort(val)


def make_deterministic(seed: int) -> None:
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import keras  # Keras imports TensorFlow
    import tensorflow as tf  # TensorFlow takes seconds to import

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def strategy_for(name: str, peer_timeout: int = 60):
    """The tf.distribute strategy of `train.distribute`: none (TensorFlow's default, one device), mirrored (a
    replica per local GPU, or per logical CPU device when there is no GPU) or multi_worker (one per machine
    listed in the TF_CONFIG environment variable, each mirroring over its own devices; `peer_timeout` bounds the
    wait for them, see bound_peer_waits)."""
    import tensorflow as tf  # TensorFlow takes seconds to import

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy(devices=[d.name for d in gpus or tf.config.list_logical_devices("CPU")])
    if "TF_CONFIG" not in os.environ:
        raise SystemExit("train: train.distribute is multi_worker, but TF_CONFIG is not set; it lists the machines "
                         "and this one's index (see the README, 'Training on several devices')")
    bound_peer_waits(peer_timeout)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError):  # the cluster never gathered
        raise SystemExit(f"train: not every machine of TF_CONFIG ({', '.join(peers())}) joined within "
                         f"{peer_timeout} s (train.peer_timeout); start `python -m stages train` on each of them, "
                         "with the same params") from None


def tf_config() -> dict:
    """TF_CONFIG, the machines of a multi_worker run and this one's place among them ({} when unset)."""
    return json.loads(os.environ.get("TF_CONFIG") or "{}")


def peers() -> list[str]:
    """The addresses TF_CONFIG lists, chief first."""
    cluster = tf_config().get("cluster") or {}
    return [address for job in ("chief", "worker") for address in cluster.get(job, [])]


def bound_peer_waits(seconds: int) -> None:
    """MultiWorkerMirroredStrategy sets up TensorFlow's coordination service (run by the chief) with its defaults:
    an hour for every machine to register, 10 s of missed heartbeats before a machine counts as lost. Set it up
    here first, with `train.peer_timeout` for both; the strategy then keeps this one (it configures the service only
    when none is). The same call and settings as the strategy's own, but for the two timeouts."""
    import tensorflow as tf  # TensorFlow takes seconds to import
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2  # TensorFlow: seconds to import
    from tensorflow.python.distribute import multi_worker_util  # TensorFlow: seconds to import
    from tensorflow.python.eager import context  # TensorFlow: seconds to import

    cluster = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
            for job in ("chief", "worker") if job in cluster.jobs]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster),
        coordinated_jobs=jobs, cluster_register_timeout_in_ms=seconds * 1000, heartbeat_timeout_in_ms=seconds * 1000)
    context.context().coordination_service.cluster_register_with_barrier = True  # else the register wait is unbounded


@contextlib.contextmanager
def peer_loss_is_a_message(distribute: str, seconds: int):
    """A multi_worker machine that dies or falls silent mid-training aborts TensorFlow's collectives on the others
    (an UnavailableError deep in the step, about 50 lines of trace): one line naming the lost machine instead."""
    import tensorflow as tf  # TensorFlow takes seconds to import

    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
            tf.errors.FailedPreconditionError) as error:
        if distribute != "multi_worker":
            raise
        raise SystemExit(f"train: {lost_peer(str(error.message))} of the multi_worker cluster stopped answering (a "
                         f"machine silent for {seconds} s, train.peer_timeout, counts as lost); no model was written, "
                         f"{catalog.MODEL.path} is the last one trained") from None


def lost_peer(message: str) -> str:
    """The machine TensorFlow's message blames, with its TF_CONFIG address: the task it names
    (`/job:worker/replica:0/task:1`, not this one's own devices), or, when this machine's heartbeats to the
    coordination service went unanswered, the chief, which runs that service."""
    config = tf_config()
    cluster, task = config.get("cluster") or {}, config.get("task") or {}
    blamed = re.findall(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)(?!/device)", message)
    if "CoordinationService/Heartbeat" in message:
        blamed = [("chief", "0")] if "chief" in cluster else [("worker", "0")]
    for job, index in blamed:
        addresses = cluster.get(job) or []
        if int(index) < len(addresses) and (job, int(index)) != (task.get("type"), task.get("index")):
            return f"{job} {index} ({addresses[int(index)]})"
    return f"a machine ({', '.join(peers())})"


def refuse_a_stray_cluster(distribute: str) -> None:
    """TF_CONFIG names a cluster of machines, which only multi_worker uses: with any other train.distribute
    this process would train alone and, as a non-chief worker, write no model. An error naming both."""
    if distribute != "multi_worker" and os.environ.get("TF_CONFIG"):
        raise SystemExit(f"train: TF_CONFIG is set (it names a cluster of machines), but train.distribute is "
                         f"{distribute}: set train.distribute: multi_worker to train across them, or unset TF_CONFIG "
                         "to train in this process alone")


def is_chief() -> bool:
    """Whether this process writes the outputs: always, except on the non-chief workers of multi_worker."""
    config = tf_config()
    task = config.get("task") or {}
    if not task:
        return True
    chief_listed = "chief" in (config.get("cluster") or {})
    return task.get("type") == "chief" or (not chief_listed and task.get("type") == "worker" and task.get("index") == 0)


def batches(x, y: np.ndarray, rows: np.ndarray, batch_size: int, shuffle_seed: int | None = None):
    """A tf.data pipeline of (ids, labels) batches of the given rows; reshuffled every epoch when a seed is given.

    x is an array or a RowReader over the padded .npy file: each batch reads just its rows from disk, so the
    training matrix is never copied into memory (only labels and row numbers are, about 32 bytes a review).
    The shuffle is of row numbers and seeded, and the map runs in order, so the batches are the same every run.
    (Keras' own input path for NumPy arrays uses a parallel map that TensorFlow's op determinism rewrites,
    with an alarming error line.)
    """
    import tensorflow as tf  # TensorFlow takes seconds to import


    x = as_rows(x)
    labels = y.astype(np.float32)

    def take(indices):
        return x.take(indices), labels[indices]

    def read(indices):
        ids, target = tf.numpy_function(take, [indices], (tf.as_dtype(x.dtype), tf.float32), stateful=False)
        return tf.ensure_shape(ids, (None, *x.shape[1:])), tf.ensure_shape(target, (None,))

    order = tf.data.Dataset.from_tensor_slices(rows.astype(np.int64))
    if shuffle_seed is not None:
        order = order.shuffle(len(rows), seed=shuffle_seed, reshuffle_each_iteration=True)
    options = tf.data.Options()  # several workers: each takes its share of the batches (the data is not in files)
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return order.batch(batch_size).map(read).prefetch(2).with_options(options)


def train(params: dict, x, y: np.ndarray, matrix: np.ndarray, callbacks=(), step=QUIET):
    """Build, compile and fit the model on x (padded ids: an array or a .npy path read batch by batch) and
    labels y; returns (model, history dict). `step` names what happens before Keras' own progress takes over."""
    step("importing TensorFlow")
    import keras  # Keras imports TensorFlow

    from stages.lib.lazy_adam import LazyAdam  # imports Keras
    from stages.lib.models import StopOnNonFiniteLoss, build_model, fit_naive_bayes

    cfg, emb = params["train"], params["embedding"]
    make_deterministic(params["seed"])
    x = as_rows(x)
    train_idx, val_idx = split_train_validation(len(x), cfg["validation_split"], cfg["max_train_samples"],
                                                params["seed"])
    strategy = strategy_for(cfg["distribute"], cfg["peer_timeout"])
    with strategy.scope():  # variables live on every replica; batches are split among them
        step(f"building {cfg['model']}")
        model = build_model(cfg["model"], matrix.shape[0], matrix.shape[1], x.shape[1], cfg["dropout"],
                            matrix if emb["pretrained"] else None, emb["trainable"], cfg["bigram_buckets"],
                            params["seed"], cfg["ngram_buckets"], cfg["ngram_orders"], cfg["nb_l2"],
                            cfg["nb_scale_ngrams"])
        if cfg["model"] == "nb_fasttext":  # naive-Bayes ratios from the training part only, never the validation part
            step(f"counting the naive-Bayes ratios of {len(train_idx):,} training reviews")
            fit_naive_bayes(model, x, y, cfg["nb_alpha"], rows=train_idx)
        steps = math.ceil(len(train_idx) / cfg["batch_size"])
        rate = cfg["learning_rate"] if cfg["lr_decay"] == 1 else keras.optimizers.schedules.ExponentialDecay(
            cfg["learning_rate"], decay_steps=steps, decay_rate=cfg["lr_decay"], staircase=True)  # per epoch
        optimizer = LazyAdam(rate) if cfg["optimizer"] == "lazy_adam" else keras.optimizers.Adam(rate)
        model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
        build_for_training(model, *next(iter(batches(x, y, train_idx[:1], 1))))
    # patience null: no early stopping, every epoch runs and the last one's weights are kept (the tutorials' way)
    stop = [] if cfg["patience"] is None else [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg["patience"], restore_best_weights=True)]
    step.close()  # Keras draws its own progress from here: a bar per epoch on a terminal, a line per epoch in logs
    history = fit(model, strategy, batches(x, y, train_idx, cfg["batch_size"], params["seed"]),
                  batches(x, y, val_idx, cfg["batch_size"]), cfg["epochs"], steps,
                  callbacks=[StopOnNonFiniteLoss(), *stop, *callbacks], verbose=1 if sys.stdout.isatty() else 2)
    return model, history


def best_epoch_metrics(history: dict, early_stopping: bool = True) -> dict:
    """The metrics of the epoch whose weights were kept, in DVCLive's layout, plus how many epochs ran: with early
    stopping the epoch of the lowest validation loss (the first if tied), without it the last."""
    best = int(np.argmin(history["val_loss"])) if early_stopping else len(history["loss"]) - 1
    return {"train": {"accuracy": float(history["accuracy"][best]), "loss": float(history["loss"][best])},
            "eval": {"accuracy": float(history["val_accuracy"][best]), "loss": float(history["val_loss"][best])},
            "step": best, "epochs_run": len(history["loss"])}


def main(params: dict, step=QUIET) -> None:
    refuse_a_stray_cluster(params["train"]["distribute"])
    if params["train"]["distribute"] == "multi_worker":  # a lost peer is one line from us, not TensorFlow's C++ lines
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # (read when TensorFlow is imported, below)
    step("importing DVCLive")
    from dvclive import Live  # DVCLive imports DVC: only training logs
    from dvclive.keras import DVCLiveCallback  # DVCLive imports DVC: only training logs

    from stages.lib.models import NonFiniteLossError  # imports Keras

    x, y = catalog.PADDED_X.of("train"), np.load(catalog.PADDED_Y.of("train"))  # x is read batch by batch
    matrix = np.load(catalog.EMBEDDING_MATRIX.path)
    lost = peer_loss_is_a_message(params["train"]["distribute"], params["train"]["peer_timeout"])
    if not is_chief():  # another machine of a multi_worker run: it trains its share, the chief writes the outputs
        with lost:
            _, history = train(params, x, y, matrix, step=step)
        print(f"train: worker done after {len(history['loss'])} epochs; the chief writes the model")
        return
    # DVCLive logs into a temporary folder that replaces reports/train only when training succeeded.
    with atomic_dir(LIVE_DIR) as live_dir:
        # dvcyaml=False: the stage must not rewrite dvc.yaml; our plots and metrics are declared there already.
        live = Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False)
        try:
            with lost:
                model, history = train(params, x, y, matrix, callbacks=[DVCLiveCallback(live=live)], step=step)
        except NonFiniteLossError as e:
            raise SystemExit(f"train: stopped, {e}; no model was written. Try a lower train.learning_rate, "
                             "and look for reviews without any token in validate_features' report") from None
        step.resume(f"saving the model -> {catalog.MODEL.path}")  # seconds, after Keras' last line
        best = best_epoch_metrics(history, early_stopping=params["train"]["patience"] is not None)
        # DVCLive wrote the last epoch's; the model is the best's
        write_json(live_dir / catalog.TRAIN_METRICS.path.name, best)
        save_keras_reproducibly(model, catalog.MODEL.path)
    best = best["step"]
    print(f"train: {params['train']['model']}, {len(history['loss'])} epochs, best epoch {best + 1}: "
          f"val_loss {history['val_loss'][best]:.4f}, val_accuracy {history['val_accuracy'][best]:.4f}")


if __name__ == "__main__":
    main(load_params())

"""The training loop of `train`, the same for every `train.distribute` strategy (none, mirrored, multi_worker).

Keras 3's `Model.fit` cannot train under MultiWorkerMirroredStrategy: its first step reduces the input batch and
the step's logs with cross-worker calls that fail (keras-team/keras#20585). This loop keeps everything of `fit`
that does the learning, Keras' own `train_step` and `test_step` (the same loss, regularisation, optimizer and
metrics), and its callbacks (progress bar, early stopping, DVCLive), and replaces only the iteration: each step runs
`train_step` on every replica with `strategy.run`, and the logs are the model's metrics read in cross-replica
context, where Keras' metric variables (synchronised on read, summed) hold the totals of every worker. So every
worker sees the same validation loss and stops at the same epoch.
"""
from __future__ import annotations

from stages import stop_if_interrupted


def fit(model, strategy, train, validation, epochs: int, steps: int, callbacks=(), verbose: int = 1) -> dict:
    """Train a compiled `model` (built under `strategy.scope()`) on the tf.data datasets `train` and
    `validation` (global batches of (ids, labels)); returns the history, as `Model.fit` does. `steps` is the
    number of training batches in an epoch, for the progress bar."""
    import keras  # Keras imports TensorFlow
    import tensorflow as tf  # TensorFlow takes seconds to import

    # each replica gets its slice of every global batch (the default strategy returns the dataset as it is)
    train, validation = (strategy.experimental_distribute_dataset(d) for d in (train, validation))

    def step_function(step):
        def run(batch):
            strategy.run(step, args=(batch,))
            return model.get_metrics_result()  # cross-replica: the sums of every replica and worker
        return tf.function(run, reduce_retracing=True, jit_compile=model.jit_compile)

    train_step, test_step = step_function(model.train_step), step_function(model.test_step)
    history = keras.callbacks.History()
    callbacks = keras.callbacks.CallbackList([*callbacks, history], add_progbar=verbose != 0, verbose=verbose,
                                             epochs=epochs, steps=steps, model=model)
    model.stop_training = False
    callbacks.on_train_begin()
    logs = {}
    for epoch in range(epochs):
        model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        # Exactly `steps` batches: asking the tf.data iterator for one more, only to learn it is exhausted, took 4 s
        # at every epoch's end here (nothing on the screen meanwhile); the batches and the model's bytes are the same
        batches_left = iter(train)
        for i in range(steps):
            batch = next(batches_left, None)
            if batch is None:
                break
            callbacks.on_train_batch_begin(i)
            logs = train_step(batch)
            callbacks.on_train_batch_end(i, logs)
            stop_if_interrupted()  # Ctrl-C, even where a library swallowed it
            if model.stop_training:
                break
        logs = {name: float(value) for name, value in logs.items()}
        model.reset_metrics()
        for batch in validation:
            val_logs = test_step(batch)
        logs.update({f"val_{name}": float(value) for name, value in val_logs.items()})
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end(logs)
    return history.history


def build_for_training(model, ids, labels) -> None:
    """Create the optimizer's and the metrics' variables now, under the strategy's scope (call it there), from one
    local batch: `fit` steps run in replica context, where no variable may be created."""
    model.optimizer.build(model.trainable_variables)
    model.compute_metrics(ids, labels, model(ids), sample_weight=None)
    model.reset_metrics()

"""Every use of Keras internals, in one place.

seqlab needs a few things Keras' public API does not offer. Each hook below names the Keras
version it was written against and why it is needed; ``pyproject.toml`` bounds keras to the
versions the suite was run on, and ``tests/test_compat.py`` checks each hook still finds what
it reaches for, so a Keras upgrade fails there first, by name.

Written against Keras 3.15.1 (TensorFlow 2.21).
"""

from __future__ import annotations

KERAS_TESTED = "3.15.1"


def keras_mask(x):
    """The padding mask Keras attached to a tensor, or None.

    Keras 3.15: masks travel on tensors (``keras.src.backend.get_keras_mask``); a loss that
    reduces by itself (the CRF's) must read the mask there, since ``Loss.__call__`` would
    turn it into per-token weights.
    """
    try:
        from keras.src.backend import get_keras_mask
    except ImportError:  # pragma: no cover - an older layout
        return getattr(x, "_keras_mask", None)
    return get_keras_mask(x)


def scale_loss_for_distribution(value):
    """Divide a loss by the replicas in sync, as Keras' built-in losses do.

    Keras 3.15: under a distribution strategy each replica's gradients are summed, so
    ``keras.losses.Loss`` divides by the replica count
    (``keras.src.losses.loss.scale_loss_for_distribution``). A loss that reduces by itself
    (``CRFLoss``) must do the same; with one replica it is the identity.
    """
    from keras.src.losses.loss import scale_loss_for_distribution as scale

    return scale(value)


def build_before_fit(model, batch) -> None:
    """Build the model, loss and optimizer from one batch, and stop ``fit`` building again.

    Keras 3.15: under a distribution strategy each ``model.fit`` call peeks at the epoch's
    first batch and averages it over the replicas to build the model symbolically
    (``Trainer._maybe_symbolic_build``); when that batch splits unevenly (3 sentences over 2
    replicas) the average fails. Build once here with ``_symbolic_build`` from an undistributed
    batch, and make the peek a no-op: everything it would build is built.
    """
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def seed_generator_states(model) -> list:
    """The state variables of every dropout layer's random generator, in layer-name order.

    Keras 3.15: ``model.save`` leaves ``SeedGenerator`` states out, and a resumed run needs
    them to draw the same dropout masks as an uninterrupted one. Layers keep their generators
    in ``_seed_generators``; ``_flatten_layers`` walks nested layers (the Bidirectional
    wrappers' LSTMs). A loaded model lists its variables in another order, hence the sort.
    """
    layers = sorted(model._flatten_layers(include_self=False), key=lambda layer: layer.name)
    return [sg.state for layer in layers for sg in getattr(layer, "_seed_generators", [])]


def fix_multi_worker_logs() -> None:
    """Make ``fit`` work under ``tf.distribute.MultiWorkerMirroredStrategy``.

    Keras 3.15 averages each step's logs over the workers with
    ``strategy.reduce("MEAN", value, axis=0)`` (``keras.src.backend.tensorflow.trainer.
    reduce_per_replica``), which fails on a scalar such as the loss ("Invalid reduction
    dimension 0 for input with 0 dimensions"). Logs are scalars: average them over the replicas
    only (``axis=None``). Other reductions go to Keras unchanged. Patched once per process.
    """
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    multi_worker = trainer._collective_all_reduce_multi_worker
    if getattr(original, "_seqlab", False):
        return
    import keras

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and multi_worker(strategy):
            def mean(value):
                shape = getattr(value, "shape", None)
                axis = 0 if shape is not None and len(shape) > 0 else None
                return strategy.reduce("MEAN", value, axis=axis)
            return keras.tree.map_structure(mean, values)
        return original(values, strategy, reduction)

    reduce_per_replica._seqlab = True
    trainer.reduce_per_replica = reduce_per_replica


def moving_averages(optimizer) -> list:
    """The optimizer's moving averages of the trainable variables (``use_ema=True``), in the
    order of ``model.trainable_variables``.

    Keras 3.15 keeps them in ``BaseOptimizer._model_variables_moving_average`` (optimizer
    variables, so checkpoints of ``optimizer.variables`` hold them) and offers no public way
    to read them short of overwriting the model's weights.
    """
    return list(optimizer._model_variables_moving_average)


def keep_weights_after_fit(optimizer) -> None:
    """Stop ``model.fit`` from overwriting the model's weights with the moving averages.

    Keras 3.15 calls ``optimizer.finalize_variable_values`` at the end of every ``fit``, which,
    with ``use_ema``, copies the averages into the weights. seqlab calls ``fit`` once per epoch
    (so that each epoch's data order depends on the seed alone), so that copy would restart
    training from the averages every epoch; the loop swaps the averages in itself, for
    scoring and saving only.
    """
    optimizer.finalize_variable_values = lambda var_list: None


def adam_slots(optimizer, variable) -> tuple:
    """The first and second moment estimates Adam keeps for ``variable``, as the backend's
    variables (``tf.Variable`` on TensorFlow).

    Keras 3.15 keeps them in ``Adam._momentums`` and ``Adam._velocities``, indexed by
    ``BaseOptimizer._get_variable_index``, with no public accessor; a fused update op
    (``FusedAdam``) writes them in place.
    """
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index].value, optimizer._velocities[index].value


class OptimizerHooks:
    """A mixin for an optimizer class that routes two of Keras' private steps of
    ``BaseOptimizer.apply`` through public-named methods, ``clip_gradients(grads)`` and
    ``update_moving_averages(variables)``, which run Keras' own steps unless a subclass
    overrides them.

    Keras 3.15 clips in ``BaseOptimizer._clip_gradients`` (``global_clipnorm`` densifies an
    embedding's ``IndexedSlices`` gradient twice, once for its squares and once to scale it)
    and updates the moving averages in ``_update_model_variables_moving_average`` (eight
    ops a variable, six of them the same scalars recomputed, and no warm-up); neither has a
    public hook. seqlab's optimizers (``seqlab.training.optimizers``) warm the averages up,
    and ``FusedAdam`` computes both with fewer ops.
    """

    def _clip_gradients(self, grads):
        return self.clip_gradients(grads)

    def _update_model_variables_moving_average(self, trainable_variables):
        return self.update_moving_averages(trainable_variables)

    def clip_gradients(self, grads):
        """Keras' own clipping."""
        return super()._clip_gradients(grads)

    def update_moving_averages(self, trainable_variables):
        """Keras' own moving-average update."""
        return super()._update_model_variables_moving_average(trainable_variables)


# Keras 3.15's message (``keras.src.saving.saving_lib``) for stored weights that do not fit the
# variable the layer's config built: "... variable.shape=(64, 8), Received: value.shape=(64, 9).
# Target variable: <Variable path=tags/kernel, ...".
_WEIGHT_SHAPES = r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))" \
                 r"(?:.*?path=([\w/.-]+))?"


def weight_shape_mismatch(message: str) -> tuple[str, str, str | None] | None:
    """``(built shape, stored shape, variable path or None)`` when a load error of
    ``keras.models.load_model`` says stored weights do not fit the model its config builds (a
    hand-edited config.json), else None.

    Keras 3.15 raises a ValueError "A total of N objects could not be loaded" whose text
    holds the shapes; it has no exception type or attribute that says so.
    """
    import re

    found = re.search(_WEIGHT_SHAPES, message, re.S)
    return found.groups() if found else None


def from_keras_saving(filename: str) -> bool:
    """Whether a warning was raised in Keras' saving code (``keras/src/saving/...`` in Keras
    3.15), where it warns, rather than fails, when a damaged archive leaves weights unloaded
    ("Skipping nested container ... Affected layers will retain their freshly-initialized
    weights")."""
    from pathlib import Path

    parts = Path(filename).parts
    return "keras" in parts and "saving" in parts


def nested_layers(model) -> list:
    """Every layer inside ``model`` (the model itself excluded), nested ones included: the
    LSTMs inside a ``Bidirectional``, a ``MultiHead``'s copies, a backbone's blocks.

    Keras 3.15 walks them with ``Layer._flatten_layers``; ``Model.layers`` lists the top
    level only. Used to set each layer's (public) ``dtype_policy``.
    """
    return list(model._flatten_layers(include_self=False, recursive=True))

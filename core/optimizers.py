"""Keras's Adam, SGD-with-momentum and RMSprop updates on stacked variables [branch, ...]:
every branch with its own learning rate, step count and slots, and only the branches a step
marks move.

Why not keras.optimizers: one Keras optimizer serves one set of variables with one learning
rate; here one update serves every branch of a stack (core.stacked), one pass over each
variable whatever the number of branches, and the learning rate is a per-branch value in a
variable, so a new learning rate reuses the traced graph. The formulas, in Keras's order of
operations, and the defaults below are Keras's own; tests check the results against
model.fit with the real Keras optimizer.
"""

from __future__ import annotations

from collections.abc import Sequence

# Keras's defaults, so that "adam" here means keras.optimizers.Adam().
ADAM_BETA_1, ADAM_BETA_2, EPSILON = 0.9, 0.999, 1e-7
RMSPROP_RHO = 0.9
SGD_MOMENTUM = 0.9  # plain SGD is rarely what a course means by "SGD"
SLOTS = {"adam": 2, "sgd": 1, "rmsprop": 1}


class StackedOptimizer:
    """Optimizer state for stacked variables: per-variable slots and a step count per
    branch (branches with smaller training sets take fewer steps per epoch)."""

    def __init__(self, tf, kind: str, variables: Sequence):
        self.tf, self.kind = tf, kind
        self.variables = list(variables)
        self.slots = [
            [tf.Variable(tf.zeros_like(v), trainable=False) for _ in range(SLOTS[kind])]
            for v in self.variables
        ]
        branches = self.variables[0].shape[0]
        self.iterations = tf.Variable(tf.zeros([branches]), trainable=False)

    def reset(self) -> None:
        for slots in self.slots:
            for slot in slots:
                slot.assign(self.tf.zeros_like(slot))
        self.iterations.assign(self.tf.zeros_like(self.iterations))

    def apply(self, grads: Sequence, learning_rate, update) -> None:
        """One update of the branches where `update` [branch] is true; the others, and
        their slots, stay exactly as they are (their gradients may not even be finite).
        Call inside a tf.function; compiled with XLA (as core.stacked does), the update of
        each variable is one pass over its memory: a few ops each reading and writing every
        weight took three times as long, even on a CPU."""
        tf = self.tf
        on = tf.cast(update, tf.float32)
        self.iterations.assign_add(on)
        shaped: dict[int, dict[str, object]] = {}
        coefficients = self._coefficients(learning_rate, update, on)

        def per_branch(rank: int) -> dict[str, object]:
            if rank not in shaped:
                shape = [-1] + [1] * (rank - 1)
                shaped[rank] = {k: tf.reshape(v, shape) for k, v in coefficients.items()}
            return shaped[rank]

        for var, slots, grad in zip(self.variables, self.slots, grads, strict=True):
            c = per_branch(len(var.shape))
            grad = tf.math.multiply_no_nan(grad, c["on"])
            if self.kind == "adam":
                m, v = slots
                m.assign_add((grad - m) * c["beta_1"])
                v.assign_add((tf.square(grad) - v) * c["beta_2"])
                var.assign_sub((m * c["alpha"]) / (tf.sqrt(v) + EPSILON))
            elif self.kind == "sgd":
                (m,) = slots
                m.assign(m * c["momentum"] - grad * c["lr"])
                var.assign_add(m * c["on"])
            else:
                (velocity,) = slots
                velocity.assign(c["rho"] * velocity + c["one_minus_rho"] * tf.square(grad))
                var.assign_sub((c["lr"] * grad) / tf.sqrt(velocity + EPSILON))

    def _coefficients(self, learning_rate, update, on) -> dict:
        """Per-branch factors, [branch]: Keras's constants where a branch steps, and for the
        others factors that leave it and its slots unchanged."""
        tf = self.tf
        out = {"on": on, "lr": learning_rate * on}
        if self.kind == "adam":
            step = tf.maximum(self.iterations, 1.0)  # a branch that never stepped: unused
            alpha = learning_rate * tf.sqrt(1 - tf.pow(ADAM_BETA_2, step))
            alpha = alpha / (1 - tf.pow(ADAM_BETA_1, step))
            out |= {"alpha": alpha * on, "beta_1": (1 - ADAM_BETA_1) * on,
                    "beta_2": (1 - ADAM_BETA_2) * on}  # fmt: skip
        elif self.kind == "sgd":
            out["momentum"] = tf.where(update, SGD_MOMENTUM, 1.0)
        else:
            out |= {
                "rho": tf.where(update, RMSPROP_RHO, 1.0),
                "one_minus_rho": (1 - RMSPROP_RHO) * on,
            }
        return out


def keras_optimizer(kind: str, learning_rate: float):
    """The Keras optimizer with the same rule and defaults: what the tests compare the
    stacked updates with, and the generated code (core.codegen) with."""
    import keras

    if kind == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=SGD_MOMENTUM)
    if kind == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, rho=RMSPROP_RHO)
    return keras.optimizers.Adam(learning_rate)

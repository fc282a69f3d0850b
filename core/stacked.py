"""Networks of one shape trained as one: every branch's weights in one tensor with a leading
branch axis, [branches, in, out], so one batched op serves every branch (the ensemble trick
of jax.vmap and torch.func.stack_module_state).

Branches stack when their layer lists (core.models.layers) agree once the per-branch values
are set aside: the L1 and L2 strengths, each Dropout rate, BatchNorm on or off, augmentation
on or off (and its noise level, on tables), the learning rate, the training subset and its
labels. Each of these is a value in a variable, so a comparison that changes only them reuses
the traced graph. What changes a shape or an update rule does not stack: another architecture
or capacity, another optimizer, image augmentation of another level.

A switch that is off is the identity: a Dropout rate of 0 keeps every unit, and tf.where
passes an unused BatchNorm's or augmentation's input on unchanged (an unused BatchNorm's scale
and offset get zero gradients and never move). So the BatchNorm, Dropout and augmentation
variants share the baseline's matmuls.

Random layers draw stateless numbers from the group's seed, the layer's place in the branch's
full layer list, the epoch and the step, and every branch of a stack shares the draws: a
branch draws the same masks wherever it trains, alone or stacked, and the variants of one seed
see the same draws as they see the same batches (a paired comparison). Dropout and Gaussian
noise draw exactly what Keras's own layers draw from the same seed pair; image augmentation
runs Keras's own layers.

Initial weights are Keras's defaults (Glorot-uniform kernels, zero biases, BatchNorm's ones
and zeros), drawn with numpy from the seed and the layer's place in the full layer list, so a
branch starts from the same weights alone or stacked. Tests pin every layer, the penalty and
the optimizers to Keras's own (model.fit with these initial weights and draws).

TensorFlow and Keras are passed in or imported inside functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.datasets.base import DatasetInfo
from core.models import Layer, keras_layer, layer_names, layers
from core.optimizers import StackedOptimizer
from core.spec import ExperimentSpec, augmentation_applies

INIT_SEED, DRAW_SEED = 5150, 8128
AUGMENTATIONS = ("RandomFlip", "RandomShift", "RandomRotation", "RandomZoom")
VALUED = ("Dropout", "GaussianNoise")  # switches with a per-branch value: a rate, a level
SWITCHES = (*VALUED, "BatchNormalization", *AUGMENTATIONS)  # per branch on or off
RANDOM = (*VALUED, *AUGMENTATIONS)  # draw random numbers while training
WEIGHTED = ("Dense", "Conv2D")  # layers with a kernel and a bias
BN_MOMENTUM, BN_EPSILON = 0.99, 1e-3  # Keras's BatchNormalization defaults
# Random draws are seeded [slot seed, epoch * STEP_SPACE + step]: 60,000 examples in batches
# of 1 still fit in an epoch, and 1,000 epochs in an int32. Keras's augmentation layers may
# draw several times per call (one seed value each): they get AUGMENT_DRAWS values per step.
STEP_SPACE = 2**16
AUGMENT_DRAWS = 4
HEAVY_STEP = 20_000_000  # multiply-adds of a training step, about 1 ms of a core: heavy()


# --- which layers, with which values per branch --------------------------------------------


def _all_on(spec: ExperimentSpec, info: DatasetInfo) -> ExperimentSpec:
    """The spec with every switch on: its layer list is the frame every branch of a stack
    shares, and positions in it seed a layer's initial weights and random draws."""
    augment = spec.augment
    if augment == "none" and augmentation_applies(info.modality):
        augment = "light"
    return replace(spec, dropout=spec.dropout or 0.5, batchnorm=True, augment=augment)


def _blank(layer: Layer) -> Layer:
    """A layer without its per-branch value (a rate, a noise level)."""
    # the comment too: a tapered Dropout says so, and its frame is still the untapered one's
    return replace(layer, args=(), comment="") if layer.kind in VALUED else layer


def _is_switch(layer: Layer) -> bool:
    return layer.kind in SWITCHES


def arrangement(spec: ExperimentSpec, info: DatasetInfo) -> tuple[tuple[Layer, ...], dict]:
    """A branch's full layer list (every switch on, values blanked) and, for each switch
    the branch has on, by its place in that list: a Dropout rate, a noise level, or 1."""
    full = tuple(_blank(layer) for layer in layers(_all_on(spec, info), info))
    own = layers(spec, info)
    values: dict[int, float] = {}
    j = 0
    for i, layer in enumerate(full):
        if j < len(own) and _blank(own[j]) == layer:
            if _is_switch(layer):
                values[i] = float(own[j].args[0]) if layer.kind in VALUED else 1.0
            j += 1
        elif not _is_switch(layer):
            j = -1  # the branch lacks a layer that is not a switch
            break
    if j != len(own):
        raise ValueError(f"{spec.arch}: a branch's layers must be its full list's")
    return full, values


def stack_key(spec: ExperimentSpec, info: DatasetInfo) -> tuple:
    """Specs with equal keys stack: the same full layer list and update rule."""
    return arrangement(spec, info)[0], spec.optimizer


@dataclass(frozen=True)
class Design:
    """What a stack's graph depends on: its layers (with their places in the full list; a
    switch no branch uses is left out), the input, the update rule, how many branches, and
    whether each branch takes its own batches (different training sets)."""

    slots: tuple[tuple[int, Layer], ...]
    input_shape: tuple[int, ...]
    optimizer: str
    branches: int
    own_windows: bool
    l1: bool  # some branch has an L1 (L2) penalty: the graph computes it
    l2: bool
    heavy: bool  # see heavy(): the optimizer update is compiled with XLA

    @classmethod
    def of(cls, specs: Sequence[ExperimentSpec], info: DatasetInfo, own_windows: bool) -> Design:
        full, _ = arrangement(specs[0], info)
        used = set().union(*(arrangement(s, info)[1] for s in specs))
        slots = tuple((i, layer) for i, layer in enumerate(full)
                      if not _is_switch(layer) or i in used)  # fmt: skip
        return cls(slots, tuple(info.input_shape), specs[0].optimizer, len(specs), own_windows,
                   any(s.l1 for s in specs), any(s.l2 for s in specs),
                   heavy(specs, info))  # fmt: skip


def heavy(specs: Sequence[ExperimentSpec], info: DatasetInfo) -> bool:
    """Whether a step of these branches (of one shape) is heavy: HEAVY_STEP multiply-adds
    or more. A heavy stack earns what costs tracing time before its first epoch: XLA for
    its optimizer update (one pass over each large variable) and, on a CPU, a stack per core
    (core.training). A light one would only start later (moons' 128-wide network: 0.4 s
    for the XLA update, 0.9 s for another stack) and save nothing per epoch."""
    return 3 * specs[0].batch_size * sum(parameter_count(s, info) for s in specs) >= HEAVY_STEP


def _output_shape(layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Per example, what a layer makes of its input's shape."""
    if layer.kind == "Flatten":
        return (math.prod(shape),)
    if layer.kind in WEIGHTED:
        return (*shape[:-1], layer.args[0])
    if layer.kind == "MaxPooling2D":
        stride = dict(layer.kwargs).get("strides", layer.args[0])
        return (-(-shape[0] // stride), -(-shape[1] // stride), shape[2])
    return shape


def _weight_shapes(layer: Layer, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """A layer's weights in Keras's order: kernel and bias; BatchNorm's gamma, beta, moving
    mean and moving variance."""
    if layer.kind == "Dense":
        return [(shape[-1], layer.args[0]), (layer.args[0],)]
    if layer.kind == "Conv2D":
        size = layer.args[1]
        return [(size, size, shape[-1], layer.args[0]), (layer.args[0],)]
    if layer.kind == "BatchNormalization":
        return [(shape[-1],)] * 4
    return []


def _initial(seed: int, index: int, layer: Layer, shape: tuple[int, ...]) -> list[np.ndarray]:
    """Keras's default initial weights of the layer at `index` in the full list."""
    shapes = _weight_shapes(layer, shape)
    if layer.kind == "BatchNormalization":
        ones, zeros = np.ones(shapes[0], np.float32), np.zeros(shapes[0], np.float32)
        return [ones, zeros, zeros, ones]
    if not shapes:
        return []
    kernel, bias = shapes
    receptive = math.prod(kernel[:-2])
    limit = math.sqrt(6.0 / (kernel[-2] * receptive + kernel[-1] * receptive))  # Glorot
    rng = np.random.default_rng([INIT_SEED, seed, index])
    return [rng.uniform(-limit, limit, kernel).astype(np.float32), np.zeros(bias, np.float32)]


def _own_layers(spec: ExperimentSpec, info: DatasetInfo) -> list[tuple[int, Layer, tuple]]:
    """build_model(spec)'s layers: (place in the full list, layer, input shape per example)."""
    full, values = arrangement(spec, info)
    out, shape = [], tuple(info.input_shape)
    for i, layer in enumerate(full):
        if not _is_switch(layer) or i in values:
            out.append((i, layer, shape))
        shape = _output_shape(layer, shape)
    return out


def places(spec: ExperimentSpec, info: DatasetInfo) -> list[int]:
    """Where each of build_model(spec)'s layers sits in the full list: what seeds its
    initial weights and random draws."""
    return [i for i, _, _ in _own_layers(spec, info)]


def initial_weights(spec: ExperimentSpec, info: DatasetInfo) -> list[np.ndarray]:
    """The branch's initial weights in the order of build_model(spec).get_weights()."""
    return [w for i, layer, shape in _own_layers(spec, info)
            for w in _initial(spec.seed, i, layer, shape)]  # fmt: skip


def parameter_count(spec: ExperimentSpec, info: DatasetInfo) -> int:
    """What Keras's count_params() says of build_model(spec)."""
    return sum(math.prod(s) for _, layer, shape in _own_layers(spec, info)
               for s in _weight_shapes(layer, shape))  # fmt: skip


def kernel_names(spec: ExperimentSpec, info: DatasetInfo) -> tuple[str, ...]:
    """The names of build_model(spec)'s layers with a kernel, in order (what L1/L2 act on
    and each epoch's norms follow)."""
    listed = layers(spec, info)
    return tuple(name for layer, name in zip(listed, layer_names(listed), strict=True)
                 if layer.kind in WEIGHTED)  # fmt: skip


def draw_seed(seed: int, index: int) -> int:
    """The first half of the seed pair of the random layer at `index` in the full list."""
    return int(np.random.default_rng([DRAW_SEED, seed, index]).integers(1, 2**31 - 2))


# --- the stacked network -------------------------------------------------------------------


def per_example(tf, task: str, y, logits):
    """Data loss and correctness per example, [branch, example], as Keras's losses compute
    them from a softmax or sigmoid output (which they turn back into these logits)."""
    if task == "multiclass":
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y)
    elif task == "binary":
        loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=y[..., None], logits=logits)
        loss = loss[..., 0]
        correct = tf.equal(tf.cast(tf.sigmoid(logits[..., 0]) > 0.5, tf.float32), y)
    else:
        loss = tf.square(logits[..., 0] - y)
        correct = tf.zeros_like(loss, dtype=tf.bool)
    return loss, tf.cast(correct, tf.float32)


def probabilities(tf, task: str, logits):
    """What the head outputs: softmax, sigmoid, or the value itself (regression)."""
    if task == "multiclass":
        return tf.nn.softmax(logits)
    return tf.sigmoid(logits) if task == "binary" else logits


class Stack:
    """The variables and graph pieces of one stack of branches."""

    def __init__(self, tf, design: Design, task: str):
        import keras

        self.tf, self.design, self.task = tf, design, task
        self.branches = b = design.branches
        self.layer = dict(design.slots)  # by place in the full list
        self.head = design.slots[-1][0]
        self.shapes = {}  # input shape per example, by place
        shape = design.input_shape
        for index, layer in design.slots:
            self.shapes[index], shape = shape, _output_shape(layer, shape)

        def variable(value, trainable=False):
            return tf.Variable(tf.zeros([b, *value]), trainable=trainable)

        # Per slot: [kernel, bias] or [gamma, beta, moving mean, moving variance]; the first
        # two train.
        self.weights = {}
        for i, layer in design.slots:
            if shapes := _weight_shapes(layer, self.shapes[i]):
                self.weights[i] = [variable(s, trainable=k < 2) for k, s in enumerate(shapes)]
        self.trainable = [w for weights in self.weights.values() for w in weights[:2]]
        self.kernels = [self.weights[i][0] for i, layer in design.slots if layer.kind in WEIGHTED]
        self.switch = {i: variable(()) for i, layer in design.slots if _is_switch(layer)}
        self.scale = {i: variable(()) for i, layer in design.slots if layer.kind == "Dropout"}
        self.seeds = {i: tf.Variable(0, dtype=tf.int32) for i, layer in design.slots
                      if layer.kind in RANDOM}  # fmt: skip
        self.l1, self.l2, self.learning_rate = variable(()), variable(()), variable(())
        self.alive = tf.Variable(tf.ones([b], tf.bool), trainable=False)
        self.optimizer = StackedOptimizer(tf, design.optimizer, self.trainable)
        self._update = tf.function(self._penalised_update, jit_compile=design.heavy,
                                   autograph=False)  # fmt: skip
        self.pipelines = self._pipelines(keras)

    def _pipelines(self, keras) -> dict[int, list]:
        """Keras's augmentation layers, per run of consecutive augmentation slots (keyed by
        the first), each with its seed generators."""
        out: dict[int, list] = {}
        first = None
        for index, layer in self.design.slots:
            if layer.kind not in AUGMENTATIONS:
                first = None
                continue
            first = index if first is None else first
            made = keras_layer(layer, f"augment_{index}")
            generators = [g for g in vars(made).values()
                          if isinstance(g, keras.random.SeedGenerator)]  # fmt: skip
            out.setdefault(first, []).append((index, made, generators))
        return out

    # --- loading a comparison ------------------------------------------------------------

    def load(self, specs: Sequence[ExperimentSpec], info: DatasetInfo) -> None:
        """Initial weights, strengths and switches of these branches; fresh optimizer state.
        Branches with the same seed and full layer list share their initial weights (they
        are the same draw), so each is drawn once."""
        drawn: dict[tuple[int, int], list[np.ndarray]] = {}
        values = [arrangement(s, info)[1] for s in specs]
        for index, weights in self.weights.items():
            per_branch = []
            for spec in specs:
                key = (spec.seed, index)
                if key not in drawn:
                    drawn[key] = _initial(spec.seed, index, self.layer[index], self.shapes[index])
                per_branch.append(drawn[key])
            for k, variable in enumerate(weights):
                variable.assign(np.stack([w[k] for w in per_branch]))
        for index, variable in self.switch.items():
            variable.assign([v.get(index, 0.0) for v in values])
        for index, variable in self.scale.items():
            variable.assign([1 / (1 - v.get(index, 0.0)) for v in values])  # as Keras: float64
        seed = specs[0].seed  # one per fusion group
        for index, variable in self.seeds.items():
            variable.assign(draw_seed(seed, index))
        self.l1.assign([s.l1 for s in specs])
        self.l2.assign([s.l2 for s in specs])
        self.learning_rate.assign([s.learning_rate for s in specs])
        self.alive.assign(np.ones(len(specs), bool))
        self.optimizer.reset()

    # --- the graph -----------------------------------------------------------------------

    def forward(self, x, training: bool, weights=None, draw=None):
        """Logits [branch, example, out]. x: [example, ...], shared by every branch, or
        [branch, example, ...]. Training: the random layers draw for `draw` (the int32
        epoch * STEP_SPACE + step) and BatchNorm normalises over the examples `weights`
        [branch, example] marks (the last batch of an epoch may be short)."""
        tf = self.tf
        h = tf.cast(x, tf.float32)
        shared = len(x.shape) == len(self.design.input_shape) + 1
        slots = self.design.slots
        k = 0
        while k < len(slots):
            index, layer = slots[k]
            if layer.kind in AUGMENTATIONS:
                run = self.pipelines[index]
                if training:
                    h = self._augment(h, shared, index, run, draw)
                    shared = False
                k += len(run)
                continue
            h, shared = self._layer(index, layer, h, shared, training, weights, draw)
            k += 1
        return h

    def _per_branch(self, h, shared: bool):
        tf = self.tf
        return tf.broadcast_to(h[None], [self.branches, *h.shape]) if shared else h

    def _along(self, vector, rank: int):
        """A per-branch vector shaped to broadcast over a [branch, ...] tensor of this rank."""
        return self.tf.reshape(vector, [self.branches] + [1] * (rank - 1))

    def _layer(self, index, layer, h, shared, training, weights, draw):
        tf = self.tf
        kind = layer.kind
        if kind == "Rescaling":
            return h * layer.args[0].value, shared
        if kind == "Flatten":
            return tf.reshape(h, [*h.shape[: 1 if shared else 2], -1]), shared
        if kind == "Dense":
            kernel, bias = self.weights[index]
            # [1 or branch, example, in] @ [branch, in, out]: a batched matmul (einsum was
            # three times slower on a CPU)
            h = tf.matmul(h[None] if shared else h, kernel)
            return self._activate(index, layer, h + bias[:, None, :]), False
        if kind == "Conv2D":
            return self._activate(index, layer, self._conv(index, h, shared)), False
        if kind == "MaxPooling2D":
            return self._pool(layer, h, shared), shared
        if kind == "Activation":
            return _activation(layer.args[0])(h), shared
        if kind == "BatchNormalization":
            return self._batchnorm(index, h, training, weights), False
        if kind == "Dropout":
            if not training:
                return h, shared
            h = self._per_branch(h, shared)
            noise = tf.random.stateless_uniform(h.shape[1:], self._seed(index, draw))
            rate, scale = self.switch[index], self.scale[index]
            keep = noise[None] >= self._along(rate, len(h.shape))
            return tf.where(keep, h * self._along(scale, len(h.shape)), 0.0), False
        if kind == "GaussianNoise":
            if not training:
                return h, shared
            shape = h.shape if shared else h.shape[1:]
            noise = tf.random.stateless_normal(shape, self._seed(index, draw))
            h = self._per_branch(h, shared)
            return h + noise[None] * self._along(self.switch[index], len(h.shape)), False
        raise ValueError(f"no stacked layer for {kind}")

    def _activate(self, index, layer, h):
        activation = dict(layer.kwargs).get("activation")
        if index == self.head or activation is None:  # the head returns logits
            return h
        return _activation(activation)(h)

    def _seed(self, index, draw):
        return self.tf.stack([self.seeds[index], draw])

    def _conv(self, index, h, shared):
        tf = self.tf
        kernel, bias = self.weights[index]
        if shared:  # one convolution with every branch's filters side by side
            wide = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [*kernel.shape[1:4], -1])
            out = tf.nn.convolution(h, wide, padding="SAME")
            out = tf.reshape(out, [*out.shape[:3], self.branches, kernel.shape[-1]])
            out = tf.transpose(out, [3, 0, 1, 2, 4])
        else:
            out = tf.stack([tf.nn.convolution(h[b], kernel[b], padding="SAME")
                            for b in range(self.branches)])  # fmt: skip
        return out + bias[:, None, None, None, :]

    def _pool(self, layer, h, shared):
        tf = self.tf
        size = layer.args[0]
        stride = dict(layer.kwargs).get("strides", size)
        if shared:
            return tf.nn.max_pool2d(h, size, stride, "SAME")
        pooled = tf.nn.max_pool2d(tf.reshape(h, [-1, *h.shape[2:]]), size, stride, "SAME")
        return tf.reshape(pooled, [*h.shape[:2], *pooled.shape[1:]])

    def _batchnorm(self, index, h, training, weights):
        """Keras's BatchNormalization per branch; over the examples `weights` marks while
        training. A branch with it off passes its input on unchanged."""
        tf = self.tf
        gamma, beta, moving_mean, moving_variance = self.weights[index]
        rank = len(h.shape)

        def per_branch(v):  # [branch, units] -> broadcastable over h
            return tf.reshape(v, [self.branches] + [1] * (rank - 2) + [v.shape[-1]])

        if training:
            w = tf.reshape(weights, [self.branches, -1] + [1] * (rank - 2))
            axes = list(range(1, rank - 1))
            count = tf.reduce_sum(w * tf.ones_like(h[..., :1]), axes)  # [branch, 1]
            mean = tf.math.divide_no_nan(tf.reduce_sum(h * w, axes), count)
            centred = tf.square(h - tf.stop_gradient(per_branch(mean)))  # as tf.nn.moments
            variance = tf.math.divide_no_nan(tf.reduce_sum(centred * w, axes), count)
            active = count > 0  # a branch without examples this step keeps its statistics
            for moving, batch in ((moving_mean, mean), (moving_variance, variance)):
                updated = moving * BN_MOMENTUM + batch * (1.0 - BN_MOMENTUM)
                moving.assign(tf.where(active, updated, moving))
        else:
            mean, variance = moving_mean, moving_variance
        normalised = tf.nn.batch_normalization(
            h,
            per_branch(mean),
            per_branch(variance),
            per_branch(beta),
            per_branch(gamma),
            BN_EPSILON,
        )
        on = self._along(self.switch[index] > 0, rank)
        return tf.where(on, normalised, h)

    def _augment(self, h, shared, first, run, draw):
        """Keras's augmentation layers on each branch's batch, drawing for this step; a
        branch with augmentation off keeps its batch as it is."""
        tf = self.tf

        def augmented(x):
            for index, layer, generators in run:
                state = tf.stack([self.seeds[index], draw * AUGMENT_DRAWS])
                for generator in generators:
                    generator.state.assign(tf.cast(state, generator.state.dtype))
                x = layer(x, training=True)
            return x

        if shared:
            out, h = augmented(h)[None], h[None]
        else:
            out = tf.stack([augmented(h[b]) for b in range(self.branches)])
        on = self._along(self.switch[first] > 0, len(out.shape))
        return tf.where(on, out, h)

    def penalty(self):
        """Each branch's L1/L2 term: Keras's regularizers summed over its kernels."""
        tf = self.tf
        total = tf.zeros([self.branches])
        for kernel in self.kernels:
            axes = list(range(1, len(kernel.shape)))
            if self.design.l1:
                total += self.l1 * tf.reduce_sum(tf.abs(kernel), axes)
            if self.design.l2:
                total += self.l2 * tf.reduce_sum(tf.square(kernel), axes)
        return total

    def norms(self):
        """[branch, kernel]: each kernel's L2 norm."""
        tf = self.tf
        return tf.stack([tf.sqrt(tf.reduce_sum(tf.square(k), list(range(1, len(k.shape)))))
                         for k in self.kernels], axis=1)  # fmt: skip

    def train_step(self, x, y, weights, draw):
        """One optimizer step of every branch on its batch: x [example, ...] shared or
        [branch, example, ...], labels y and weights [branch, example] (0 past the end of a
        branch's training set). A branch whose loss is not finite stops for good (it
        diverged). Returns [branch, (summed data loss, correct count, penalty x count)], the
        penalty as the step saw it, before its update."""
        tf = self.tf
        count = tf.reduce_sum(weights, 1)
        with tf.GradientTape() as tape:
            loss, correct = per_example(tf, self.task, y, self.forward(x, True, weights, draw))
            summed = tf.reduce_sum(loss * weights, 1)
            mean = tf.math.divide_no_nan(summed, count)
            # Each branch's term depends on its own weights only: the sum gives each branch
            # exactly its own gradient.
            total = tf.reduce_sum(mean)
        grads = tape.gradient(total, self.trainable)
        penalty = self.penalty()
        finite = tf.math.is_finite(mean + penalty)
        stepping = self.alive & (count > 0)
        self.alive.assign(self.alive & (finite | ~stepping))
        self._update(grads, stepping & finite)
        return tf.stack([summed, tf.reduce_sum(correct * weights, 1), count * penalty], axis=1)

    def _penalised_update(self, grads, update):
        """The L1/L2 penalty's gradient (Keras's regularizers: l1 * sign(w) + l2 * 2w) added
        to the data loss's, then one optimizer step of the branches `update` marks.
        Compiled with XLA in a heavy stack (heavy()), so that each large variable's update
        is one pass over its memory."""
        tf = self.tf
        total = []
        for variable, grad in zip(self.trainable, grads, strict=True):
            if any(variable is kernel for kernel in self.kernels):
                along = [self.branches] + [1] * (len(variable.shape) - 1)
                if self.design.l1:
                    grad += tf.reshape(self.l1, along) * tf.sign(variable)
                if self.design.l2:
                    grad += tf.reshape(self.l2, along) * (2.0 * variable)
            total.append(grad)
        self.optimizer.apply(total, self.learning_rate, update)


def _activation(name: str):
    import keras

    return keras.activations.get(name)

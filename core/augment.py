"""An augmentation layer XLA can compile. Imported only inside model-building functions:
importing it imports Keras.

Keras's RandomTranslation, RandomRotation and RandomZoom use an affine image transform
that has no XLA kernel in TensorFlow, which turns XLA off for the whole training graph on a
GPU. A shift by whole pixels needs no interpolation: pad, then crop each image at its own
random offset, which is two gathers.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="overfitting_lab")
class RandomShift(keras.layers.Layer):
    """Shift each image by up to `factor` of its height and width, in whole pixels, filling
    with zeros; identity at inference."""

    def __init__(self, factor: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        import tensorflow as tf

        height, width = images.shape[1], images.shape[2]
        pad_h, pad_w = max(1, round(height * self.factor)), max(1, round(width * self.factor))
        padded = tf.pad(images, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]])
        batch = tf.shape(images)[0]
        top = keras.random.randint((batch,), 0, 2 * pad_h + 1, seed=self.seed_generator)
        left = keras.random.randint((batch,), 0, 2 * pad_w + 1, seed=self.seed_generator)
        rows = top[:, None] + tf.range(height)[None, :]
        cols = left[:, None] + tf.range(width)[None, :]
        shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(shifted, cols, axis=2, batch_dims=1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "seed": self.seed}

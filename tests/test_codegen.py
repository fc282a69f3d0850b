"""The code shown on the Model page builds exactly the model the app trains."""

import keras
import pytest

from core.codegen import keras_code
from core.models import build_model
from core.optimizers import keras_optimizer
from core.spec import ExperimentSpec
from tests.test_models import CIFAR, DIGITS, SIGN, TABLE


def built(code: str):
    scope: dict = {}
    exec(code.split("model.summary()")[0], scope)  # noqa: S102 - our own generated code
    return scope["model"]


@pytest.mark.parametrize(
    "spec,info",
    [
        (ExperimentSpec(capacity="medium"), TABLE),
        (
            ExperimentSpec(capacity="large", l2=1e-3, dropout=0.5, batchnorm=True, augment="light"),
            TABLE,
        ),
        (ExperimentSpec(capacity="small", augment="strong", optimizer="sgd"), DIGITS),
        (
            ExperimentSpec(
                arch="cnn", capacity="medium", batchnorm=True, dropout=0.3, augment="light"
            ),
            CIFAR,
        ),
        (ExperimentSpec(arch="sign_cnn", batchnorm=True, dropout=0.3), SIGN),
        (ExperimentSpec(arch="vgg_cifar", capacity="tiny", batchnorm=True, dropout=0.5), CIFAR),
    ],
)
def test_generated_code_builds_the_same_network(spec, info):
    code = keras_code(spec, info)
    ours = build_model(spec, info)
    theirs = built(code)
    assert theirs.count_params() == ours.count_params()
    kinds = [type(layer).__name__ for layer in theirs.layers]
    assert kinds == [type(layer).__name__ for layer in ours.layers][1:]  # no InputLayer
    assert ("kernel_regularizer=l2" in code) == bool(spec.l2)
    assert f"epochs={spec.epochs}, batch_size={spec.batch_size}" in code
    keras.backend.clear_session()


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_generated_code_compiles_with_the_update_rule_the_app_trains_with(optimizer):
    """The fused kernels follow keras_optimizer's rule and defaults; the code must too."""
    spec = ExperimentSpec(capacity="small", optimizer=optimizer, learning_rate=3e-4)
    shown = built(keras_code(spec, TABLE)).optimizer.get_config()
    reference = keras_optimizer(optimizer, spec.learning_rate).get_config()
    shown.pop("name"), reference.pop("name")  # Keras numbers the names of instances
    assert shown == reference
    keras.backend.clear_session()

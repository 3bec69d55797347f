"""The Keras importer held to models real Keras builds (Keras 3 on its PyTorch backend, no
TensorFlow): each model written with ``model.to_json()`` and ``model.save("m.keras")``, both
imported, and the imported spec compared with the Keras model: every layer's output shape
(channels_last read as cnnspec's channels-first), the parameter counts, the initial weights'
distributions against what Keras drew, the compiled optimizer, learning rate and loss, and the
forward pass with Keras' weights loaded against ``model.predict``.

Skipped, saying why, where keras (or PyTorch, its backend here) is not installed
(``pip install keras==3.15.1``: the version constraints.txt pins).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch not installed: keras runs on the PyTorch backend "
                    "here: pip install torch")
os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras not installed: pip install keras==3.15.1")

import cnnspec
from cnnspec.errors import SpecError, SpecErrors
from cnnspec.importers import import_file
from cnnspec.importers.keras import import_keras

# Keras' PyTorch backend hands NumPy 2 arrays through an __array__ without its copy argument
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
L = keras.layers
# Keras' layers that write no line of their own: what they do is the train block's (a
# Rescaling, a Normalization, a RandomFlip), the padding of the layer after them, or nothing
# (a crop or resize to its input's size); a Sequential block is its layers.
FOLDED = ("InputLayer", "Rescaling", "Normalization", "RandomFlip", "ZeroPadding2D",
          "CenterCrop", "Resizing", "Sequential")
# Keras' non-trainable weights that are statistics of the data, not parameters: cnnspec keeps
# batch norm's running averages as buffers, and a Normalization is the train block's.
STATISTICS = {"BatchNormalization": ("moving_mean", "moving_variance"),
              "Normalization": ("mean", "variance", "count")}
SIZE = 16  # the images' side: small, so that building and running the models is quick


def _plain_model() -> keras.Model:
    """A Sequential of Conv2D layers with strides, padding, dilation, no bias, activations and
    initializers, at the input the layers Keras tutorials put there, and a Flatten before the
    Dense."""
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)), L.Rescaling(1 / 255), L.RandomFlip("horizontal"),
        L.Conv2D(8, 3, padding="same", strides=2, activation="relu",
                 kernel_initializer="he_normal"),
        L.Conv2D(8, 3, dilation_rate=2, use_bias=False, activation="tanh",
                 kernel_initializer="glorot_normal"),
        L.BatchNormalization(momentum=0.9, epsilon=1e-5), L.MaxPooling2D(),
        L.Conv2D(6, (1, 3), padding="same", activation="sigmoid",
                 bias_initializer=keras.initializers.Constant(0.1)),
        L.Dropout(0.3), L.Flatten(), L.Dense(10, activation="softmax",
                                             kernel_initializer="lecun_normal"),
    ], name="plain")
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                  loss="categorical_crossentropy")
    return model


def _graph_model() -> keras.Model:
    """A functional model with two branches merged, depthwise and separable convolutions, an
    upsampling, a nested Sequential block and a global pool before the Dense."""
    x = keras.Input((SIZE, SIZE, 3))
    a = L.Conv2D(8, 3, padding="same", activation="elu")(x)
    b = L.Conv2D(8, 1, use_bias=False)(x)
    s = L.Add()([a, b])
    c = L.Concatenate()([s, a])
    d = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2,
                          depthwise_initializer="he_uniform")(c)
    e = L.SeparableConv2D(8, 3, activation="relu")(d)
    u = L.UpSampling2D(interpolation="bilinear")(e)
    p = L.AveragePooling2D(2, padding="same")(u)
    q = L.ZeroPadding2D(((1, 0), (2, 1)))(p)  # Keras' applications' stem: zeros, then valid
    q = L.Conv2D(8, 3, strides=2)(q)
    block = keras.Sequential([L.Conv2D(4, 3), L.BatchNormalization(), L.ReLU()], name="blk")
    g = L.GlobalAveragePooling2D()(block(q))
    out = L.Dense(5)(g)
    model = keras.Model(x, out, name="graph")
    model.compile(optimizer=keras.optimizers.Adam(3e-4, beta_1=0.8, amsgrad=True),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True,
                                                            label_smoothing=0.1))
    return model


def _frozen_model() -> keras.Model:
    """A Sequential with an adapted Normalization at its input, a frozen Conv2D and a frozen
    block."""
    block = keras.Sequential([L.Conv2D(4, 3, padding="same", name="conv"),
                              L.BatchNormalization(name="bn")], name="stem")
    block.trainable = False
    norm = L.Normalization()
    norm.adapt(np.random.default_rng(0).random((4, SIZE, SIZE, 1), dtype=np.float32))
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)), norm, block,
        L.Conv2D(4, 3, trainable=False, name="held"), L.GlobalMaxPooling2D(), L.Dense(3),
    ], name="frozen")
    model.compile(optimizer=keras.optimizers.RMSprop(0.002, rho=0.8, momentum=0.5,
                                                     centered=True), loss="mse")
    return model


def _options_model() -> keras.Model:
    """The options left: pools' strides and same padding on odd sizes (an average of the
    pixels inside only), the class aliases, a max pool over a ZeroPadding2D after a relu,
    a strided separable conv with a depth multiplier and no bias, a dilated depthwise conv,
    a batch norm that learns neither shift nor scale, an upsampling of two factors, a grouped
    conv of two strides, a Dense without bias after a Flatten; not compiled."""
    x = keras.Input((15, 15, 3))
    a = L.Conv2D(8, 3, dilation_rate=2, padding="same", activation="relu")(x)
    b = L.MaxPool2D(3, strides=2)(L.ZeroPadding2D(1)(a))
    c = L.AvgPool2D(3, strides=2, padding="same")(a)
    d = L.SeparableConv2D(8, 3, strides=2, padding="same", depth_multiplier=2,
                          use_bias=False)(L.Concatenate()([b, c]))
    e = L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(d)
    g = L.UpSampling2D(size=(2, 3))(L.BatchNormalization(center=False, scale=False)(e))
    h = L.Conv2D(6, 3, groups=2, strides=(1, 2))(g)
    j = L.Activation("relu")(L.MaxPooling2D(2, strides=1, padding="same")(h))
    return keras.Model(x, L.Dense(4, use_bias=False)(L.Flatten()(j)), name="options")


def _application_model() -> keras.Model:
    """keras.applications' MobileNetV2 as Keras builds it (no weights downloaded), narrow and
    on small images: its ZeroPadding2D layers, depthwise convs, ReLU(max_value=6), batch norms
    and residual Adds, 408,938 trainable parameters."""
    return keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35,
                                          classes=10)


# The activations the importer reads, as a conv's ``activation`` and as layers of their own.
ACTIVATIONS = ("swish", "silu", "hard_silu", "hard_swish", "relu6", "leaky_relu", "elu",
               "gelu", "tanh", "sigmoid", "softmax", "log_softmax")
ACTIVATION_LAYERS = (L.LeakyReLU, lambda: L.ELU(alpha=0.5), lambda: L.ReLU(max_value=6.0),
                     lambda: L.ReLU(negative_slope=0.1), lambda: L.Activation("sigmoid"),
                     L.Softmax)


def _activations_model() -> keras.Model:
    """Each activation of :data:`ACTIVATIONS` and :data:`ACTIVATION_LAYERS` on a branch of its
    own, pooled and joined before the Dense (in one chain the signal of the first would hardly
    reach the output); a grouped conv; transposed convs of each padding (a kernel below the
    stride included); the sizing layers that keep their input's size, at the input."""
    x = keras.Input((12, 12, 4))
    kept = L.Resizing(12, 12)(L.CenterCrop(12, 12)(x))
    h = L.Conv2D(8, 3, padding="same", groups=2)(kept)
    branches = [L.Conv2D(4, 3, padding="same", activation=name)(h) for name in ACTIVATIONS]
    branches += [make()(L.Conv2D(4, 1)(h)) for make in ACTIVATION_LAYERS]
    pooled = [L.GlobalAveragePooling2D()(branch) for branch in branches]
    t = L.Conv2DTranspose(6, 2, strides=3, activation="tanh")(L.MaxPooling2D()(h))
    t = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")(t)
    t = L.AveragePooling2D(3)(L.SpatialDropout2D(0.2)(t))
    joined = L.Concatenate()([*pooled, L.GlobalMaxPooling2D()(t)])
    out = L.Dense(5)(L.Dense(16, activation="tanh")(joined))
    model = keras.Model(x, out, name="activations")
    # mse: cnnspec refuses a softmax inside a model whose loss is a cross-entropy
    model.compile(optimizer="adam", loss="mse")
    return model


# Keras' initializers as docs/importing.md's table maps them (cnnspec's init for each), each
# drawn for a 3x3 kernel of 16 -> 16 channels: 2,304 values, enough to hold their spread to
# a few percent.
KERNEL_INITIALIZERS = [
    keras.initializers.RandomNormal(stddev=0.1),
    keras.initializers.RandomUniform(-0.2, 0.2),
    keras.initializers.TruncatedNormal(mean=0.05, stddev=0.1),
    keras.initializers.VarianceScaling(3.0, "fan_out", "untruncated_normal"),
    keras.initializers.VarianceScaling(0.5, "fan_avg", "uniform"),
    keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal"),
    keras.initializers.GlorotUniform(), keras.initializers.GlorotNormal(),
    keras.initializers.HeUniform(), keras.initializers.HeNormal(),
    keras.initializers.LecunUniform(), keras.initializers.LecunNormal(),
    keras.initializers.Orthogonal(gain=1.5),
]


def _init_model() -> keras.Model:
    """A conv of each initializer of :data:`KERNEL_INITIALIZERS`, a depthwise conv whose
    fans Keras takes otherwise than cnnspec, constant biases, and Dense layers with an
    identity and an orthogonal kernel."""
    convs = [L.Conv2D(16, 3, padding="same", kernel_initializer=init, name=f"init{i}")
             for i, init in enumerate(KERNEL_INITIALIZERS)]
    model = keras.Sequential([
        keras.Input((8, 8, 16)), *convs,
        L.DepthwiseConv2D(3, padding="same", depth_multiplier=16, name="depthwise",
                          depthwise_initializer="he_normal", bias_initializer="ones"),
        L.GlobalAveragePooling2D(), L.Dense(256, name="widen"),
        L.Dense(256, kernel_initializer=keras.initializers.Identity(), name="identity"),
        L.Dense(64, kernel_initializer=keras.initializers.Orthogonal(0.5), name="orthogonal",
                bias_initializer=keras.initializers.Constant(0.25)),
    ], name="inits")
    return model


BUILDERS = {"plain": _plain_model, "graph": _graph_model, "frozen": _frozen_model,
            "activations": _activations_model, "options": _options_model,
            "mobilenet": _application_model, "inits": _init_model}


class Built:
    """A Keras model, and the spec imported from its ``to_json()`` and from its ``.keras``."""

    def __init__(self, model, from_json, from_archive):
        self.model, self.from_json, self.from_archive = model, from_json, from_archive

    @property
    def checked(self):
        return self.from_json.checked

    @property
    def layers(self) -> dict:
        return {info.name: info for info in self.checked.layers}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Built]:
    """Every model of :data:`BUILDERS`, built once (Keras' seed fixed), saved both ways and
    imported from both."""
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("keras")
    out = {}
    for name, build in BUILDERS.items():
        model = build()
        (folder / f"{name}.json").write_text(model.to_json())
        model.save(folder / f"{name}.keras")
        out[name] = Built(model, import_file(folder / f"{name}.json"),
                          import_file(folder / f"{name}.keras"))
    return out


def _keras_layers(model, prefix: str = ""):
    """``(spec name, Keras layer)`` of every layer, a nested Sequential's own each named
    ``<block>_<layer>`` as the importer writes them."""
    for layer in model.layers:
        yield prefix + layer.name, layer
        if isinstance(layer, keras.Sequential):
            yield from _keras_layers(layer, f"{prefix}{layer.name}_")


def _channels_first(shape) -> tuple[int, ...]:
    """A Keras output shape without the batch, (H, W, C) as cnnspec's (C, H, W)."""
    dims = tuple(shape[1:])
    return (dims[-1], *dims[:-1]) if len(dims) == 3 else dims


@pytest.mark.parametrize("name", BUILDERS)
def test_every_layer_has_the_output_shape_keras_gives_it(built, name):
    model, layers = built[name].model, built[name].layers
    compared = []
    for spec_name, layer in _keras_layers(model):
        if type(layer).__name__ in FOLDED:
            continue
        assert spec_name in layers, f"{spec_name} ({type(layer).__name__}) has no line"
        assert layers[spec_name].output_shape == _channels_first(layer.output.shape), spec_name
        compared.append(spec_name)
    assert len(compared) >= 5
    assert built[name].checked.output_shape == _channels_first(model.outputs[0].shape)


def _parameters(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


def _statistics(model) -> int:
    """The values of Keras' weights that are statistics of the data (:data:`STATISTICS`)."""
    return sum(_parameters(w for w in layer.weights
                           if w.name in STATISTICS.get(type(layer).__name__, ()))
               for _, layer in _keras_layers(model))


def _fixed_affine(model) -> int:
    """The scale and shift cnnspec's frozen batchnorm holds where Keras' BatchNormalization
    learns neither (``center`` and ``scale`` false) and has no weights for them: 2 a channel,
    frozen at 1 and 0 (the kind has no batchnorm without them)."""
    return sum(2 * layer.get_weights()[0].shape[0] for _, layer in _keras_layers(model)
               if type(layer).__name__ == "BatchNormalization" and not layer.center
               and not layer.scale)


@pytest.mark.parametrize("name", BUILDERS)
def test_the_parameters_are_keras_count_and_train_as_in_keras(built, name):
    """cnnspec's total is Keras' ``count_params()`` without the statistics Keras counts as
    weights (docs/importing.md: batch norm's moving averages), with the frozen scale and shift
    of a batch norm that learns neither; its trainable parameters are Keras' trainable
    weights, a frozen layer or block's included in neither."""
    model, checked = built[name].model, built[name].checked
    frozen = _parameters(model.non_trainable_weights) - _statistics(model) + \
        _fixed_affine(model)
    assert checked.trainable_params == _parameters(model.trainable_weights)
    assert checked.frozen_params == frozen
    assert checked.total_params == model.count_params() - _statistics(model) + \
        _fixed_affine(model)


def test_a_frozen_layer_and_block_are_frozen_and_others_train(built):
    layers = built["frozen"].layers
    frozen = {n for n, info in layers.items() if info.params and not info.trainable_params}
    assert frozen == {"stem_conv", "stem_bn", "held"}


@pytest.mark.parametrize("name", BUILDERS)
def test_the_json_and_the_archive_import_as_one_spec(built, name):
    one = built[name]
    assert one.from_archive.checked.spec.ir == one.checked.spec.ir


# The train block each compiled model's settings become: Keras' arguments, as docs/
# importing.md's table of compile settings reads them.
COMPILED = {
    "plain": {"optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True}, "lr": 0.01,
              "loss": "cross_entropy", "preprocess": "none",
              "augment": [{"name": "flip", "p": 0.5}]},
    "graph": {"optimizer": {"name": "adam", "beta1": 0.8, "beta2": 0.999, "eps": 1e-7,
                            "amsgrad": True}, "lr": 3e-4, "loss": "cross_entropy",
              "label_smoothing": 0.1},
    "frozen": {"optimizer": {"name": "rmsprop", "alpha": 0.8, "eps": 1e-7, "momentum": 0.5,
                             "centered": True}, "lr": 0.002, "loss": "mse",
               "preprocess": "standardize"},
}


@pytest.mark.parametrize("name", COMPILED)
def test_the_compiled_optimizer_and_loss_are_the_train_blocks(built, name):
    training = built[name].checked.spec.ir["training"]
    assert {key: training[key] for key in COMPILED[name]} == COMPILED[name]
    optimizer = built[name].model.optimizer
    assert training["lr"] == pytest.approx(float(optimizer.learning_rate), rel=1e-7)


@pytest.mark.parametrize("optimizer, expected", [
    (keras.optimizers.AdamW(0.005, weight_decay=0.01, beta_2=0.99),
     {"optimizer": {"name": "adamw", "beta1": 0.9, "beta2": 0.99, "eps": 1e-7,
                    "amsgrad": False}, "lr": 0.005, "weight_decay": 0.01}),
    (keras.optimizers.Adagrad(0.1, initial_accumulator_value=0.2, epsilon=1e-6),
     {"optimizer": {"name": "adagrad", "lr_decay": 0.0, "initial_accumulator_value": 0.2,
                    "eps": 1e-6},
      "lr": 0.1}),
    (keras.optimizers.SGD(0.05, global_clipnorm=1.0),
     {"optimizer": {"name": "sgd", "momentum": 0.0, "nesterov": False}, "lr": 0.05,
      "clip_norm": 1.0, "clip_value": 0.0}),
    (keras.optimizers.SGD(0.05, clipvalue=0.5), {"clip_norm": 0.0, "clip_value": 0.5}),
])
def test_each_optimizer_keras_compiles_with_is_read(optimizer, expected):
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(2, 3), L.Flatten(),
                              L.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    training = import_keras(model.to_json(), "model.json").checked.spec.ir["training"]
    assert {key: training[key] for key in expected} == expected
    assert training["loss"] == "cross_entropy"


@pytest.mark.parametrize("layer", [f"init{i}" for i in range(len(KERNEL_INITIALIZERS))]
                         + ["depthwise", "orthogonal"])
def test_the_imported_init_draws_as_keras_drew(built, layer):
    """The mean and std cnnspec's init of each weight has (its checker's InitInfo, from the
    imported fans) are those of the kernel Keras drew, to four standard errors of a std
    estimate (1/sqrt(2n)); the depthwise kernel's, whose fans Keras takes from (3, 3, C, M),
    included."""
    kernel = built["inits"].model.get_layer(layer).get_weights()[0]
    info = built["inits"].layers[layer].weight_init
    mean, std = float(kernel.mean()), float(kernel.std())
    tolerance = 4 / np.sqrt(2 * kernel.size)
    assert std == pytest.approx(info.std, rel=tolerance), info.short
    assert mean == pytest.approx(info.mean or 0.0, abs=4 * std / np.sqrt(kernel.size))
    if info.bound is not None:  # a uniform's bound, a truncated normal's cut
        beyond = np.abs(kernel - (info.mean or 0.0)) > info.bound * (1 + 1e-6)
        # Keras' PyTorch backend draws 4 normals for each truncated value and keeps the first
        # inside the cut, else the first of them: about 5 values in a million lie beyond it
        assert beyond.mean() <= (1e-3 if info.distribution == "truncated_normal" else 0)


def test_an_identity_kernel_is_the_identity(built):
    kernel = built["inits"].model.get_layer("identity").get_weights()[0]
    assert np.array_equal(kernel, np.eye(256))
    assert built["inits"].layers["identity"].weight_init.distribution == "identity"


@pytest.mark.parametrize("layer, value", [("init0", 0.0), ("depthwise", 1.0),
                                          ("orthogonal", 0.25)])
def test_constant_biases_are_keras_constants(built, layer, value):
    bias = built["inits"].model.get_layer(layer).get_weights()[1]
    info = built["inits"].layers[layer].bias_init
    assert np.all(bias == value) and info.distribution == "constant" and info.mean == value


def test_batchnorm_keeps_keras_epsilon_and_momentum_of_the_batch(built):
    keras_bn = built["plain"].model.get_layer("batch_normalization")
    ir = built["plain"].layers["batch_normalization"].ir
    # Keras' momentum is what the moving average keeps; the spec's, what the batch adds
    assert ir["momentum"] == pytest.approx(1 - keras_bn.momentum)
    assert ir["eps"] == pytest.approx(keras_bn.epsilon)


def _tiny(*layers, compiled=None) -> keras.Model:
    model = keras.Sequential([keras.Input((8, 8, 3)), *layers, L.Flatten(), L.Dense(3)])
    if compiled is not None:
        model.compile(optimizer=compiled, loss="mse")
    return model


def test_a_model_frozen_whole_trains_nothing():
    model = _tiny(L.Conv2D(4, 3))
    model.trainable = False
    assert import_keras(model.to_json(), "model.json").checked.trainable_params == 0


def test_a_learning_rate_schedule_is_named_in_the_header():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.9)
    imported = import_keras(_tiny(L.Conv2D(4, 3), compiled=keras.optimizers.SGD(
        schedule)).to_json(), "model.json")
    assert len(imported.notes) == 1 and "ExponentialDecay" in imported.notes[0]
    assert "learning_rate" in imported.notes[0] and "is not read" in imported.notes[0]


def _errors(model) -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as caught:
        import_keras(model.to_json(), "model.json")
    return caught.value.errors if isinstance(caught.value, SpecErrors) else [caught.value]


def test_an_l2_regularizer_real_keras_writes_is_told_its_weight_decay():
    [error] = _errors(_tiny(L.Conv2D(4, 3, kernel_regularizer=keras.regularizers.L2(1e-4))))
    assert error.json_path == "$.config.layers[1].config.kernel_regularizer"
    assert "`weight_decay 0.0002` and `decay_bias false`" in error.hint


def test_a_functional_model_nested_in_another_is_refused_at_its_class():
    x = keras.Input((8, 8, 3))
    inner = keras.Model(x, L.Conv2D(2, 3)(x))
    y = keras.Input((8, 8, 3))
    [error] = _errors(keras.Model(y, L.Flatten()(inner(y))))
    assert error.json_path == "$.config.layers[1].class_name"
    assert "Functional is not supported" in error.message and "keras.Sequential" in error.hint


@pytest.mark.parametrize("make, key, said", [
    (lambda: L.GlobalAveragePooling2D(keepdims=True), "keepdims", "keepdims=true"),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=1), "output_padding",
     "output_padding=[1, 1]"),
    (lambda: L.Conv2D(4, 3, data_format="channels_first"), "data_format", "channels_first"),
    (lambda: L.UpSampling2D(interpolation="bicubic"), "interpolation", "bicubic"),
    (lambda: L.Dropout(0.5, noise_shape=(None, 1, 1, 3)), "noise_shape", "noise_shape"),
    (lambda: L.ReLU(threshold=0.5), "threshold", "threshold=0.5"),
    (lambda: L.Conv2D(4, 3, kernel_constraint=keras.constraints.MaxNorm(2)),
     "kernel_constraint", "MaxNorm"),
    (lambda: L.BatchNormalization(center=False), "center", "learns only a scale"),
    (lambda: L.Conv2D(4, 3, activation="softplus"), "activation", "softplus"),
    (lambda: L.RandomFlip("vertical"), "mode", "vertical"),
])
def test_an_option_real_keras_writes_and_cnnspec_lacks_is_refused_at_its_key(make, key, said):
    [error] = _errors(_tiny(make()))
    assert error.json_path == f"$.config.layers[1].config.{key}" and said in error.message
    assert error.hint


def test_a_random_rotation_real_keras_writes_is_the_train_blocks_rotate_where_it_fills_black():
    """Keras' default fill_mode reflects the image into the corners, which cnnspec's rotate
    does not draw: refused at that key; filled with zeros, it is `augment rotate`, 0.1 of a
    turn being 36 degrees."""
    [error] = _errors(_tiny(L.RandomRotation(0.1), L.Conv2D(2, 3)))
    assert error.json_path == "$.config.layers[1].config.fill_mode"
    assert 'fill_mode="reflect"' in error.message and "black" in error.hint
    model = _tiny(L.RandomRotation(0.1, fill_mode="constant"), L.Conv2D(2, 3))
    assert "augment rotate(degrees=36)" in import_keras(model.to_json(), "model.json").text


# ---------------------------------------------------------------------------- weights


def _depthwise_weight(kernel: np.ndarray) -> np.ndarray:
    """Keras' depthwise kernel (kh, kw, C, M) as the grouped conv's (C·M, 1, kh, kw): Keras'
    output channel c·M + m is filter m of input channel c."""
    kh, kw, c, m = kernel.shape
    return kernel.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)


def _dense_weight(kernel: np.ndarray, flattened: tuple[int, ...] | None) -> np.ndarray:
    """Keras' (in, out) kernel as cnnspec's (out, in); after a Flatten of an (H, W, C) image
    its rows permuted from Keras' channel-fastest order into cnnspec's (C, H, W) order (the
    header's note on a Dense after Flatten)."""
    if flattened is None:
        return kernel.T
    c, h, w = flattened
    return kernel.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(-1, c * h * w)


def _state(model, checked) -> dict[str, np.ndarray]:
    """Keras' weights of ``model`` in cnnspec's layout and names (``<layer>.weight``, ...)."""
    layers = {info.name: info for info in checked.layers}
    state = {}
    for name, layer in _keras_layers(model):
        values = layer.get_weights()
        cls = type(layer).__name__
        if cls in ("Conv2D", "Conv2DTranspose"):  # (kh, kw, in, out), (kh, kw, out, in)
            state[f"{name}.weight"] = values[0].transpose(3, 2, 0, 1)
        elif cls == "DepthwiseConv2D":
            state[f"{name}.weight"] = _depthwise_weight(values[0])
        elif cls == "SeparableConv2D":
            state[f"{name}_depthwise.weight"] = _depthwise_weight(values[0])
            state[f"{name}.weight"] = values[1].transpose(3, 2, 0, 1)
            values = values[1:]
        elif cls == "Dense":
            before = layers[layers[name].inputs[0]]
            flattened = before.input_shapes[0] if before.kind == "flatten" else None
            state[f"{name}.weight"] = _dense_weight(values[0], flattened)
        elif cls == "BatchNormalization":
            state.update(_batchnorm_state(name, layer))
            continue
        else:
            continue
        if len(values) > 1:
            state[f"{name}.bias"] = values[1]
    return state


# Keras' weights of a batch norm, by name, and cnnspec's of the same
BATCHNORM_STATE = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
                   "moving_variance": "running_var"}


def _batchnorm_state(name: str, layer) -> dict[str, np.ndarray]:
    """A batch norm's weights as cnnspec's, its scale 1 and shift 0 where Keras learns
    neither (:func:`_fixed_affine`)."""
    c = layer.moving_mean.shape[0]
    state = {f"{name}.weight": np.ones(c, np.float32), f"{name}.bias": np.zeros(c, np.float32)}
    state.update({f"{name}.{BATCHNORM_STATE[w.name]}": np.asarray(value)
                  for w, value in zip(layer.weights, layer.get_weights())})
    return state


def _spread(model, rng: np.random.Generator) -> None:
    """Keras' weights redrawn so that every layer's output keeps a spread of order 1 (He's
    std for a kernel, sqrt(2 / its taps per output), biases and batch norms' averages away
    from 0 and 1): with Keras' initial weights the signal of a deep thin model shrinks until
    the output hardly depends on the layers before it, and the comparison would not see them
    (a leaky ReLU of another slope went unseen)."""
    for _, layer in _keras_layers(model):
        if isinstance(layer, keras.Sequential) or not layer.weights:
            continue
        layer.set_weights([_drawn(w.shape, w.name, rng) for w in layer.weights])


def _drawn(shape: tuple[int, ...], name: str, rng: np.random.Generator) -> np.ndarray:
    """A kernel of He's std for its taps per output (a depthwise kernel's are its window's),
    a batch norm's scale and variance in [0.5, 1.5], or a bias (a shift, a mean) of std
    0.1."""
    if name in ("gamma", "moving_variance"):
        return rng.uniform(0.5, 1.5, shape)
    if len(shape) == 1:
        return rng.normal(0, 0.1, shape)
    taps = np.prod(shape[:2]) if name == "depthwise_kernel" else np.prod(shape[:-1])
    return rng.normal(0, np.sqrt(2 / taps), shape)


@pytest.mark.parametrize("name, scale", [("plain", 255.0), ("graph", 1.0),
                                         ("activations", 1.0), ("options", 1.0),
                                         ("mobilenet", 1.0), ("inits", 1.0)])
def test_with_keras_weights_the_forward_pass_is_keras_predict(built, name, scale):
    """The imported spec compiled, Keras' weights loaded (:func:`_state`): its output is
    ``model.predict``'s to float32 rounding. The plain model's Rescaling(1/255) is the train
    block's preprocess none, so Keras is given the pixels and cnnspec them in [0, 1]."""
    model = keras.models.clone_model(built[name].model)  # the others read Keras' own draws
    checked = built[name].checked
    rng = np.random.default_rng(0)
    _spread(model, rng)
    x = rng.uniform(0, 1, (3, *model.inputs[0].shape[1:])).astype(np.float32)
    theirs = model.predict(x * scale, verbose=0)
    ours = cnnspec.compile(checked, seed=0)
    ours.load_state_dict(_state(model, checked))
    out = ours.eval().forward(x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(out, theirs, rtol=1e-4, atol=1e-5)


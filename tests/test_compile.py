"""compile_spec: models of every shipped spec run, parameters are seeded per layer, and the
Model API (params, grads, state dicts, modes, recording) behaves as documented."""
import re
from pathlib import Path

import numpy as np
import pytest

import cnnspec
from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.errors import RunError, SettingError
from cnnspec.lang import parse

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))
TRAIN = 'train {\n  data npz(path="unused.npz")\n  seed 3\n  batch %d\n  loss %s\n}\n'


def _spec(layers: str, batch: int = 64, loss: str = "cross_entropy", shape="2x8x8"):
    return check(parse(f"model t\ninput {shape}\n{layers}\n" + TRAIN % (batch, loss)))


SMALL = ("c1: conv 4 3x3 pad same relu\nbn: batchnorm\np: maxpool 2\n"
         "c2: conv 4 3x3 frozen\nd: dropout 0.5\nf: flatten\nfc: dense 3\nsm: softmax")


def _batch(checked, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + tuple(checked.input_shape)), rng.integers(0, 3, n)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_spec_compiles_and_runs(path):
    checked = cnnspec.load(path)
    model = compile_spec(checked)
    x, _ = _batch(checked, n=2)
    out = model.forward(x.astype(np.float32))
    assert out.shape == (2,) + tuple(checked.output_shape)
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    _, dout = model.loss(out, np.zeros(2, dtype=int))
    model.backward(dout)
    assert all(g.dtype == np.float32 for g in model.grads().values())  # no float64 upcasts
    for info in checked.layers:
        if info.weight_shape is not None:
            assert model.params()[f"{info.name}.weight"].shape == tuple(info.weight_shape)


def test_compile_from_a_path_uses_the_spec_seed():
    a = compile_spec(str(SPECS[0]))
    b = compile_spec(cnnspec.load(SPECS[0]), seed=cnnspec.load(SPECS[0]).ir["training"]["seed"])
    for name, value in a.params().items():
        np.testing.assert_array_equal(value, b.params()[name])


def test_same_seed_same_weights_bitwise_other_seed_other_weights():
    checked = _spec(SMALL)
    a, b, c = (compile_spec(checked, seed=s) for s in (1, 1, 2))
    for name in a.params():
        assert a.params()[name].tobytes() == b.params()[name].tobytes()
    assert not np.array_equal(a.params()["c1.weight"], c.params()["c1.weight"])


def test_weights_do_not_depend_on_batch_size_data_or_other_layers():
    base = compile_spec(_spec(SMALL, batch=64), seed=5).params()
    other_batch = compile_spec(_spec(SMALL, batch=7, loss="mse"), seed=5).params()
    wider_tail = compile_spec(_spec(SMALL.replace("dense 3", "dense 5")), seed=5).params()
    for name in base:
        np.testing.assert_array_equal(base[name], other_batch[name])
    np.testing.assert_array_equal(base["c1.weight"], wider_tail["c1.weight"])
    np.testing.assert_array_equal(base["c2.weight"], wider_tail["c2.weight"])


def test_dtype_float64():
    model = compile_spec(_spec(SMALL), seed=0, dtype="float64")
    assert all(v.dtype == np.float64 for v in model.params().values())
    x, _ = _batch(model.checked)
    assert model.forward(x).dtype == np.float64


def test_frozen_layers_are_not_trainable_and_get_no_grads():
    model = compile_spec(_spec(SMALL), seed=0)
    assert "c2.weight" not in model.trainable_names and "c1.weight" in model.trainable_names
    assert "bn.weight" in model.trainable_names
    x, y = _batch(model.checked)
    _, dout = model.loss(model.forward(x), y)
    model.backward(dout)
    grads = model.grads()
    assert set(grads) == set(model.trainable_names)
    assert all(np.any(g != 0) for g in grads.values())


def test_state_dict_round_trip_and_errors():
    model = compile_spec(_spec(SMALL), seed=0)
    x, _ = _batch(model.checked)
    model.forward(x)  # updates the batch-norm running statistics
    state = model.state_dict()
    assert {"bn.running_mean", "bn.running_var", "c1.weight", "fc.bias"} <= set(state)
    other = compile_spec(_spec(SMALL), seed=9)
    weight = other.params()["c1.weight"]
    other.load_state_dict(state)
    assert other.params()["c1.weight"] is weight  # loaded in place
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    with pytest.raises(RunError, match="missing: bn.running_mean"):
        other.load_state_dict({k: v for k, v in state.items() if k != "bn.running_mean"})
    bad = dict(state, **{"fc.weight": np.zeros((2, 2))})
    with pytest.raises(RunError, match="fc.weight"):
        other.load_state_dict(bad)


def test_a_hand_written_integer_kernel_loads_exactly():
    """A kernel written as small integers (a Sobel filter saved as int) is what it says."""
    model = compile_spec(_spec(SMALL), seed=9)
    state = model.state_dict()
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.int64)
    state["c1.weight"] = np.broadcast_to(sobel, state["c1.weight"].shape).copy()
    state["fc.bias"] = np.array([0, 2**24, -(2**24)], np.int32)
    model.load_state_dict(state)
    assert model.params()["c1.weight"].dtype == np.float32
    np.testing.assert_array_equal(model.params()["c1.weight"][2, 1], sobel)
    np.testing.assert_array_equal(model.params()["fc.bias"], [0, 2**24, -(2**24)])


@pytest.mark.parametrize("key, value, words", [
    ("c1.weight", np.ones((4, 2, 3, 3), bool), "'c1.weight' holds booleans (bool), not numbers"),
    ("fc.bias", np.array([0, 2**24 + 1, 0]), "'fc.bias' holds integers beyond ±16,777,216"),
    ("fc.bias", np.array([0, -(2**62), 0]), "beyond"),
    ("fc.bias", np.zeros(3, np.complex64), "'fc.bias' has dtype complex64, not real numbers"),
    ("fc.bias", np.array(["a", "b", "c"]), "has dtype <U1"),
])
def test_weights_that_are_not_real_numbers_are_refused(key, value, words):
    """Booleans are no weight (a mask saved by mistake); an integer float32 cannot hold would
    be changed; a cast would drop a complex part or fail on text: each is said, not done."""
    model = compile_spec(_spec(SMALL), seed=9)
    before = model.state_dict()
    other = compile_spec(_spec(SMALL), seed=10).state_dict()
    with pytest.raises(RunError, match=re.escape(words)) as info:
        model.load_state_dict(dict(other, **{key: value}))
    if value.dtype == bool:
        assert "astype(numpy.float32)" in info.value.hint
    for name, array in model.state_dict().items():  # nothing loaded, not even the rest
        np.testing.assert_array_equal(array, before[name])


def test_eval_mode_is_deterministic_and_train_mode_drops_out():
    model = compile_spec(_spec(SMALL), seed=0)
    x, _ = _batch(model.checked)
    model.eval()
    np.testing.assert_array_equal(model.forward(x), model.forward(x))
    model.train()
    assert not np.array_equal(model.forward(x), model.forward(x))
    again = compile_spec(_spec(SMALL), seed=0)
    first = compile_spec(_spec(SMALL), seed=0)
    np.testing.assert_array_equal(first.forward(x), again.forward(x))  # seeded dropout stream


def test_recording_keeps_every_layer_and_its_gradient():
    model = compile_spec(_spec(SMALL), seed=0)
    model.record = True
    x, y = _batch(model.checked)
    out = model.forward(x)
    _, dout = model.loss(out, y)
    model.backward(dout)
    assert list(model.activations) == model.layer_names
    assert model.activations["p"].shape == (4, 4, 4, 4)
    # the softmax is fused into the loss: gradients start at its input, the logits
    assert set(model.activation_grads) == set(model.layer_names) - {"sm"}
    for name, grad in model.activation_grads.items():
        assert grad.shape == model.activations[name].shape


def test_softmax_output_loss_is_fused_and_stable():
    model = compile_spec(_spec(SMALL), seed=0, dtype="float64")
    model.eval()
    x, y = _batch(model.checked)
    probs = model.forward(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1)
    loss, dout = model.loss(probs, y)
    assert loss == pytest.approx(-np.mean(np.log(probs[np.arange(4), y])))
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(dout, (probs - onehot) / 4)


def test_a_few_sgd_steps_lower_the_loss():
    model = compile_spec(_spec(SMALL.replace("dropout 0.5", "dropout 0.0")), seed=0)
    x, y = _batch(model.checked, n=16)
    losses = []
    for _ in range(15):
        loss, dout = model.loss(model.forward(x), y)
        losses.append(loss)
        model.backward(dout, input_grad=False)
        params = model.params()
        for name, grad in model.grads().items():
            params[name] -= 0.1 * grad
    assert losses[-1] < 0.5 * losses[0]


def _step(model, x, y):
    out = model.forward(x)
    loss, dout = model.loss(out, y)
    dx = model.backward(dout)
    return out, loss, dx, model.grads()


@pytest.mark.parametrize("layers", [
    "c1: conv 4 3x3 pad same relu\np: maxpool 2\nf: flatten\nfc: dense 3\nsm: softmax",
    "c1: conv 4 3x3 stride 2 tanh\ng: global_avgpool\nfc: dense 3",
])
def test_two_threads_match_one_thread(layers):
    model = compile_spec(_spec(layers), seed=0, dtype="float64")
    assert model.threads == 2  # the default
    x, y = _batch(model.checked, n=21)
    model.threads = 1
    single = _step(model, x, y)
    assert not model._split
    model.threads = 2
    split = _step(model, x, y)
    assert model._split
    np.testing.assert_allclose(split[0], single[0], rtol=1e-12, atol=1e-12)
    assert split[1] == pytest.approx(single[1], rel=1e-12)
    np.testing.assert_allclose(split[2], single[2], rtol=1e-10, atol=1e-12)
    for name, grad in single[3].items():
        np.testing.assert_allclose(split[3][name], grad, rtol=1e-10, atol=1e-12)


def test_thread_parts_do_not_split_again():
    # A batch of 64 gives parts of 32, each large enough to be split again: a replica that
    # did so would nest thread pools (the step then ran several times slower).
    model = compile_spec(_spec("c1: conv 4 3x3 relu\nf: flatten\nfc: dense 3"), seed=0)
    x, y = _batch(model.checked, n=64)
    _step(model, x, y)
    assert model._split
    for replica in model._data_parallel().replicas:
        assert replica.threads == 1 and not replica._split and replica._parallel is None


def test_batch_norm_keeps_training_in_one_piece():
    model = compile_spec(_spec(SMALL), seed=0)
    model.threads = 2
    x, y = _batch(model.checked, n=32)
    _step(model, x, y)
    assert not model._split
    model.eval()
    model.forward(x)
    assert model._split


def test_blas_thread_count_is_restored():
    from cnnspec.engine import blas

    if not blas.available():
        pytest.skip("NumPy's BLAS is not an OpenBLAS whose thread count can be set")
    before = blas.get_threads()
    with blas.blas_threads(1):
        assert blas.get_threads() == 1
    assert blas.get_threads() == before


def test_a_wrongly_shaped_input_is_a_run_error():
    model = compile_spec(_spec(SMALL), seed=0)
    with pytest.raises(RunError, match=r"\(N, 2, 8, 8\)") as info:
        model.forward(np.zeros((3, 1, 8, 8), np.float32))
    assert "2x8x8" in info.value.hint


@pytest.mark.parametrize(("x", "words"), [
    (np.zeros((0, 2, 8, 8), np.float32), "a batch of one input or more, not (0, 2, 8, 8)"),
    (np.zeros((1, 2, 8, 8), complex), "real numbers, not an array of dtype complex128"),
    (np.full((1, 2, 8, 8), "a"), "real numbers, not an array of dtype <U1"),
])
def test_an_empty_or_non_numeric_input_is_a_run_error(x, words):
    """model(x) of an empty batch ended in a reshape's ValueError inside a layer, of strings
    in NumPy's conversion error, and of complex numbers in their real parts with a warning."""
    model = compile_spec(_spec(SMALL), seed=0)
    with pytest.raises(RunError, match=re.escape(words)):
        model(x)


def test_a_relu_fused_into_a_ceil_mode_max_pool_keeps_the_ceil_mode():
    spec = _spec("c: conv 3 3x3 pad same relu\np: maxpool 3 stride 2 ceil_mode true\n"
                 "f: flatten\nfc: dense 3")
    fused, recorded = compile_spec(spec, seed=0, dtype="float64"), compile_spec(
        spec, seed=0, dtype="float64")
    recorded.record = True  # recording keeps every layer: no fusion
    assert any(type(node.layer).__name__ == "MaxPoolReLU" for node in fused._fused)
    x, y = _batch(spec)
    out = fused.forward(x)
    np.testing.assert_allclose(out, recorded.forward(x), rtol=1e-12)
    assert recorded.activations["p"].shape == (4, 3, 4, 4)
    for model in (fused, recorded):
        model.backward(model.loss(model.forward(x), y)[1])
    np.testing.assert_allclose(fused.grads()["c.weight"], recorded.grads()["c.weight"],
                               rtol=1e-10)


@pytest.mark.parametrize("threads", [3, 4])
def test_more_threads_than_two_match_one_thread(threads):
    """Replicas run on whichever thread of the pool is free, not the one that built their
    plans: the scratch that convs of one geometry share must be the running thread's (it was
    the building thread's, and two replicas then wrote the same buffers at once)."""
    layers = "\n".join(f"c{i}: conv 8 3x3 pad same relu" for i in range(6))
    one = compile_spec(_spec(layers + "\ng: global_avgpool\nfc: dense 3"), seed=0,
                       dtype="float64")
    many = compile_spec(one.checked, seed=0, dtype="float64")
    one.threads, many.threads = 1, threads
    rng = np.random.default_rng(0)
    for n in rng.choice([40, 47, 48, 64], size=120):
        x, y = _batch(one.checked, n=int(n), seed=int(n))
        single, split = _step(one, x, y), _step(many, x, y)
        assert many._split
        for name, grad in single[3].items():
            np.testing.assert_allclose(split[3][name], grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed, shown", [(-1, "-1"), ("x", "'x'"), (1.5, "1.5"), (True, "True")])
def test_a_seed_that_is_no_whole_number_from_0_is_refused_by_name(seed, shown):
    """NumPy's SeedSequence said 'expected non-negative integer' or 'expects int or sequence
    of ints for entropy not x'."""
    from cnnspec.errors import SettingError

    with pytest.raises(SettingError) as info:
        cnnspec.compile(_spec(SMALL), seed=seed)
    assert info.value.message == f"seed must be an integer >= 0, not {shown}"
    assert info.value.hint == "e.g. seed=0" and info.value.invalid


def test_a_model_prints_its_layers_and_is_called_as_a_pytorch_module_is():
    """print(model) lists each layer with its parameters' shapes, as PyTorch prints a module;
    model(x) is model.forward(x)."""
    checked = _spec(SMALL)
    model = compile_spec(checked, seed=0)
    lines = repr(model).splitlines()
    assert lines[0] == f"Model 't' (float32, training mode, {checked.total_params:,} parameters)"
    assert [line.split()[:2] for line in lines[1:]] == [[n, k] for n, k in (
        ("c1", "conv"), ("c1_relu", "relu"), ("bn", "batchnorm"), ("p", "maxpool"),
        ("c2", "conv"), ("d", "dropout"), ("f", "flatten"), ("fc", "dense"), ("sm", "softmax"))]
    assert lines[1].split(None, 2)[2] == "weight 4x2x3x3, bias 4"
    assert lines[5].split(None, 2)[2] == "weight 4x4x3x3, bias 4 (held)"
    for mults, text in (("lr_mult [0, 0]", "weight 4x4x3x3, bias 4 (held)"),
                        ("lr_mult [0, 1]", "weight 4x4x3x3 held, bias 4")):
        other = compile_spec(_spec(SMALL.replace("frozen", mults)), seed=0)
        assert repr(other).splitlines()[5].split(None, 2)[2] == text
    assert "evaluation mode" in repr(model.eval())
    x, _ = _batch(checked)
    np.testing.assert_array_equal(model(x), model.forward(x))


def test_a_checked_spec_prints_as_one_line_and_summary_gives_the_commands_table(capsys):
    """A CheckedSpec's repr printed every layer's IR and the spec's text; it says what was
    checked in a line. cnnspec.summary is the table `cnnspec summary` prints, its note naming
    the library's way to the full text (explain=True) where the command names --explain."""
    path = Path(__file__).resolve().parent.parent / "specs" / "lenet5.cnn"
    checked = cnnspec.load(path)
    assert repr(checked) == (f"<CheckedSpec 'lenet5' from {path}: input 1x32x32 -> 10, 12 "
                             "layers, 61,706 params (61,706 trainable), 0 warnings, checked "
                             "for float32>")
    from cnnspec.cli import main

    assert main(["summary", str(path)]) == 0
    printed = capsys.readouterr().out
    table, note = cnnspec.summary(path).split("\nSignal: ", 1)
    assert printed.split("\nSignal: ", 1)[0] == table
    assert cnnspec.summary(checked) == table + "\nSignal: " + note
    # the note's words up to its first command are the same; where its lines break depends on
    # how long the command is (the spec's path in it)
    printed_note = printed.split("\nSignal: ", 1)[1]
    assert printed_note.split("`")[0].split() == note.split("`")[0].split()
    assert "`cnnspec.summary(" in note and "explain=True" in note
    assert "--explain" in printed and "explain=True" not in printed
    assert "float64" in cnnspec.summary(path, dtype="float64")
    # a CheckedSpec's table is of the dtype it was checked for: another was ignored silently
    assert cnnspec.summary(checked, dtype="float32") == cnnspec.summary(checked)
    with pytest.raises(SettingError, match="^the spec was checked for float32, not float64$"):
        cnnspec.summary(checked, dtype="float64")
    with pytest.raises(SettingError, match="^dtype must be one of float32, float64, not "):
        cnnspec.summary(checked, dtype="float16")

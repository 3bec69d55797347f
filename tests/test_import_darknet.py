"""Importing Darknet networks (cnnspec.importers.darknet, .cfg).

The cfg files in tests/data/import/ were written for these tests: a small classifier in the
style of Darknet's CIFAR networks and a net with one of every section the importer reads.
Shapes are checked against Darknet's own output-size rules (src/parser.c and the layers'
make_* functions), written out here as an oracle.
"""
from __future__ import annotations

import itertools
import random

import pytest
from importing import DATA, imported_layers, mutations

import cnnspec
from cnnspec.cli import main
from cnnspec.diagnostics import format_error
from cnnspec.errors import RunError, SpecError, SpecErrors
from cnnspec.importers.darknet import import_cfg

SMALL = DATA / "darknet_small.cfg"
EVERY = DATA / "darknet_every.cfg"
NET = "[net]\nbatch=8\nwidth=16\nheight=16\nchannels=3\n"
HEAD = "[avgpool]\n[softmax]\n[cost]\n"


def conv_out(n: int, size: int, stride: int, padding: int) -> int:
    """Darknet's convolution (src/convolutional_layer.c, convolutional_out_height)."""
    return (n + 2 * padding - size) // stride + 1


def maxpool_out(n: int, size: int, stride: int, padding: int) -> int:
    """Darknet's max pool (src/maxpool_layer.c, make_maxpool_layer); padding is the total."""
    return (n + padding - size) // stride + 1


def errors_of(text: str) -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as caught:
        import_cfg(text, "net.cfg")
    exc = caught.value
    return exc.errors if isinstance(exc, SpecErrors) else [exc]


# ---------------------------------------------------------------------------- networks


def test_a_small_cifar_style_net_has_darknets_shapes():
    checked, layers, kinds = imported_layers(SMALL)
    shapes = {info.name: info.output_shape for info in checked.layers}
    n = 28
    after = []
    for _ in range(3):  # the three 2x2 pools, padded 1 in all by default (size - 1)
        n = maxpool_out(n, 2, 2, 1)
        after.append(n)
    assert after == [14, 7, 4]  # 7 -> 4: Darknet rounds up where a plain pool gives 3
    assert shapes["maxpool1"] == (8, 14, 14) and shapes["maxpool3"] == (16, 7, 7)
    assert shapes["maxpool5"] == (16, 4, 4)
    assert shapes["conv6"] == (10, 4, 4) and shapes["softmax8"] == (10,)
    assert layers["conv0"]["bias"] is False and kinds["conv0_bn"] == "batchnorm"
    assert layers["conv0_bn_leaky_relu"]["slope"] == 0.1
    assert layers["conv6"]["bias"] is True and layers["conv6"]["padding"] == "valid"  # 1x1: 0
    # 3·8·9 + 2·8 (bn) + 8·16·9 + 2·16 + 16·10 + 10
    assert checked.total_params == 3 * 8 * 9 + 16 + 8 * 16 * 9 + 32 + 160 + 10


def test_every_section_maps_to_its_kind_with_darknets_shapes():
    checked, layers, kinds = imported_layers(EVERY)
    shapes = {info.name: info.output_shape for info in checked.layers}
    assert shapes["conv0"] == (8, conv_out(16, 3, 1, 1), 16)
    assert shapes["maxpool1"] == (8, maxpool_out(16, 2, 2, 1), 8)
    assert kinds["shortcut3"] == "add" and layers["shortcut3"]["inputs"] == ["conv2_relu",
                                                                            "maxpool1"]
    assert kinds["conv4_silu"] == "silu"  # swish
    assert layers["route5"]["inputs"] == ["conv4_silu", "shortcut3"]  # -1 and 3
    assert shapes["route5"] == (12, 8, 8) and shapes["upsample6"] == (12, 16, 16)
    assert layers["upsample6"]["mode"] == "nearest"
    assert shapes["maxpool7"] == (12, maxpool_out(16, 3, 2, 2), 8)
    assert layers["maxpool7"]["padding"] == [1, 1]  # padding 2: one before, one after
    assert kinds["batchnorm8"] == "batchnorm"
    assert shapes["conv_transpose9"] == (4, (8 - 1) * 2 + 2, 16)  # make_deconvolutional_layer
    assert layers["conv11"]["inputs"] == ["batchnorm8"]  # [route] layers=8 takes it up again
    assert shapes["conv11"] == (6, conv_out(8, 3, 2, 1), 4) and layers["conv11"]["groups"] == 2
    assert kinds["conv11_sigmoid"] == "sigmoid" and layers["dropout12"]["p"] == 0.2
    assert kinds["dense13_flatten"] == "flatten" and shapes["dense13_flatten"] == (96,)
    assert layers["dense13"]["bias"] is False and kinds["dense13_bn_elu"] == "elu"
    assert kinds["dense14"] == "dense" and kinds["softmax15"] == "softmax"
    assert kinds["conv_transpose9_tanh"] == "tanh" and kinds["conv2_relu"] == "relu"


@pytest.mark.parametrize("n", [5, 7, 8, 13])
@pytest.mark.parametrize("size, stride, padding", [
    (2, 2, None), (3, 2, None), (2, 1, None), (3, 1, None), (2, 2, 0), (3, 2, 1), (5, 3, 4),
    (1, 1, 0), (4, 2, 3)])
def test_a_maxpool_takes_darknets_output_size(n, size, stride, padding):
    total = size - 1 if padding is None else padding
    keys = f"size={size}\nstride={stride}\n" + ("" if padding is None else
                                                 f"padding={padding}\n")
    text = NET.replace("16", str(n)) + "[maxpool]\n" + keys + "[connected]\noutput=3\n"
    shapes = {i.name: i.output_shape for i in import_cfg(text, "pool.cfg").checked.layers}
    out = maxpool_out(n, size, stride, total)
    assert shapes["maxpool0"] == (3, out, out)


@pytest.mark.parametrize("keys, padding", [
    ("size=3\npad=1\n", 1), ("size=5\npad=1\n", 2), ("size=3\npadding=2\n", 2),
    ("size=3\npad=1\npadding=4\n", 1), ("size=1\npad=1\n", 0), ("size=3\n", 0)])
def test_a_convolutions_pad_is_size_over_2_else_its_padding(keys, padding):
    text = NET + "[convolutional]\nfilters=4\nactivation=relu\n" + keys + HEAD
    _, layers, _ = imported_layers_of(text)
    assert layers["conv0"]["padding"] == ([padding, padding] if padding else "valid")


def imported_layers_of(text: str):
    checked = import_cfg(text, "net.cfg").checked
    layers = {layer["name"]: layer for layer in checked.spec.ir["layers"]}
    return checked, layers, {name: layer["kind"] for name, layer in layers.items()}


@pytest.mark.parametrize("activation, kind", [
    ("linear", None), ("relu", "relu"), ("leaky", "leaky_relu"), ("logistic", "sigmoid"),
    ("tanh", "tanh"), ("elu", "elu"), ("swish", "silu"), ("silu", "silu"), ("mish", "mish"),
    (None, "sigmoid")])
def test_activations_and_darknets_default_logistic(activation, kind):
    line = "" if activation is None else f"activation={activation}\n"
    text = NET + "[convolutional]\nfilters=4\nsize=3\n" + line + HEAD
    _, _, kinds = imported_layers_of(text)
    after = [k for name, k in kinds.items() if name.startswith("conv0_")]
    assert after == ([] if kind is None else [kind])


def test_darknets_short_section_names_import_as_its_long_ones():
    """Darknet's parser reads [conv], [deconv], [conn], [max], [avg] and [soft] as the
    sections they shorten (src/parser.c, string_to_layer_type); each was refused as a
    section cnnspec does not import."""
    long = NET + ("[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n[maxpool]\n"
                  "size=2\nstride=2\n[deconvolutional]\nfilters=4\nsize=2\nstride=2\n"
                  "activation=relu\n[avgpool]\n[connected]\noutput=4\nactivation=linear\n"
                  "[softmax]\n[cost]\n")
    short = long
    for full, brief in (("convolutional", "conv"), ("deconvolutional", "deconv"),
                        ("maxpool", "max"), ("connected", "conn"),
                        ("avgpool", "avg"), ("softmax", "soft")):
        short = short.replace(f"[{full}]", f"[{brief}]")
    assert "[deconv]" in short and "[conv]" in short and "[soft]" in short
    assert import_cfg(short, "net.cfg").text == import_cfg(long, "net.cfg").text
    spec = error_of_spec("input 3x16x16\n[conv]\nfilters=8\nsize=3\nactivation=leaky\n\n"
                         "flatten\ndense 10\n")
    assert "this section is `conv 8 3 leaky_relu(0.1)`" in spec.hint


def error_of_spec(text: str) -> SpecError:
    from cnnspec.lang import parse

    with pytest.raises(SpecError) as caught:
        parse(text, path="m.cnn")
    return caught.value


def test_the_net_section_becomes_the_input_and_train_block():
    imported = import_cfg(SMALL.read_text(), "darknet_small.cfg")
    training = imported.checked.spec.ir["training"]
    assert imported.checked.spec.ir["input"]["shape"] == [3, 28, 28]
    assert training["lr"] == 0.1 and training["weight_decay"] == 0.0005
    assert training["decay_bias"] is False  # Darknet decays the weights alone
    assert training["batch_size"] == 32
    assert training["optimizer"]["name"] == "sgd" and training["optimizer"]["momentum"] == 0.9
    assert training["schedule"] == {"name": "poly", "power": 4.0}
    assert training["loss"] == "cross_entropy"
    header = [line for line in imported.text.splitlines() if line.startswith("#")]
    said = " ".join(header)
    for left_out in ("subdivisions=1", "max_batches=2000", ("saturation=.75, exposure=.75 and "
                     "hue=.1 left out: Darknet's colour jitter")):
        assert left_out in said
    assert imported.notes and all(note.startswith("[net]") for note in imported.notes)


def test_a_net_without_training_keys_takes_darknets_defaults():
    imported = import_cfg("[net]\nwidth=8\nheight=8\nchannels=1\n[connected]\noutput=10\n"
                          "[softmax]\n", "net.cfg")
    training = imported.checked.spec.ir["training"]
    assert training["lr"] == 0.001 and training["weight_decay"] == 0.0001
    assert training["optimizer"]["momentum"] == 0.9
    assert "lr 0.001" in imported.text and "Darknet's default learning_rate" in imported.text
    assert "schedule" not in imported.text  # policy=constant, Darknet's default


def test_a_route_to_one_layer_at_the_end_names_the_output():
    text = NET + "[connected]\noutput=4\n[connected]\noutput=2\n[route]\nlayers=0\n"
    imported = import_cfg(text, "net.cfg")
    assert imported.checked.spec.ir["output"] == "dense0_sigmoid"


def test_a_network_whose_output_is_one_score_is_refused_at_its_section():
    """One score under [softmax] and [cost] (cross-entropy) is 1 for every image: the spec
    was written, and check refused it beside any data (1 class, or 2 classes for 1 score)."""
    errors = errors_of(NET + "[connected]\noutput=1\n[softmax]\n[cost]\n")
    assert len(errors) == 1 and errors[0].message == ("the network's output 'softmax1' is 1 "
                                                      "score, where a classifier tells 2 "
                                                      "classes or more apart by one score each")
    assert (errors[0].span.line, errors[0].span.column) == (8, 1)
    assert "one per class" in errors[0].hint


@pytest.mark.parametrize("text, where", [
    (SMALL.read_text().replace("[avgpool]", ""), (61, 1)),  # its [softmax], on 10x4x4
    (NET + "[convolutional]\nfilters=4\nsize=3\n[connected]\noutput=2\n[route]\nlayers=0\n",
     (6, 1)),
    (NET + "[convolutional]\nfilters=4\nsize=3\nactivation=relu\n", (6, 1)),
])
def test_a_network_whose_output_is_a_feature_map_is_refused_at_its_section(text, where):
    """An output no loss trains (check refused it beside any data: 'the loss takes a flat
    vector of scores') imported as a spec naming npz data; Darknet's classifiers end in
    their classes."""
    errors = errors_of(text)
    assert len(errors) == 1 and "a feature map, not one score per class" in errors[0].message
    assert (errors[0].span.line, errors[0].span.column) == where
    assert "[avgpool]" in errors[0].hint


def test_the_imported_spec_checks_and_trains_a_step(tmp_path):
    imported = import_cfg(EVERY.read_text(), "darknet_every.cfg")
    spec = tmp_path / "every.cnn"
    spec.write_text(imported.text)
    assert main(["check", str(spec)]) == 0
    data = {"name": "shapes", "size": 16, "count": 32, "colour": True,
            "classes": ["x", "plus", "o", "square"]}
    run = cnnspec.train(str(spec), cnnspec.Settings(epochs=1, batch_size=16, data=data),
                        tmp_path / "run", progress="none")
    assert (run.path / "checkpoint.npz").exists()


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("text, message, where, hint", [
    ("[convolutional]\nfilters=4\n", "the cfg does not start with [net]", (1, 1),
     "starts with [net]"),
    ("", "the cfg does not start with [net]", (1, 1), "width="),
    (NET + "[convolutional]\nfilters 4\n", "'filters 4' has no '='", (7, 1), "key=value"),
    ("batch=1\n" + NET, "'batch=1' comes before any section", (1, 1), "starts with [net]"),
    (NET + "[convolutional]\nfilter=4\nsize=3\n", ("[convolutional] key 'filter' is not one "
     "cnnspec imports"), (7, 1), "did you mean 'filters'?"),
    (NET + "[convolutional]\nxnor=1\n", ("[convolutional] key 'xnor' is not one cnnspec "
     "imports"), (7, 1), "the keys of [convolutional] cnnspec reads: filters"),
    (NET + "[convolutional]\nsize=three\n", "size=three is not a whole number", (7, 6),
     "e.g. size=1"),
    (NET + "[convolutional]\nsize=3.5\n", "size=3.5 is not a whole number", (7, 6), None),
    (NET + "[dropout]\nprobability=half\n", "probability=half is not a number", (7, 13),
     "e.g. probability=0.5"),
    (NET + "[convolutional]\nfilters=0\n", "[convolutional] filters must be at least 1, not 0",
     (7, 9), "output channels"),
    # a number past a float's range: an OverflowError, then the imported spec's line
    (NET + "[convolutional]\nsize=1" + "0" * 330 + "\n", ("[convolutional] size must be at "
     "most 2,147,483,647"), (7, 6), "mistyped"),
    (NET.replace("width=16", "width=2147483648") + HEAD, "[net] width must be at most",
     (3, 7), "e.g. width=28"),
    (NET.replace("channels=3", "channels=" + "9" * 30) + HEAD, "[net] channels must be at most",
     (5, 10), "e.g. channels=3"),
    (NET + "[connected]\noutput=" + "9" * 400 + "\n", "[connected] output must be at most",
     (7, 8), None),
    (NET.replace("batch=8", "batch=8\nlearning_rate=1" + "0" * 400) + HEAD,
     "learning_rate=10000", (3, 15), "as a number"),
    (NET + "[dropout]\nprobability=1\n", "[dropout] probability must be in [0, 1), not 1",
     (7, 13), "zero everything"),
    (NET + "[upsample]\nstride=3000000000\n", "[upsample] stride must be at most", (7, 8),
     None),
    (NET + "[maxpool]\nsize=2\npadding=99999999999\n", "[maxpool] padding must be at most",
     (8, 9), None),
    (NET + "[convolutional]\nsize=1\n[route]\nlayers=-3\n", ("[route] names layer -3, which "
     "is no earlier layer: this section is layer 1"), (9, 8), ("it may name -1 (the layer "
     "before) to -1 (the first), or 0 to 0")),
    (NET + "[convolutional]\nsize=1\n[route]\nlayers=-1, 5\n", "[route] names layer 5",
     (9, 12), None),
    (NET + "[route]\nlayers=-1\n", "[route] names layer -1", (7, 8),
     "no layer comes before the first section after [net]"),
    (NET + "[route]\nlayers=-1,x\n", "layers=-1,x: 'x' is not a whole number", (7, 11),
     None),
    (NET + "[convolutional]\nsize=1\n[shortcut]\nfrom=-4\n", "[shortcut] names layer -4",
     (9, 6), None),
    (NET + "[shortcut]\n", "[shortcut] needs from=", (6, 1), None),
    (NET + "[convolutional]\nsize=1\n[yolo]\nclasses=80\n", ("Darknet's [yolo] is not a "
     "layer cnnspec imports"), (8, 1), "cnnspec trains classification networks"),
    (NET + "[region]\n", "Darknet's [region] is not a layer", (6, 1), "import the backbone"),
    (NET + "[detection]\n", "Darknet's [detection] is not a layer", (6, 1), None),
    (NET + "[local]\n", "Darknet's [local] is not a layer", (6, 1), "weights of its own"),
    (NET + "[crnn]\n", "Darknet's [crnn] is not a layer", (6, 1), "no recurrent layers"),
    (NET + "[reorg3d]\n", "Darknet's [reorg3d] is not a layer", (6, 1),
     "the sections cnnspec imports: [convolutional]"),
    (NET + "[convolutional]\nactivation=selu\n", ("Darknet's selu activation has no "
     "counterpart in cnnspec"), (7, 12), "leaky"),
    (NET + "[softmax]\ngroups=2\n", "a [softmax] with groups=2", (7, 8), None),
    (NET + "[convolutional]\n[cost]\n", ("a [cost] of type sse that does not follow a "
     "[softmax]"), (7, 1), "loss cross_entropy"),
    (NET + "[softmax]\n[cost]\ntype=smooth\n", "a [cost] of type smooth", (8, 6), None),
    (NET + "[convolutional]\nsize=1\nsize=3\n", "[convolutional] gives size twice", (8, 1),
     None),
    (NET + "[convolutional\n", "'[convolutional' is no section header", (6, 1), None),
    (NET + "[]\n", "'[]' is no section header", (6, 1), None),
    (NET + "[convolutional]\n=3\n", "'=3' has no key before '='", (7, 1), None),
    (NET + "[convolutional]\n[net]\n", "[net] comes again as layer 1", (7, 1), None),
    ("[net]\nwidth=8\nheight=8\n[connected]\n", "[net] needs channels=", (1, 1),
     "e.g. channels=3"),
    (NET, "the cfg has no layers cnnspec computes", (1, 1), None),
    (NET + "[upsample]\nscale=2\n", "an [upsample] with a scale", (7, 7), None),
    (NET + "[convolutional]\n[route]\nlayers=-1\ngroups=2\n", "a [route] with groups",
     (9, 8), None),
    (NET.replace("batch=8", "batch=eight") + HEAD, "batch=eight is not a whole number",
     (2, 7), None),
    (NET + "max_batch=100\n" + HEAD, "[net] key 'max_batch' is not one cnnspec imports",
     (6, 1), "did you mean 'max_batches'?"),
])
def test_a_mistake_is_located_in_the_cfg_with_a_hint(text, message, where, hint):
    errors = errors_of(text)
    err = errors[0]
    assert err.message.startswith(message), err.message
    assert (err.span.line, err.span.column) == where and err.file == "net.cfg"
    assert err.hint
    if hint:
        assert hint in err.hint, err.hint
    format_error(err, text)  # renders with its caret


def test_every_mistake_is_reported_at_once():
    text = NET + "[convolutional]\nsize=x\n[yolo]\n[maxpool]\nstrde=2\n" + HEAD
    messages = [err.message for err in errors_of(text)]
    assert len(messages) == 3
    assert "is not a whole number" in messages[0] and "[yolo]" in messages[1]
    assert "'strde'" in messages[2]


def test_a_later_route_counts_layers_as_darknet_does_past_a_refused_one():
    # layer 1 is refused; layer 2's route to -2 is layer 0, which exists: no second error
    text = NET + "[convolutional]\nsize=1\n[local]\n[route]\nlayers=-2\n" + HEAD
    assert [err.message.split(" is")[0] for err in errors_of(text)] == ["Darknet's [local]"]


CONV = "[convolutional]\nfilters=4\nsize=3\npad=1\n"


@pytest.mark.parametrize("text, message, where", [
    (NET + "[convolutional]\nsize=20\n" + HEAD, ("the 20x20 kernel of conv 'conv0' is "
     "larger than its input"), (6, 1)),
    (NET + CONV + CONV.replace("pad=1", "pad=1\nstride=2") + "[shortcut]\nfrom=-2\n" + HEAD,
     "add 'shortcut2' sums inputs of equal shape", (15, 1)),
    (NET + CONV + "[maxpool]\nstride=2\n[route]\nlayers=-1,-2\n" + HEAD, "concat 'route2' joins",
     (12, 1)),
    (NET + "[avgpool]\n" + CONV + HEAD, "conv layer 'conv1' needs a (C, H, W) feature map",
     (7, 1)),
    (NET + "[convolutional]\nfilters=3\ngroups=2\n" + HEAD, "conv 'conv0' has 2 groups",
     (6, 1)),
    (NET + "[connected]\noutput=4\n[softmax]\n[cost]\n[connected]\noutput=2\n",
     "softmax 'softmax1' is not the output layer", (8, 1)),
    (NET.replace("batch=8", "batch=8\nlearning_rate=0") + HEAD, ("training setting 'lr' "
     "must be greater than 0"), (3, 15)),
    (NET.replace("batch=8", "batch=8\nmomentum=1") + HEAD, "momentum of sgd must be in [0, 1)",
     (3, 10)),
])
def test_a_net_that_does_not_check_is_refused_at_its_section_in_the_cfg(text, message, where):
    """The checker's errors of the imported spec stand at the section or [net] key each line
    comes from: they stood at the lines of imported.cnn, a file no one wrote."""
    errors = errors_of(text)
    assert len(errors) == 1 and errors[0].message.startswith(message), errors[0].message
    assert (errors[0].span.line, errors[0].span.column) == where
    assert errors[0].file == "net.cfg" and errors[0].hint
    format_error(errors[0], text)


def test_training_past_the_memory_is_refused_at_the_batch_key():
    text = NET.replace("batch=8", "batch=1000000") + "[convolutional]\nfilters=512\n" + HEAD
    errors = errors_of(text)
    assert errors[0].message.startswith("training would need up to about")
    assert (errors[0].span.line, errors[0].span.column) == (2, 7)


# ---------------------------------------------------------------------------- robustness


# Darknet's punctuation and words, for mutated cfgs
PIECES = ["[", "]", "=", "#", ";", "\n", "-1", "0", "1e9", "nan", "x", ",", "layers", "from",
          "[route]", "[yolo]", "[net]", "size", "pad=1", "-99", " "]


def test_fuzzed_cfgs_never_raise_a_traceback():
    """Mutated cfgs: each imports or is a located SpecError (or the checker's InputError)."""
    from cnnspec.errors import InputError

    rng = random.Random(13)
    outcomes = {"ok": 0, "error": 0}
    for text in mutations(EVERY.read_text(), rng, 150, PIECES):
        try:
            import_cfg(text, "fuzz.cfg")
            outcomes["ok"] += 1
        except (SpecError, SpecErrors) as exc:
            for err in getattr(exc, "errors", [exc]):
                assert err.span is not None and err.hint, err.message
                format_error(err, text)
            outcomes["error"] += 1
        except (InputError, RunError):
            outcomes["error"] += 1
    assert outcomes["error"] > 0 and outcomes["ok"] > 0


# ---------------------------------------------------------------------------- command line


def test_cli_imports_a_cfg_and_locates_its_mistakes(tmp_path, capsys):
    out = tmp_path / "small.cnn"
    assert main(["import", str(SMALL), "-o", str(out)]) == 0
    assert "1,586 parameters" in capsys.readouterr().err
    assert main(["check", str(out)]) == 0
    bad = tmp_path / "yolo.cfg"
    bad.write_text(NET + "[convolutional]\nsize=1\n[yolo]\n")
    assert main(["import", str(bad), "-o", str(tmp_path / "yolo.cnn")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:8:1: error: Darknet's [yolo] is not a layer cnnspec imports" in err
    assert "^" in err and "hint: cnnspec trains classification networks" in err
    assert not (tmp_path / "yolo.cnn").exists()


def test_a_cfg_given_to_check_is_told_to_import_it(capsys):
    assert main(["check", str(SMALL)]) == 2
    err = capsys.readouterr().err
    assert "is a Darknet network, not a spec" in err and "import" in err


def test_caffes_options_are_refused_for_a_cfg(capsys):
    assert main(["import", str(SMALL), "--input", "3x28x28"]) == 2
    assert "Darknet's [net]" in capsys.readouterr().err


def test_the_docs_table_names_every_section_read_and_refused():
    from cnnspec.importers.darknet import READERS, REFUSED

    docs = (DATA.parents[2] / "docs" / "importing.md").read_text()
    darknet = docs[docs.index("## Darknet"):]
    for section in [*READERS, *REFUSED]:
        assert f"`[{section}]`" in darknet, section


def test_a_darknet_reference_like_net_has_darknets_shapes_and_parameters():
    """Darknet's reference classifier's layout (cfg/darknet.cfg: 3x3 leaky convolutions of
    16 to 1024 filters, each batch-normalised, halved by 2x2 pools, the last pool of stride 1,
    a 1x1 convolution to the scores), on 64x64 inputs."""
    widths = [16, 32, 64, 128, 256, 512]
    sections = []
    for i, filters in enumerate(widths):
        sections.append(f"[convolutional]\nbatch_normalize=1\nfilters={filters}\nsize=3\n"
                        "stride=1\npad=1\nactivation=leaky\n")
        stride = 1 if i == len(widths) - 1 else 2
        sections.append(f"[maxpool]\nsize=2\nstride={stride}\n")
    sections.append("[convolutional]\nbatch_normalize=1\nfilters=1024\nsize=3\npad=1\n"
                    "activation=leaky\n")
    sections.append("[convolutional]\nfilters=10\nsize=1\npad=1\nactivation=leaky\n")
    text = NET.replace("16", "64") + "".join(sections) + HEAD
    checked = import_cfg(text, "reference.cfg").checked
    shapes = {info.name: info.output_shape for info in checked.layers}
    n, pools = 64, []
    for i in range(len(widths)):
        n = maxpool_out(n, 2, 1 if i == len(widths) - 1 else 2, 1)
        pools.append(n)
    assert pools == [32, 16, 8, 4, 2, 2]  # the stride-1 pool, padded 1, keeps its size
    assert [shapes[f"maxpool{2 * i + 1}"][1] for i in range(len(widths))] == pools
    assert shapes["conv13"] == (10, 2, 2) and shapes["softmax15"] == (10,)
    channels = [3, *widths, 1024]
    expected = sum(c_in * c_out * 9 + 2 * c_out for c_in, c_out in itertools.pairwise(channels))
    assert checked.total_params == expected + 1024 * 10 + 10

"""Mistakes in a spec: each is a SpecError with the message, line, column and hint a user needs.

The first test keeps the catalogue of known-bad snippets (used by match_examples) honest: each
snippet must fail to parse and be recognised as its own class.
"""
import re

import numpy as np
import pytest

from cnnspec import parse
from cnnspec.check import check
from cnnspec.cli import main
from cnnspec.errors import SpecError, SpecErrors
from cnnspec.lang import parse_data, parse_init, syntax_errors
from cnnspec.lang.grammar import OPTIONS, grammar_text
from cnnspec.lang.parser import parse_tree
from cnnspec.lang.syntax_errors import CATALOGUE, ValuePatterns, capital_x_hint


def error_of(text):
    with pytest.raises(SpecError) as info:
        parse(text, path="bad.cnn")
    return info.value


@pytest.mark.parametrize("entry, snippet", [
    (entry, snippet) for entry in CATALOGUE for snippet in entry.examples
], ids=lambda x: x if isinstance(x, str) else x.message[:30])
def test_every_catalogue_example_is_recognised(entry, snippet):
    err = error_of(snippet)
    assert err.message == entry.message
    # an entry with a fix starts its hint with the line rewritten: `write `lr 0.1`; ...`,
    # where the line shows one (`default: relu` shows none: a layer given a keyword's name)
    assert (entry.fix is not None) >= (err.rewrite is not None)
    assert err.hint == entry.hint if err.rewrite is None else (
        err.hint == f"write `{err.rewrite}`; {entry.hint}")
    assert err.file == "bad.cnn" and err.span is not None



# A layer named as the README's are (`conv1: conv ...`) parses one level deeper than the same
# layer unnamed; its mistakes are the catalogue's all the same, at the column of the mistake.
@pytest.mark.parametrize("text, message, column", [
    ("input 1x8x8\nc1: conv 8 (3, 3) relu\n", "a size is written with 'x', not as a tuple", 12),
    ("input 1x8x8\nc1: conv 8 3x3 stride=2\n", "'=' is only used inside parentheses", 22),
    ("input 1x8x8\nc1: conv 8 3x3 relu padding=1\n", "'=' is only used inside parentheses",
     28),
    ("input 1x8x8\nc1: conv 8 3x3 weight normal(0, 0.1\ndense 10\n", "a '(' is never closed",
     29),
    ("input 1x8x8\nc1: conv 8 3x3 weight [1, 2\n", "a '[' is never closed", 23),
    ("input 1x8x8\nc1: conv 8 3x3 {\n", "'{' only opens a `repeat` or `train` block", 16),
    ("input 1x8x8\nrepeat 2 as b {\n  c1: conv 8 (3, 3)\n}\n",
     "a size is written with 'x', not as a tuple", 14),
])
def test_a_named_layers_mistake_is_recognised_as_the_unnamed_ones(text, message, column):
    err = error_of(text)
    entry = next(entry for entry in CATALOGUE if entry.message == message)
    assert err.message == entry.message
    assert err.hint.endswith(entry.hint)
    assert err.span.column == column

# (spec text, message pattern, line, column, hint pattern or None)
CASES = [
    ("input 1x8x8\nconv 8 3x3 stride=2\n", "'=' is only used inside parentheses", 2, 18,
     "^write `conv 8 3x3 stride 2`; "),
    # Python's keyword arguments rewritten as options, Keras' activation= as its name alone;
    # the '=' inside brackets kept
    (("input 1x8x8\nc1: conv 8 3x3 stride = 2 padding='same' weight he_normal(mode=fan_out) "
      "activation=tanh  # c\n"), "'=' is only used inside parentheses", 2, 23,
     "^write `c1: conv 8 3x3 stride 2 padding same weight he_normal\\(mode=fan_out\\) tanh`; "),
    ("input 1x8x8\nconv 8 3x3 weight normal(0, 0.1\ndense 10\n", "'\\(' is never closed",
     2, 25, None),
    # an unclosed block: the caret under the '{' left open, not at the end of the file
    ("input 1x8x8\ntrain {\n  lr 0.1\n", "block .* never closed", 2, 7, None),
    ("input 1x8x8\nrepeat 2 as b {\n  conv 8 3x3\n  conv 8 3x3\n", "block .* never closed",
     2, 15, None),
    ("input 1x8x8\nrepeat 2 as a {\n  repeat 2 as b {\n    conv 8 3x3\n  }\nflatten\n",
     "block .* never closed", 2, 15, None),
    ("input 1x8x8\nrepeat 2 as a {\n  repeat 2 as b {\n    conv 8 3x3\n", "block .* never closed",
     3, 17, None),
    # a layer inside the train block, read as a setting (or failing as one): it goes above
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  c1: conv 8 3x3\n}\n",
     "^'conv' is a layer: layers go before the train block, not inside it$", 5, 3,
     "^move this line above `train {` \\(line 4\\), among the layers"),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  conv 8 3x3\n}\n", "^'conv' is a layer", 5, 3,
     "line 4"),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  epochs 2\n  flatten\n}\n",
     "^'flatten' is a layer", 6, 3, "line 4"),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  fc: linear 10 relu\n}\n",
     "^'linear' is a layer", 5, 3, "line 4"),
    ("input 1x8x8\nflatten\ntrain {\n  dropout 0.5\n}\n", "^'dropout' is a layer", 4, 3,
     "^move this line above `train {` \\(line 3\\)"),
    ("input 1x8x8\nflatten\ntrain {\n  dense 10\n}\n", "^'dense' is a layer", 4, 3, "line 3"),
    # ... and with its name written before it without the ':' (Darknet's, Caffe's order), or
    # with an '=': the parser stops at a stray value, or reads a setting of an unknown key
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  c1 conv 8 3x3\n}\n",
     "^'conv' is a layer: layers go before the train block, not inside it$", 5, 3,
     ("^move this line above `train {` \\(line 4\\), among the layers, with a ':' after its "
      "name \\(`c1: conv ...`\\); ")),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  c1 conv 8 3x3 <- input\n}\n",
     "^'conv' is a layer", 5, 3, "`c1: conv ...`"),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  c1 = conv 8 3x3\n}\n",
     "^'conv' is a layer", 5, 3, "`c1: conv ...`"),
    ("input 1x8x8\nflatten\ntrain {\n  fc dense 10 relu\n}\n", "^'dense' is a layer", 4, 3,
     "`fc: dense ...`"),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  epochs 2\n  c1 relu\n}\n",
     "^'relu' is a layer", 6, 3, "`c1: relu ...`"),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  c1 conv(8, 3)\n}\n", "^'conv' is a layer",
     5, 3, "`c1: conv ...`"),
    # a training key before a layer's word stays a setting, whose value is wrong
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  lr relu\n}\n",
     "^training setting 'lr' must be a number, not 'relu'$", 5, 6, None),
    # a list written without its brackets, for a key that takes a list
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  augment crop(2), flip\n}\n",
     "^the values of 'augment' are a list, written in brackets$", 5, 11,
     "^write `augment \\[crop\\(2\\), flip\\]`$"),
    ("input 1x8x8\nflatten\ndense 3\ntrain {\n  class_weights 1, 2, 3  # rare\n}\n",
     "^the values of 'class_weights' are a list", 5, 17, "^write `class_weights \\[1, 2, 3\\]`$"),
    # ... but not where the comma parts two settings, or for a key of one value
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  augment flip, lr 0.1\n}\n",
     "^training settings are written one to a line$", 5, 17,
     "^write `augment flip` and `lr 0.1` on lines of their own inside train { }$"),
    # several settings on one line, however parted, are each written on a line of their own
    ("input 1x8x8\nflatten\ndense 10\ntrain { data digits epochs 2 lr 0.1 }\n",
     "^training settings are written one to a line$", 4, 21,
     "^write `data digits`, `epochs 2` and `lr 0.1` on lines of their own"),
    ("input 1x8x8\nflatten\ndense 10\ntrain { data: \"digits\", epochs: 2 }\n",
     "^training settings are written one to a line$", 4, 25,
     "^write `data digits` and `epochs 2` on lines"),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  lr=0.1; epochs=3  # short\n}\n",
     "^training settings are written one to a line$", 5, 11, "^write `lr 0.1` and `epochs 3` "),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  optimizer sgd(momentum=0.9, lr=1) lr 0.1\n}\n",
     "^training settings are written one to a line$", 5, 37,
     "^write `optimizer sgd\\(momentum=0.9, lr=1\\)` and `lr 0.1` "),
    # a key right after a key is its value (`monitor loss`), not a setting of its own
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  monitor loss epochs 2\n}\n",
     "^training settings are written one to a line$", 5, 16,
     "^write `monitor loss` and `epochs 2` "),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  optimizer sgd, adam\n}\n",
     "^training settings are written one to a line", 5, 16, None),
    # PyTorch's betas: one argument there, two here; its tuple is read for its values
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  optimizer adam(betas=(0.5, 0.99))\n}\n",
     "^optimizer adam has no parameter 'betas'$", 5, 18,
     ("^PyTorch's Adam \\(and AdamW\\) takes betas=\\(beta1, beta2\\), one tuple; here each is an "
     "argument of its own: write `beta1=0.5, beta2=0.99` in its place, as in "
     "`adam\\(beta1=0.5, beta2=0.99\\)`$")),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  optimizer adamw(eps=1e-7, betas=(0.5, 0.99))\n}\n",
     "^optimizer adamw has no parameter 'betas'$", 5, 29, "`adamw\\(beta1=0.5, beta2=0.99\\)`$"),
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  optimizer adam(betas=0.9)\n}\n",
     "^optimizer adam has no parameter 'betas'$", 5, 18,
     "write `beta1=0.9, beta2=0.999` in its place"),
    # another argument given a tuple keeps the plain message
    ("input 1x8x8\nflatten\ndense 10\ntrain {\n  optimizer sgd(momentum=(0.5, 0.99))\n}\n",
     "^unexpected '\\('", 5, 26, None),
    # a name quoted as Python and YAML quote it is written bare in the line the hint gives
    ("input 1x8x8\nflatten\ntrain {\n  optimizer = 'adam'\n}\n",
     "^a setting is written without '='$", 4, 13, "^write `optimizer adam`;"),
    ('input 1x8x8\nflatten\ntrain {\n  data: "fashion-mnist"\n}\n',
     "^a setting is written without ':'$", 4, 7, "^write `data fashion-mnist`;"),
    # ... and a number too: `epochs '2'` was then told strings are written in double quotes
    ("input 1x8x8\nflatten\ntrain {\n  epochs = '2'\n}\n",
     "^a setting is written without '='$", 4, 10, "^write `epochs 2`;"),
    ("input 1x8x8\nflatten\ntrain {\n  lr: \"1e-3\", data: 'npz(\"a.npz\")'\n}\n",
     "^training settings are written one to a line$", 4, 15,
     "^write `lr 1e-3` and `data 'npz\\(\"a.npz\"\\)'` on lines"),
    # a setting written as YAML writes it keeps its own hint
    ("input 1x8x8\nflatten\ntrain {\n  lr: 0.1\n}\n", "^a setting is written without ':'$",
     4, 5, "^write `lr 0.1`"),
    # a size as a tuple without brackets: the line with it written 3x3; Python's commas
    # between a layer's other values: spaces (a merge layer's bare inputs keep their hint)
    ("input 1x8x8\nconv 8 3, 3\n", "^a size is written with 'x', not as a tuple$", 2, 9,
     "^write `conv 8 3x3`: sizes are written with 'x' and no spaces"),
    ("input 1, 28, 28\n", "^a size is written with 'x', not as a tuple$", 1, 8,
     "^write `input 1x28x28`"),
    ("input 1x8x8\nc1: conv 8 3,3 stride 2, 2 relu  # x\n", "not as a tuple", 2, 13,
     "^write `c1: conv 8 3x3 stride 2x2 relu`:"),
    ("input 1x8x8\nmaxpool 2, 2\n", "not as a tuple", 2, 10, "^write `maxpool 2x2`"),
    # a tuple in a layer's call form: the call with a size, mended as far as it then reads
    # (Keras' kernel_size, a word in quotes)
    ("input 1x8x8\nconv(16, kernel_size=(3, 3), padding=\"same\")\n",
     "^a size is written with 'x', not as a tuple$", 2, 22,
     "^write `conv\\(16, kernel=3x3, padding=same\\)`: sizes are written with 'x'"),
    ("input 1x8x8\nc1: conv(16, 3x3, stride=(2, 2)) relu  # x\n", "not as a tuple", 2, 26,
     "^write `c1: conv\\(16, 3x3, stride=2x2\\) relu`:"),
    ("input 1x8x8\nmaxpool((2,2))\n", "not as a tuple", 2, 9, "^write `maxpool\\(2x2\\)`:"),
    # an init's call inside keeps its own parentheses: no size of the layer
    ("input 1x8x8\nconv(16, (3,3), weight=normal((0, 1)))\n", "not as a tuple", 2, 10,
     "^write `conv\\(16, 3x3, weight=normal\\(\\(0, 1\\)\\)\\)`:"),
    # a '(' around an init's word, or one inside an init's call, is no size
    ("input 1x8x8\nconv 8 3x3 weight he_normal(mode=(fan_out))\n", "^unexpected '\\('", 2, 34,
     "still open here$"),
    ("input 1x8x8\nconv(8, 3x3, weight=he_normal(mode=(fan_out)))\n", "^unexpected '\\('",
     2, 36, "still open here$"),
    ("input 1x8x8\nconv(16, 3x3, weight=normal((0, 1)))\n", "^unexpected '\\('", 2, 29,
     "still open here$"),
    ("input 1x8x8\nconv 16, 3 pad 1, 1\n", "^a layer's values are parted by spaces, not commas$",
     2, 8, "^write `conv 16 3 pad 1x1`$"),
    ("input 1x8x8\na: conv 8 3\nb: conv 8 3\ns: add a, b\n",
     "^the layers add merges are named in brackets or after '<-'$", 4, 8,
     "^write `s: add\\(a, b\\)`, or `s: add <- a, b`$"),
    # a layer whose last value has a default is written without it (upsample's mode)
    ("input 1x8x8\nnn.Upsample(scale_factor=2)\n", "as PyTorch writes it", 2, 1,
     "in cnnspec the layer is the line `upsample 2`$"),
    # the mode PyTorch's and Keras' upsampling name, Keras' size its factor (a pool's size
    # is its window); a mode the kind has not has no line
    ("input 1x8x8\nnn.Upsample(scale_factor=2, mode='bilinear')\n", "as PyTorch writes it",
     2, 1, "in cnnspec the layer is the line `upsample 2 bilinear`$"),
    ("input 1x8x8\nlayers.UpSampling2D(size=2)\n", "as Keras writes it", 2, 1,
     "in cnnspec the layer is the line `upsample 2`$"),
    ("input 1x8x8\nlayers.UpSampling2D((2, 3), interpolation='bilinear')\n",
     "as Keras writes it", 2, 1, "in cnnspec the layer is the line `upsample 2x3 bilinear`$"),
    ("input 1x8x8\nlayers.UpSampling2D(2, 'channels_last', 'bicubic')\n", "as Keras writes it",
     2, 1, "a line of its kind and values: upsample FACTOR \\[nearest\\|bilinear\\]"),
    ("input 1x8x8\nnn.Upsample(size=16)\n", "as PyTorch writes it", 2, 1,
     "a line of its kind and values: upsample FACTOR"),
    # a Darknet section: the spec's line for it, read from its key=value lines
    (("input 3x16x16\n[convolutional]\nbatch_normalize=1\nfilters=32\nsize=3\nstride=1\n"
     "pad=1\nactivation=leaky\n"),
     "^'\\[convolutional\\]' is a Darknet section header, not a cnnspec line$", 2, 1,
     ("^a spec writes each layer on one line: this section is "
      "`conv 32 3 pad 1 nobias bn leaky_relu\\(0.1\\)`$")),
    ("[net]\nbatch=64\nwidth=416\nheight=416\nchannels=3\n", "Darknet section header", 1, 1,
     "^Darknet's \\[net\\] section is a spec's `input 3x416x416` line, and its training keys"),
    ("input 3x16x16\n[convolutional]\nfilters=8\nsize=3\nactivation=selu\n[yolo]\n",
     "Darknet section header", 2, 1,
     "this section is `conv 8 3`[^`]*\\(Darknet's selu activation has no counterpart here\\)$"),
    ("input 3x16x16\n[convolutional]\nfilters=8\n", "Darknet section header", 2, 1,
     "^Darknet's \\[convolutional\\] is `conv` here, a layer written on one line: conv FILTERS"),
    ("input 3x16x16\n[yolo]\nmask=0,1,2\n", "^'\\[yolo\\]' is a Darknet section", 2, 1,
     "^cnnspec has no layer for Darknet's \\[yolo\\]"),
    ("input 3x16x16\n[shortcut]\nfrom=-3\n", "Darknet section", 2, 1,
     "^Darknet's \\[shortcut\\] is `add` here, naming the layers it takes"),
    # a Caffe prototxt: the command that imports it
    ("input 1x8x8\nlayer {\n  name: \"conv1\"\n}\n",
     "^this is a Caffe model definition \\(prototxt\\), not a cnnspec spec$", 2, 1,
     ("^cnnspec imports it: save it as bad.prototxt and run `cnnspec import bad.prototxt -o "
      "bad.cnn --force` \\(docs/importing.md\\)")),
    ('name: "LeNet"\nlayer {\n  name: "data"\n}\n', "Caffe model definition", 1, 1,
     "cnnspec import bad.prototxt"),
    ("input 1x8x8\nconv 8 3x3 {\n", "^'\\{' only opens a `repeat` or `train` block$", 2, 12,
     None),
    # C's and Caffe's ';' at the end of a statement, a percentage for a fraction
    ("input 1x8x8\nconv 8 3x3 relu;\n", "^a line ends without ';'$", 2, 16,
     "^write `conv 8 3x3 relu`$"),
    ("input 1x8x8;  # C\n", "^a line ends without ';'$", 1, 12, "^write `input 1x8x8`$"),
    ("input 1x8x8\nconv 8 3x3; relu\n", "^statements are written one to a line, not parted",
     2, 11, "^put each statement on a line of its own$"),
    ("input 1x8x8\nconv 8 3x3\ndropout 50%\n", "^a percentage is written as a fraction$", 3,
     11, "^write `dropout 0.5`: 50% is 0.5$"),
    ("input 1x8x8\nflatten\ntrain {\n  val_split 12.5%  # held out\n}\n",
     "^a percentage is written as a fraction$", 4, 17, "^write `val_split 0.125`: 12.5% is"),
    ('model "digits\ninput 1x8x8\n', "a string is never closed", 1, 7, "same line"),
    ('input 1x8x8\ntrain {\n  data npz("a.npz)\n}\n', "a string is never closed", 3, 12,
     "cannot span lines"),
    # a name in single quotes is written bare: told to use double quotes, `model "digits"`
    # and `weight "he_normal"` were refused next as strings where a name goes
    ("model 'digits'\ninput 1x8x8\n", "^a name is written without quotes$", 1, 7,
     '^write `model digits`; only a string, such as a file\'s path, is quoted'),
    ("input 1x8x8\nconv 8 3x3 weight 'he_normal' bias 'zeros'  # 'x'\n",
     "^a name is written without quotes$", 2, 19,
     "^write `conv 8 3x3 weight he_normal bias zeros`;"),
    ("input 1x8x8\nflatten\ntrain {\n  data 'fashion-mnist'\n}\n",
     "^a name is written without quotes$", 4, 8, "^write `data fashion-mnist`;"),
    # ... and where the line with its names bare is refused too, that line mended: it hinted
    # `nonlinearity=relu`, whose error came a check later
    ("input 1x8x8\ndefault weight kaiming_normal(mode='fan_out', nonlinearity='relu')\n",
     "^a name is written without quotes$", 2, 36,
     ("^write `default weight kaiming_normal\\(mode=fan_out, gain=relu\\)` \\(PyTorch's "
      "nonlinearity= is gain= here\\); only a string")),
    ("input 1x8x8\nflatten\ntrain {\n  data npz('a.npz')\n}\n",
     "^strings are written in double quotes$", 4, 12, 'npz\\("train.npz"\\)'),
    # a word processor's curly quotes, as a name copied from a document keeps them: told
    # that names are letters, digits and '_'
    (("input 1x8x8\nconv 8 3x3 weight kaiming_normal(mode=\u201cfan_out\u201d, "
      "gain=\u2018relu\u2019)\n"), "^a name is written without quotes$", 2, 39,
     "^write `conv 8 3x3 weight kaiming_normal\\(mode=fan_out, gain=relu\\)`; only a string"),
    ("input 1x8x8\nflatten\ntrain {\n  data npz(\u201ca.npz\u201d)\n}\n",
     "^strings are written in straight double quotes, not \u201c$", 4, 12,
     'npz\\("train.npz"\\)'),
    ("input 1x8x8\nconv 8 3x3 @\n", "unexpected character '@'", 2, 12, "comments start"),
    ("input 1×28×28\n", "unexpected character '×'", 1, 8, "^sizes are written with the letter x"),
    # arithmetic, which a spec does not compute: the number it comes to
    ("input 1x8x8\nconv 8 3x3 weight normal(0, 1/3)\n", "unexpected character '/'", 2, 30,
     "^a spec holds numbers, not arithmetic: write 0.3333 for 1/3$"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  lr 1e-2 * 5\n}\n", "unexpected character '\\*'",
     4, 11, "^a spec holds numbers, not arithmetic: write 0.05 for 1e-2 \\* 5$"),
    # a function as NumPy or math writes it, the operator inside the function's call, a power
    ("input 1x8x8\nconv 8 3x3 weight normal(0, np.sqrt(2/9))\n", "unexpected character '\\.'",
     2, 31, "^a spec holds numbers, not arithmetic: write 0.4714 for np\\.sqrt\\(2/9\\)$"),
    ("input 1x8x8\nconv 8 3x3 weight normal(0, sqrt(2/9))\n", "unexpected character '/'",
     2, 35, "^a spec holds numbers, not arithmetic: write 0.4714 for sqrt\\(2/9\\)$"),
    ("input 1x8x8\nconv 8 3x3 weight normal(0, 1/100000)\n", "unexpected character '/'",
     2, 30, "^a spec holds numbers, not arithmetic: write 1e-5 for 1/100000$"),
    ("input 1x8x8\nconv 8 3x3 weight normal(0, 2**-0.5)\n", "unexpected character '\\*'",
     2, 30, "^a spec holds numbers, not arithmetic: write 0.7071 for 2\\*\\*-0.5$"),
    # a residual sum as PyTorch's forward writes it
    ("input 1x8x8\na: conv 8 3x3\nb: conv 8 3x3 <- input\ns: a + b\n",
     "unexpected character '\\+'", 4, 6,
     "^layers are summed with `add`, e.g. `s: add\\(c1, c2\\)`"),
    ("input 1x8x8\ntrain {\n  data npz(data/train.npz)\n}\n", "unexpected character '/'", 3,
     16, '^a file path is a string in double quotes, e.g. npz\\("data/train.npz"\\)'),
    ("input 1x8x8\n)\n", "unexpected '\\)'", 2, 1, None),
    ("input 1x8x8\nconv 8 3x3 )\n", "unexpected '\\)': expected", 2, 12, None),
    ("input 1x8x8\nconv 8 3x3 weight he_normall\n", "unknown initializer 'he_normall'", 2, 19,
     "did you mean he_normal\\?"),
    ("input 1x8x8\nconv 8 3x3 weight xavier_unifrom\n", "unknown initializer", 2, 19,
     "did you mean xavier_uniform\\?"),
    ("input 1x8x8\nconv 8 3x3 weight he\n", "unknown initializer 'he'", 2, 19,
     "did you mean he_normal or he_uniform\\?"),
    # a family's first word: every member, not the one difflib scores highest
    ("input 1x8x8\nconv 8 3x3 weight glorot\n", "unknown initializer 'glorot'", 2, 19,
     "^did you mean glorot_normal or glorot_uniform\\?"),
    ("input 1x8x8\nconv 8 3x3 weight lecun\n", "unknown initializer 'lecun'", 2, 19,
     "^did you mean lecun_normal or lecun_uniform\\?"),
    ("input 1x8x8\nconv 8 3x3 weight xavier\n", "unknown initializer 'xavier'", 2, 19,
     "Caffe's xavier .* is lecun_uniform here; Keras' and PyTorch's .* is glorot_uniform"),
    ("input 1x8x8\nconvv 8 3x3\n", "unknown layer kind 'convv'", 2, 1, "did you mean conv\\?"),
    ("input 1x8x8\nconv 8 3x3 strid 2\n", "unknown option 'strid' for conv", 2, 12,
     "did you mean stride\\?"),
    ("input 1x8x8\nconv 8 3x3 rellu\n", "unknown option 'rellu'", 2, 12, "did you mean relu\\?"),
    # the values of a layer in the wrong order, or one left out
    ("input 1x8x8\nconv 3x3 8 relu\n",
     "the number of filters of 'conv1' must be a whole number, not the size 3x3", 2, 6,
     "^conv takes the number of filters first, then the kernel size; usage: conv FILTERS KERNEL"),
    ("input 1x8x8\nc1: conv 3x3 relu\n", "the number of filters of 'c1' must be a whole number",
     2, 10, "^conv takes the number of filters first"),
    ("input 1x8x8\nconv 8.5 3x3\n", "must be a whole number, not 8.5", 2, 6,
     "^write an integer such as 8$"),
    ("input 1x8x8\nconv 8 3x3 pad full\n", "unknown padding 'full'", 2, 16,
     "^valid paddings: same, valid; e.g. pad same, pad valid, pad 1, pad 1x2"),
    ("input 1x8x8\nconv 8 3x3 pad sme\n", "unknown padding 'sme'", 2, 16,
     "^did you mean same\\? \\(valid paddings: same, valid\\); e.g. pad same"),
    # an optimizer's or schedule's argument written as a setting of its own, as Keras and
    # PyTorch pass it beside the learning rate (difflib offered `monitor` for `momentum`)
    ("input 1x8x8\ndense 10\ntrain {\n  optimizer sgd\n  momentum 0.9\n}\n",
     "unknown training setting 'momentum'", 5, 3,
     ("^momentum is an argument of the optimizer \\(sgd or rmsprop\\), written in its "
      "parentheses: `optimizer sgd\\(momentum=0.9\\)`$")),
    ("input 1x8x8\ndense 10\ntrain {\n  nesterov true\n}\n",
     "unknown training setting 'nesterov'", 4, 3, "`optimizer sgd\\(nesterov=true\\)`$"),
    # Caffe's solver, Darknet's [net] and Keras' words for the settings: ours, and how the
    # value is written (a spelling guess offered monitor for max_iter, val_split for lr_policy)
    ("input 1x8x8\ndense 10\ntrain {\n  max_iter 1000\n}\n",
     "^unknown training setting 'max_iter'$", 4, 3,
     ("^Caffe's max_iter is epochs here: write `epochs E`; Caffe counts iterations, a batch "
      "each; a spec counts epochs, .*: 1000 iterations are E = 1000 · batch_size / training "
      "images epochs$")),
    # in any case, with or without the ':', as Darknet's and Caffe's users write them
    ("input 1x8x8\ndense 10\ntrain {\n  MAX_ITER 1000\n}\n",
     "^unknown training setting 'MAX_ITER'$", 4, 3, "^Caffe's max_iter is epochs here"),
    ("input 1x8x8\ndense 10\ntrain {\n  MAX_ITER: 1000\n}\n",
     "^unknown training setting 'MAX_ITER'$", 4, 3, "^Caffe's max_iter is epochs here"),
    ("input 1x8x8\ndense 10\ntrain {\n  Momentum 0.9\n}\n",
     "^unknown training setting 'Momentum'$", 4, 3, "`optimizer sgd\\(momentum=0.9\\)`$"),
    # ours in capitals: a spelling guess offered `lr` among every setting
    ("input 1x8x8\ndense 10\ntrain {\n  LR 0.1\n}\n",
     "^unknown training setting 'LR'$", 4, 3, "^settings are written in lower case: `lr 0.1`$"),
    # PyTorch's betas: a guess listed every setting, and its tuple was a stray '('
    ("input 1x8x8\ndense 10\ntrain {\n  betas (0.5, 0.95)\n}\n",
     "^unknown training setting 'betas'$", 4, 3,
     ("^optimizer adam: PyTorch's Adam \\(and AdamW\\) takes betas=\\(beta1, beta2\\).*"
      "`adam\\(beta1=0.5, beta2=0.95\\)`$")),
    ("input 1x8x8\ndense 10\ntrain {\n  LR (0.1, 0.2)\n}\n",
     "^unknown training setting 'LR'$", 4, 3, "^settings are written in lower case: `lr ...`$"),
    ("input 1x8x8\ndense 10\ntrain {\n  betas 0.9\n}\n",
     "^unknown training setting 'betas'$", 4, 3, "`adam\\(beta1=0.9, beta2=0.999\\)`$"),
    ("input 1x8x8\ndense 10\ntrain {\n  lr_policy step\n}\n",
     "^unknown training setting 'lr_policy'$", 4, 3,
     ("^Caffe's lr_policy is schedule here: write `schedule step\\(step_size=10, gamma=0.1\\)`; "
      "step's step_size and multistep's milestones count epochs, Caffe's stepsize")),
    ('input 1x8x8\ndense 10\ntrain {\n  lr_policy "fixed"\n}\n', "'lr_policy'", 4, 3,
     "write `schedule constant`"),
    ("input 1x8x8\ndense 10\ntrain {\n  base_lr 0.01\n}\n",
     "^unknown training setting 'base_lr'$", 4, 3, "^Caffe's base_lr is lr here: write `lr 0.01`$"),
    # Keras' compile and fit arguments with no setting of their own: what does it here
    ("input 1x8x8\ndense 10\ntrain {\n  metrics [\"accuracy\"]\n}\n",
     "^unknown training setting 'metrics'$", 4, 3,
     "^Keras' compile metrics has no counterpart here: training prints every epoch's loss"),
    ("input 1x8x8\ndense 10\ntrain {\n  callbacks [EarlyStopping(patience=3)]\n}\n",
     "^unknown training setting 'callbacks'$", 4, 3,
     "EarlyStopping\\(patience=N\\) is `early_stop N`"),
    ("input 1x8x8\ndense 10\ntrain {\n  subdivisions 8\n}\n",
     "^unknown training setting 'subdivisions'$", 4, 3,
     "^Darknet's subdivisions has no counterpart here: a step computes its whole batch"),
    ("input 1x8x8\ndense 10\ntrain {\n  policy steps\n}\n", "'policy'", 4, 3,
     "^Darknet's policy is schedule here: write `schedule multistep\\(milestones="),
    ("input 1x8x8\ndense 10\ntrain {\n  num_epochs 5\n}\n", "'num_epochs'", 4, 3,
     "write `epochs 5`$"),
    ("input 1x8x8\ndense 10\ntrain {\n  type \"Adam\"\n}\n", "'type'", 4, 3,
     "^Caffe's solver type is optimizer here: write `optimizer adam\\("),
    # a name with two meanings elsewhere gets both; one that is also an argument here, both
    ("input 1x8x8\ndense 10\ntrain {\n  decay 0.0005\n}\n", "'decay'", 4, 3,
     ("^Darknet's decay is weight_decay here: write `weight_decay 0.0005`; or Keras 2's decay "
      "is schedule here: write `schedule inv\\(gamma=0.0005, power=1\\)`")),
    ("input 1x8x8\ndense 10\ntrain {\n  patience 5\n}\n", "'patience'", 4, 3,
     ("^Keras' EarlyStopping patience is early_stop here: write `early_stop 5`; patience is an "
      "argument of the schedule \\(plateau\\)")),
    # ... written as the other library writes the line: a ':', an '=', commas between values
    ("input 1x8x8\ndense 10\ntrain {\n  base_lr: 0.01  # Caffe\n}\n",
     "^unknown training setting 'base_lr'$", 4, 3, "write `lr 0.01`$"),
    ('input 1x8x8\ndense 10\ntrain {\n  lr_policy: "step"\n}\n', "'lr_policy'", 4, 3,
     "write `schedule step\\("),
    ("input 1x8x8\ndense 10\ntrain {\n  max_batches=5000\n}\n", "'max_batches'", 4, 3,
     "write `epochs E`; Darknet counts iterations.*5000 iterations are"),
    ("input 1x8x8\ndense 10\ntrain {\n  steps=400,450\n}\n", "'steps'", 4, 3,
     "^Darknet's steps is schedule here: write `schedule multistep\\(milestones=\\[E1, E2\\]"),
    ("input 1x8x8\ndense 10\ntrain {\n  momentum: 0.9\n}\n", "'momentum'", 4, 3,
     "`optimizer sgd\\(momentum=0.9\\)`$"),
    # ... and a setting of ours written so keeps the hint that mends the line
    ("input 1x8x8\ndense 10\ntrain {\n  epochs: 5\n}\n", "^a setting is written without ':'$",
     4, 9, "^write `epochs 5`"),
    # ... its value left out: the name alone is no line (the hint said `epochs`)
    ("input 1x8x8\ndense 10\ntrain {\n  epochs:  # c\n}\n",
     "^a setting is written without ':'$", 4, 9, "^write `epochs ...`;"),
    ("input 1x8x8\ndense 10\ntrain {\n  epochs =\n}\n",
     "^a setting is written without '='$", 4, 10, "^write `epochs ...`;"),
    ("input 1x8x8\ndense 10\ntrain {\n  gamma 0.5\n}\n",
     "unknown training setting 'gamma'", 4, 3,
     "^gamma is an argument of the schedule \\(step, multistep, exp or inv\\)"),
    # Keras' argument names for what is written alone, in its place
    ("input 1x8x8\nmaxpool pool_size 2\n",
     "'pool_size' is not an option of maxpool: a window size is written alone", 2, 9,
     "^write `maxpool 2`$"),
    # a normalisation's scale and shift start at 1 and 0: no init is written for them, in
    # any library's words (Goyal et al. 2017's zero last scale cannot be written)
    ("input 1x8x8\nconv 8 3x3\nbatchnorm weight he_normal\n",
     "^batchnorm starts at scale 1, shift 0; it takes no init \\('weight'\\)$", 3, 11,
     "^remove `weight he_normal`; usage: batchnorm "),
    ("input 1x8x8\nconv 8 3x3\nbatchnorm(gamma_initializer=zeros)\n",
     ("^batchnorm starts at scale 1, shift 0; it takes no init \\('gamma_initializer'\\): "
     "`gamma_initializer zeros` would start its scale at 0; its output would be its shift alone"),
     3, 11, "^remove `gamma_initializer zeros`; usage: batchnorm "),
    ("input 1x8x8\nconv 8 3x3\ngroupnorm 2 bias zeros\n",
     ("^groupnorm starts at scale 1, shift 0; it takes no init \\('bias'\\): `bias zeros` would "
     "start its shift at 0$"), 3, 13, "^remove `bias zeros`"),
    # what a zero scale would do, as a run with the scale set to 0 finds (test_init_on_fixed):
    # not Keras' `scale=False`, which `scale false` still is
    ("input 1x8x8\nconv 8 3x3\nbatchnorm scale zeros\n",
     ("^batchnorm starts at scale 1, shift 0; it takes no init \\('scale'\\): `scale zeros` "
     "would start its scale at 0; its output would be its shift alone, the same for every "
     "input, and the layers before it would get no gradient until the scale moved off 0; the "
     "scale's own gradient .* is not 0, so one step moves it, unless a relu reads the norm: "
     ".* neither the norm nor any layer before it would ever learn$"), 3, 11,
     "^remove `scale zeros`; usage: batchnorm "),
    ("input 1x8x8\nconv 8 3x3\nlayernorm shift constant(0.5)\n",
     ("^layernorm starts at scale 1, shift 0; it takes no init \\('shift'\\): `shift "
     "constant\\(0.5\\)` would start its shift at 0.5$"), 3, 11, "^remove `shift constant"),
    # prelu's slopes start at PyTorch's 0.25 whatever init is written
    ("input 1x8x8\nconv 8 3x3\nprelu weight zeros\n",
     ("^prelu starts at slope 0.25 per channel, PyTorch's nn.PReLU default; it takes no init "
     "\\('weight'\\): `weight zeros` would start its slope at 0; it would start as a relu, and "
     "its slopes would learn from there"), 3, 7, "^remove `weight zeros`; usage: prelu"),
    ("input 1x8x8\nconv 8 3x3\nprelu slope constant(0.1)\n",
     ("^prelu starts at slope 0.25 per channel, .*: `slope constant\\(0.1\\)` would start its "
     "slope at 0.1$"), 3, 7, "^remove `slope constant\\(0.1\\)`"),
    ("input 1x8x8\nconv 8 3x3\nprelu weight he_normal\n",
     ("^prelu starts at slope 0.25 per channel, PyTorch's nn.PReLU default; it takes no init "
     "\\('weight'\\)$"), 3, 7, "^remove `weight he_normal`"),
    ("input 1x8x8\nconv 8 3x3\nbatchnorm scale he_normal\n",
     "^batchnorm starts at scale 1, shift 0; it takes no init \\('scale'\\)$", 3, 11,
     "^remove `scale he_normal`"),
    ("input 1x8x8\nconv 8 3x3\nprelu bias zeros\n",
     "^prelu starts at slope 0.25 .* it takes no init \\('bias'\\)$", 3, 7, "^remove `bias "),
    # Keras' and PyTorch's words for initializers and optimizer arguments
    ("input 1x8x8\nconv 8 3x3 kernel_initializer he_normal\n",
     "'kernel_initializer' is not an option of conv: an initializer is written `weight INIT`",
     2, 12, "^write `weight he_normal`; usage: conv "),
    ("input 1x8x8\nflatten\ndense 10 bias_initializer zeros\n", "written `bias INIT`", 3, 10,
     "^write `bias zeros`; usage: dense "),
    # `init` alone, as tutorials say it, is the weight's; Haiku's w_init and b_init
    ("input 1x8x8\nflatten\ndense 10 init glorot_uniform relu\n",
     "^'init' is not an option of dense: an initializer is written `weight INIT`$", 3, 10,
     "^write `weight glorot_uniform`; "),
    ("input 1x8x8\nconv 8 3x3 w_init normal(0, 0.01)\n", "written `weight INIT`$", 2, 12,
     "^write `weight normal\\(...\\)`; "),
    ("input 1x8x8\nconv 8 3x3 b_init\n", "written `bias INIT`$", 2, 12, "^write `bias zeros`; "),
    # Keras' HeNormal is cut at 2 std: what importing it writes, not the untruncated he_normal
    ("input 1x8x8\nconv 8 3x3 weight HeNormal\n", "unknown initializer 'HeNormal'", 2, 19,
     ("^Keras' HeNormal is variance_scaling\\(scale=2, mode=fan_in, "
      "distribution=truncated_normal\\) here: Keras' he_normal, cut at 2 std")),
    ("input 1x8x8\nconv 8 3x3 weight GlorotUniform\n", "unknown initializer", 2, 19,
     "^Keras' GlorotUniform is glorot_uniform here$"),
    ("input 1x8x8\nconv 8 3x3 weight random_normal\n", "unknown initializer 'random_normal'",
     2, 19, "^Keras' RandomNormal .* is normal\\(0, 0.05\\) here$"),
    ("input 1x8x8\nconv 8 3x3 weight trunc_normal(std=0.02)\n", "unknown initializer", 2, 19,
     ("^PyTorch's trunc_normal_\\(w, mean, std, a, b\\) is truncated_normal\\(mean, std, low=a, "
     "high=b\\) here")),
    # PyTorch's in-place spellings, with their trailing '_'
    ("input 1x8x8\nconv 8 3x3 weight trunc_normal_(std=0.02)\n",
     "unknown initializer 'trunc_normal_'", 2, 19,
     ("^PyTorch's trunc_normal_\\(w, mean, std, a, b\\) is truncated_normal\\(mean, std, low=a, "
     "high=b\\) here")),
    ("input 1x8x8\nconv 8 3x3 weight eye_\n", "unknown initializer 'eye_'", 2, 19,
     "^PyTorch's eye_ and dirac_ and Keras' Identity are identity here$"),
    ("input 1x8x8\nconv 8 3x3 weight kaiming_normal_(nonlinearity=relu)\n",
     "unknown initializer 'kaiming_normal_'", 2, 19,
     "^write kaiming_normal: PyTorch's nn.init functions end in '_'"),
    ("input 1x8x8\nconv 8 3x3 weight kaiming_normal(nonlinearity=relu)\n",
     "initializer kaiming_normal has no parameter 'nonlinearity'", 2, 34,
     "^PyTorch's nonlinearity= is gain= here"),
    ("input 1x8x8\nconv 8 3x3 weight kaiming_uniform(a=2.236)\n", "no parameter 'a'", 2, 35,
     ("gain=leaky_relu\\(a\\) here: write `kaiming_uniform\\(gain=leaky_relu\\(2.236\\)\\)`; "
     ".* is torch_default here$")),
    ("input 1x8x8\nconv 8 3x3 weight normal(stddev=0.05)\n", "no parameter 'stddev'", 2, 26,
     "^Keras' stddev is std here"),
    ("input 1x8x8\nconv 8 3x3 weight variance_scaling(2, fan_in, untruncated_normal)\n",
     "unknown distribution 'untruncated_normal'", 2, 47, "is distribution=normal here"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  optimizer adam(learning_rate=0.001)\n}\n",
     "'learning_rate' is a training setting of its own, not an argument of optimizer adam",
     4, 18, "on its own line in the train block: `lr 0.001`, and the optimizer as `adam`$"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  optimizer sgd(momentum=0.9, weight_decay=5e-4)\n}\n",
     "'weight_decay' is a training setting of its own", 4, 31,
     "`weight_decay 5e-4`, and the optimizer as `sgd\\(momentum=0.9\\)`$"),
    # Keras' input shape, height x width x channels, as the input line, channels first
    ("input_shape=(28, 28, 1)\nconv 8 3x3\n", "Keras' input_shape is the spec's input line",
     1, 1, ("^write `input 1x28x28`; the input is written channels x height x width, not "
            "height x width x channels as in Keras$")),
    ("input (28, 28, 1)\nflatten\n", "a size is written with 'x', not as a tuple", 1, 1,
     "^write `input 1x28x28`: .*, not height x width x channels as in Keras$"),
    ("input (1, 28, 28)\nflatten\n", "a size is written with 'x', not as a tuple", 1, 1,
     "^write `input 1x28x28`: sizes are written with 'x' and no spaces, 3x3 or 1x28x28$"),
    ("Input(shape=(28, 28, 1))\n", r"Input\(\.\.\.\) is a layer as Keras writes it", 1, 1,
     "in cnnspec the input is the line `input 1x28x28`: the input is written channels x"),
    ("keras.layers.InputLayer(batch_shape=(None, 32, 32, 3))\n", "InputLayer", 1, 1,
     "the input is the line `input 3x32x32`"),
    ("input 1x28x28\nConv2D(8, 3, input_shape=(28, 28, 1))\n", "Conv2D", 2, 1,
     "the line `conv 8 3`; its input shape is the spec's line `input 1x28x28`"),
    # PyTorch's first argument of an optimizer (its parameters) and of a scheduler
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  optimizer sgd(params, momentum=0.9)\n}\n",
     "sgd takes numbers, not 'params'", 4, 17,
     "^leave `params` out, `sgd\\(momentum=0.9\\)`: PyTorch's optimizers take the parameters"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  optimizer sgd(true)\n}\n",
     "momentum of sgd must be a number, not 'true'", 4, 17, None),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  schedule step(optimizer, 3)\n}\n",
     "step takes numbers, not 'optimizer'", 4, 17, "^leave `optimizer` out, `step\\(3\\)`"),
    # PyTorch's and Keras' tuples: an option's value after a space, a size with 'x'
    ("input 1x8x8\nconv 8 3x3 stride (2, 2)\n",
     "option 'stride' of conv layer 'conv1' takes its value after a space", 2, 12,
     "^write `stride 2x2`; a size is written with 'x' \\(2x2, not \\(2, 2\\)\\)$"),
    ("input 1x8x8\nmaxpool 2 pad(1)\n", "option 'pad' of maxpool", 2, 11, "^write `pad 1`$"),
    ("input 1x8x8\nconv 8 3x3 lr_mult(0.1)\n",
     "option 'lr_mult' of conv layer 'conv1' takes its value after a space, not in parentheses",
     2, 12, "^write `lr_mult 0.1`$"),
    ("input 1x8x8\nconv 8 3x3 pad(same)\n", "option 'pad'", 2, 12, "^write `pad same`"),
    ("input 1x8x8\nflatten 3\n", "flatten takes no values", 2, 9, None),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  lrr 0.1\n}\n", "unknown training setting 'lrr'",
     4, 3, "did you mean lr\\?"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  optimizer adan\n}\n", "unknown optimizer 'adan'",
     4, 13, "did you mean adam\\?"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  data shapes(classes=[x, pluss])\n}\n",
     "unknown shape class 'pluss'", 4, 27, "did you mean plus\\?"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  lr 0.1\n  lr 0.2\n}\n", "given twice", 5, 3,
     "line 4"),
    ("input 1x8x8\nconv 0 3x3\n", "filters .* at least 1, not 0", 2, 6, "output channels"),
    ("input 1x8x8\nconv -4 3x3\n", "filters .* at least 1, not -4", 2, 6, None),
    ("input 1x8x8\nconv 8.5 3x3\n", "must be a whole number, not 8.5", 2, 6, "integer"),
    ("input 1x8x8\nconv 8 0x3\n", "kernel size .* at least 1", 2, 8, None),
    ("input 1x8x8\nconv 8 3x3x3\n", "one number or HxW", 2, 8, None),
    ("input 1x8x8\nconv 8 3x3 stride 0\n", "stride .* at least 1", 2, 19, None),
    ("input 1x8x8\nconv 8\n", "needs a kernel size", 2, 1, "usage: conv FILTERS KERNEL"),
    ("input 1x8x8\ndropout 1.0\n", "dropout probability .* \\[0, 1\\)", 2, 9,
     "zero everything"),
    ("input 1x8x8\ndropout -0.1\n", "dropout probability .* \\[0, 1\\)", 2, 9, None),
    ("input 1x8x8\nconv 8 3x3 pad sam\n", "unknown padding 'sam'", 2, 16, "did you mean same"),
    ("input 1x8x8\nconv 8 3x3 weight [[1,0],[[1]]]\n", ("kernel literal nested unevenly: this "
     "entry is a matrix \\(a list of rows\\), the first is a row of numbers"), 2, 26,
     "every row holds numbers"),
    ("input 1x8x8\nconv 8 3x3 weight [1, 0, 1]\n", "must be 2-D", 2, 19, None),
    ("input 1x8x8\nconv 8 3x3 weight [[1, a]]\n", "holds numbers, not 'a'", 2, 24, None),
    ("input 1x8x8\nconv 8 3x3 weight normal(0)\n", "needs a value for 'std'", 2, 19,
     "normal\\(mean, std\\)"),
    # PyTorch's and Keras' habit: one number is the std; here the first is the mean, and the
    # hint gives the number to the std (not for normal(0) above: a std of 0 is refused)
    ("input 1x8x8\nconv 8 3x3 weight normal(0.01)\n", "needs a value for 'std'", 2, 19,
     ("^write normal\\(mean, std\\); by position 0.01 is the mean: for a std of 0.01 write "
      "normal\\(std=0.01\\)$")),
    ("input 1x8x8\nconv 8 3x3 weight normal(0, 1, 2)\n", "at most 2 arguments, got 3", 2, 32,
     None),
    ("input 1x8x8\nconv 8 3x3 weight zeros(1)\n", "takes no arguments", 2, 25, None),
    # Caffe's gaussian filler's fields on our blur kernel: "valid parameters: sigma" led to a
    # blur of 0.01 pixels; the hint names the init Caffe's gaussian is
    ("input 1x8x8\nconv 8 3x3 weight gaussian(std=0.01)\n",
     "^initializer gaussian has no parameter 'std'$", 2, 28,
     "^Caffe's `gaussian` filler, random N\\(0, std²\\), is `normal\\(0, std\\)` here"),
    ("input 1x8x8\nconv 8 3x3 weight gaussian(0, 0.01)\n",
     "^initializer gaussian takes at most 1 argument, got 2$", 2, 31,
     "^write gaussian\\(sigma\\); Caffe's `gaussian` filler.* is `normal\\(0, std\\)` here"),
    ("input 1x8x8\nconv 8 3x3 weight he_normal(mod=fan_out)\n", "no parameter 'mod'", 2, 29,
     "did you mean mode\\?"),
    ("input 1x8x8\nconv 8 3x3 weight he_normal(mode=fan_avg)\n", "unknown mode 'fan_avg'",
     2, 34, "write `glorot_normal\\(gain=relu\\)`$"),
    ("input 1x8x8\nconv 8 3x3 weight he_normal(gain=rellu)\n", "unknown nonlinearity 'rellu'",
     2, 34, "did you mean relu\\?"),
    ("input 1x8x8\nconv 8 3x3 weight normal(0, -1)\n", "std of normal .* greater than 0",
     2, 29, None),
    ("input 1x8x8\nconv 8 3x3 weight uniform(1, -1)\n", "low < high", 2, 19, None),
    ("input 1x8x8\nconv 8 3x3 bias sobel_x\n", "'sobel_x' cannot initialise a bias", 2, 17,
     None),
    ("input 1x8x8\nconv 2 3x3 bias [[1, 2]]\n",
     ("^a bias literal is a flat list, one number for each unit or filter, not 2-D$"), 2, 17,
     "^write its values in one list"),
    ("input 1x8x8\nconv 8 3x3 nobias bias zeros\n",
     "^'conv1' says both nobias \\(no bias\\) and bias zeros \\(how its bias starts\\)$", 2, 19,
     "^drop `nobias` to keep a bias, or drop `bias zeros`$"),
    # "no bias" as other libraries say it: the flag, never an initializer guessed from the word
    ("input 1x8x8\nconv 16 3x3 relu bias none\n",
     "^'bias none' does not leave out the bias of 'conv1': `bias` takes an initializer$", 2, 18,
     "^for a layer without a bias write `nobias` instead, e.g. `conv ... nobias`$"),
    ("input 1x8x8\nflatten\nfc: dense 10 bias false\n",
     "^'bias false' does not leave out the bias of 'fc'", 3, 14, "write `nobias` instead"),
    ("input 1x8x8\nconv 16 3x3 relu use_bias false\n",
     "^'use_bias' is not an option of conv: a layer has a bias unless it says `nobias`$", 2, 18,
     "^for a layer without a bias write `nobias` in place of `use_bias false`"),
    ("input 1x8x8\nconv 16 3x3 trainable false relu\n",
     "^'trainable' is not an option of conv: `frozen` says trainable=False$", 2, 13,
     "^write `frozen` in place of `trainable false`; without `frozen`, trainable is true$"),
    # PyTorch freezes a parameter with requires_grad=False: the same flag (the hint wrote
    # `requires_grad False` once, which the next check refused)
    ("input 1x8x8\nconv 16 3x3 requires_grad false relu\n",
     "^'requires_grad' is not an option of conv: `frozen` says requires_grad=False$", 2, 13,
     ("^write `frozen` in place of `requires_grad false`; without `frozen`, requires_grad is "
      "true$")),
    # Darknet's section and activation names as a layer's kind: the guess by spelling said
    # concat, dropout and log_softmax
    ("input 1x8x8\nflatten\nfc: connected 10\n", "^unknown layer kind 'connected'$", 3, 5,
     "^Darknet's \\[connected\\] is `dense` here, a layer written on one line: dense UNITS"),
    ("input 1x8x8\na: conv 8 3x3\nb: conv 8 3x3\nroute\n", "^unknown layer kind 'route'$",
     4, 1, "^Darknet's \\[route\\] is `concat` here, naming the layers it takes"),
    ("input 1x8x8\nconv 8 3x3\nlogistic\n", "^unknown layer kind 'logistic'$", 3, 1,
     "^Darknet's logistic activation is `sigmoid` here, at the end of a layer's line"),
    # Caffe's words for a layer's fields, written as options
    ("input 1x8x8\nconv 16 3x3 relu bias_term false\n",
     "^'bias_term' is not an option of conv: a layer has a bias unless it says `nobias`$", 2,
     18, "^for a layer without a bias write `nobias` in place of `bias_term false`"),
    # the hint writes the line they mean (it gave the kind's usage)
    ("input 1x8x8\nc1: conv num_output 16 kernel_size 3\n",
     "^'num_output' is not an option of conv: a number of filters is written alone", 2, 10,
     "^write `c1: conv 16 3`$"),
    ("input 1x8x8\nc1: conv num_output 20 kernel_size 5 stride 2 pad 1 relu\n",
     "^'num_output' is not an option of conv: a number of filters is written alone", 2, 10,
     "^write `c1: conv 20 5 stride 2 pad 1 relu`$"),
    ("input 1x8x8\nc1: conv 8 kernel_size 3\n",
     "^'kernel_size' is not an option of conv: a kernel size is written alone", 2, 12,
     "^write `c1: conv 8 3`$"),
    ("input 1x8x8\nc1: conv 8 3 num_output 20\n",
     "^'num_output' is not an option of conv: a number of filters is written alone", 2, 14,
     ("^write `c1: conv 8 3`; `num_output 20` gives the number of filters that 8 gives in "
     "place: it is left out$")),
    ("input 1x8x8\np: maxpool kernel_size 2 stride 2\n",
     "^'kernel_size' is not an option of maxpool: a window size is written alone", 2, 12,
     "^write `p: maxpool 2 stride 2`$"),
    ("input 1x8x8\nc1: conv num_output 16\n",  # no kernel: no line, the usage
     "^'num_output' is not an option of conv: a number of filters is written alone", 2, 10,
     "^usage: conv FILTERS KERNEL"),
    ("input 1x8x8\nflatten\nfc: dense num_output 10\n",
     "^'num_output' is not an option of dense: a number of units is written alone", 3, 11,
     "^write `fc: dense 10`$"),
    # an input shape as a list, as Python writes one (the hint's example was MNIST's)
    ("input [3, 32, 32]\nflatten\n", ("^the input shape must be channels x height x width, "
     "not a list$"), 1, 7, "^write `input 3x32x32`: sizes are written with 'x'"),
    ("input [32, 32, 3]\nflatten\n", ("^the input shape must be channels x height x width, "
     "not a list$"), 1, 7, "^write `input 3x32x32`: .*not height x width x channels"),
    # another library's name of dense, called with PyTorch's two sizes: no line, the usage
    ("input 1x8x8\nflatten\nip1: Linear 64 10\n", "^unknown layer kind 'Linear'$", 3, 6,
     "^`Linear` is `dense` here, a layer written on one line: dense UNITS"),
    ("input 1x8x8\nconv 16 3x3 group 2\n",
     "^'group' is not an option of conv: it is written `groups`$", 2, 13,
     "^write `groups 2`; usage: conv"),
    ("input 1x8x8\nconv 16 3x3 strides 2\n",
     "^'strides' is not an option of conv: it is written `stride`$", 2, 13,
     "^write `stride 2`; usage: conv"),
    ("input 1x8x8\nconv 16 3x3 dilation_rate 2\n",  # Keras' Conv2D
     "^'dilation_rate' is not an option of conv: it is written `dilation`$", 2, 13,
     "^write `dilation 2`; usage: conv"),
    ("input 1x8x8\nconv 16 3x3 weight_filler he_normal\n",
     "^'weight_filler' is not an option of conv: an initializer is written `weight INIT`$", 2,
     13, "^write `weight he_normal`; usage: conv"),
    ("input 1x8x8\nconv 16 3x3 weight_filler msra\n",
     "^'weight_filler' is not an option of conv: an initializer is written `weight INIT`$", 2,
     13, "^`msra` is no initializer `weight` takes: unknown initializer 'msra' \\(Caffe's msra"),
    ("input 1x8x8\nconv 16 3x3 bias_filler constant(0.1)\n",
     "^'bias_filler' is not an option of conv: an initializer is written `bias INIT`$", 2, 13,
     "^write `bias constant\\(...\\)`"),
    # a size with a capital X: the number, then a name (X3)
    ("input 1x8x8\nconv 16 3X3 relu\n", "^sizes are written with a lowercase x$", 2, 9,
     "^write 3x3: sizes use a lowercase x"),
    ("input 1x8x8\nmaxpool 2 stride 2X2\n", "^sizes are written with a lowercase x$", 2, 18,
     "^write 2x2"),
    ("input 1X28X28\nconv 8 3\n", "^sizes are written with a lowercase x$", 1, 7,
     "^write 1x28x28"),
    # a number with '_' between its digits, as Python writes it: the number, then a name
    # (_000); a layer's said "unknown option '_000'", a setting's "unexpected '_000'"
    ("input 1x8x8\nconv 1_000 3x3 relu\n",
     "^numbers are written without '_' between their digits$", 2, 6, "^write 1000$"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  epochs 1_000\n}\n",
     "^numbers are written without '_' between their digits$", 4, 10, "^write 1000$"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  lr 1e-3_0\n}\n",
     "^numbers are written without '_' between their digits$", 4, 6, "^write 1e-30$"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  lr 0.000_1\n}\n",
     "^numbers are written without '_' between their digits$", 4, 6, "^write 0.0001$"),
    # an exponent cut short: the number, then the name e (a layer's guessed `elu`)
    ("input 1x8x8\nconv 8 3x3 stride 1e\n", "^an exponent is written with its digits$", 2,
     19, "^1e3 is 1 x 10\\^3, 1e-3 is 1 x 10\\^-3; or write 1 alone$"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  lr 2.5e-\n}\n",
     "^an exponent is written with its digits$", 4, 6, "^2.5e3 is 2.5 x 10"),
    # the number's own field read before the word after it: "the dropout probability of
    # 'd' must be in [0, 1), not 1", "the number of filters ... a whole number, not 1.5"
    ("input 1x8x8\nd: dropout 1_000\n",
     "^numbers are written without '_' between their digits$", 2, 12, "^write 1000$"),
    ("input 1x8x8\nconv 1.5_0 3x3\n",
     "^numbers are written without '_' between their digits$", 2, 6, "^write 1.50$"),
    ("input 1x8x8\nd: dropout 1e\n", "^an exponent is written with its digits$", 2, 12,
     "^1e3 is 1 x 10"),
    # '_' doubled, last, or before an exponent: "unknown option '__0'", "unexpected '_'",
    # in an init's call "a '(' is never closed"
    ("input 1x8x8\nconv 1__0 3x3\n",
     "^numbers are written without '_' between their digits$", 2, 6, "^write 10$"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  epochs 1_\n}\n",
     "^numbers are written without '_' between their digits$", 4, 10, "^write 1$"),
    ("input 1x8x8\nconv 8 3x3 weight normal(0, 1_0e2)\n",
     "^numbers are written without '_' between their digits$", 2, 29, "^write 10e2$"),
    # '_' in a size: the input's said "sizes are written without spaces around 'x'", a
    # layer's "unknown option '_0'"
    ("input 1_0x8x8\nconv 8 3x3\n",
     "^numbers are written without '_' between their digits$", 1, 7, "^write 10x8x8$"),
    ("input 1x8x8\nconv 8 3x3_0\n",
     "^numbers are written without '_' between their digits$", 2, 8, "^write 3x30$"),
    ("input 1x28X28\nconv 8 3x3\n", "^sizes are written with a lowercase x$", 1, 7,
     "^write 1x28x28"),
    ("input 1x8x8\nconv 8 3x3 dilation 1_0x1\n",
     "^numbers are written without '_' between their digits$", 2, 21, "^write 10x1$"),
    # a Keras or PyTorch layer written as Python: the cnnspec line it means
    ('input 1x8x8\nConv2D(16, (3, 3), padding="same", activation="relu")\n',
     "^Conv2D\\(...\\) is a layer as Keras writes it, not a cnnspec line$", 2, 1,
     "^this is Keras syntax; in cnnspec the layer is the line `conv 16 3x3 pad same relu`$"),
    ("input 1x8x8\nnn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False)\n",
     "^nn.Conv2d\\(...\\) is a layer as PyTorch writes it", 2, 1,
     ("^this is PyTorch syntax; in cnnspec the layer is the line `conv 16 3 stride 2 pad 1 "
      "nobias`$")),
    ("input 1x8x8\nconv 8 3\n  x = layers.Dense(10, activation='softmax')(x)\n",
     "^layers.Dense\\(...\\) is a layer as Keras writes it", 3, 7,
     # the line, tried where the call stands, after a conv: refused there
     ("the line `dense 10 softmax`; but in this spec that line is refused: that layer "
      "needs a flat input")),
    ("input 1x8x8\nconv 8 3\nnn.BatchNorm2d(8)\n", "PyTorch", 3, 1, "the line `batchnorm`$"),
    # nn.GroupNorm(num_groups, num_channels): the groups, the channels inferred; it got the usage
    ("input 1x8x8\nconv 8 3\nnn.GroupNorm(4, 8)\n", "PyTorch", 3, 1, "the line `groupnorm 4`$"),
    # Keras' classes whose names are no kind's in words: they got no hint, or were told to
    # lose their module's path and keep Python's quotes
    ("input 1x8x8\nConvolution2D(8, 3)\n", "^unknown layer kind 'Convolution2D'$", 2, 1,
     "^this is Keras syntax; in cnnspec the layer is the line `conv 8 3`$"),
    ("input 1x8x8\nlayers.Convolution2D(8, 3, padding='same')\n",
     "^layers.Convolution2D\\(...\\) is a layer as Keras", 2, 1,
     "^this is Keras syntax; in cnnspec the layer is the line `conv 8 3 pad same`$"),
    ("input 1x8x8\nx = Concatenate()([a, b])\n", "^Concatenate\\(...\\) is a layer as Keras", 2,
     5, "^this is Keras syntax; a cnnspec layer is a line of its kind and values: concat"),
    # the channels' dropout: its rate was left to the usage
    ("input 1x8x8\nSpatialDropout2D(0.2)\n", "^unknown layer kind 'SpatialDropout2D'$", 2, 1,
     "^this is Keras syntax; in cnnspec the layer is the line `dropout2d 0.2`$"),
    ("input 1x8x8\nnn.Dropout2d(0.3, True)\n", "^nn.Dropout2d\\(...\\) is a layer as PyTorch", 2,
     1, "^this is PyTorch syntax; in cnnspec the layer is the line `dropout2d 0.3`$"),
    # a letter of two bytes before the call: the caret stood a column right of it, and a
    # label Python takes but a spec does not (`çonv`) was written into the line
    ("input 1x8x8\nç = nn.Conv2d(1, 8, 3)\n", "^nn.Conv2d\\(...\\) is a layer as PyTorch", 2, 5,
     "^this is PyTorch syntax; in cnnspec the layer is the line `conv 8 3`$"),
    ("input 1x8x8\nself.çonv = nn.Conv2d(1, 8, 3)\n", "^nn.Conv2d\\(...\\) is a layer", 2, 13,
     "^this is PyTorch syntax; in cnnspec the layer is the line `conv 8 3`$"),
    # a layer whose one value is computed by a call: read as model.add(...), it was float's
    ("input 1x8x8\nDropout(float('nan'))\n", "^Dropout\\(...\\) is a layer as PyTorch or Keras",
     2, 1, "^this is PyTorch or Keras syntax; a cnnspec layer is a line of its kind"),
    ("input 1x8x8\nb: Add(float('inf'), name='b')\n", "^Add\\(...\\) is a layer as Keras", 2,
     4, "^this is Keras syntax; a cnnspec layer is a line of its kind and values: add"),
    # with the spec's inputs after it: they were no Python, and its quotes were answered
    ("input 1x8x8\nc: Conv2D(8, 3, padding='same') <- input  # 8 maps\n",
     "^Conv2D\\(...\\) is a layer as Keras", 2, 4,
     "^this is Keras syntax; in cnnspec the layer is the line `c: conv 8 3 pad same <- input`$"),
    ("input 1x8x8\nConv2D(filters, 3)\n", "^unknown layer kind 'Conv2D'$", 2, 1,
     ("^this is Keras syntax; a cnnspec layer is a line of its kind and values: conv FILTERS "
      "KERNEL")),
    ('input 1x8x8\nConv2D(16, 3, padding="same")\n', "^unknown layer kind 'Conv2D'$", 2, 1,
     "^this is Keras syntax; in cnnspec the layer is the line `conv 16 3 pad same`$"),
    # ... with Python's False, which the language reads as a word (it left `nobias` out)
    ("input 1x8x8\nConv2D(16, 3, use_bias=False)\n", "^unknown layer kind 'Conv2D'$", 2, 1,
     "^this is Keras syntax; in cnnspec the layer is the line `conv 16 3 nobias`$"),
    ("input 1x8x8\nConv2d(1, 16, 3, bias=False)\n", "^unknown layer kind 'Conv2d'$", 2, 1,
     "^this is PyTorch syntax; in cnnspec the layer is the line `conv 16 3 nobias`$"),
    # after a cnnspec label (Python's annotation): the line keeps the label
    ("input 1x8x8\nconv1: nn.Conv2d(1, 6, 5)\n", "^nn.Conv2d\\(...\\) is a layer as PyTorch",
     2, 8, "^this is PyTorch syntax; in cnnspec the layer is the line `conv1: conv 6 5`$"),
    ('input 1x8x8\nc1: Conv2D(32, (3, 3), activation="relu")\n', "as Keras writes it", 2, 5,
     "the line `c1: conv 32 3x3 relu`$"),
    ("input 1x8x8\nc1: Conv2D(32, 3)\n", "^unknown layer kind 'Conv2D'$", 2, 5,
     "the line `c1: conv 32 3`$"),
    # a PyTorch module's layer, named as a spec labels it
    ("input 1x8x8\n    self.conv1 = nn.Conv2d(1, 6, 5)\n", "as PyTorch writes it", 2, 18,
     "the line `conv1: conv 6 5`$"),
    # ... and a layer assigned to a name: the name was left out of the line
    ("input 1x8x8\nconv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)\n", "as PyTorch", 2, 9,
     "the line `conv1: conv 16 3 pad 1`$"),
    # but not a name no layer takes, nor Keras' functional form's tensor, nor a function's value
    ("input 1x8x8\ninput = nn.Conv2d(1, 6, 5)\n", "as PyTorch writes it", 2, 9,
     "the line `conv 6 5`$"),
    ("input 1x8x8\nself.input = nn.Conv2d(1, 6, 5)\n", "as PyTorch writes it", 2, 14,
     "the line `conv 6 5`$"),
    ("input 1x8x8\nx = layers.Conv2D(16, 3, activation='relu')(x)\n", "as Keras", 2, 5,
     "the line `conv 16 3 relu`$"),
    # a merge layer's inputs as bare words: the bracket and arrow forms, with the names
    ("input 1x8x8\na: conv 4 3\nb: conv 4 3 <- input\ns: add a, b\n",
     "^the layers add merges are named in brackets or after '<-'$", 4, 8,
     "^write `s: add\\(a, b\\)`, or `s: add <- a, b`$"),
    # ... the layer's own words after the names stay its own, after the brackets
    ("input 1x8x8\na: conv 4 3\nb: conv 4 3 <- input\ns: add a , b relu  # sum\n",
     "^the layers add merges are named in brackets or after '<-'$", 4, 8,
     "^write `s: add\\(a, b\\) relu`, or `s: add relu <- a, b`$"),
    ("input 1x8x8\na: conv 4 3\nb: conv 4 3 <- input\ns: concat a b\n",
     "^'a' is not an option of concat: a layer it merges is named in brackets or after '<-'$",
     4, 11, "^the layers concat takes go in brackets, `concat\\(a, ...\\)`"),
    # more of the classes a model's source calls, as a spec writes them
    ("input 1x8x8\nconv 8 3\nnn.AdaptiveAvgPool2d(1)\n", "PyTorch writes it", 3, 1,
     "the line `global_avgpool`$"),
    ("input 1x8x8\nconv 8 3\nnn.AdaptiveMaxPool2d((6, 6))\n", "PyTorch writes it", 3, 1,
     "cnnspec pools to one value a channel \\(`global_avgpool`, `global_maxpool`"),
    ("input 1x8x8\nconv 8 3\nnn.Identity()\n", "PyTorch writes it", 3, 1,
     "Identity passes its input on unchanged: a spec needs no line for it$"),
    ('input 1x8x8\nconv 8 3\nActivation("relu")\n', "^unknown layer kind 'Activation'$", 3, 1,
     "the line `relu`$"),
    # Keras' Activation given no activation's name: the kinds, not a traceback
    ("input 1x8x8\nconv 8 3\nActivation([1])\n", "^unknown layer kind 'Activation'$", 3, 1,
     "^valid layer kinds: add, "),
    # ... and with a name in Python's quotes: the layer's answer at once, not the quotes'
    ("input 1x8x8\nconv 8 3\nActivation(float('nan'))\n", "^unknown layer kind 'Activation'$",
     3, 1, "^valid layer kinds: add, "),
    # Caffe's type called as Python calls it, its names quoted: Caffe's answer at once
    ("input 1x8x8\nc1: Convolution(num_output=8, name='c1')\n",
     "^unknown layer kind 'Convolution'$", 2, 5,
     "^Caffe's Convolution is `conv` here, .*; here unknown option 'name' for conv layer$"),
    ('input 1x8x8\nConv2D(32, (3, 3), kernel_initializer="HeNormal", bias_initializer="zeros")\n',
     "Keras writes it", 2, 1, ("the line `conv 32 3x3 weight variance_scaling\\(scale=2, "
                               "mode=fan_in, distribution=truncated_normal\\) bias zeros`$")),
    ("input 1x8x8\nconv 8 3\nnn.LeakyReLU(0.1)\n", "PyTorch writes it", 3, 1,
     "the line `leaky_relu 0.1`$"),
    ("input 1x8x8\nconv 8 3\nx = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))\n",
     "forward\\(\\)", 3, 5, "here `self.conv1`, then `relu`, then `maxpool 2x2` \\("),
    # a line of a PyTorch module's forward(): its steps, innermost first, as a spec names them
    ("input 1x8x8\n    x = self.pool(F.relu(self.conv1(x)))\n",
     "^this is a line of a PyTorch module's forward\\(\\), not a cnnspec line$", 2, 9,
     ("^a spec lists the layers in the order forward\\(\\) applies them, one per line, each "
      "reading the one before: here `self.conv1`, then `relu`, then `self.pool` \\(each self.\\* "
      "layer as its __init__ makes it\\), e.g. `conv1: conv 6 5 relu`")),
    ("input 1x8x8\nconv 8 3\nx = x.view(-1, 16 * 5 * 5)\n", "forward\\(\\), not a cnnspec",
     3, 5, "here `flatten`, e.g."),
    ("input 1x8x8\nconv 8 3\nreturn F.log_softmax(self.fc3(x), dim=1)\n", "forward\\(\\)", 3, 8,
     "here `self.fc3`, then `log_softmax` \\("),
    ("input 1x8x8\nconv 8 3\nx = F.max_pool2d(F.relu(x), 2)\n", "forward\\(\\)", 3, 5,
     "here `relu`, then `maxpool 2`, e.g."),
    # an init named with its Python module's path: the name alone, as the catalogue knows it
    ("input 1x8x8\nconv 8 3x3 weight nn.init.kaiming_normal_\n", "^unexpected character '.'$",
     2, 21, ("^a name is written without its module's path: write `kaiming_normal` in place of "
     "`nn.init.kaiming_normal_`$")),
    ("input 1x8x8\nconv 8 3x3 weight tf.keras.initializers.HeNormal()\n",
     "^unexpected character '.'$", 2, 21, ("write `variance_scaling\\(scale=2, mode=fan_in, "
                                           "distribution=truncated_normal\\)` in place of ")),
    ("input 1x8x8\nconv 8 3x3 weight tf.keras.initializers.HeUniform(seed=1)\n",
     "^unexpected character '.'$", 2, 21, "write `he_uniform` in place of "),
    ("input 1x8x8\nc1: conv 8 3x3 weight init.orthogonal_(gain=2)  # o\n",
     "^unexpected character '.'$", 2, 27, ("write `orthogonal\\(gain=2\\)` in place of "
     "`init.orthogonal_\\(gain=2\\)`$")),
    # PyTorch's tensor argument of an init (told it was a file's path, as in npz(train.npz)),
    # and a Python path among an init's arguments
    ("input 1x8x8\nconv 8 3x3 weight kaiming_normal_(m.weight, mode='fan_out')\n",
     "^unexpected character '.'$", 2, 36, ("^leave `m.weight` out: PyTorch's nn.init functions "
                                           "take the tensor they fill first")),
    ("input 1x8x8\nconv 8 3x3 weight normal_( self.conv1.weight, 0, 0.01)\n",
     "^unexpected character '.'$", 2, 32, "^leave `self.conv1.weight` out: "),
    # ... written after the others (not a keyword's value): left out too, with its comma
    ("input 1x8x8\nconv 8 3x3 weight kaiming_normal_(mode=fan_out, m.weight)\n",
     "^unexpected character '.'$", 2, 50, ("^leave `m.weight` out: PyTorch's nn.init functions "
                                           "take the tensor they fill first")),
    ("input 1x8x8\nconv 8 3x3 weight he_normal(gain=nn.init.calculate_gain('relu'))\n",
     "^unexpected character '.'$", 2, 36, ("^a name is written without its module's path: "
                                           "write `calculate_gain\\('relu'\\)` in place of ")),
    # summary's Window column's shorthand, or Keras' padding value, copied into a spec
    ("input 1x8x8\nconv 8 3x3 s2\n", "^'s2' is not an option of conv: write `stride 2`$", 2, 12,
     "^an option is written by its name, then its value: `pad same`, `stride 2`"),
    ("input 1x8x8\nconv 8 3x3 same\n", "^'same' is not an option of conv: write `pad same`$",
     2, 12, "shortens them to same and s2\\); usage: conv"),
    # torchvision's and Keras' transforms: each answered with ours and what theirs takes
    ("input 1x8x8\nconv 8 3\ntrain {\n  augment [RandomCrop(2)]\n}\n",
     "unknown transform 'RandomCrop'", 4, 12,
     "^torchvision's RandomCrop\\(size, padding=pad\\) is crop here: write crop$"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  augment [crop, RandomHorizontalFlip(p=0.5)]\n}\n",
     "unknown transform 'RandomHorizontalFlip'", 4, 18,
     ("^torchvision's RandomHorizontalFlip\\(p\\) is flip here: write flip; with its "
      "arguments, `flip\\(p=0.5\\)`$")),
    ("input 1x8x8\nconv 8 3\ntrain {\n  augment horizontal_flip\n}\n",
     "unknown transform 'horizontal_flip'", 4, 11, "^Keras' horizontal_flip=True is flip here"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  augment GaussianNoise(0.1)\n}\n",
     "unknown transform 'GaussianNoise'", 4, 11, "^Keras' GaussianNoise\\(stddev\\) is noise"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  augment RandomRotation(10)\n}\n",
     "unknown transform 'RandomRotation'", 4, 11, "^torchvision's RandomRotation\\(degrees\\)"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  augment RandomTranslation\n}\n",
     "unknown transform 'RandomTranslation'", 4, 11, "shift's is in pixels\\) is shift here"),
    # TensorFlow's functions called with no tensor: Keras', by their module
    ("input 1x8x8\nconv 8 3\ny = tf.nn.relu()\n", "^tf.nn.relu\\(...\\) is a layer as Keras",
     3, 5, "^this is Keras syntax; in cnnspec the layer is the line `relu`$"),
    # the rest of a model's Python source
    ("input 1x8x8\nclass Net(nn.Module):\n",
     "^this is Python code \\(a class definition\\), not a cnnspec line$", 2, 1,
     ("^a spec lists the layers themselves, one per line, e.g. `conv1: conv 6 5 relu`; "
      "`cnnspec import` reads a Keras model")),
    ("input 1x8x8\n    def forward(self, x):\n", "\\(a function definition\\)", 2, 5,
     "one per line"),
    ("input 1x8x8\nfor i in range(3):\n", "\\(a for loop\\)", 2, 1,
     "^a spec repeats layers with a block, `repeat 3 \\{` then the layers"),
    # YAML's colon in the train block: the line without it
    ("input 1x8x8\nconv 8 3\ntrain {\n  data: digits\n}\n", "^a setting is written without ':'$",
     4, 7, "^write `data digits`; a setting's value follows its name after a space"),
    ("input 1x8x8\nimport torch.nn as nn\n", "\\(an import\\)", 2, 1, "one per line"),
    ("input 1x8x8\nconv 8 3\nreturn x\n", "^unknown layer kind 'return'$", 3, 1,
     "^`return` is Python, not cnnspec: a spec lists the layers themselves"),
    # a container, its brackets closed on later lines: the layers go one per line
    ("input 1x8x8\nmodel = nn.Sequential(\n", ("^nn.Sequential\\(...\\) is a container of "
     "layers as PyTorch writes it, not a cnnspec line$"), 2, 9,
     "^this is PyTorch syntax; a spec needs no container: it lists the layers themselves"),
    ("input 1x8x8\nmodel = keras.Sequential([\n", "container of layers as Keras", 2, 9,
     "one per line in their order, e.g. `conv1: conv 16 3x3 relu`$"),
    # a setting written with '=': the line without it
    ("input 1x8x8\nconv 8 3\ntrain {\n  lr = 0.1\n}\n", "^a setting is written without '='$",
     4, 6, "^write `lr 0.1`; a setting's value follows its name after a space"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  epochs = 5  # a few\n}\n",
     "^a setting is written without '='$", 4, 10, "^write `epochs 5`;"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  batch=32\n}\n", "without '='", 4, 8,
     "^write `batch 32`;"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  optimizer = sgd(momentum=0.9)\n}\n", "without '='",
     4, 13, "^write `optimizer sgd\\(momentum=0.9\\)`;"),
    ("input 1x8x8\ndefault weight=he_normal\nconv 8 3\n", "without '='", 2, 15,
     "^write `default weight he_normal`;"),
    # the command line's --data form written in a spec
    ("input 1x8x8\nconv 8 3\ntrain {\n  data npz:missing.npz\n}\n", "^unexpected ':'", 4, 11,
     ('^in a spec a file path is a string in double quotes: write npz\\("missing.npz"\\) '
      "\\(`npz:PATH` is the form of the command line's --data\\)$")),
    ('input 1x8x8\nconv 8 3\ntrain {\n  data npz:"my data.npz"\n}\n', "^unexpected ':'", 4, 11,
     'write npz\\("my data.npz"\\)'),
    ("input 1x8x8\nconv 8 3x3 relu tanh\n", "two activations", 2, 17, None),
    ("input 1x8x8\nconv 8 3x3 stride 1 stride 2\n", "given twice", 2, 21, None),
    ("input 1x8x8\na: conv 8 3x3\na: conv 8 3x3\n", "duplicate layer name 'a'", 3, 1, "line 2"),
    ("input 1x8x8\nin: conv 8 3x3\n", "'in' is reserved", 2, 1, None),
    ("input 1x8x8\nconv 8 3\noutput: dense 10\n", "a keyword cannot name a layer", 3, 7,
     "logits"),
    # after the input line, `model:` read as "unexpected ':': expected a name"
    ("input 1x8x8\nmodel: conv 8 3\n", "a keyword cannot name a layer", 2, 6, "logits"),
    # YAML's `default: ...`, and an init given to `default` without the part it sets
    ("input 1x8x8\ndefault: weight he_normal\nconv 8 3\n", "'default' is written without ':'",
     2, 8, "^write `default weight he_normal`; `default weight INIT, bias INIT` sets"),
    ("input 1x8x8\ndefault he_normal, bias zeros\nconv 8 3\n",
     "'default' names what it sets: weight or bias", 2, 18,
     "^write `default weight he_normal, bias zeros`; `default weight INIT"),
    # the same parser state in a train block: not a default's mistake
    ("input 1x8x8\nconv 8 3\ntrain {\n  lr\n}\n", "^unexpected end of line", 4, 5,
     "^the line ends before the statement is complete"),
    ("input 1x8x8\na: conv 8 3x3 <- b\nb: conv 8 3x3\n", "'b' is used before it is defined",
     2, 18, "rules out cycles"),
    # a later instance's full name in a block: its own name means each instance's layer
    ("input 1x8x8\nrepeat 2 as b {\n  x: conv 8 3x3 pad same\n  y: add(x, b_2_x)\n}\n",
     "^layer 'b_2_x' is used before it is defined \\(line 3\\)$", 4, 13,
     ("^'b_2_x' is instance 2's 'x', made after this one; write 'x' for each instance's own "
      "layer \\(in a block, a name means the layer of the same instance\\)$")),
    ("input 1x8x8\nc1: conv 8 3x3\nc2: conv 8 3x3 <- c3\n", "undefined layer 'c3'", 3, 19,
     "did you mean c1\\?"),
    ("input 1x8x8\na: add(input)\n", "needs at least two inputs", 2, 4, None),
    ("input 1x8x8\na: conv 4 3\nb: conv 4 3 <- a, input\n", "takes one input, got 2", 3, 19,
     "add"),
    ("input 1x8x8\na: add(a1, 2)\n", "layer names, not the number 2", 2, 12, None),
    ("input 1x8x8\nconv 8 3x3 <- in\n", "only defined inside a repeat block", 2, 15, None),
    ("input 1x8x8\nrepeat 0 as b {\n conv 8 3\n}\n", "repeat count must be at least 1", 2, 8,
     None),
    ("conv 8 3x3\n", "no input line", 1, 1, "input 1x28x28"),
    ("input 28x28\nconv 8 3x3\n", "channels x height x width", 1, 7,
     "^e.g. `input 1x28x28` \\(one channel, 28 x 28 pixels\\)$"),
    # the example is the named data set's images (the datasets registry's shape)
    ("input 8x8\nconv 8 3x3\ntrain {\n  data digits\n}\n", "channels x height x width", 1, 7,
     "^e.g. `input 1x8x8` \\(one channel, 8 x 8 pixels: the digits images\\)$"),
    ("input 32x32\nconv 8 3x3\ntrain {\n  data cifar_10\n}\n", "channels x height x width", 1,
     7, "^e.g. `input 3x32x32` \\(three channels, 32 x 32 pixels: the cifar10 images\\)$"),
    ("input 16x16\nconv 8 3x3\ntrain {\n  data shapes(size=16)\n}\n", "height x width", 1, 7,
     "^e.g. `input 1x16x16` \\(one channel, 16 x 16 pixels: the shapes images\\)$"),
    ("input 1x0x8\nconv 8 3x3\n", "at least 1", 1, 7, None),
    ("input 1x8x8\ninput 1x8x8\nconv 8 3\n", "one 'input' line, this is the second", 2, 1,
     "line 1"),
    ("input 1x8x8\n", "no layers", 1, 1, None),
    ("input 1x8x8\nconv 8 3\noutput c\n", "output names an undefined layer 'c'", 3, 8, None),
    ("input 1x8x8\ndefault kernel_initializer he_normal\nconv 8 3\n",
     "unknown default 'kernel_initializer'", 2, 9,
     "^kernel_initializer is `default weight INIT` here, e.g. `default weight he_normal, "),
    ("input 1x8x8\ndefault bias_init zeros\nconv 8 3\n", "unknown default 'bias_init'", 2, 9,
     "^bias_init is `default bias INIT` here"),
    ("input 1x8x8\ndefault weights he_normal\nconv 8 3\n", "unknown default 'weights'", 2, 9,
     "did you mean weight\\?"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  val_split 1\n}\n", "val_split.* \\[0, 1\\)", 4, 13,
     None),
    ("input 1x8x8\nconv 8 3\ntrain {\n  batch 0\n}\n", "at least 1", 4, 9, None),
    ("input 1x8x8\nconv 8 3 x 3\n", "unexpected 'x'", 2, 10, "without spaces"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  lr 1e999\n}\n", "too large", 4, 6, None),
    ("input 1x8x8\nconv 8 3 weight [[1e999]]\n", "too large", 2, 19, None),
    ("input 1x8x8\nconv 8 3\ndropout=0.5\n", "a layer is named with ':', and a value follows", 3,
     8, "dropout 0.5"),
    ("Input 1x8x8\nconv 8 3\ninput 1x8x8\n", "unknown layer kind 'Input'", 1, 1,
     "^keywords are lower case: input$"),
    # a label before `repeat`, as a layer is named: the caret under the label; without the '{'
    # the line reads as a layer of kind `repeat`, and the message is the same
    ("input 1x8x8\nc1: repeat 3 {\n", "^a repeat block takes no label$", 2, 1,
     "`repeat 3 as stage {`"),
    ("input 1x8x8\nrepeat 2 {\n  c1 : repeat 3 as b {\n", "^a repeat block takes no label$",
     3, 3, "`repeat 3 as stage {`"),
    ("input 1x8x8\nc1: repeat 3\n", "^a repeat block takes no label$", 2, 5,
     "`repeat 3 as stage {`"),
    ("input 1x8x8\nc1: input 1x8x8\n", "unknown layer kind 'input'", 2, 5,
     "^`input` starts a statement of its own, which takes no label$"),
    # a layer as unfinished as the labelled repeat is not taken for one
    ("input 1x8x8\nc1: conv 8 {\n", "^unexpected '{'", 2, 12, "stray '{'"),
    # a training setting written among the layers, outside the train block (an alias too)
    ("input 1x8x8\nepochs 3\nconv 8 3\n", "^training setting 'epochs' outside the train block$",
     2, 1,
     "^'epochs' is a training setting: write it inside the train block"),
    ("input 1x8x8\nconv 8 3\nbatch_size 32\n", "^training setting 'batch_size' outside",
     3, 1,
     "inside the train block, e.g. train { batch_size 32 }$"),
    ("input 1x8x8\nconv 8 3\nepochs: 5\n", "^training setting 'epochs' outside the train block$",
     3, 1, "e.g. train { epochs 5 }$"),
    ("input 1x8x8\nconv 8 3\nlr=0.1\n", "^training setting 'lr' outside", 3, 1,
     "e.g. train { lr 0.1 }$"),
    # ... and another library's name for one, as it writes the line: moved into the block,
    # written as the block writes it (the message said "unexpected '0.01'", "remove it")
    ("input 1x8x8\nflatten\ndense 10\nbase_lr: 0.01\n",
     "^training setting 'base_lr' outside the train block$", 4, 1,
     ("^training settings go inside the train block, `train { ... }`; Caffe's base_lr is lr "
      "here: write `lr 0.01`$")),
    ("input 1x8x8\nflatten\ndense 10\nbase_lr 0.01\n", "^training setting 'base_lr' outside",
     4, 1,
     "inside the train block, .*write `lr 0.01`$"),
    # Darknet's and Caffe's habit: capitals, with or without the ':', told as max_iter is
    ("input 1x8x8\nflatten\ndense 10\nMAX_ITER 1000\n",
     "^training setting 'MAX_ITER' outside the train block$", 4, 1,
     "inside the train block, .*Caffe's max_iter is epochs here: write `epochs E`"),
    ("input 1x8x8\nflatten\ndense 10\nMAX_ITER: 1000\n", "^training setting 'MAX_ITER' outside",
     4, 1, "Caffe's max_iter is epochs here"),
    ("input 1x8x8\nconv 8 3\nLR 0.1\n", "^training setting 'LR' outside", 3, 1,
     "^'lr' is a training setting: write it inside the train block, e.g. train { lr 0.1 }$"),
    # an optimizer's or schedule's argument among the layers, with or without a ':'
    ("input 1x8x8\nconv 8 3\nweight_decay: 5e-4\n", "^training setting 'weight_decay' outside",
     3, 1, "e.g. train { weight_decay 5e-4 }$"),
    ("input 1x8x8\nconv 8 3\nnesterov: true\n", "^training setting 'nesterov' outside", 3, 1,
     "^training settings go inside the train block.*`optimizer sgd\\(nesterov=true\\)`$"),
    ("input 1x8x8\nconv 8 3\ngamma 0.1\n", "^training setting 'gamma' outside", 3, 1,
     "`schedule step\\(gamma=0.1\\)`$"),
    # (the values written are given to the arguments they are here)
    ("input 1x8x8\nconv 8 3\nbetas (0.5, 0.95)\n", "^training setting 'betas' outside", 3, 1,
     "optimizer adam: PyTorch's Adam .*`adam\\(beta1=0.5, beta2=0.95\\)`$"),
    ("input 1x8x8\nconv 8 3\nbetas: (0.5, 0.95)\n", "^training setting 'betas' outside", 3,
     1, "`adam\\(beta1=0.5, beta2=0.95\\)`$"),
    ("input 1x8x8\nconv 8 3\nbetas (a, b)\n", "^training setting 'betas' outside", 3, 1,
     "`adam\\(beta1=0.9, beta2=0.999\\)`$"),
    # ... but a word a layer's line reads too is told that first: it may be a layer's option
    # cut off from its line
    ("input 1x8x8\nconv 8 3\nmomentum: 0.9\n",
     "^'momentum' on a line of its own, among the layers$", 3, 1,
     ("^'momentum' is an option of a layer \\(batchnorm\\).*`batchnorm momentum 0.9`; or, "
      "if it is meant for training, .*`optimizer sgd\\(momentum=0.9\\)`$")),
    ("input 1x8x8\nconv 8 3\nMomentum 0.9\n", "^'Momentum' on a line of its own", 3, 1,
     "`optimizer sgd\\(momentum=0.9\\)`$"),
    ("input 1x8x8\nconv 8 3\npad: 1\n", "^'pad' on a line of its own", 3, 1,
     "^'pad' is an option of a layer \\(conv, .*`conv ... pad 1`; or, .*`augment crop"),
    ("input 1x8x8\nconv 8 3\np 0.5\n", "^'p' on a line of its own", 3, 1,
     "^'p' is an option of a layer \\(dropout.*`dropout p 0.5`"),
    ("input 1x8x8\nconv 8 3\nstd 0.1\n", "^'std' on a line of its own", 3, 1,
     "^'std' is an argument of an init \\(normal, .*`conv 16 3x3 weight normal\\(std=0.1\\)`"),
    # a call named as another library's setting is a layer as Python writes it
    ("input 1x8x8\nconv 8 3\nshuffle(x)\n", "^unknown layer kind 'shuffle'$", 3, 1,
     "valid layer kinds"),
    ('input 1x8x8\nflatten\ndense 10\nlr_policy: "fixed"  # Caffe\n', "'lr_policy' outside", 4,
     1, "inside the train block, .*write `schedule constant`"),
    ("input 1x8x8\nflatten\ndense 10\nsolver_mode: CPU\n", "'solver_mode' outside", 4, 1,
     "inside the train block, .*Caffe's solver_mode has no counterpart here"),
    ("input 1x8x8\nrepeat 2 {\n  relu\n  steps=400,450\n}\n", "'steps' outside", 4, 3,
     "inside the train block, .*write `schedule multistep"),
    ("input 1x8x8\nflatten\ndense 10\nmax_batches = 5000\n", "'max_batches' outside", 4, 1,
     "inside the train block, .*5000 iterations are"),
    # ... but a labelled layer that fails further on is a layer's mistake, whatever its label
    ("input 1x8x8\nsteps: conv 8 3 (\n", "^a size is written with 'x'", 2, 17, None),
    ("input 1x8x8\nconv 8 3 ReLU\n", "unknown option 'ReLU'", 2, 10, "^did you mean relu\\?"),
    ("input 1x8x8\nconv 8 3 leaky_relu 0.2\n",
     "the number 0.2 after the activation leaky_relu is out of place in conv layer 'conv1'", 2,
     21, "parentheses: leaky_relu\\(0.2\\)"),
    ("input 1x8x8\nconv 8 3 5\n", "the number 5 is out of place in conv layer 'conv1'", 2, 10,
     "^options are written by name: `conv 8 3 stride 5` if 5 is the stride$"),
    ("input 1x8x8\nconv 8 3 stride 2 5\n", "the number 5 is out of place in conv layer 'conv1'",
     2, 19, "usage: conv FILTERS KERNEL"),
    ("input 1x8x8\nconv 1e999 3\n", "number of filters of 'conv1' is too large a number", 2, 6,
     "finite"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  epochs 1e999\n}\n", "too large", 4, 10, None),
    ("input 1x8x8\nc: conv 8 3 relu\nc_relu: relu\n", "two layers are called 'c_relu'", 3, 1,
     "generated"),
    ("input 1x8x8\nb_1_relu: relu\nrepeat 2 as b {\n  relu\n}\n",
     "two layers are called 'b_1_relu'", 4, 3, None),
    ("input 1x8x8\nrepeat 5000 {\n  relu\n}\n", "at most 1000", 2, 8, None),
    ("input 1x8x8\nconv 8 3 input\n", "unexpected 'input'", 2, 10, "<- input"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data shapes(size=8.5)\n}\n", "whole number", 4, 20,
     None),
    ("input 1x8x8\nconv 8 3\ntrain {\n  optimizer sgd(nesterov=yes)\n}\n",
     "nesterov of sgd must be true or false", 4, 26, "lower case"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data shapes(size=2)\n}\n",
     "size of shapes must be at least 4, not 2", 4, 20, "1xSIZExSIZE"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data shapes(classes=[x])\n}\n",
     "at least 2 classes, got 1", 4, 23, "add one of plus"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data shapes(classes=[x, o, plus], count=12)\n}\n",
     "count must be at least 15 \\(5 images per class for 3 classes\\), not 12", 4, 43,
     "raise count to 15"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data shapes(size=8, count=40)\n}\n",
     "at least 50 .* for 10 classes", 4, 29, None),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data npz(path=\"\")\n}\n", "path of npz is empty", 4, 17,
     "between the quotes"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data 3\n}\n", "dataset must be a name", 4, 8,
     "valid datasets: cifar10, digits, fashion-mnist"),
    # close to another spelling (cifar_10): suggested and listed by the names the CLI's
    # --data lists, not every spelling
    ("input 1x8x8\nconv 8 3\ntrain {\n  data cifar_1\n}\n", "unknown dataset 'cifar_1'", 4, 8,
     (r"^did you mean cifar10\? \(valid datasets: cifar10, digits, fashion-mnist, mnist, npz, "
      r"shapes\)$")),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data fash\n}\n", "unknown dataset 'fash'", 4, 8,
     r"^did you mean fashion-mnist\? "),
    ("input 1x8x8\nconv 8 3 weight normal(std=1, std=2)\n", "'std' of normal is given twice",
     2, 31, "once"),
    ("input 1x8x8\nconv 8 3 weight uniform(1, -1)\n", "low < high", 2, 17,
     "uniform\\(-1, 1\\)"),
    ("input 1x8x8\nconv 8 3 pad \"1\"\n", "pad of 'conv1' must be same", 2, 14, "pad 1x2"),
    ("input 1x8x8\na: conv 4 3\ns: add(a, input, p=1)\n", "add takes layer names only", 3, 18,
     "add\\(a, b\\)"),
    ("input 1x8x8\ndefault weight zeros, weight ones\nconv 8 3\n", "default weight is given twice",
     2, 23, "once"),
    ("input 1x8x8\nrepeat 2000 {\n relu\n}\n", "at most 1000", 2, 8, "copies"),
    ("input 1x8x8\nconv 8 3 weight he_normal(gain=[1])\n", "number or a nonlinearity", 2, 32,
     "leaky_relu\\(0.2\\)"),
    ("input 1x8x8\nconv 8 3 weight [[]]\n", "empty list", 2, 18, "at least one number"),
    ("input 1x8x8\nconv 8 3 weight \"he\"\n", "must name an initializer", 2, 17, "he_normal"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  seed -1\n}\n", "at least 0, not -1", 4, 8, None),
    ("input 1x8x8\nconv 8 3\ntrain {\n  loss 3\n}\n", "loss must be one of", 4, 8,
     "without quotes"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  lr -0.1\n}\n", "greater than 0", 4, 6, "size of each step"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  optimizer sgd(momentum=1)\n}\n",
     "momentum of sgd must be in \\[0, 1\\)", 4, 26, "plain SGD"),
    ("input 1x8x8\nconv 8 3 weight [[1, 2]]\n)\n", "unexpected '\\)'", 3, 1, "stray"),
    ("input 1x8x8\nconv 8 3 <-\n", "inputs after '<-' are layer names", 2, 12,
     "^e.g. `sum: add <- a, b`"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data npz(train)\n}\n",
     "path of npz must be a quoted string, not 'train'", 4, 12, 'double quotes, e.g. "data/'),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data shapes(classes=[x, plus, x])\n}\n",
     "'x' is listed twice in shape classes", 4, 33, "list each name once"),
    ("input 1x8x8\nconv 8 3\ntrain {\n  data shapes(classes=[])\n}\n",
     "shape classes must be a non-empty list such as \\[x, plus\\]", 4, 23,
     "choose among x, plus, o"),
    ("input 1x8x8\nconv 8 3 lr_mult [1, 2, 3]\n",
     "lr_mult of 'conv1' must be two numbers \\[weight, bias\\] or one for both, not a list",
     2, 18, "e.g. \\[1, 2\\]"),
    ("input 1x8x8\nconv 8 3 weight literal(3)\n",
     "a kernel literal must be a list of rows, not the number 3", 2, 25, "\\[\\[1, 0, 1\\]"),
    # a truncated normal's cut: in order, and keeping enough of the normal to draw from
    ("input 1x8x8\nconv 8 3 weight truncated_normal(0, 0.02, 0.04, -0.04)\n",
     "truncated_normal needs low < high, not low=0.04, high=-0.04", 2, 17,
     "^swap them: low=-0.04, high=0.04$"),
    ("input 1x8x8\nflatten\ndense 4 bias truncated_normal(std=1, low=2.5)\n",
     "not low=2.5, high=2", 3, 14, "^high, left out, is mean \\+ 2 std = 2"),
    ("input 1x8x8\nconv 8 3 weight truncated_normal(std=0.02, low=0.06, high=0.1)\n",
     ("truncated_normal between low=0.06 and high=0.1 keeps 0.13% of N\\(0, 0.02\\^2\\), too "
     "little to draw from \\(at least 1%\\)"), 2, 17,
     "^the interval is \\+3 to \\+5 std from the mean: move it toward the mean"),
    ("input 1x8x8\nconv 8 3 weight truncated_normal(std=0.02, a=-0.04, b=0.04)\n",
     "initializer truncated_normal has no parameter 'a'", 2, 44,
     ("^PyTorch's a= and b= are low= and high= here: "
     "write `truncated_normal\\(0, 0.02, low=-0.04, high=0.04\\)`$")),
    # a layer's name before its kind without the ':' (Darknet's, Caffe's order), at the name
    ("input 1x8x8\nc1 conv 8 3x3\n",
     "^'c1' before the layer kind 'conv' reads as the layer's name, which is followed by ':'$",
     2, 1, "^write `c1: conv ...`: a layer's name, ':', then its kind and values$"),
    ("input 1x8x8\nflatten\nfc dense 10\n", "^'fc' before the layer kind 'dense'", 3, 1,
     "`fc: dense ...`"),
    ("input 1x8x8\nrepeat 2 {\n  a1 relu\n}\n", "^'a1' before the layer kind 'relu'", 3, 3,
     "`a1: relu ...`"),
    ("input 1x8x8\nc1 conv(8, 3)\n", "^'c1' before the layer kind 'conv'", 2, 1, None),
    # ... but a training key there is a setting out of its block
    ("input 1x8x8\nflatten\ndense 10\nloss softmax\n", "^training setting 'loss' outside",
     4, 1,
     "^'loss' is a training setting: write it inside the train block"),
]


@pytest.mark.parametrize("head, line", [
    ("Input(shape=[28, 28, 1])", "input 1x28x28"),
    ("Input(shape=[32, 32, 3]) <- x", "input 3x32x32"),
])
def test_keras_input_call_that_parses_is_told_the_input_line(head, line):
    """Keras' Input with its shape in brackets parses as a layer's call: its hint was
    "keywords are lower case: input", which wrote `input(shape=[28, 28, 1])`."""
    with pytest.raises(SpecErrors) as info:
        parse(f"{head}\n", path="bad.cnn")
    error = next(e for e in info.value.errors if e.message == "unknown layer kind 'Input'")
    assert f"the input is the line `{line}`: the input is written channels x" in error.hint
    with pytest.raises(SpecErrors) as info:
        parse("Input 1x28x28\n", path="bad.cnn")
    assert any(e.hint == "keywords are lower case: input" for e in info.value.errors)
    # Keras' word for it written as a layer's kind, a size after it
    with pytest.raises(SpecErrors) as info:
        parse("input_shape 28x28x1\nflatten\n", path="bad.cnn")
    assert any(e.hint == ("Keras' input_shape is the spec's input line: write `input "
                          "1x28x28`; the input is written channels x height x width, not "
                          "height x width x channels as in Keras")
               and e.span.line == 1 for e in info.value.errors)


@pytest.mark.parametrize("text, message, line, column, hint", CASES,
                         ids=[c[1][:40] for c in CASES])
def test_wrong_spec_reports_message_line_column_and_hint(text, message, line, column, hint):
    err = error_of(text)
    assert re.search(message, err.message), err.message
    assert (err.span.line, err.span.column) == (line, column), err
    if hint is not None:
        assert err.hint and re.search(hint, err.hint), err.hint
    assert err.file == "bad.cnn"


# A model pasted whole: each layer's line answered at its place with its own hint, in one run
# (the first error's hint listed the lines after it, each found by a check and an edit), past
# the cnnspec lines mixed in (`dense 3`; blank and comment lines skipped); a call no line
# writes gets its own hint, and what is no layer (compile, a container) no error.
PASTED_MODELS = [
    (('model m\ninput 1x8x8\nlayers.Conv2D(32, (3, 3), activation="relu")\n'
      "layers.MaxPooling2D((2, 2))\n\n# head\nlayers.Flatten()\n"
      'layers.Dense(10, activation="softmax")\ndense 3\nlayers.Dense(2)\n'),
     [(3, 1, "the line `conv 32 3x3 relu`$"), (4, 1, "the line `maxpool 2x2`$"),
      (7, 1, "the line `flatten`$"), (8, 1, "the line `dense 10 softmax`$"),
      (10, 1, "the line `dense 2`$")]),
    (('input 1x8x8\nlayers.Conv2D(8, 3)\nflatten\nmodel.compile(optimizer="adam")\n'
      "nn.Identity()\nmodel = nn.Sequential(\nDense(10)\nConv2D(filters, 3)\n"),
     [(2, 1, "the line `conv 8 3`$"), (7, 1, "the line `dense 10`$"),
      (8, 1, "a cnnspec layer is a line of its kind and values: conv FILTERS KERNEL")]),
    ("input 1x8x8\nself.conv1 = nn.Conv2d(1, 6, 5)\nself.fc1 = nn.Linear(16 * 5 * 5, 120)\n",
     [(2, 14, "the line `conv1: conv 6 5`$"), (3, 12, "the line `fc1: dense 120`$")]),
    ('input 1x8x8\nmodel.add(Conv2D(8, 3, activation="relu"))\nmodel.add(Flatten())\n',
     [(2, 11, "the line `conv 8 3 relu`$"), (3, 11, "the line `flatten`$")]),
]


@pytest.mark.parametrize("text, expected", PASTED_MODELS)
def test_a_pasted_model_is_answered_a_layer_an_error_in_one_run(text, expected):
    with pytest.raises(SpecErrors) as info:
        parse(text, path="bad.cnn")
    errors = info.value.errors
    assert [(e.span.line, e.span.column) for e in errors] == [(line, column) for line, column,
                                                              _ in expected]
    for error, (_, _, hint) in zip(errors, expected):
        assert re.search(r"is a layer as (PyTorch|Keras|PyTorch or Keras) writes it, not a "
                         "cnnspec line$", error.message), error.message
        assert re.search(hint, error.hint), error.hint
        assert error.file == "bad.cnn" and "after it" not in error.hint


def test_check_prints_each_layer_of_a_pasted_model_located(tmp_path, capsys):
    spec = tmp_path / "pasted.cnn"
    spec.write_text(PASTED_MODELS[3][0])
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:2:11: error: Conv2D(...) is a layer as Keras writes it" in err
    assert f"{spec}:3:11: error: Flatten(...) is a layer as PyTorch or Keras writes it" in err
    assert "hint: this is PyTorch or Keras syntax; in cnnspec the layer is the line `flatten`" \
        in err


@pytest.mark.parametrize("name", ["Linear", "Dense", "fully_connected", "FullyConnected"])
def test_another_librarys_name_of_dense_is_told_the_dense_line(name):
    """PyTorch's Linear, Keras' Dense, TF-Slim's fully_connected and MXNet's FullyConnected
    written as a kind (``Dense`` was "did you mean dense?", the others the list of every
    kind): the dense line, its label and values kept, which checks."""
    text = f"input 1x8x8\nflatten\nip1: {name} 10 relu\n"
    err = error_of(text)
    assert err.message == f"unknown layer kind '{name}'"
    assert (err.span.line, err.span.column) == (3, 6)
    assert err.hint == f"`{name}` is `dense` here: write `ip1: dense 10 relu`"
    check(parse(text.replace(f"{name} 10", "dense 10")))  # no error


@pytest.mark.parametrize("line, part, init", [
    ("init he_normal", "weight", "he_normal"),
    ("kernel_initializer glorot_uniform", "weight", "glorot_uniform"),
    ("bias_initializer zeros", "bias", "zeros")])
def test_an_init_on_a_line_of_its_own_is_told_the_default_line(line, part, init):
    """As a model-wide init is set in Keras' and PyTorch's code; it got the list of kinds."""
    err = error_of(f"input 1x8x8\n{line}\nconv 8 3\n")
    assert err.message == f"unknown layer kind '{line.split()[0]}'"
    assert err.rewrite == f"default {part} {init}"
    assert err.hint == (f"an init is set for every conv and dense layer by `default {part} "
                        f"{init}` (each layer that names none), or for one layer by `{part} "
                        f"{init}` on its line")


def _errors_of(parse_call, text):
    with pytest.raises((SpecError, SpecErrors)) as info:
        parse_call(text)
    return info.value.errors if isinstance(info.value, SpecErrors) else [info.value]


INIT_CASES = [
    ("he_normal(", "unexpected end of the value"),
    ("he_normall", "unknown initializer 'he_normall'"),
    ("normal(0)", "needs a value for 'std'"),
    ("glorot_uniform gain", "unexpected"),
    ("3", "not the number 3"),
]


@pytest.mark.parametrize("text", [c[0] for c in CASES]
                         + [snippet for entry in CATALOGUE for snippet in entry.examples])
def test_every_parser_error_has_a_hint(text):
    for err in _errors_of(parse, text):
        assert err.hint and err.hint.strip(), err.message


@pytest.mark.parametrize("text", [c[0] for c in INIT_CASES])
def test_every_init_expression_error_has_a_hint(text):
    for err in _errors_of(parse_init, text):
        assert err.hint and err.hint.strip(), err.message


def test_end_of_input_is_called_end_of_file_and_terminals_read_like_the_language():
    err = error_of("input 1x8x8\nconv 8 3x3 weight (")
    assert err.message.startswith("unexpected end of file: expected ")
    assert not re.search(r"NAME|DASHED|SIGNED_NUMBER|__ANON|\$END|LPAR", err.message)
    assert "a name" in err.message and "a number" in err.message


@pytest.mark.parametrize("text, message, hint", [
    ("normal(0, 0.01", "unexpected end of the value: expected ')' or ','",
     "the '(' at character 7 is still open: close it with ')'"),
    ("[[1, 0], [0, 1]", "unexpected end of the value: expected ',' or ']'",
     "the '[' at character 1 is still open: close it with ']'"),
    ("he_normal)", "unexpected ')': expected the end of the value", None),
])
def test_a_command_line_values_end_is_no_files_end_and_it_has_no_lines(text, message, hint):
    """An --init or --data value is one line of the command, not a file: "end of file" and
    "line 1, column 7" name places the user cannot find."""
    (err,) = _errors_of(parse_init, text)
    assert err.message == message
    assert hint is None or err.hint == hint
    assert "line" not in err.message + err.hint and "file" not in err.message + err.hint


def test_several_mistakes_are_reported_together_in_file_order():
    with pytest.raises(SpecErrors) as info:
        parse("input 1x8x8\nconv 0 3\nconv 8 3 strid 1\nrelu\ntrain {\n  lrr 1\n}\n"
              "output nowhere\ninput 1x8x8\n")
    assert [e.span.line for e in info.value.errors] == [2, 3, 6, 8, 9]


def test_a_duplicate_label_is_one_error_not_one_more_for_its_activation():
    """`conv1: ... relu` written twice also makes conv1_relu twice: one mistake, one error."""
    error = error_of("input 1x8x8\nconv1: conv 4 3x3 relu\nconv1: conv 4 3x3 relu\n")
    assert "duplicate layer name 'conv1'" in error.message and error.span.line == 3


def test_a_mistake_inside_a_repeat_is_reported_once():
    err = error_of("input 1x8x8\nrepeat 5 as b {\n  conv 8 3 <- nowhere\n}\n")
    assert "undefined layer 'nowhere'" in err.message


@pytest.mark.parametrize("text, message", INIT_CASES)
def test_parse_init_errors(text, message):
    with pytest.raises(SpecError) as info:
        parse_init(text)
    assert message in info.value.message


def test_same_state_but_different_token_gets_the_plain_message():
    # Lark's match_examples would crash here (lark 1.3: a logging bug when the state matches a
    # catalogue example but the accepted tokens differ) or pick an unrelated class.
    err = error_of("input grad: concat(gx, gy)\n")
    assert err.message.startswith("unexpected ':'")
    assert (err.span.line, err.span.column) == (1, 11)


def test_uniform_with_equal_bounds_is_refused_where_written_with_a_constant_hint():
    from cnnspec.lang import parse

    with pytest.raises(SpecError) as caught:
        parse("input 1x8x8\nconv 8 3x3 weight uniform(0.1, 0.1)\n")
    err = caught.value
    assert (err.span.line, err.span.column) == (2, 19)
    assert "low < high" in err.message and "constant(0.1)" in err.hint


def test_the_languages_initializers_are_the_catalogues_with_its_defaults():
    from cnnspec.init.catalogue import PARAMS, REQUIRED
    from cnnspec.lang import calls
    from cnnspec.lang.inits import CATALOGUE

    assert list(CATALOGUE) == list(PARAMS)
    for name, params in CATALOGUE.items():
        declared = {k: (None if v is REQUIRED else v) for k, v in PARAMS[name].items()}
        written = {p.name: (None if p.default is calls.REQUIRED else p.default) for p in params}
        assert written == declared, name


def test_a_long_word_on_a_failing_line_is_read_in_one_pass():
    """The hint for a merge's bare inputs reads the failing line with a pattern that cannot
    split a run of letters two ways: one with nested optional separators took minutes on a
    comment-free line of a few dozen letters and a stray character (found by tools/fuzz.py)."""
    text = "input 1x8x8\nadd " + "s" * 60 + " t (\n"
    with pytest.raises(SpecError, match="^unexpected end of file"):
        parse(text)


@pytest.mark.parametrize("line", ["s: add a, b", "s: add a,b relu", "concat a, b, c  # all",
                                  "s: add a, b,"])
def test_a_merge_layers_bare_inputs_are_mended_by_either_form_of_its_hint(line):
    """The caret under the names alone, and both lines the hint writes parse."""
    text = "input 1x8x8\na: conv 4 3\nb: conv 4 3 <- input\nc: conv 4 3 <- input\n%s\n"
    err = error_of(text % line)
    assert err.message.startswith("the layers ")
    underlined = line[err.span.column - 1:err.span.end_column - 1]
    assert re.fullmatch(r"\w+(\s*,\s*\w+)+", underlined), underlined
    for fixed in re.findall(r"`([^`]*)`", err.hint):
        parse_tree(text % fixed)  # no syntax error now


@pytest.mark.parametrize("line", ["augment crop(2), flip", "augment shift(2), flip,",
                                  "class_weights 1, 2, 3  # rare"])
def test_a_list_written_without_brackets_is_mended_by_its_hint(line):
    text = "input 1x8x8\nflatten\ndense 3\ntrain {\n  %s\n}\n"
    err = error_of(text % line)
    fixed = re.match(r"write `(.*)`$", err.hint)[1]
    parse_tree(text % fixed)  # no syntax error now


# Keras' and PyTorch's keyword arguments on a layer's line: the hint's line is one the checker
# takes, with what each keyword meant (`padding same kernel_initializer he_normal` was the hint
# once, and the next check refused kernel_initializer).
@pytest.mark.parametrize("line, fixed, fields", [
    ("conv 32 3x3 padding='same' kernel_initializer='he_normal'",
     "conv 32 3x3 padding same weight he_normal", {"weight_init": {"name": "he_normal"}}),
    ("conv 32 3x3 strides=2 use_bias=False", "conv 32 3x3 stride 2 nobias",
     {"stride": [2, 2], "bias": False}),
    ("c1: conv 8 3x3 init='he_uniform' bias_initializer='ones'",
     "c1: conv 8 3x3 weight he_uniform bias ones",
     {"weight_init": {"name": "he_uniform"}, "bias_init": {"name": "ones"}}),
    ("conv 8 3x3 kernel_initializer=normal(0, 0.01) activation='tanh'",
     "conv 8 3x3 weight normal(0, 0.01) tanh", {"weight_init": {"std": 0.01}}),
    ("conv filters=8 kernel_size=3 use_bias=True", "conv 8 3", {"filters": 8, "bias": True}),
    # Keras' trainable: the flag `frozen` (`trainable False` was the hint once, refused next)
    ("conv 8 3 trainable=False", "conv 8 3 frozen", {"trainable": False}),
    ("c1: conv 8 3 trainable=True", "c1: conv 8 3", {"trainable": True}),
    ("conv 8 3 requires_grad=False", "conv 8 3 frozen", {"trainable": False}),
    ("maxpool pool_size=2 strides=1", "maxpool 2 stride 1", {"size": [2, 2], "stride": [1, 1]}),
    # Keras' kernel size: a size written with 'x', in its place after the line's values
    # (`conv 8 3 3` was the hint once, where the kernel was given already), given once
    ("conv 8 kernel_size=(3, 5) strides=(2, 1)", "conv 8 3x5 stride 2x1",
     {"kernel": [3, 5], "stride": [2, 1]}),
    ("conv 8 strides=2 kernel_size=[3, 3] activation='relu'", "conv 8 3x3 stride 2 relu",
     {"kernel": [3, 3], "stride": [2, 2]}),
    ("conv 8 3 kernel_size=3", "conv 8 3", {"kernel": [3, 3]}),
    ("conv 8 kernel=3", "conv 8 3", {"kernel": [3, 3]}),
    ("maxpool pool_size=(2, 2)", "maxpool 2x2", {"size": [2, 2]}),
    # Caffe's convolution_param and inner_product_param words: `num_output 16` was the hint
    # once (no such option), and `group 2`, `bias_term false`
    ("c1: conv num_output=16 kernel_size=3 stride=1 pad=1", "c1: conv 16 3 stride 1 pad 1",
     {"filters": 16, "padding": [1, 1]}),
    ("conv 16 3x3 group=1 bias_term=false", "conv 16 3x3 groups 1 nobias",
     {"groups": 1, "bias": False}),
])
def test_keyword_arguments_are_mended_by_their_hint(line, fixed, fields):
    text = "input 1x8x8\n%s\nflatten\ndense 10\n"
    err = error_of(text % line)
    assert err.message == "'=' is only used inside parentheses"
    assert re.match(r"write `(.*?)`; ", err.hint)[1] == fixed
    spec = parse(text % fixed)
    check(spec)  # no error
    layer = spec.ir["layers"][0]
    for name, value in fields.items():
        want = value if not isinstance(value, dict) else {**layer[name], **value}
        assert layer[name] == want, name


@pytest.mark.parametrize("init, std", [
    ("normal(0.01)", 0.01), ("truncated_normal(0.02)", 0.02),
    ("truncated_normal(0.02, low=-0.03)", 0.02),
])
def test_an_inits_one_number_given_to_its_mean_is_mended_by_the_hint(init, std):
    """`normal(0.01)` meant as a std: the call the hint writes checks, with that std."""
    text = "input 1x8x8\nconv 8 3x3 weight %s\nflatten\ndense 10\n"
    err = error_of(text % init)
    fixed = re.search(r"write (\S+\(std=.*\))$", err.hint)[1]
    spec = parse(text % fixed)
    check(spec)  # no error
    weight = spec.ir["layers"][0]["weight_init"]
    assert (weight["mean"], weight["std"]) == (0, std)


@pytest.mark.parametrize("text", [
    "input 1x8x8\nconv 8 3x3 weight 'he_normal' relu\nflatten\ndense 10\n",
    "input 1x8x8\nflatten\ndense 10\ntrain {\n  optimizer 'adam'  # 'x'\n}\n",
])
def test_a_name_in_single_quotes_is_mended_by_its_hint(text):
    err = error_of(text)
    fixed = re.match(r"write `(.*?)`; ", err.hint)[1]
    lines = text.splitlines()
    lines[err.span.line - 1] = fixed
    check(parse("\n".join(lines) + "\n"))


@pytest.mark.parametrize("written", ["betas=(0.5, 0.99)", "eps=1e-7, betas=(0.5, 0.99)",
                                     "betas=0.9"])
def test_pytorchs_betas_is_mended_by_its_hint(written):
    text = "input 1x8x8\nflatten\ndense 10\ntrain {\n  optimizer adam(%s)\n}\n"
    err = error_of(text % written)
    instead = re.search(r"write `(.*?)` in its place", err.hint)[1]
    mended = re.sub(r"betas=(\([^()]*\)|[0-9.]+)", instead, written)
    training = parse(text % mended).ir["training"]
    assert training["optimizer"]["beta1"] == (0.9 if written == "betas=0.9" else 0.5)


def darknet_conv(n: int, size: int, stride: int, pad: int) -> int:
    """Darknet's [convolutional] output size (src/convolutional_layer.c): pad=1 pads
    size / 2 on each side."""
    return (n + 2 * (size // 2 if pad else 0) - size) // stride + 1


def darknet_pool(n: int, size: int, stride: int, padding: int | None = None) -> int:
    """Darknet's [maxpool] output size (src/maxpool_layer.c): ``padding`` in all, size - 1
    unless the section says."""
    padding = size - 1 if padding is None else padding
    return (n + padding - size) // stride + 1


# Darknet sections and the (C, H, W) Darknet's layer gives an input of 3 x n x n; the maxpool
# sections are Darknet's [maxpool] defaults: stride 1, a window of the stride, size - 1 padding.
DARKNET_SECTIONS = [
    (("[convolutional]\nbatch_normalize=1\nfilters=32\nsize=3\nstride=1\npad=1\n"
      "activation=leaky"), lambda n: [32, n, n]),
    ("[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=linear",
     lambda n: [8, *[darknet_conv(n, 3, 2, 1)] * 2]),
    ("[maxpool]\nsize=2\nstride=2", lambda n: [3, *[darknet_pool(n, 2, 2)] * 2]),
    ("[maxpool]\nsize=2\nstride=1", lambda n: [3, *[darknet_pool(n, 2, 1)] * 2]),  # tiny YOLO
    ("[maxpool]\nsize=3\nstride=2", lambda n: [3, *[darknet_pool(n, 3, 2)] * 2]),
    ("[maxpool]\nstride=2", lambda n: [3, *[darknet_pool(n, 2, 2)] * 2]),
    ("[maxpool]\nsize=2", lambda n: [3, *[darknet_pool(n, 2, 1)] * 2]),
    ("[maxpool]\nsize=3\nstride=2\npadding=0", lambda n: [3, *[darknet_pool(n, 3, 2, 0)] * 2]),
    ("[maxpool]\nsize=5\nstride=1\npadding=4", lambda n: [3, n, n]),
    ("[upsample]\nstride=2", lambda n: [3, 2 * n, 2 * n]),
    ("[avgpool]", lambda n: [3]),
]


def darknet_line(section: str, n: int) -> str:
    """The spec's line the hint gives for a Darknet ``section`` after an input of 3 x n x n."""
    hint = error_of(f"input 3x{n}x{n}\n{section}\n").hint
    return re.search(r"this section is `([^`]*)`", hint)[1]


@pytest.mark.parametrize("n", [16, 15, 13])
@pytest.mark.parametrize("section, shape", DARKNET_SECTIONS)
def test_a_darknet_sections_line_is_a_spec_line_with_darknets_output(section, shape, n):
    """The line the hint gives is a layer of the spec, with the output Darknet's layer has,
    on odd sizes too (where an unpadded pool's output rounds down and Darknet's up)."""
    from cnnspec.check import check

    checked = check(parse(f"input 3x{n}x{n}\n{darknet_line(section, n)}\n"),
                    for_training=False)
    assert list(checked.layers[-1].output_shape) == shape(n)


def darknet_maxpool(x: np.ndarray, size: int, stride: int, padding: int) -> np.ndarray:
    """Darknet's [maxpool] forward (src/maxpool_layer.c) on (N, C, H, W): window (i, j)
    starts at (i, j) * stride - padding / 2, and takes the largest of its pixels inside the
    image."""
    h, w = x.shape[2:]
    out = np.empty((*x.shape[:2], darknet_pool(h, size, stride, padding),
                    darknet_pool(w, size, stride, padding)))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            top, left = i * stride - padding // 2, j * stride - padding // 2
            out[:, :, i, j] = x[:, :, max(top, 0):top + size, max(left, 0):left + size].max(
                axis=(2, 3))
    return out


@pytest.mark.parametrize("n", [16, 15])
@pytest.mark.parametrize("size, stride, padding", [(2, 2, 1), (2, 1, 1), (3, 2, 2), (3, 2, 0),
                                                   (4, 2, 3)])
def test_a_darknet_maxpools_line_takes_the_windows_darknet_takes(size, stride, padding, n):
    from cnnspec.check import check
    from cnnspec.compiler import compile_spec

    section = f"[maxpool]\nsize={size}\nstride={stride}\npadding={padding}"
    model = compile_spec(check(parse(f"input 3x{n}x{n}\n{darknet_line(section, n)}\n"),
                               for_training=False), seed=0, dtype="float64")
    x = np.random.default_rng(0).standard_normal((2, 3, n, n))
    np.testing.assert_array_equal(model.forward(x), darknet_maxpool(x, size, stride, padding))


# Sections and calls whose values make no layer: the hint says which value, and gives no line.
REFUSED_LAYERS = [
    ("[convolutional]\nfilters=8\nsize=0", "the kernel size must be at least 1, not 0"),
    ("[convolutional]\nfilters=-1\nsize=3", "the number of filters must be at least 1, not -1"),
    ("[convolutional]\nfilters=8\nsize=3\nstride=x", "stride=x is no number a spec reads"),
    ("[convolutional]\nfilters=8\nsize=3\nstride=1e999\npadding=nan",
     "stride=1e999 and padding=nan are no number a spec reads"),
    ("[convolutional]\nfilters=99999999999999999999999\nsize=3",
     "the number of filters must be at most 2,147,483,647"),
    (f"[convolutional]\nfilters={'9' * 5000}\nsize=3",
     f"filters={'9' * 5000} is no number a spec reads"),
    # a whole number past the largest float that int() reads: math.isfinite's OverflowError
    (f"[maxpool]\nsize=2\nstride=1{'0' * 330}", "the stride must be at most 2,147,483,647"),
    (f"[convolutional]\nfilters={'9' * 400}\nsize=3",
     "the number of filters must be at most 2,147,483,647"),
    ("[connected]\noutput=0", "the number of units must be at least 1, not 0"),
    ("[dropout]\nprobability=1.5", "the dropout probability must be in [0, 1), not 1.5"),
    ("[upsample]\nstride=0", "the upsampling factor must be at least 1, not 0"),
    ("Conv2D(-1, 3)", "the number of filters must be at least 1, not -1"),
    ("nn.Conv2d(1, 8, 3, stride=-2)", "the stride must be at least 1, not -2"),
    ("nn.Dropout(p=2)", "the dropout probability must be in [0, 1), not 2"),
    # a fraction where a pair goes: compared with the field's default, it raised a TypeError
    ("MaxPool2D(2, 1.5)", "the stride must be a whole number or HxW, not the number 1.5"),
    ("Conv2D(8, 3, 1e-3)", "the stride must be a whole number or HxW, not the number 0.001"),
    ("nn.Conv2d(3, 8, 3, padding=1.5)",
     "the pad must be a whole number or HxW, not the number 1.5"),
    # a whole number past the largest float, which math.isfinite cannot take
    (f"MaxPool2D(2, {'9' * 400})", "the stride must be at most 2,147,483,647"),
    (f"BatchNormalization(momentum={'9' * 400})", "the momentum is too large a number:"),
    # a value no line reads was left out of the line, which then said the field's default
    ("nn.Conv2d(1, 8, 3, stride=-1e400)", "stride=-1e400 is no value a spec reads"),
    ("nn.Conv2d(1, 8, 3, 1e400, padding=True)",
     "stride=1e400 and padding=True are no value a spec reads"),
    ("Conv2D(8, 3, strides=(1.5, 2))", "strides=(1.5, 2) is no value a spec reads"),
    ("c: Conv2D(8, 3, strides=1e400)", "strides=1e400 is no value a spec reads"),
    ("BatchNormalization(momentum=-1e400)", "momentum=-1e400 is no value a spec reads"),
]


@pytest.mark.parametrize("written, refused", REFUSED_LAYERS)
def test_another_librarys_layer_whose_values_make_no_layer_is_told_which(written, refused):
    """Darknet's `filters=-1` was written into the hint's line (`conv -1 3`), which the spec
    then refused: the hint gives the kind's usage and the value that does not fit."""
    hint = error_of(f"input 3x16x16\n{written}\n").hint
    assert "this section is" not in hint and "the layer is the line" not in hint
    assert hint.endswith(f"; here {refused}") or f"; here {refused} " in hint, hint


@pytest.mark.parametrize("section", [
    "[convolutional]\nfilters=8\nsize=3\nactivation=unknown", "[maxpool]\nsize=100\nstride=2",
    "[convolutional]\nfilters=8\nsize=3\npad=abc", "[dropout]\nprobability=.5",
    "[connected]\noutput=10\nactivation=linear"])
def test_a_darknet_sections_line_with_odd_keys_is_read_by_the_spec(section):
    parse(f"input 3x8x8\n{darknet_line(section, 8)}\n")


@pytest.mark.parametrize("net, shape", [
    ("channels=3\nheight=abc\nwidth=416", "3xHEIGHTx416"),
    ("channels=0\nheight=-4\nwidth=4.5", "CHANNELSxHEIGHTxWIDTH"),
    ("channels=3\nheight=32\nwidth=32", "3x32x32")])
def test_a_darknet_nets_input_line_writes_only_sizes_a_spec_reads(net, shape):
    """`height=abc` was written into the input line (`input 3xabcx416`)."""
    hint = error_of(f"[net]\n{net}\n").hint
    assert f"section is a spec's `input {shape}` line" in hint, hint


def test_a_value_of_more_digits_than_int_reads_is_a_number_too_large():
    """`base_lr: 999...` of 5000 digits ended in int()'s ValueError (its 4300-digit limit)."""
    assert "lr must be a finite number, not inf" in foreign_setting_hint("base_lr", "9" * 5000)


def foreign_setting_hint(name: str, value: str) -> str:
    return error_of(f"input 1x8x8\ndense 10\ntrain {{\n  {name}: {value}\n}}\n").hint


@pytest.mark.parametrize("name, value, refused", [
    ("base_lr", "abc", "lr must be a number, not 'abc'"),
    ("BASE_LR", "1e999", "lr must be a finite number, not inf"),
    ("base_lr", "０.01", "lr must be a number, not '０.01'"),
    ("random_seed", "1.5", "seed must be a whole number, not 1.5"),
    ("validation_split", "2", "val_split must be in [0, 1), not 2"),
    ("angle", "x", "degrees must be a number, not 'x'"),
    ("patience", "x", "early_stop must be a whole number, not 'x'"),
])
def test_a_foreign_settings_value_that_does_not_fit_is_written_into_no_line(name, value,
                                                                            refused):
    """`base_lr: abc` was told to write `lr abc`, which the train block refuses."""
    hint = foreign_setting_hint(name, value)
    assert f"is {refused.split()[0]} here, but {refused} (" in hint or \
        f", but {refused} (" in hint, hint
    assert f"={value})" not in hint and f" {value}`" not in hint, hint


@pytest.mark.parametrize("name", ["max_iter", "max_batches", "burn_in", "stepsize"])
@pytest.mark.parametrize("value", ["abc", "-5", ""])
def test_a_count_of_iterations_that_is_no_count_stands_in_no_sum(name, value):
    """`max_iter: abc` said 'abc iterations are E = abc · batch_size / ...'."""
    hint = foreign_setting_hint(name, value)
    assert f"{name} iterations are E = {name} · batch_size" in hint, hint


def test_every_foreign_settings_line_is_read_by_the_train_block():
    """Each line a foreign training setting's hint writes with a value, odd ones too, is a
    line the train block reads."""
    from cnnspec.ir.training_catalogue import FOREIGN_KEYS

    for foreign in FOREIGN_KEYS:
        for value in ("0.5", "5", "0", "-1", "1e999", "abc", "true", "step", "０.5"):
            line = foreign.line(value)
            if line is not None and not re.search(r"\bE\d?\b", line):
                parse(f"input 1x8x8\nflatten\ndense 10\ntrain {{\n  {line}\n}}\n")


# Seconds past which a check of one long line is taken as the pattern search's quadratic
# hang (minutes) that these tests guard against: a bound on a hang, not on speed, wide enough
# for a machine busy with other work (each check takes well under a second alone).
HANG = 60


def test_a_long_word_on_a_line_with_keyword_arguments_is_rewritten_at_once():
    """`c: conv 4 3x3 init so"sss...s"bel_x act=relu` with a word of 100,000 letters took 57 s
    to check: the keyword arguments' pattern was tried from every letter of the word, each try
    running to its end. It is tried from the start of a word only."""
    import time

    word = "s" * 200_000
    start = time.perf_counter()
    err = error_of(f'input 1x8x8\nc: conv 4 3x3 init so"{word}"bel_x act=relu\nflatten\n')
    assert time.perf_counter() - start < HANG
    assert err.message == "'=' is only used inside parentheses"
    assert err.hint.startswith(f'write `c: conv 4 3x3 init so"{word}"bel_x relu`')


@pytest.mark.parametrize("line", [
    "  lr: 0.1" + " " * 100_000 + "x",  # the value's pattern tried from every space
    "  lr = 0.1" + " " * 100_000 + "x",
    "  lr: 0.1 " + "# a " * 30_000 + '"',  # the comment's pattern tried from every '#'
])
def test_a_train_line_with_a_long_run_of_spaces_or_comments_is_told_at_once(line):
    """A setting's line with 100,000 spaces in it took minutes to check: the patterns that
    find its value and its comment were tried from every space (or every '#')."""
    import time

    start = time.perf_counter()
    err = error_of(f"input 1x8x8\nflatten\ndense 10\ntrain {{\n{line}\n}}\n")
    assert time.perf_counter() - start < HANG
    assert err.span.line == 5


def test_a_layer_line_of_many_numbers_run_on_into_words_is_told_at_once():
    """`conv 8 3x3 1a.1a.1a...` (20,000 times: a number, a word touching it, over and over)
    took 2 min 17 s of CPU: the run of touching words and numbers was joined again from each
    number in it, to look for a number written with '_' or a bare exponent. Each item is read
    in one run now."""
    import time

    start = time.perf_counter()
    err = error_of("input 1x8x8\nconv 8 3x3 " + "1a." * 20_000 + "1a\nflatten\n")
    assert time.perf_counter() - start < HANG
    assert (err.span.line, err.span.column) == (2, 12)


# Caffe's layer types written as a layer's kind (`InnerProduct` got no hint, `deconvolution`
# "did you mean dropout?", `SoftmaxWithLoss` softmax): the spec around the line (`{}`), the
# line and the kind the hint names, in Caffe's capitals and in lower case.
CAFFE_TYPE_LINES = [
    ("input 1x8x8\nflatten\n{}\n", "fc: InnerProduct 10", "dense"),
    ("input 1x8x8\nflatten\n{}\n", "fc: innerproduct 10 relu", "dense"),
    ("input 1x8x8\nflatten\n{}\n", "ip1: inner_product 10", "dense"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "c: Convolution 16 3x3 pad same", "conv"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "p: Pooling 2", "maxpool"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "LRN", "batchnorm"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "r: ReLU", "relu"),
    ("input 1x8x8\nflatten\ndense 10\n{}\n", "Dropout 0.3", "dropout"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "BatchNorm", "batchnorm"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "Scale", "batchnorm"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "up: Deconvolution 4 2 stride 2",
     "conv_transpose"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "deconvolution 4 2", "conv_transpose"),
    ("input 1x8x8\na: conv 4 3x3 pad same\nb: conv 4 3x3 pad same\n{}\nflatten\ndense 10\n",
     "m: Eltwise", "add"),
    ("input 1x8x8\na: conv 4 3x3 pad same\nb: conv 4 3x3 pad same\n{}\nflatten\ndense 10\n",
     "m: Concat", "concat"),
    # the line's values kept, a call and a list among them (they were left to the usage)
    ("input 1x8x8\nflatten\n{}\n", "fc: InnerProduct 10 weight normal(0, 0.01)", "dense"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "c: Convolution 4 2 weight [[1, 0], [0, 1]]",
     "conv"),
    # the type called as a function (it got the list of every kind): its arguments in their
    # places, Caffe's num_output and kernel_size too, and the values after it kept
    ("input 1x8x8\nflatten\n{}\n", "fc: InnerProduct(10)", "dense"),
    ("input 1x8x8\nflatten\n{}\n", "fc: innerproduct(num_output=10, weight=normal(0, 0.01)) relu",
     "dense"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n",
     "c: Convolution(kernel_size=3, num_output=16, stride=2, pad=1, bias_term=false) relu",
     "conv"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "p: Pooling(2)", "maxpool"),
    ("input 1x8x8\na: conv 4 3x3 pad same\nb: conv 4 3x3 pad same\n{}\nflatten\ndense 10\n",
     "m: Eltwise(a, b)", "add"),
]


@pytest.mark.parametrize("context, line, kind", CAFFE_TYPE_LINES)
def test_a_caffe_layer_type_written_as_a_kind_is_answered_with_a_line_that_checks(
        context, line, kind):
    text = context.format(line)
    err = error_of(text)
    written = line.partition(": ")[2] or line
    kind_written = re.match(r"\w+", written)[0]  # the type, without a call's arguments
    assert err.message == f"unknown layer kind '{kind_written}'"
    assert (err.span.line, err.span.column) == (text.splitlines().index(line) + 1,
                                                line.index(written) + 1)
    fixed = re.search(r"write `(.*?)`", err.hint)[1]
    assert fixed.partition(": ")[2].startswith(kind) or fixed.startswith(kind), err.hint
    check(parse(text.replace(line, fixed)))  # no error


# Caffe's types called with Caffe's own parameters (they were answered as Keras': "this is
# Keras syntax", the usage for `dropout_ratio`, variance_scaling's `scale` for Scale, "a list
# is out of place" for a kernel per axis): the spec around the line, the line, the line to
# write.
CAFFE_CALLS = [
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "BatchNorm(use_global_stats=true)",
     "batchnorm"),
    ("input 1x8x8\na: conv 4 3x3 pad same\nb: conv 4 3x3 pad same\n{}\nflatten\ndense 10\n",
     "m: Concat(axis=1)", "m: concat(a, b)"),
    ("input 1x8x8\nconv 4 3x3\n{}\ndense 10\n", "Flatten(axis=1)", "flatten"),
    ("input 1x8x8\nflatten\ndense 10\n{}\n", "Dropout(dropout_ratio=0.5)", "dropout 0.5"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "Scale(bias_term=true)",
     "batchnorm"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "scale(bias_term=true)",
     "batchnorm"),  # its parameter makes it Caffe's in any case
    ("input 1x8x8\n{}\nflatten\ndense 10\n",
     "c: Convolution(num_output=16, kernel_size=[3, 5])", "c: conv 16 3x5"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "ELU(alpha=0.5)", "elu 0.5"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "Sigmoid(engine=CAFFE)", "sigmoid"),
]


@pytest.mark.parametrize("context, line, fixed", CAFFE_CALLS)
def test_a_caffe_type_called_with_its_parameters_is_answered_as_caffes(context, line, fixed):
    text = context.format(line)
    hint = error_of(text).hint
    caffe = re.match(r"(\w+: )?(\w+)", line)[2]
    assert hint.startswith(f"Caffe's {caffe[0].upper()}") and "Keras" not in hint, hint
    assert re.search(r"write `(.*?)`", hint)[1] == fixed, hint
    check(parse(text.replace(line, fixed)))  # no error


def test_a_caffe_parameter_at_another_value_than_its_default_is_told_the_usage():
    """Only Caffe's default of a parameter is what the kind does without a word."""
    hint = error_of("input 1x8x8\nconv 4 3x3\nFlatten(axis=2)\ndense 10\n").hint
    assert hint == ("Caffe's Flatten is `flatten` here, a layer written on one line: flatten; "
                    "here 'axis' is not an option of flatten: it is a parameter of Caffe's "
                    "Flatten")


# A name Caffe shares with Keras' or PyTorch's classes, called with no keyword to tell whose:
# every library's answer that has a class of the name (PyTorch's as the kinds' export builds
# them, Keras' as its importer reads them), each line of which checks; with the other
# library's keyword, that library's.
SHARED_CALLS = [
    ("input 1x8x8\nflatten\ndense 10\n{}\n", "Dropout(0.5)", "PyTorch, Keras or Caffe"),
    ("input 1x8x8\nconv 4 3x3\n{}\ndense 10\n", "f: Flatten()", "PyTorch, Keras or Caffe"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "BatchNorm()", "Keras or Caffe"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "ReLU()", "PyTorch, Keras or Caffe"),
    # Keras has no Tanh or Sigmoid layer (its Activation('tanh') is one)
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "Tanh()", "PyTorch or Caffe"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "Sigmoid()", "PyTorch or Caffe"),
    ("input 1x8x8\na: conv 4 3x3 pad same\nb: conv 4 3x3 pad same\n{}\nflatten\ndense 10\n",
     "Concat()", "Keras or Caffe"),
]


@pytest.mark.parametrize("context, line, whose", SHARED_CALLS)
def test_a_name_caffe_shares_called_with_no_keyword_is_answered_as_both(context, line, whose):
    text = context.format(line)
    hint = error_of(text).hint
    assert hint.startswith(f"this is {whose} syntax; "), hint
    lines = re.findall(r"(?:the line|write) `(.*?)`", hint)
    assert lines, hint
    for fixed in lines:
        check(parse(text.replace(line, fixed)))  # no error


@pytest.mark.parametrize("line, whose, fixed", [
    ("Dropout(rate=0.5)", "Keras", "dropout 0.5"),  # Keras' rate
    ("Dropout(p=0.5)", "PyTorch", "dropout 0.5"),  # PyTorch's p
    ("BatchNorm(epsilon=0.001)", "Keras", "batchnorm eps 0.001"),  # Caffe's is eps
])
def test_a_name_caffe_shares_called_with_anothers_keyword_is_answered_as_theirs(line, whose,
                                                                               fixed):
    text = f"input 1x8x8\nconv 4 3x3\n{line}\nflatten\ndense 10\n"
    hint = error_of(text).hint
    assert hint == f"this is {whose} syntax; in cnnspec the layer is the line `{fixed}`"
    check(parse(text.replace(line, fixed)))


# Caffe's parameters that choose the kind (Pooling's pool and global_pooling, ReLU's
# negative_slope) or that a field takes in another meaning (BatchNorm's
# moving_average_fraction, the share of the old statistics kept: momentum = 1 - it), and
# Keras' momentum (the same share), answered with the line they make.
@pytest.mark.parametrize("line, fixed", [
    ("Pooling(pool=AVE, kernel_size=2)", "avgpool 2"),
    ("Pooling(pool=MAX, kernel_size=2, stride=2)", "maxpool 2 stride 2"),
    ("Pooling(pool=AVE, global_pooling=true)", "global_avgpool"),
    ("Pooling(global_pooling=true)", "global_maxpool"),
    ("Pooling(pool='AVE', kernel_size=2)", "avgpool 2"),  # in Python's quotes
    ("Pooling AVE 2", "avgpool 2"),  # the pool written after the type, as the call's
    ("Pooling MAX 2 stride 2", "maxpool 2 stride 2"),
    ('Pooling "AVE" 2', "avgpool 2"),
    ("ReLU(negative_slope=0.1)", "leaky_relu 0.1"),
    ("ReLU(negative_slope=0)", "relu"),
    ("BatchNorm(moving_average_fraction=0.999)", "batchnorm momentum 0.001"),
    ("BatchNormalization(momentum=0.99)", "batchnorm momentum 0.01"),
    ("BatchNorm(momentum=0.8)", "batchnorm momentum 0.2"),
    ("nn.BatchNorm2d(4, momentum=0.2)", "batchnorm momentum 0.2"),  # PyTorch's is ours
    ("ReLU(max_value=6)", "relu6"),  # Keras' cap, which its importer makes relu6 too
    ("layers.ReLU(max_value=6.0, negative_slope=0)", "relu6"),
    ("ReLU(6)", "relu6"),  # a number: Keras' max_value (PyTorch's ReLU takes only inplace)
    ("nn.ReLU(True)", "relu"),  # PyTorch's inplace
])
def test_a_foreign_layers_parameters_are_converted_to_the_line_they_make(line, fixed):
    text = f"input 1x8x8\nconv 4 3x3\n{line}\nflatten\ndense 10\n"
    hint = error_of(text).hint
    assert f"`{fixed}`" in hint, hint
    check(parse(text.replace(line, fixed)))


# Keras' ReLU whose values make no kind here: told so as Keras', not read by another
# library's signature (ReLU(4) as PyTorch's, a relu) or keywords (negative_slope as Caffe's),
# nor given the usage of a kind it is not (relu's).
@pytest.mark.parametrize("line", ["ReLU(4)", "ReLU(negative_slope=0.2, max_value=6)",
                                  "ReLU(6, 0.1)", "ReLU(max_value=4)",
                                  "r = layers.ReLU(max_value=4)(x)"])
def test_a_keras_relu_of_no_kind_here_is_told_the_importers_reason(line):
    from cnnspec.lang.foreign import KERAS_CHOSEN

    hint = error_of(f"input 1x8x8\nconv 4 3x3\n{line}\nflatten\ndense 10\n").hint
    assert hint == f"this is Keras syntax; {KERAS_CHOSEN['relu'][1]}", hint


def test_a_converted_momentum_says_which_momentum_the_language_means():
    for line, whose in (("BatchNorm(moving_average_fraction=0.999)",
                         "1 - Caffe's moving_average_fraction"),
                        ("BatchNormalization(momentum=0.99)", "1 - Keras' momentum")):
        hint = error_of(f"input 1x8x8\n{line}\nflatten\ndense 10\n").hint
        # the catalogue's words, which the high-momentum warning says too
        assert ("a batchnorm's momentum is the weight of each batch in the running "
                f"statistics (PyTorch's meaning): {whose}, the share of them") in hint, hint


@pytest.mark.parametrize("line", ["BatchNormalization(momentum=-1e400)",
                                  "BatchNorm(moving_average_fraction=1e400)",
                                  "nn.Conv2d(1, 8, 3, stride=-1e400)"])
def test_a_value_past_the_largest_float_is_not_written_as_infinity(line):
    """1 - 1e400 was written `momentum -inf`, which the grammar reads as a stray '-'."""
    hint = error_of(f"input 1x8x8\n{line}\nflatten\ndense 10\n").hint
    assert "inf" not in hint and "unexpected character" not in hint, hint


@pytest.mark.parametrize("line", ["Pooling(pool=STOCHASTIC, kernel_size=2)",
                                  "Pooling STOCHASTIC 2"])
def test_a_caffe_pool_that_is_no_kind_here_is_not_written_as_a_max_pool(line):
    hint = error_of(f"input 1x8x8\n{line}\nflatten\ndense 10\n").hint
    # as `maxpool 2 pool STOCHASTIC` is answered, not as a max pool with a foreign option
    assert hint == "cnnspec has no layer for Caffe's Pooling with pool STOCHASTIC", hint
    assert hint == error_of("input 1x8x8\nmaxpool 2 pool STOCHASTIC\nflatten\n").hint


def test_caffes_softmax_with_loss_is_the_train_blocks_loss_and_the_output_raw_scores():
    text = "input 1x8x8\nflatten\ndense 10\n{}\n"
    err = error_of(text.format("prob: SoftmaxWithLoss"))
    assert err.message == "unknown layer kind 'SoftmaxWithLoss'"
    assert "did you mean" not in err.hint and "raw scores" in err.hint, err.hint
    setting = re.search(r"write `(.*?)` in `train \{ \}` and remove this line", err.hint)[1]
    assert setting == "loss cross_entropy"
    check(parse(text.format(f"train {{\n  {setting}\n}}")))


def test_caffes_layers_that_a_spec_leaves_out_are_said_to_be_removed():
    err = error_of("input 1x8x8\nflatten\ndense 10\nacc: Accuracy\n")
    assert err.hint == ("Caffe's Accuracy layer has no line here: cnnspec reports the accuracy "
                        "of every run; remove this line")


def test_a_caffe_type_whose_values_make_no_line_is_told_its_kinds_usage():
    """`Convolution num_output 16` would be written into no line that checks."""
    hint = error_of("input 1x8x8\nConvolution num_output 16\n").hint
    assert hint.startswith("Caffe's Convolution is `conv` here, a layer written on one line: "
                           "conv FILTERS KERNEL"), hint
    assert "; here 'num_output' is not an option of conv" in hint and "write" not in hint
    hint = error_of("input 1x8x8\nflatten\nInnerProduct 10 weight gaussian\n").hint
    assert hint.startswith("Caffe's InnerProduct is `dense` here, a layer written on one line: "
                           "dense UNITS"), hint
    assert hint.endswith("; here initializer gaussian needs a value for 'sigma'"), hint


@pytest.mark.parametrize("line", [
    "c: Convolution(kernel_size=3)",  # a kernel with no filters
    "fc: InnerProduct(10, num_output=20)",  # the units twice
])
def test_a_caffe_type_called_with_values_out_of_place_is_told_its_kinds_usage(line):
    err = error_of(f"input 1x8x8\nflatten\n{line}\n")
    kind_written = re.match(r"\w+: (\w+)", line)[1]
    assert err.message == f"unknown layer kind '{kind_written}'"
    assert "a layer written on one line: " in err.hint and "write" not in err.hint, err.hint


def test_scale_in_lower_case_is_still_an_inits_argument():
    """Only Caffe's capitals make `Scale` a layer type; `scale` alone is variance_scaling's."""
    assert "variance_scaling(scale=" in error_of("input 1x8x8\nscale\n").hint


def test_caffes_loss_layer_named_loss_is_told_the_loss_it_is_here():
    """`loss: SoftmaxWithLoss`, as Caffe names its loss layer, was told `train { loss
    SoftmaxWithLoss }`, which the train block refuses."""
    text = "input 1x8x8\nflatten\ndense 10\n{}\n"
    err = error_of(text.format("loss: SoftmaxWithLoss"))
    assert err.message == "training setting 'loss' outside the train block"
    block = re.search(r"e\.g\. (train \{ .* \}) \(Caffe's SoftmaxWithLoss is cross_entropy "
                      r"here\)$", err.hint)[1]
    check(parse(text.format(block.replace("{ ", "{\n  ").replace(" }", "\n}"))))


@pytest.mark.parametrize("written, option, span", [
    ("lr_mult 1 2", "lr_mult [1, 2]", (24, 27)),  # "the number 2 is out of place"
    ("decay_mult 1 0 relu", "decay_mult [1, 0]", (27, 30)),
    ("lr_mult 0.5 1e-1", "lr_mult [0.5, 1e-1]", (24, 32)),
])
def test_caffes_multipliers_written_without_brackets_are_told_the_list(written, option, span):
    text = "input 1x8x8\nc: conv 16 3x3 %s\nflatten\ndense 10\n"
    err = error_of(text % written)
    name = option.split()[0]
    assert err.message == f"the values of {name} are written as a list, in brackets"
    assert (err.span.line, err.span.column, err.span.end_column) == (2, *span)
    assert err.hint.startswith(f"write `{option}`: multiples of the "), err.hint
    fixed = written.replace(option.replace("[", "").replace(",", "").replace("]", ""), option)
    layer = parse(text % fixed).ir["layers"][0]
    check(parse(text % fixed))
    assert layer[name] == [float(v) for v in option[len(name) + 2:-1].split(", ")]


@pytest.mark.parametrize("written, fixed", [
    ("lr_mult 1, 2", "lr_mult [1, 2]"),  # was told `lr_mult 1 2`, which is refused again
    ("lr_mult 0.5, 1 decay_mult 1,0", "lr_mult [0.5, 1] decay_mult [1, 0]"),  # was `0.5 1`
])
def test_caffes_multipliers_with_commas_are_told_the_list(written, fixed):
    text = "input 1x8x8\nc: conv 16 3x3 %s\nflatten\ndense 10\n"
    err = error_of(text % written)
    assert err.message == "a list of values is written in brackets"
    assert err.hint == f"write `c: conv 16 3x3 {fixed}`"
    check(parse(text % fixed))


# A value without an option word written after an option, a flag, a norm or the activation:
# `conv 16 lr_mult 1 2` read the 2 as a 2x2 kernel. The spec around the line (`{}`), the line,
# the column of the value and the line the hint writes, which checks.
POSITIONAL_AFTER_OPTION = [
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "c: conv 16 stride 2 3x3 relu", 21,
     "c: conv 16 3x3 stride 2 relu"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "conv stride 2 16 3x3", 15, "conv 16 3x3 stride 2"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "conv 16 relu 3x3", 14, "conv 16 3x3 relu"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "conv 16 nobias 3", 16, "conv 16 3 nobias"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "c: conv 16 bn 3x3 relu", 15,
     "c: conv 16 3x3 bn relu"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "conv 16 weight normal(0, 0.01) 3x3", 32,
     "conv 16 3x3 weight normal(0, 0.01)"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "c: conv 16 stride 2 3x3 <- input", 21,
     "c: conv 16 3x3 stride 2 <- input"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "conv_transpose 4 stride 2 2", 27,
     "conv_transpose 4 2 stride 2"),
    ("input 1x8x8\nflatten\n{}\n", "dense weight he_normal 10", 24, "dense 10 weight he_normal"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "maxpool stride 2 2", 18, "maxpool 2 stride 2"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "avgpool ceil_mode true 2", 24,
     "avgpool 2 ceil_mode true"),
    ("input 1x8x8\n{}\nflatten\ndense 10\n", "upsample mode bilinear 2", 24,
     "upsample 2 mode bilinear"),
    ("input 1x8x8\nconv 4 3x3\n{}\nflatten\ndense 10\n", "groupnorm eps 0.001 2", 21,
     "groupnorm 2 eps 0.001"),
]


@pytest.mark.parametrize("context, line, column, fixed", POSITIONAL_AFTER_OPTION)
def test_a_value_after_an_option_is_out_of_place_and_told_the_line(context, line, column,
                                                                    fixed):
    text = context.format(line)
    err = error_of(text)
    assert re.search(r" after `.+` is out of place in \w+ layer '\w+'$", err.message), err.message
    assert (err.span.line, err.span.column) == (text.splitlines().index(line) + 1, column)
    assert err.hint == ("values without an option word come right after the kind, before its "
                        f"options: write `{fixed}`")
    check(parse(text.replace(line, fixed)))  # no error


@pytest.mark.parametrize("line, column, field", [
    ("c: conv 16 lr_mult 1 2", 22, "kernel size"),
    ("c: conv 16 decay_mult 1 0 relu", 25, "kernel size"),
])
def test_a_number_after_a_multiplier_is_no_kernel_and_told_the_list(line, column, field):
    """`c: conv 16 lr_mult 1 2` passed check with a 2x2 kernel and lr_mult 1."""
    text = f"input 1x8x8\n{line}\nflatten\ndense 10\n"
    err = error_of(text)
    option, first, second = line.split()[3:6]
    assert err.message == (f"the number {second} after `{option} {first}` is out of place in "
                           "conv layer 'c'")
    assert (err.span.line, err.span.column, err.span.end_column) == (2, column, column + 1)
    assert err.hint.startswith(f"a value after an option is not read as the {field}: values "
                               "without an option word come right after the kind (usage: conv "
                               "FILTERS KERNEL"), err.hint
    assert f"; for {option}'s two values write `{option} [{first}, {second}]`: " in err.hint
    check(parse(text.replace(f"{first} {second}", f"[{first}, {second}]").replace(
        "conv 16", "conv 16 3x3")))


def test_a_dense_layers_units_after_a_multiplier_are_told_so():
    err = error_of("input 1x8x8\nflatten\nd: dense lr_mult 1 10\n")
    assert err.message == "the number 10 after `lr_mult 1` is out of place in dense layer 'd'"
    assert err.hint.startswith("a value after an option is not read as the number of units")


@pytest.mark.parametrize("line, message", [
    ("dropout p 0.5 0.3", "dropout probability of 'dropout1' is given twice"),
    ("leaky_relu slope 0.2 0.3", "slope of 'leaky_relu1' is given twice"),
])
def test_a_value_after_the_option_that_gave_it_is_told_given_twice(line, message):
    err = error_of(f"input 1x8x8\nflatten\ndense 10\n{line}\n")
    assert err.message == message


# Other libraries' parameters written as a cnnspec layer's options (they got "unknown option"
# and the list of every option): whose they are, at their name, and the words of the line
# that means them, from lang/foreign.py's tables (the line, whose, what the hint writes, the
# line mended by it).
FOREIGN_OPTIONS = [
    ("batchnorm moving_average_fraction 0.999", "a parameter of Caffe's BatchNorm",
     "write `momentum 0.001` in its place (a batchnorm's momentum is the weight of each batch",
     "batchnorm momentum 0.001"),
    # a fraction out of [0, 1] makes a momentum out of it: told so, not written in the hint
    ("batchnorm moving_average_fraction -5", "a parameter of Caffe's BatchNorm",
     "-5 is `momentum 6` here, refused: the momentum must be in [0, 1], not 6", None),
    ("batchnorm moving_average_fraction 1e400", "a parameter of Caffe's BatchNorm",
     ("moving_average_fraction 1e400 is no number a spec reads: write `momentum ...` in its "
      "place"), None),
    ("batchnorm moving_average_fraction x", "a parameter of Caffe's BatchNorm",
     "write `momentum ...` in its place", None),
    ("batchnorm use_global_stats false", "a parameter of Caffe's BatchNorm",
     "remove `use_global_stats false`", "batchnorm"),
    ("relu negative_slope 0.1", "a parameter of Caffe's ReLU",
     ("is `leaky_relu` here: write `leaky_relu` in place of `relu`, and `0.1` in place of "
     "`negative_slope 0.1`"), "leaky_relu 0.1"),
    # a slope the kind refuses was written into the line to write
    ("relu negative_slope -0.5", "a parameter of Caffe's ReLU",
     ("is `leaky_relu` here, but `leaky_relu -0.5` is refused: the slope must be 0 or more, "
      "not -0.5; usage: leaky_relu"), None),
    ("relu negative_slope 1e400", "a parameter of Caffe's ReLU",
     "but `leaky_relu 1e400` is refused: the slope is too large a number: 1e400", None),
    ("maxpool 2 pool AVE", "a parameter of Caffe's Pooling",
     "write `avgpool` in place of `maxpool`, and remove `pool AVE`", "avgpool 2"),
    ("maxpool 2 pool STOCHASTIC", "a parameter of Caffe's Pooling",
     "cnnspec has no layer for Caffe's Pooling with pool STOCHASTIC", None),
    ("conv 4 3x3 pad_h 1", "a parameter of Caffe's Convolution",
     "written as one size here: `pad HxW`", "conv 4 3x3 pad 1x0"),
    ("conv 4 3x3 axis 1", "a parameter of Caffe's Convolution",
     "`conv` does what Caffe's axis 1 does: remove `axis 1`", "conv 4 3x3"),
    ("flatten axis 2", "a parameter of Caffe's Flatten",
     "`flatten` does what Caffe's axis 1 does; another axis has no counterpart here", None),
    ("relu max_value 6", "an argument of Keras' ReLU",
     "write `relu6` in place of `relu max_value 6`", "relu6"),
    ("relu max_value 4", "an argument of Keras' ReLU", "cnnspec caps a ReLU at 6 alone", None),
    ("conv 4 3x3 in_channels 1", "an argument of PyTorch's nn.Conv2d",
     "a spec infers it from the layer's input: remove `in_channels 1`", "conv 4 3x3"),
    ("batchnorm num_features 4", "an argument of PyTorch's nn.BatchNorm2d",
     "remove `num_features 4`", "batchnorm"),
    ("batchnorm affine false", "an argument of PyTorch's nn.BatchNorm2d",
     "write `frozen` in place of `affine false`", "batchnorm frozen"),
    ("batchnorm track_running_stats false", "an argument of PyTorch's nn.BatchNorm2d",
     "remove `track_running_stats false`: cnnspec's batchnorm keeps running statistics",
     "batchnorm"),
    ("batchnorm center false", "an argument of Keras' BatchNormalization",
     "learn no shift (it stays 0)", "batchnorm"),
    ("batchnorm scale false", "an argument of Keras' BatchNormalization",
     "learn no scale (it stays 1)", "batchnorm frozen"),
    ("relu inplace true", "an argument of PyTorch's nn.ReLU", "remove `inplace true`",
     "relu"),
    ("dropout 0.5 inplace true", "an argument of PyTorch's nn.Dropout",
     "remove `inplace true`", "dropout 0.5"),
]


@pytest.mark.parametrize("line, whose, hint, fixed", FOREIGN_OPTIONS)
def test_another_librarys_parameter_written_as_an_option_is_told_whose_and_the_words(
        line, whose, hint, fixed):
    kind, name = line.split()[0], next(word for word in line.split() if "_" in word
                                       or word in ("pool", "axis", "affine", "center",
                                                   "scale", "inplace"))
    text = f"input 1x8x8\nconv 4 3x3 pad same\n{line}\nflatten\ndense 10\n"
    err = error_of(text)
    assert err.message == f"'{name}' is not an option of {kind}: it is {whose}"
    assert (err.span.line, err.span.column) == (3, line.index(f" {name} ") + 2)
    assert hint in err.hint, err.hint
    if fixed is not None:
        check(parse(text.replace(line, fixed)))  # no error


# Keras' regularizer arguments, whose `kernel` read as the kernel size: the train block's
# weight_decay (2 * l2) and the layer's decay_mult that keeps it to what Keras regularizes.
@pytest.mark.parametrize("option, decay, mult", [
    ("kernel_regularizer l2", "0.02", "[1, 0]"),  # Keras' default factor 0.01
    ("kernel_regularizer l2(0.0005)", "0.001", "[1, 0]"),
    ("bias_regularizer L2(l2=0.003)", "0.006", "[0, 1]"),
])
def test_a_keras_regularizer_is_told_the_weight_decay_and_decay_mult(option, decay, mult):
    text = "input 1x8x8\nconv 8 3x3 {}\nflatten\ndense 10\n"
    err = error_of(text.format(option))
    name = option.split()[0]
    assert err.message == f"'{name}' is not an option of conv: it is an argument of Keras' layers"
    assert (err.span.line, err.span.column) == (2, 12)
    assert f"`weight_decay {decay}`" in err.hint, err.hint
    assert f"write `decay_mult {mult}` in place of `{option}`" in err.hint, err.hint
    check(parse(text.format(f"decay_mult {mult}") + f"train {{\n  weight_decay {decay}\n}}\n"))


def test_a_keras_regularizer_that_is_no_l2_is_told_weight_decay_is_l2_only():
    err = error_of("input 1x8x8\nconv 8 3x3 kernel_regularizer l1\nflatten\ndense 10\n")
    assert "weight decay is L2 only" in err.hint and "remove `kernel_regularizer l1`" in err.hint


@pytest.mark.parametrize("option", [
    "kernel_regularizer l2(-1)", "kernel_regularizer L2(l2=0)", "kernel_regularizer l2(x)",
])
def test_a_keras_l2_that_regularizes_nothing_is_told_its_factor_is_bad(option):
    """It was told weight decay is L2 only, as if it were Keras' L1."""
    err = error_of(f"input 1x8x8\nconv 8 3x3 {option}\nflatten\ndense 10\n")
    assert "L2 only" not in err.hint, err.hint
    assert err.hint == ("an L2 factor must be a number above 0 (0 regularizes nothing, and "
                        f"less would reward large weights): remove `{option}`")


@pytest.mark.parametrize("option, factor", [
    ("kernel_regularizer l2(1e400)", "1e400"),
    ("bias_regularizer L2(l2=1e308)", "1e308"),  # finite, but twice it is not
    (f"kernel_regularizer l2({'9' * 400})", "9" * 400),  # float() raised OverflowError
])
def test_a_keras_l2_whose_weight_decay_is_infinite_is_refused_at_its_factor(option, factor):
    """`l2(1e400)` was told to write `weight_decay inf`, which no train block reads."""
    line = f"conv 8 3x3 {option}"
    err = error_of(f"input 1x8x8\n{line}\nflatten\ndense 10\n")
    assert err.message.startswith(f"Keras' L2 factor {factor[:40]}"), err.message
    assert err.message.endswith("makes an infinite weight decay: a decay must be finite")
    start = line.index(factor) + 1
    assert (err.span.line, err.span.column, err.span.end_column) == (2, start,
                                                                     start + len(factor))
    assert "weight_decay inf" not in err.hint and "write the decay meant" in err.hint


@pytest.mark.parametrize("option, refused", [
    ("weight_filler false", "unknown initializer 'false'"),
    ("init false", "unknown initializer 'false'"),
    ("kernel_initializer 5", ("the weight initializer must name an initializer, not the "
                              "number 5 (for a constant write constant(5))")),
    ("bias_filler constant(1e400)", "value of constant is too large a number: 1e400"),
])
def test_an_initializers_foreign_name_before_no_init_is_told_so_and_given_no_line(option,
                                                                                  refused):
    """Caffe's `weight_filler false` was told to write `weight false`, which the spec
    refuses too."""
    name, value = option.split(" ", 1)
    field = "bias" if name.startswith("bias") else "weight"
    err = error_of(f"input 1x8x8\nconv 8 3x3 {option}\nflatten\ndense 10\n")
    assert err.message == (f"'{name}' is not an option of conv: an initializer is written "
                           f"`{field} INIT`")
    assert err.hint.startswith(f"`{value}` is no initializer `{field}` takes: {refused}"), \
        err.hint
    assert f"`{field} {value}`" not in err.hint, err.hint
    assert f"write `{field} INIT` in place of `{option}`" in err.hint, err.hint


@pytest.mark.parametrize("line, written", [
    ("conv 8 3x3 weight_filler pad same", "weight he_normal"),
    ("conv 8 3x3 bias_initializer nobias", "bias zeros"),
    ("conv 8 3x3 init [[1, 0], [0, 1]]", "weight [...]"),
])
def test_an_initializers_foreign_name_before_another_option_is_given_an_example(line,
                                                                                written):
    """The option after it is no init of it (`pad` was said to be no initializer); a
    literal after it was told to write `weight he_normal`."""
    err = error_of(f"input 1x8x8\n{line}\nflatten\ndense 10\n")
    assert err.hint.startswith(f"write `{written}`; usage: conv"), err.hint


@pytest.mark.parametrize("line", [
    "conv 8 3x3 bias_regularizer", "conv 8 3x3 bias_regularizer pad same",
])
def test_a_keras_regularizer_with_no_value_is_told_what_to_write(line):
    """It was told weight decay is L2 only and to remove it, as if it were Keras' L1; the
    next option was read as its value."""
    err = error_of(f"input 1x8x8\n{line}\nflatten\ndense 10\n")
    assert err.message == ("'bias_regularizer' is not an option of conv: it is an argument of "
                           "Keras' layers")
    assert "L2 only" not in err.hint, err.hint
    assert err.hint.startswith("weight decay is the train block's `weight_decay` for every "
                               "layer (Keras' L2(l2) is weight_decay 2 * l2); write "
                               "`decay_mult [0, 1]` in place of `bias_regularizer`"), err.hint


def test_the_public_parse_tries_a_rewritten_line_and_the_languages_does_not_check():
    """cnnspec.parse says what the checker makes of the line a hint writes; the language's
    parse, below the checker, neither imports nor runs it."""
    import subprocess
    import sys

    text = "input 1x8x8\nconv 8 3\n  x = layers.Dense(10, activation='softmax')(x)\n"
    code = ("import sys\nfrom cnnspec.errors import SpecError\nfrom cnnspec.lang import parse\n"
            f"try:\n parse({text!r})\nexcept SpecError as e:\n print(e.hint)\n"
            "assert 'cnnspec.check' not in sys.modules")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    said = "; but in this spec that line is refused: that layer needs a flat input"
    assert said not in fresh.stdout and said in error_of(text).hint
    assert error_of(text).hint.startswith(fresh.stdout.strip())


def test_a_forward_lines_columns_count_characters_not_bytes():
    """Python's parser gives UTF-8 byte offsets: the caret ran a column past the line's
    end for each letter of two bytes in it."""
    from cnnspec.lang.foreign import forward_line

    line = "  y = self.pool(self.çonv(x))  # é"
    first, end = forward_line(line).columns
    assert line[first:end] == "self.pool(self.çonv(x))"


def test_a_layers_call_without_quotes_that_no_hint_reads_is_an_error_not_a_recursion():
    """`Pooling(9, 0, (), use_bias=l2)`: a call of a layer's kind that no hint reads and that
    holds no name in quotes was checked again with its quotes left out, which is the same
    line: the check recursed until Python's limit (a fuzzed example found it)."""
    err = error_of("input 1x8x8\nconv1: Pooling(9, 0, (), use_bias=l2)\nflatten\ndense 10\n")
    assert err.span.line == 2


SIGNED_NUMBER = "SIGNED_NUMBER: /[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?/\n"
DIMS = "DIMS.2: /[0-9]+(x[0-9]+)+/\n"


def terminals_of(grammar):
    """The pattern of each terminal, by name, as Lark makes it from the grammar text."""
    from lark import Lark

    lark = Lark(grammar, **OPTIONS)
    return lambda name: lark.get_terminal(name).pattern.to_regexp()


def pattern_texts(patterns):
    return {name: pattern.pattern for name, pattern in vars(patterns).items()}


@pytest.fixture
def edited_terminals(monkeypatch):
    """Make the hints read values by the terminals of the grammar with ``(old, new)`` edits
    made, as if it were the shipped one (the parser itself left as it is)."""
    def edit(*changes):
        grammar = grammar_text()
        for old, new in changes:
            assert grammar.count(old) == 1, old
            grammar = grammar.replace(old, new)
        monkeypatch.setattr(syntax_errors, "terminal_pattern", terminals_of(grammar))
        syntax_errors.value_patterns.cache_clear()

    syntax_errors.value_patterns.cache_clear()
    yield edit
    monkeypatch.undo()
    syntax_errors.value_patterns.cache_clear()


# Every place a number stands, each with the number as {N}: an init's call (by keyword and
# by position, in a default and on a layer), an activation's call, the train block's calls
# (optimizer, schedule, data, augment) and values, a repeat count, a layer's option and
# list, a kernel literal. Before one rule read them all, `normal(std=1_0e-2)` said "unexpected
# '_0e'" with the '(' "still open", a repeat "'repeat' needs a count", a dropout "must be in
# [0, 1), not 1".
NUMBER_PLACES = [
    "default weight normal(std={N})\nconv 8 3x3\n",
    "conv 8 3x3 weight normal(0, {N})\n",
    "conv 8 3x3 weight glorot_uniform(gain={N})\n",
    "conv 8 3x3 leaky_relu({N})\n",
    "conv 8 3x3\ntrain {{\n  optimizer sgd(momentum={N})\n}}\n",
    "conv 8 3x3\ntrain {{\n  schedule step(every={N})\n}}\n",
    "conv 8 3x3\ntrain {{\n  data synthetic(n={N})\n}}\n",
    "conv 8 3x3\ntrain {{\n  augment [crop({N})]\n}}\n",
    "conv 8 3x3\ntrain {{\n  lr {N}\n}}\n",
    "repeat {N} {{\n  conv 8 3x3\n}}\n",
    "dropout p {N}\n",
    "conv 8 3x3 lr_mult [{N}, 1]\n",
    "conv 8 1x1 weight [[{N}]]\n",
]
DIGIT_GROUPS = "^numbers are written without '_' between their digits$"
EXPONENT = "^an exponent is written with its digits$"
# (as written, the message, the hint)
NUMBER_SPELLINGS = [
    ("1_0e-2", DIGIT_GROUPS, "write 10e-2"),
    ("1_0E+2", DIGIT_GROUPS, "write 10E+2"),
    ("1e_5", DIGIT_GROUPS, "write 1e5"),
    ("1_e5", DIGIT_GROUPS, "write 1e5"),
    ("1_000.5", DIGIT_GROUPS, "write 1000.5"),
    ("1.000_5", DIGIT_GROUPS, "write 1.0005"),
    ("1_0e", EXPONENT, "10e3 is 10 x 10^3, 10e-3 is 10 x 10^-3; or write 10 alone"),
    ("1.e", EXPONENT, "1e3 is 1 x 10^3, 1e-3 is 1 x 10^-3; or write 1 alone"),
    ("2.5e", EXPONENT, "2.5e3 is 2.5 x 10^3, 2.5e-3 is 2.5 x 10^-3; or write 2.5 alone"),
]


@pytest.mark.parametrize("place", NUMBER_PLACES, ids=lambda p: p.split("{N}")[0][-24:])
@pytest.mark.parametrize("written, message, hint", NUMBER_SPELLINGS,
                         ids=[s[0] for s in NUMBER_SPELLINGS])
def test_a_number_run_on_is_answered_alike_wherever_it_stands(place, written, message, hint):
    """A number the lexer cuts into a number and a name (Python's '_' between digits, an
    exponent without digits) gets one answer in every place a number stands, under the whole
    number, from one rule (syntax_errors.number_run_on)."""
    text = "input 1x8x8\n" + place.format(N=written)
    err = error_of(text)
    line = text[:text.index(written)].count("\n") + 1
    column = text.index(written) - text.rfind("\n", 0, text.index(written))
    assert re.search(message, err.message), err
    assert (err.span.line, err.span.column, err.span.end_column) == \
        (line, column, column + len(written)), err
    assert err.hint == hint


@pytest.mark.parametrize("read, call, hint", [
    (parse_init, "normal(std=1_0e-2)", "write 10e-2"),
    (parse_data, "synthetic(n=1_0e)",
     "10e3 is 10 x 10^3, 10e-3 is 10 x 10^-3; or write 10 alone"),
])
def test_a_number_run_on_in_a_value_given_alone(read, call, hint):
    """A value given on the command line (`--init`, `--data`) is read by the same rule."""
    with pytest.raises(SpecError) as info:
        read(call)
    assert info.value.span.column == call.index("=") + 2
    assert info.value.hint == hint


def test_a_word_after_a_number_that_mends_no_number_is_left_to_its_place():
    """`3x3relu` is no number mistyped: it keeps the message of its place."""
    assert syntax_errors.number_run_on("3x3relu") is None
    assert syntax_errors.number_run_on("1_000") == (
        "numbers are written without '_' between their digits", "write 1000")
    assert syntax_errors.number_run_on("1000") is None  # the lexer reads it whole


def test_hints_read_numbers_and_sizes_by_the_grammars_terminals(edited_terminals):
    """A number and a size, where a hint reads a line, are the grammar's SIGNED_NUMBER and
    DIMS, read from the parser's tables, not copies of them: the patterns are those Lark makes
    of the shipped grammar, and they change with the grammar's terminals."""
    shipped = pattern_texts(syntax_errors.value_patterns())
    assert shipped == pattern_texts(ValuePatterns(terminals_of(grammar_text())))
    assert capital_x_hint("1", "X2X3X4") == \
        "write 1x2x3x4: sizes use a lowercase x, as in 3x3 or 1x28x28"
    assert error_of("input 1x8x8\ndropout 5e1%\n").hint == "write `dropout 0.5`: 5e1% is 0.5"

    edited_terminals((DIMS, "DIMS.2: /[0-9]+(x[0-9]+){1,2}/\n"),
                     (SIGNED_NUMBER, "SIGNED_NUMBER: /[+-]?[0-9]+/\n"))
    assert pattern_texts(syntax_errors.value_patterns()) != shipped
    assert capital_x_hint("1", "X2X3X4") is None  # four sizes: no size of that grammar
    assert capital_x_hint("2", "X3") is not None
    # the exponent no part of a number: the 1 before '%' alone is the percentage
    assert error_of("input 1x8x8\ndropout 5e1%\n").hint == "write `dropout 5e0.01`: 1% is 0.01"


NAME = "NAME: /[A-Za-z_][A-Za-z0-9_]*/\n"
DASHED = "DASHED.2: /[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z][A-Za-z0-9_]*)+/\n"


def test_hints_read_names_by_the_grammars_terminals(edited_terminals):
    """A name, where a hint reads a line (its label and kind, a setting's key, a name in
    quotes), is the grammar's NAME (or DASHED, a value's name with dashes), not a copy of
    it: the hints follow an edit of those terminals."""
    quoted = "input 1x8x8\nconv 4 3x3 weight 'he_normal'\nflatten\ndense 10\n"
    in_train = "input 1x8x8\nflatten\ndense 10\ntrain {\n  fc: dense 10\n}\n"
    assert error_of(quoted).message == "a name is written without quotes"
    assert error_of(in_train).message == ("'dense' is a layer: layers go before the train "
                                          "block, not inside it")

    # names without underscores, and no dashed names: he_normal, fc and dense stay names,
    # the quoted 'he_normal' is none
    edited_terminals((NAME, "NAME: /[A-Za-z][A-Za-z0-9]*/\n"),
                     (DASHED, "DASHED.2: /[A-Za-z]+(-[A-Za-z]+)+/\n"))
    assert error_of(quoted).message == "strings are written in double quotes"
    # names of one letter: `fc` is no label, and the train block's layer goes unread
    edited_terminals((NAME, "NAME: /[A-Za-z]/\n"))
    assert error_of(in_train).message == "a setting is written without ':'"


# (word, what the catalogue's names are, what is offered: None for nothing). A word of one or
# two characters scored 0.67 against a name sharing one or two of them: `l`, `r`, `tr`, `pr`
# were offered lr, `ta` data, `on` conv, `ce` bce.
SHORT_WORDS = [
    ("l", "keys", None), ("r", "keys", None), ("tr", "keys", None), ("pr", "keys", None),
    ("lu", "keys", None), ("ta", "keys", None), ("x", "kinds", None), ("on", "kinds", None),
    ("co", "kinds", None), ("gl", "kinds", None),
    ("rl", "keys", "lr"),  # swapped
    ("sd", "optimizers", "sgd"), ("ad", "kinds", "add"),  # a letter added
    ("wd", "keys", "weight_decay"), ("ce", "losses", "cross_entropy"),  # initials
    ("hn", "inits", "he_normal"),
    ("c3", "layers", "c1"),  # a numbered name's number
    ("lr", "keys", "lr"),
]


@pytest.mark.parametrize("word, names, offered", SHORT_WORDS,
                         ids=[f"{w}-{n}" for w, n, _ in SHORT_WORDS])
def test_a_short_word_is_offered_only_a_name_that_keeps_it(word, names, offered):
    from cnnspec.errors import closest
    from cnnspec.init.catalogue import BY_NAME
    from cnnspec.ir.training_catalogue import KEY_ALIASES, KEYS, LOSSES, OPTIMIZERS
    from cnnspec.kinds import ALIASES, KINDS

    catalogue = {"keys": [*KEYS, *KEY_ALIASES], "kinds": [*KINDS, *ALIASES],
                 "optimizers": list(OPTIMIZERS), "losses": list(LOSSES),
                 "inits": list(BY_NAME), "layers": ["input", "c1", "c2"]}[names]
    assert closest(word, catalogue) == offered


@pytest.mark.parametrize("text, hint", [
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  l 0.1\n}\n", "^valid settings: "),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  ta digits\n}\n", "^valid settings: "),
    ("input 1x8x8\non 8 3x3\n", "^valid layer kinds: "),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  loss ce\n}\n", "^did you mean cross_entropy\\?"),
    ("input 1x8x8\nconv 8 3x3\ntrain {\n  wd 0.1\n}\n", "^did you mean weight_decay\\?"),
])
def test_a_short_word_in_a_spec_gets_a_hint_it_would_recognise(text, hint):
    err = error_of(text)
    assert re.search(hint, err.hint), err.hint

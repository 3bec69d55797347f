"""The training settings, declared once: the keys of the IR's ``training`` object with their
defaults and ranges, and the catalogues a key names from (optimizers, learning-rate
schedules, preprocessings, losses), each entry with its arguments and the engine object that
implements it.

Read by the language (``lang/training.py`` builds its readers from the types and ranges), the
IR's JSON Schema (``$defs/optimizer``, ``$defs/schedule`` and ``$defs/training`` are generated
from here by ``tools/generate.py``; a test fails when they are stale), the checker (which
reports :func:`problems` at the key's line or JSON path), the IR loader (the hints of its range
errors), the command line's overrides, the data loader (the preprocessing modes), the compiler
and trainer (which read the checked settings without defaults of their own) and the tables of
training settings in docs/language.md and docs/ir.md. The datasets have their own table,
:mod:`cnnspec.ir.datasets`.

No NumPy and no engine import here: an entry names the engine object that implements it
(``cnnspec.engine.optim.SGD``) and the engine maps names to its own classes; a test holds the
two to each other (the names, the constructor's arguments to the declared ones, and an
optimizer's update rule, :mod:`cnnspec.update_rules`, which both name).
"""
from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable

from cnnspec import update_rules
from cnnspec.dtypes import DEFAULT_DTYPE, FORMATS
from cnnspec.errors import SettingError, count_text, float_text, hinted, literal, rounded_text
from cnnspec.given import plain, shown
from cnnspec.ir.datasets import Problem, argument_problems, number_problem, spelled_out
from cnnspec.ir.limits import MAX_INT, TRAINING, Unheld, too_large_int, unheld
from cnnspec.ir.steps import EPOCH_STEPS, MOST_STEPS
from cnnspec.metrics import VAL_ACC, VAL_LOSS
from cnnspec.patterns import LazyPattern
from cnnspec.records import record

# The list types of a value, and the type of their elements.
LISTS = {"ints": "int", "numbers": "number"}


@record(frozen=True)
class Arg:
    """One value: an argument of a catalogue entry (``momentum``) or a training key (``lr``).

    ``type`` is ``"number"`` (a finite float), ``"int"`` (a whole number), ``"bool"``,
    ``"ints"`` (a non-empty list of increasing whole numbers, each within the bounds) or
    ``"numbers"`` (a list of numbers, each within the bounds, maybe empty);
    ``low``/``high`` bound a number (inclusive unless ``low_open``/``high_open``). ``hint``
    says what the value means, with a typical one, for a value out of range.
    """

    name: str
    type: str
    default: object
    hint: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def schema(self) -> dict:
        """The JSON Schema of the value (a whole number >= 1 is the IR's ``size``)."""
        if self.type == "bool":
            return {"type": "boolean"}
        if self.type in LISTS:
            return {"type": "array", "minItems": 1 if self.type == "ints" else 0,
                    "items": self.each().schema()}
        if self.type == "int" and self.low == 1 and self.high is None:
            return {"$ref": "#/$defs/size"}
        schema: dict = {"type": "integer" if self.type == "int" else "number"}
        if self.low is not None:
            schema["exclusiveMinimum" if self.low_open else "minimum"] = self.low
        if self.high is not None:
            schema["exclusiveMaximum" if self.high_open else "maximum"] = self.high
        elif self.type == "int":
            schema["maximum"] = MAX_INT
        return schema

    def interval(self) -> str:
        """The range in words as the messages write it: ``[0, 1)``, ``at least 1``, ``greater
        than 0``, ``0 or more``; empty when any value goes."""
        if self.low is not None and self.high is not None:
            return (("(" if self.low_open else "[") + f"{value_text(self.low)}, "
                    f"{value_text(self.high)}"
                    + (")" if self.high_open else "]"))
        if self.low is None:
            return ""
        if self.type == "int":
            return f"at least {value_text(self.low)}"
        low = value_text(self.low)
        return f"greater than {low}" if self.low_open else f"{low} or more"

    def range_text(self) -> str:
        """The range as the docs table writes it: ``in [0, 1)``, ``>= 1``, ``> 0``."""
        if self.low is not None and self.high is not None:
            return f"in {self.interval()}"
        if self.low is None:
            return ""
        if self.type == "ints":
            return f"increasing, each >= {value_text(self.low)}"
        if self.type == "numbers":
            return f"each {self.each().range_text()}"
        return f"{'>' if self.low_open else '>='} {value_text(self.low)}"

    def problem(self, value, dtype: str = DEFAULT_DTYPE) -> str | None:
        """What is wrong with ``value``, in words ("must be in [0, 1), not 1.5"), or None, for
        a run that trains in ``dtype``."""
        if self.type == "bool":
            return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
        if self.type in LISTS:
            return self._list_problem(value, dtype)
        not_a_number = number_problem(value, whole=self.type == "int")
        if not_a_number:
            return not_a_number
        if self._within(value):
            found = self._unheld(value, dtype)
            return found.problem if found else None
        if self.high is not None and self.low is not None:
            return f"must be in {self.interval()}, not {value_text(value)}"
        return f"must be {self.interval()}, not {value_text(value)}"


    def _within(self, value: float) -> bool:
        """``value`` is in the declared range."""
        too_low = self.low is not None and (value <= self.low if self.low_open
                                            else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open
                                              else value > self.high)
        return not (too_low or too_high)

    def _unheld(self, value, dtype: str) -> Unheld | None:
        """Why ``dtype``, the dtype training computes in, cannot hold ``value`` (a number in
        range), or None: an eps of 0 divides the zero gradients of a parameter by 0 (NaN),
        class weights of 0 leave a batch no weight to divide by, a learning rate or gamma of 0
        stops learning, and an lr of infinity makes every weight infinite or NaN."""
        return unheld(value, dtype, TRAINING, above_zero=self.low == 0 and self.low_open)

    def advice(self, value, dtype: str = DEFAULT_DTYPE) -> str:
        """The hint for a ``value`` this argument refuses, as a hint template (one naming
        ``{dtype:...}``, see :class:`~cnnspec.ir.limits.Unheld`): what ``dtype`` holds, where
        the value (the first refused element of a list) is in range but ``dtype`` cannot hold
        it, else what the argument means."""
        if self.type in LISTS and isinstance(value, list):
            refused = [item for item in value if self.each().problem(item, dtype)]
            return self.each().advice(refused[0], dtype) if refused else literal(self.hint)
        if number_problem(value) is None and self._within(value):
            found = self._unheld(value, dtype)
            if found:
                return found.hint
        return literal(self.hint)

    def each(self) -> Arg:
        """The declaration of one element of a list."""
        return Arg(self.name, LISTS[self.type], None, self.hint, self.low, self.high,
                   self.low_open, self.high_open)

    def _list_problem(self, value, dtype: str) -> str | None:
        if self.type == "numbers" and not isinstance(value, list):
            return f"must be a list of numbers, not {value!r}"
        if not isinstance(value, list) or (self.type == "ints" and not value):
            return f"must be a non-empty list of whole numbers, not {value!r}"
        each = self.each()
        for item in value:
            problem = each.problem(item, dtype)
            if problem:
                return f"{problem.replace('must be', 'must each be', 1)}"
        if self.type == "ints" and any(b <= a for a, b in itertools.pairwise(value)):
            return f"must be in increasing order, not {value_text(value)}"
        return None


@record(frozen=True)
class ForeignArg:
    """An argument another library gives an entry, and the arguments it is here: PyTorch's
    Adam takes ``betas=(b1, b2)``, whose values are ``beta1`` and ``beta2`` here. Answered with
    the call rewritten, where a spelling guess offered ``beta2`` alone."""

    name: str
    there: str  # whose argument it is, e.g. "PyTorch's Adam"
    here: tuple[str, ...]

    def hint(self, entry: Entry, values: list[str] | None = None) -> str:
        """How to write ``entry``'s call with the values ``values`` (those given to the foreign
        argument, in order; the entry's defaults where they are not one for each)."""
        if values is None or len(values) != len(self.here):
            values = [float_text(entry.defaults[name]) for name in self.here]
        written = ", ".join(f"{name}={value}" for name, value in zip(self.here, values))
        return (f"{self.there} takes {self.name}=({', '.join(self.here)}), one tuple; here "
                f"each is an argument of its own: write `{written}` in its place, as in "
                f"`{entry.name}({written})`")


@record(frozen=True)
class Entry:
    """One name a training key may take: an optimizer, a schedule, a preprocessing or a loss.

    ``summary``: what it does and whose rule it follows, for the docs. ``engine``: the dotted
    name of the object that implements it. ``rules``: checks of arguments that are fine one by
    one but not together, each returning a :class:`~cnnspec.ir.datasets.Problem` or None.
    ``state_arrays``: for an optimizer, how many arrays the size of a parameter it keeps per
    parameter, given its arguments (step counters, one number each, are not counted); the
    memory estimate reads it, and a test steps the engine's optimizer to hold it true.
    ``rule``: for an optimizer, its update rule (:mod:`cnnspec.update_rules`), which its engine
    class follows: whether its weight decay is decoupled, and how many more arrays the size
    of all the parameters its step writes (the memory estimate reads both).
    ``settings``: for a loss, the training keys besides ``loss`` that apply to it, each passed
    to its engine function as the keyword of that name when set (the checker refuses them with
    another loss). ``foreign``: for an entry written as a bare word (a preprocessing, a loss),
    other libraries' names for it, each with what it is there (``normalize``: torchvision's
    ``Normalize``), answered by :func:`name_hints`, where a spelling guess would list our names
    and leave the user to guess which is theirs. ``foreign_args``: other libraries' arguments
    of the entry (:class:`ForeignArg`).
    """

    name: str
    summary: str
    engine: str
    args: tuple[Arg, ...] = ()
    rules: tuple[Callable[[dict], Problem | None], ...] = ()
    state_arrays: Callable[[dict], int] | None = None
    rule: update_rules.UpdateRule | None = None
    settings: tuple[str, ...] = ()
    foreign: tuple[tuple[str, str], ...] = ()
    foreign_args: tuple[ForeignArg, ...] = ()
    # An optimizer whose weight decay takes lr · weight_decay of each weight away every step:
    # SGD's L2 term joins the gradient as it is, AdamW shrinks the weights by it (Loshchilov
    # & Hutter 2019). Adam's, RMSprop's and Adagrad's L2 term is divided by the gradients'
    # running scale with the rest of the gradient.
    plain_decay: bool = False

    @property
    def defaults(self) -> dict:
        return {a.name: a.default for a in self.args}

    def foreign_arg(self, name: str) -> ForeignArg | None:
        """The other library's argument called ``name`` (:attr:`foreign_args`), or None."""
        return next((arg for arg in self.foreign_args if arg.name == name), None)

    def written(self, values: dict | None = None) -> str:
        """How the language writes it with ``values`` (an IR object of it), by default its
        defaults: ``sgd(momentum=0.9, nesterov=false)``."""
        if not self.args:
            return self.name
        values = self.defaults if values is None else values
        return (f"{self.name}("
                f"{', '.join(f'{a.name}={value_text(values[a.name])}' for a in self.args)})")


def value_text(value) -> str:
    """A value as the language writes it: ``true``, ``0.9``, ``1e-8``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"[{', '.join(value_text(v) for v in value)}]"
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def _nesterov_needs_momentum(sgd: dict) -> Problem | None:
    if sgd["nesterov"] and sgd["momentum"] == 0:
        return Problem("nesterov", "Nesterov momentum needs a momentum above 0, but this sgd's "
                       "momentum is 0", "set a momentum, e.g. sgd(momentum=0.9, nesterov=true), "
                       "or drop nesterov")
    return None


BETA_HINT = ("the decay rate of one of Adam's running averages, e.g. beta1=0.9, "
             "beta2=0.999")

EPS_HINT = "a small number keeping the update finite, e.g. 1e-8"
ADAM_ARGS = (Arg("beta1", "number", 0.9, BETA_HINT, 0, 1, high_open=True),
             Arg("beta2", "number", 0.999, BETA_HINT, 0, 1, high_open=True),
             Arg("eps", "number", 1e-8, EPS_HINT, 0, low_open=True),
             Arg("amsgrad", "bool", False, "true for AMSGrad: divide by the largest second "
                 "moment seen so far (Reddi et al. 2018)"))

# torch.optim.Adam(betas=(0.9, 0.999)) and AdamW's: one tuple for the two decay rates
ADAM_FOREIGN = (ForeignArg("betas", "PyTorch's Adam (and AdamW)", ("beta1", "beta2")),)


def _adam_state_arrays(args: dict) -> int:
    """The two moment estimates, and AMSGrad's largest second moment."""
    return 2 + int(args["amsgrad"])


OPTIMIZERS: dict[str, Entry] = {entry.name: entry for entry in (
    Entry("sgd", "stochastic gradient descent with momentum, or Nesterov momentum "
          "(`nesterov` needs a momentum above 0), as `torch.optim.SGD`",
          "cnnspec.engine.optim.SGD",
          (Arg("momentum", "number", 0.9, "the share of the last step kept, e.g. 0.9; 0 is "
               "plain SGD", 0, 1, high_open=True),
           Arg("nesterov", "bool", False, "true for Nesterov momentum (Sutskever et al. 2013)")),
          rules=(_nesterov_needs_momentum,),
          state_arrays=lambda a: int(a["momentum"] > 0),  # the momentum buffer
          rule=update_rules.SGD, plain_decay=True),
    Entry("adam", "Adam with bias correction, Kingma & Ba 2015, and AMSGrad's maximum of the "
          "second moments (Reddi et al. 2018) with `amsgrad=true`, as `torch.optim.Adam`",
          "cnnspec.engine.optim.Adam", ADAM_ARGS, state_arrays=_adam_state_arrays,
          rule=update_rules.L2, foreign_args=ADAM_FOREIGN),
    Entry("adamw", "Adam with decoupled weight decay (`weight_decay` shrinks the weights by "
          "lr · weight_decay each step instead of joining the gradient), Loshchilov & Hutter "
          "2019, as `torch.optim.AdamW`", "cnnspec.engine.optim.AdamW", ADAM_ARGS,
          state_arrays=_adam_state_arrays, rule=update_rules.ADAMW, plain_decay=True,
          foreign_args=ADAM_FOREIGN),
    Entry("rmsprop", "RMSprop: each step divided by a running root mean square of the "
          "gradients (`centered`: by their running standard deviation), with optional "
          "momentum, as `torch.optim.RMSprop`", "cnnspec.engine.optim.RMSprop",
          (Arg("alpha", "number", 0.99, "the decay rate of the running mean of squared "
               "gradients, e.g. 0.99", 0, 1, high_open=True),
           Arg("eps", "number", 1e-8, EPS_HINT, 0, low_open=True),
           Arg("momentum", "number", 0.0, "the share of the last step kept, e.g. 0.9; 0 for "
               "none", 0, 1, high_open=True),
           Arg("centered", "bool", False, "true to divide by the gradients' running standard "
               "deviation instead of their root mean square (Graves 2013)")),
          # the mean square, the mean (centered) and the momentum buffer (momentum > 0)
          state_arrays=lambda a: 1 + int(a["centered"]) + int(a["momentum"] > 0),
          rule=update_rules.L2),
    Entry("adagrad", "Adagrad, Duchi et al. 2011: each step divided by the root of the sum of "
          "all squared gradients so far, the lr divided by 1 + (t - 1) · lr_decay at step t, "
          "as `torch.optim.Adagrad`", "cnnspec.engine.optim.Adagrad",
          (Arg("lr_decay", "number", 0.0, "how fast the lr falls with the step count, e.g. "
               "0; 0 for not at all", 0),
           Arg("initial_accumulator_value", "number", 0.0, "what the sum of squared gradients "
               "starts at, e.g. 0 or 0.1", 0),
           Arg("eps", "number", 1e-10, EPS_HINT, 0, low_open=True)),
          state_arrays=lambda a: 1,  # the sum of squared gradients
          rule=update_rules.L2),
)}


# Learning rates that train: SGD's are usually 0.001 to 0.1, Adam's 0.0001 to 0.001.
TYPICAL_LR = (1e-4, 0.1)
# An lr more than this many times the top of TYPICAL_LR (above 1) overshoots from the first
# steps under any optimizer here: `check` warns that training most likely diverges.
FAR_ABOVE_TYPICAL = 10
FAR_LR = FAR_ABOVE_TYPICAL * TYPICAL_LR[1]
# The parameters Caffe's lr_mult and decay_mult speak of, in the order of their two numbers.
MULT_PARTS = ("weight", "bias")


def is_trained(layer: dict, part: str = MULT_PARTS[0]) -> bool:
    """Whether parameter ``part`` (one of :data:`MULT_PARTS`) of ``layer`` (an IR layer) is
    trained: its layer is not ``frozen`` and its ``lr_mult`` is above 0. Caffe's
    ``lr_mult: 0`` (FCN's fixed bilinear Deconvolution) holds a parameter where it starts, as
    ``frozen`` holds a whole layer: every lint that spares what does not learn asks here."""
    if not layer.get("trainable", True):
        return False
    mults = layer.get("lr_mult")
    return mults is None or mults[MULT_PARTS.index(part)] > 0


def held_parts(layer: dict, parts) -> frozenset[str]:
    """The parameters among ``parts`` (``"weight"``, ``"bias"``) of ``layer`` (an IR layer)
    that do not train (:func:`is_trained`): the engine computes no gradient for them and
    keeps no optimizer state."""
    return frozenset(part for part in parts if not is_trained(layer, part))


def far_above_typical(rate: float) -> bool:
    """Whether a learning rate (an lr, or a layer's lr x lr_mult) is more than
    :data:`FAR_LR`: its first steps overshoot under any optimizer here."""
    return rate > FAR_LR


def layer_rates(layer: dict, lr: float) -> dict[str, float]:
    """lr x lr_mult of each parameter ``layer`` (an IR layer) has: the weight's and the
    bias's, or the weight's alone for a layer without a bias (its bias multiplier is never
    used); none for a layer without parameters."""
    if "lr_mult" not in layer:
        return {}
    parts = MULT_PARTS if layer["bias"] else MULT_PARTS[:1]
    return {part: lr * mult for part, mult in zip(parts, layer["lr_mult"])}


def far_layer_rates(layers: list[dict], lr: float) -> dict[str, dict[str, float]]:
    """The layers of ``layers`` (IR layers) whose ``lr_mult`` takes the rate of one of their
    parameters far above those that train at ``lr`` (:func:`far_above_typical`), by name, with
    each parameter's rate (:func:`layer_rates`), in network order."""
    rated = {layer["name"]: layer_rates(layer, lr) for layer in layers}
    return {name: rates for name, rates in rated.items()
            if any(map(far_above_typical, rates.values()))}


def lr_mult_advice(lr: float) -> str:
    """How to bring a layer's lr x lr_mult back among the rates that train at ``lr``."""
    return (f"keep lr x lr_mult at {float_text(TYPICAL_LR[1])} or below: an lr_mult of "
            f"{rounded_text(TYPICAL_LR[1] / lr)} or less at lr {float_text(lr)}")


def whole_weight_decay(training: dict, lr: float | None = None) -> float | None:
    """``lr · weight_decay`` (``lr`` the training's own unless given: a schedule's at the
    moment) where a step's decay alone takes the whole weight away or more, 1 or more under
    an optimizer with :attr:`Entry.plain_decay` (past 2 it flips every weight and grows it),
    whatever the gradients are; None otherwise."""
    decay = (training["lr"] if lr is None else lr) * training["weight_decay"]
    plain = OPTIMIZERS[training["optimizer"]["name"]].plain_decay
    return decay if plain and decay >= 1 else None


def whole_layer_decays(layers: list[dict], training: dict, lr: float | None = None
                       ) -> dict[str, dict[str, float]]:
    """The layers of ``layers`` (IR layers) whose ``lr_mult`` and ``decay_mult`` make a
    step's decay alone take the whole of one of their parameters away or more, as
    :func:`whole_weight_decay` says of the training's own: by name, each parameter's
    ``lr · lr_mult · weight_decay · decay_mult`` (the weight's and, where it decays, the
    bias's), in network order. None under an optimizer whose decay is divided by the
    gradients' scale, where the training's own decay says it already, nor for a layer whose
    ``lr_mult`` takes its rate far above those that train (:func:`far_layer_rates` says it)."""
    plain = OPTIMIZERS[training["optimizer"]["name"]].plain_decay
    if not plain or whole_weight_decay(training, lr) is not None:
        return {}
    lr = training["lr"] if lr is None else lr
    found = {}
    for layer in layers:
        if any(map(far_above_typical, layer_rates(layer, lr).values())):
            continue
        decays = {part: lr * rate * decay
                  for part, (rate, decay) in layer_decays(layer, training).items()}
        if any(decay >= 1 for decay in decays.values()):
            found[layer["name"]] = decays
    return found


def layer_decays(layer: dict, training: dict) -> dict[str, tuple[float, float]]:
    """(lr_mult, weight_decay · decay_mult) of each parameter of ``layer`` (an IR layer) that
    decays: the weight's and, where the layer has a bias and ``decay_bias`` spares it not, the
    bias's; none for a layer without parameters."""
    if "decay_mult" not in layer:
        return {}
    parts = MULT_PARTS if layer["bias"] and training["decay_bias"] else MULT_PARTS[:1]
    rates = layer.get("lr_mult", [1.0] * len(MULT_PARTS))
    return {part: (rate, training["weight_decay"] * decay)
            for part, rate, decay in zip(parts, rates, layer["decay_mult"])}


@record(frozen=True)
class Overflow:
    """A number the optimizer works out for a parameter from its layer's multipliers that the
    run's dtype holds as infinity: ``mult`` the multiplier that raises it (``lr_mult``,
    ``decay_mult``), ``what`` the number in words, ``value`` it."""

    mult: str
    what: str
    value: float


def overflowing_factor(layer: dict, training: dict, dtype: str) -> Overflow | None:
    """The first number the optimizer works out for a trained parameter of ``layer`` (an IR
    layer) that ``dtype`` holds as infinity, or None: its rate lr · lr_mult, its decay
    weight_decay · decay_mult (added to the gradient, or under AdamW shrinking the weight),
    and under an optimizer with :attr:`Entry.plain_decay` the share of the weight a step's
    decay takes, lr · lr_mult · weight_decay · decay_mult. The rate and the decay are
    infinite in the first step's update, and it makes the parameter infinite or NaN (0 ·
    infinity); the share multiplies the weight by more than the dtype holds in the first step,
    so that the second step's is infinite. Each multiplier alone is a finite number."""
    largest = FORMATS[dtype].largest
    for part, rate in layer_rates(layer, training["lr"]).items():
        if is_trained(layer, part) and rate > largest:
            return Overflow("lr_mult", f"lr x lr_mult of its {part}", rate)
    plain = OPTIMIZERS[training["optimizer"]["name"]].plain_decay
    for part, (rate, decay) in layer_decays(layer, training).items():
        if not is_trained(layer, part):
            continue
        if decay > largest:
            return Overflow("decay_mult", f"weight_decay x decay_mult of its {part}", decay)
        share = training["lr"] * rate * decay
        if plain and share > largest:
            return Overflow("decay_mult" if decay > training["weight_decay"] else "lr_mult",
                            f"lr x lr_mult x weight_decay x decay_mult of its {part}", share)
    return None


GAMMA_HINT = "the factor each drop multiplies the learning rate by, e.g. 0.1"

SCHEDULES: dict[str, Entry] = {entry.name: entry for entry in (
    Entry("constant", "the lr throughout", "cnnspec.engine.schedules.constant",
          foreign=(("fixed", "Caffe's lr_policy fixed"),)),
    Entry("step", "lr · gamma^floor(epoch / step_size), as PyTorch's `StepLR`",
          "cnnspec.engine.schedules.step",
          (Arg("step_size", "int", 10, "epochs between two drops of the learning rate, e.g. 10",
               1),
           Arg("gamma", "number", 0.1, GAMMA_HINT, 0, low_open=True)),
          foreign=(("steplr", "PyTorch's StepLR(step_size, gamma)"),)),
    Entry("multistep", "lr · gamma^(the number of milestones reached), the milestones in "
          "epochs, as PyTorch's `MultiStepLR` (Caffe's `multistep` counts steps)",
          "cnnspec.engine.schedules.multistep",
          (Arg("milestones", "ints", [30, 60, 90], "the epochs at which the learning rate "
               "drops, in increasing order, e.g. [30, 60, 90]", 1),
           Arg("gamma", "number", 0.1, GAMMA_HINT, 0, low_open=True)),
          foreign=(("multisteplr", "PyTorch's MultiStepLR(milestones, gamma)"),
                   ("steps", "Darknet's policy steps"))),
    Entry("exp", "lr · gamma^epoch, as PyTorch's `ExponentialLR`",
          "cnnspec.engine.schedules.exp",
          (Arg("gamma", "number", 0.95, "the factor each epoch multiplies the learning rate by, "
               "e.g. 0.95", 0, 1, low_open=True),),
          foreign=(("exponentiallr", "PyTorch's ExponentialLR(gamma)"),)),
    Entry("cosine", "from lr down to min_lr over `epochs` along a half cosine, Loshchilov & "
          "Hutter 2017, as PyTorch's `CosineAnnealingLR`", "cnnspec.engine.schedules.cosine",
          (Arg("min_lr", "number", 0.0, "the learning rate at the last epoch, e.g. 0", 0),),
          foreign=(("cosineannealinglr", "PyTorch's CosineAnnealingLR(T_max=epochs, eta_min)"),)),
    Entry("poly", "lr · (1 - iteration / iterations)^power per step, down to 0 at the end of "
          "the run, as Caffe's `poly` (max_iter: the run's steps) and PyTorch's `PolynomialLR` "
          "stepped per batch", "cnnspec.engine.schedules.poly",
          (Arg("power", "number", 1.0, "the curve's exponent, e.g. 1 (a straight line) or 0.9",
               0),),
          foreign=(("polynomiallr", "PyTorch's PolynomialLR(power), stepped per batch,"),)),
    Entry("inv", "lr · (1 + gamma · iteration)^-power per step, iteration counted from 0 over "
          "the run, as Caffe's `inv` (its MNIST LeNet solver: gamma=1e-4, power=0.75)",
          "cnnspec.engine.schedules.inv",
          (Arg("gamma", "number", 1e-4, "how fast the learning rate falls with the step count, "
               "e.g. 1e-4", 0),
           Arg("power", "number", 0.75, "the exponent of the fall, e.g. 0.75", 0))),
    Entry("plateau", "lr · factor each time the validation loss has not improved (fallen below "
          "best · (1 - threshold)) for more than `patience` epochs, not below min_lr, then "
          "`cooldown` epochs without counting, as PyTorch's `ReduceLROnPlateau` (mode min; "
          "needs a val_split above 0)", "cnnspec.engine.schedules.plateau",
          (Arg("factor", "number", 0.1, "what each reduction multiplies the learning rate by, "
               "e.g. 0.1", 0, 1, low_open=True, high_open=True),
           Arg("patience", "int", 10, "epochs without improvement tolerated before a "
               "reduction, e.g. 10", 0),
           Arg("threshold", "number", 1e-4, "the relative fall of the validation loss that "
               "counts as an improvement, e.g. 1e-4", 0),
           Arg("cooldown", "int", 0, "epochs after a reduction before bad epochs count again, "
               "e.g. 0", 0),
           Arg("min_lr", "number", 0.0, "the learning rate never goes below it, e.g. 0", 0)),
          foreign=(("reducelronplateau", "PyTorch's and Keras' ReduceLROnPlateau"),)),
)}

PREPROCESSORS: dict[str, Entry] = {entry.name: entry for entry in (
    Entry("none", "the images as loaded, in [0, 1]", "cnnspec.data.preprocess.Preprocessor"),
    Entry("zero_center", "subtract the per-channel mean of the training split",
          "cnnspec.data.preprocess.Preprocessor"),
    Entry("standardize", "subtract the per-channel mean of the training split and divide by "
          "its standard deviation", "cnnspec.data.preprocess.Preprocessor",
          foreign=(("normalize", ("torchvision's Normalize(mean, std), given the per-channel "
                                  "mean and std of the training images,")),)),
)}

# Data augmentation: each transform applies to the training batches only (never validation or
# test), in the order written, with its own random draws per image from the run's ``augment``
# stream. Pixel values are those of the images as loaded, in [0, 1] (the preprocessing comes
# after): zero fill is black, a noise std of 0.05 is 5% of the pixel range.
TRANSFORMS: dict[str, Entry] = {entry.name: entry for entry in (
    Entry("crop", "pad each side with `pad` zero pixels and crop a random window of the "
          "image's size: an integer translation by up to `pad` pixels along each axis, zero "
          "fill, as torchvision's `RandomCrop(size, padding=pad)`",
          "cnnspec.data.augment.crop",
          (Arg("pad", "int", 4, "the zero padding on each side, the largest translation in "
               "pixels, e.g. 2 for 28x28 digits, 4 for 32x32 CIFAR", 1),),
          foreign=(("randomcrop", "torchvision's RandomCrop(size, padding=pad)"),)),
    Entry("flip", "mirror left to right with probability `p`, as torchvision's "
          "`RandomHorizontalFlip` (Keras' `horizontal_flip`); not for digits or letters, whose "
          "mirror image is another symbol or none", "cnnspec.data.augment.flip",
          (Arg("p", "number", 0.5, "the probability that an image is mirrored, e.g. 0.5",
               0, 1, low_open=True),),
          foreign=(("randomhorizontalflip", "torchvision's RandomHorizontalFlip(p)"),
                   ("horizontal_flip", "Keras' horizontal_flip=True"),
                   ("randomflip", "Keras' RandomFlip(\"horizontal\")"))),
    Entry("shift", "an integer translation by up to `pixels` along each axis, the edge "
          "pixels repeated into the gap, as Keras' `width_shift_range` and "
          "`height_shift_range` with `fill_mode=\"nearest\"`", "cnnspec.data.augment.shift",
          (Arg("pixels", "int", 2, "the largest translation in pixels, e.g. 2", 1),),
          foreign=(("randomtranslation", ("Keras' RandomTranslation (a fraction of the size; "
                                          "shift's is in pixels)")),
                   ("width_shift_range", ("Keras' width_shift_range (a fraction of the width "
                                          "or pixels; shift's is in pixels)")))),
    Entry("rotate", "a rotation about the image's centre by an angle drawn uniformly from "
          "[-degrees, degrees], bilinear, zero fill, as torchvision's `RandomRotation` with "
          "bilinear interpolation", "cnnspec.data.augment.rotate",
          (Arg("degrees", "number", 10.0, "the largest rotation either way, in degrees, "
               "e.g. 10", 0, 180, low_open=True),),
          foreign=(("randomrotation", "torchvision's RandomRotation(degrees)"),)),
    Entry("noise", "Gaussian noise of standard deviation `std` added to every pixel (not "
          "clipped), as Keras' `GaussianNoise`", "cnnspec.data.augment.noise",
          (Arg("std", "number", 0.05, "the standard deviation in pixel values (images are in "
               "[0, 1]), e.g. 0.05", 0, 1, low_open=True),),
          foreign=(("gaussiannoise", "Keras' GaussianNoise(stddev)"),)),
)}

LOSSES: dict[str, Entry] = {entry.name: entry for entry in (
    Entry("cross_entropy", "softmax cross-entropy on the raw scores (a final `softmax` layer is "
          "fused into it; `check` warns about an output squeezed by a bounded activation, "
          "`dense 10 sigmoid`, or held at 0 below it, `dense 10 relu`)",
          "cnnspec.engine.losses.softmax_cross_entropy",
          settings=("label_smoothing", "class_weights"),
          foreign=(("crossentropyloss", "PyTorch's CrossEntropyLoss"),
                   ("categorical_crossentropy", "Keras' categorical_crossentropy"),
                   ("sparse_categorical_crossentropy",
                    "Keras' sparse_categorical_crossentropy"),
                   ("softmaxwithloss", "Caffe's SoftmaxWithLoss"))),
    Entry("mse", "mean squared error against one-hot targets, as PyTorch's `MSELoss`",
          "cnnspec.engine.losses.mse",
          foreign=(("mseloss", "PyTorch's MSELoss"),
                   ("mean_squared_error", "Keras' mean_squared_error"))),
    Entry("nll", "negative log-likelihood of log-probabilities (the output a `log_softmax` "
          "layer), as PyTorch's `NLLLoss`", "cnnspec.engine.losses.nll",
          settings=("class_weights",), foreign=(("nllloss", "PyTorch's NLLLoss"),)),
    Entry("bce", "binary cross-entropy for 2 classes on one score, a logit (`dense 1`, "
          "not `dense 1 sigmoid`: `check` warns), as PyTorch's `BCEWithLogitsLoss`",
          "cnnspec.engine.losses.bce",
          settings=("class_weights",),
          foreign=(("bcewithlogitsloss", "PyTorch's BCEWithLogitsLoss"),
                   ("binary_crossentropy", ("Keras' binary_crossentropy (from_logits=True: "
                                            "here on the logit, without a final sigmoid)")))),
)}

# The validation figures an epoch is judged by, each a column of the metrics rows (no engine
# object: the training loop compares rows): (name, what it measures, whether lower is better).
_MONITORED = ((VAL_LOSS, "loss", True), (VAL_ACC, "accuracy", False))
MONITORS: dict[str, Entry] = {
    name: Entry(name, f"the validation {what}; {'lower' if lower else 'higher'} is better", "")
    for name, what, lower in _MONITORED}
LOWER_IS_BETTER = {name: lower for name, _, lower in _MONITORED}


@record(frozen=True)
class Key:
    """One key of the IR's ``training`` object.

    A key holds one plain value (``arg`` says its type and range) or names an entry of
    ``catalogue``: written ``name(args)`` and stored as an object when ``objects`` (optimizer,
    schedule), else a bare word stored as a string (preprocess, loss); with ``many`` too, a
    list of such objects (augment), written ``[crop(pad=2), flip]`` or one alone. ``data`` names a
    dataset, whose table is :data:`cnnspec.ir.datasets.DATASETS`. ``words``: how messages name
    the kind of thing (``optimizer``); ``aliases``: other spellings of the key in the language;
    ``spelled``: the one of them that specs and docs write, where it is not ``name`` (``batch``
    for ``batch_size``), which messages that tell what to write show (:attr:`written`).
    """

    name: str
    default: object
    doc: str = ""
    arg: Arg | None = None
    catalogue: dict[str, Entry] | None = None
    objects: bool = False
    many: bool = False
    words: str = ""
    aliases: tuple[str, ...] = ()
    spelled: str = ""

    @property
    def written(self) -> str:
        """The key as a spec writes it: ``batch``, ``lr``."""
        return self.spelled or self.name

    @property
    def takes_list(self) -> bool:
        """Whether the key's value is written as a list in brackets (augment, class_weights)."""
        return self.many or (self.arg is not None and self.arg.type in LISTS)


# The most parts a batch runs as (the `cores` setting): each part is a process of its own.
MAX_CORES = 64


def _value(name: str, type_: str, default, hint: str, low: float | None = None,
           high: float | None = None, aliases: tuple[str, ...] = (), doc: str = "",
           spelled: str = "", **bounds) -> Key:
    return Key(name, default, doc, Arg(name, type_, default, hint, low, high, **bounds),
               aliases=aliases, spelled=spelled)


# In the order of the IR (docs/ir.md) and of the docs table.
KEYS: dict[str, Key] = {key.name: key for key in (
    Key("data", {"name": "digits"}, words="dataset"),
    Key("preprocess", "standardize", "per channel, statistics from the training split only",
        catalogue=PREPROCESSORS, words="preprocessing"),
    Key("optimizer", {"name": "sgd", **OPTIMIZERS["sgd"].defaults},
        "weight decay is added to the gradient (L2), as PyTorch's `weight_decay`, except in "
        "adamw, which decouples it",
        catalogue=OPTIMIZERS, objects=True, words="optimizer"),
    _value("lr", "number", 0.01, "the learning rate is the size of each step, e.g. 0.01", 0,
           low_open=True, aliases=("learning_rate",),
           doc=f"the learning rate; `check` warns of one above "
               f"{float_text(FAR_LR)}, far above the "
               f"{float_text(TYPICAL_LR[0])} to {float_text(TYPICAL_LR[1])} that train"),
    Key("schedule", {"name": "constant"}, "per epoch, counted from 0, except poly and inv, "
        "per step; `check` warns about a step or multistep schedule that never steps within "
        "`epochs`, and a cosine `min_lr` above `lr` (the lr would rise)", catalogue=SCHEDULES,
        objects=True, words="schedule"),
    _value("warmup", "int", 0, "epochs over which the learning rate grows linearly from "
           "lr / steps to the schedule's, e.g. 5; 0 for none", 0,
           doc="epochs of linear warmup, step by step, multiplying any schedule: the k-th of "
           "the T steps of `warmup` epochs runs at k / T of the schedule's lr (PyTorch's "
           "`LinearLR(start_factor=1/T, total_iters=T-1)`); 0 for none"),
    _value("weight_decay", "number", 0.0, "the L2 penalty added to the gradient, e.g. 5e-4; 0 "
           "for none", 0, doc="L2, added to the gradient (adamw: decoupled, the weights shrink "
           "by lr · weight_decay each step); check warns where lr · weight_decay is 1 or more "
           "under sgd or adamw, whose step then takes the whole weight away"),
    _value("decay_bias", "bool", True, "false to spare the biases and the normalisation "
           "layers' scale and shift from weight decay", doc="true: weight decay applies to "
           "every parameter, as in PyTorch and Caffe; false: only to the weights of conv and "
           "dense layers, not to biases nor batch norm's scale and shift"),
    _value("clip_norm", "number", 0.0, "the largest norm of all gradients together, e.g. 1 or "
           "5; 0 for no clipping", 0,
           doc="before each step the gradients, all together, are scaled down to this norm "
           "when above it, as `torch.nn.utils.clip_grad_norm_`; 0 for none"),
    _value("clip_value", "number", 0.0, "the largest magnitude of a gradient element, e.g. "
           "0.5; 0 for no clipping", 0,
           doc="before each step every gradient element is clipped to [-clip_value, "
           "clip_value], as `torch.nn.utils.clip_grad_value_` (after clip_norm when both are "
           "given); 0 for none"),
    _value("batch_size", "int", 64, "images per step, e.g. 64", 1, aliases=("batch",),
           spelled="batch",
           doc="images per step (`check` and `train` warn about a batch larger than all the "
           "data's images, an npz file's once read: each epoch would be one step; they "
           "refuse a batch of 1 where a batchnorm sees one value per channel, after a dense "
           "layer or `flatten` or on 1x1 maps, and there `train` leaves out an epoch's last "
           "batch when it holds one image, another one each epoch; so they refuse a run that "
           "trains on one image there: its epochs would have no step)"),
    _value("epochs", "int", 10, "passes over the training data, e.g. 10", 1,
           doc="passes over the training data (`check` warns of a run of more than "
           f"{count_text(MOST_STEPS)} steps, epochs x steps an epoch: a slip such as "
           "Caffe's max_iter for \"until stopped\" taken for epochs)"),
    _value("cores", "int", 2, "how many parts a batch runs as, side by side, e.g. 4 for four "
           "cores; 1 for one", 1, MAX_CORES,
           doc="the batch runs as this many parts side by side when each part gets at least 8 "
           "images (else whole: `check` warns, unless the setting is the default), the first "
           "in the training process, the others in worker processes (threads where processes "
           "cannot be forked); the parts' gradients and batch norm's statistics are summed, so "
           "a step equals one on the whole batch up to rounding, and the parts are the same on "
           "any machine (the spec's setting, not the machine's cores); more "
           "parts than the machine has cores only share them"),
    _value("val_split", "number", 0.1, "the fraction of the training split held out to "
           "validate, e.g. 0.1; 0 for none", 0, 1, high_open=True,
           doc="the fraction of the training split held out to validate"),
    _value("seed", "int", 0, "any whole number from 0; one seed, one set of initial weights "
           "and data order", 0, doc="the initial weights, the data order and dropout all follow "
           "from it"),
    Key("monitor", VAL_LOSS, "the validation figure that chooses the run's best epoch, kept "
        "as `best.npz` beside the last one (with a val_split above 0), and that `early_stop` "
        "watches", catalogue=MONITORS, words="validation metric"),
    _value("early_stop", "int", 0, "epochs in a row without improvement of the monitored "
           "metric before training stops, e.g. 5; 0 to train all the epochs", 0,
           doc="stop after this many epochs in a row without improvement of `monitor` (Keras's "
           "`EarlyStopping(patience=)`); needs a val_split above 0; 0 for never"),
    _value("min_delta", "number", 0.0, "the smallest change of the monitored metric that "
           "counts as an improvement, e.g. 0.001; 0 for any", 0,
           doc="an epoch improves on the best when `monitor` moves past it by more than this "
           "(down for val_loss, up for val_acc), as Keras's `min_delta`"),
    Key("loss", "cross_entropy", catalogue=LOSSES, words="loss"),
    _value("label_smoothing", "number", 0.0, "the share of each target spread evenly over the "
           "classes, e.g. 0.1; 0 for none", 0, 1, high_open=True,
           doc="cross_entropy's target becomes (1 - e) · onehot + e / classes, as PyTorch's "
           "`label_smoothing`; 0 for none"),
    _value("class_weights", "numbers", [], "one weight above 0 per class, in the order of "
           "the classes, e.g. [1, 2]; [] for all 1", 0, low_open=True,
           doc="cross_entropy weighs each image's loss by its class's weight and divides by "
           "the batch's total weight, as PyTorch's `weight`; one per class, [] for all 1"),
    Key("augment", [], "applied to the training batches only (never to validation or test "
        "images), in the order written, e.g. `augment [crop(pad=2), rotate(10), noise(0.05)]`; "
        "[] for none. The random draws "
        "come from their own stream of the seed: turning augmentation on changes neither the "
        "initial weights nor the data order, and a resumed run draws what an uninterrupted one "
        "does", catalogue=TRANSFORMS, objects=True, many=True, words="transform"),
)}

# Other spellings of a key in the language; the IR holds the key's own name.
KEY_ALIASES = {alias: key.name for key in KEYS.values() for alias in key.aliases}

# What PyTorch gives its optimizers and schedulers first (model.parameters(), the optimizer),
# which a call here leaves out: why, by key.
TORCH_FIRST_ARGUMENTS = {
    "optimizer": "PyTorch's optimizers take the parameters they train first; the optimizer "
                 "here trains the whole network (a layer's lr_mult scales its rate)",
    "schedule": "PyTorch's schedulers take their optimizer first; a schedule here sets the "
                "rate of the train block's optimizer",
}


def meant_names(names, entries: dict[str, Entry] | None = None) -> dict[str, str]:
    """Each of ``names`` in lower case, and another library's name of one of ``entries``
    (lower case: PyTorch's ``StepLR``, ``SGD``), -> the name here: what a mend writes in its
    place."""
    return {**{name.lower(): name for name in names},
            **{there: entry.name for entry in (entries or {}).values()
               for there, _ in entry.foreign}}


def foreign_entry(key: str, name: str) -> str | None:
    """The entry of ``key``'s catalogue that ``name`` (in any case, or as another library
    names it) means, or None."""
    entries = KEYS[key].catalogue
    return meant_names(entries, entries).get(name.lower())


@record(frozen=True)
class ForeignKey:
    """A training setting as another library names it (Caffe's solver, Darknet's ``[net]``
    section, Keras' ``fit`` and compile arguments), and what it is here: answered where a
    spelling guess would offer an unrelated key (``max_iter``: monitor) or none at all.

    ``there``: whose name it is (``"Caffe's"``). ``key``: the setting that holds it here, None
    where nothing does (``note`` then says why, and what to do). ``write``: the train block's
    line that means it, ``{value}`` standing for the value written. ``values``: the other
    library's words for the names ``key`` takes (lower case; Caffe's ``fixed`` is
    ``constant``), each written with its arguments. ``note``: how the two differ, ``{value}``
    again the value written (the foreign name where there is none).
    """

    name: str
    there: str
    key: str | None
    write: str = ""
    note: str = ""
    values: tuple[tuple[str, str], ...] = ()

    def line(self, value: str | None) -> str | None:
        """The line that means the setting written with ``value`` (None: not known, as in an
        IR); None where it cannot be written without the value, or where the value is none
        the line takes (:meth:`refusal`)."""
        if self.values:
            word = dict(self.values).get((value or "").lower())
            entry = None if word is None else KEYS[self.key].catalogue.get(word)
            return None if word is None else f"{self.key} {entry.written() if entry else word}"
        if "{value}" in self.write and (value is None or self.refusal(value)):
            return None
        return self.write.format(value=value) if self.write else None

    def refusal(self, value: str) -> str | None:
        """What is wrong with ``value`` written where the line has ``{value}``, in words
        (``lr must be a number, not 'abc'``), or None; None too for a line without it."""
        if "{value}" not in self.write:
            return None
        arg = self._value_arg()
        problem = arg.problem(written_value(value))
        return None if problem is None else f"{arg.name} {problem}"

    def _value_arg(self) -> Arg:
        """The value ``{value}`` stands for in the line: the key's own (``lr {value}``) or
        an argument of the entry it names (``schedule inv(gamma={value}, power=1)``)."""
        key = KEYS[self.key]
        call = re.search(r"(\w+)\((?:[^)]*, )?(\w+)=\{value\}", self.write)
        if call is None:
            assert key.arg is not None, self.name
            return key.arg
        return next(arg for arg in key.catalogue[call[1]].args if arg.name == call[2])

    def hint(self, value: str | None = None, lines: bool = True,
             flag: str | None = None) -> str:
        """What the setting is here, with the train block's line that means it (``lines``:
        false for an IR, which writes no such lines), or with ``flag``, the command line's
        option that sets the key (``--lr``), written as that option (``--lr 0.01``). A value
        that is no number stands in no note (``abc iterations``), and one the line refuses is
        said so with what it takes."""
        said = f"{self.there} {self.name}"
        counted = value is not None and (written_number(value) or 0) > 0
        note = self.note.format(value=value if counted else self.name)
        if self.key is None:
            return f"{said} has no counterpart here: {note}"
        line = self.line(value) if lines else None
        if line is not None and flag is not None:
            line = f"{flag}{line.removeprefix(self.key)}"
        refusal = self.refusal(value) if lines and value is not None else None
        return (f"{said} is {self.key} here" + (f": write `{line}`" if line else "")
                + (f", but {refusal} ({self._value_arg().hint})" if refusal else "")
                + (f"; {note}" if note else ""))


# A number as a spec writes it (ASCII digits: Python's float() also reads '０.01', which the
# language does not).
NUMBER = LazyPattern(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def written_number(text: str) -> int | float | None:
    """The number ``text`` writes, or None where it writes none; read as the language reads
    it (an int where int() reads one, else a float: more digits than int() reads are inf)."""
    if NUMBER.fullmatch(text) is None:
        return None
    try:
        return int(text)
    except ValueError:  # a fraction, an exponent, or more than 4300 digits
        return float(text)


def written_value(text: str):
    """A plain value as the train block reads it: a number, true or false, else the text."""
    number = written_number(text)
    if number is not None:
        return number
    return {"true": True, "false": False}.get(text, text)


# How a count of iterations (batches) becomes epochs, for each setting that counts them.
IN_EPOCHS = ("{there} counts iterations, a batch each; a spec counts epochs, passes over the "
             f"training images (each of {EPOCH_STEPS}): {{{{value}}}} iterations are "
             "E = {{value}} · batch_size / training images epochs")


def _iterations(name: str, there: str, key: str, write: str) -> ForeignKey:
    return ForeignKey(name, there, key, write, IN_EPOCHS.format(there=there.removesuffix("'s")))


CAFFE_POLICIES = (("fixed", "constant"), ("step", "step"), ("multistep", "multistep"),
                  ("exp", "exp"), ("inv", "inv"), ("poly", "poly"))
DARKNET_POLICIES = (("constant", "constant"), ("step", "step"), ("steps", "multistep"),
                    ("exp", "exp"), ("poly", "poly"))
CAFFE_SOLVERS = (("sgd", "sgd"), ("nesterov", "sgd(momentum=0.9, nesterov=true)"),
                 ("adam", "adam"), ("rmsprop", "rmsprop"), ("adagrad", "adagrad"))
# Validation: once an epoch, on the held-out val_split.
EVERY_EPOCH = "the val_split is scored once at the end of every epoch, in full"

# Other libraries' training settings, by their names there. A name may mean one thing in one
# library and another in the next (Darknet's decay is weight decay, Keras' a learning-rate
# decay): each meaning is an entry, and the hint gives them all.
FOREIGN_KEYS: tuple[ForeignKey, ...] = (
    ForeignKey("base_lr", "Caffe's", "lr", "lr {value}"),
    _iterations("max_iter", "Caffe's", "epochs", "epochs E"),
    _iterations("max_batches", "Darknet's", "epochs", "epochs E"),
    _iterations("max_steps", "TensorFlow's", "epochs", "epochs E"),
    ForeignKey("num_epochs", "PyTorch scripts'", "epochs", "epochs {value}"),
    ForeignKey("max_epochs", "PyTorch Lightning's", "epochs", "epochs {value}"),
    ForeignKey("nb_epoch", "Keras 1's", "epochs", "epochs {value}"),
    ForeignKey("steps_per_epoch", "Keras'", None, note="an epoch is always one pass over the "
               f"training images, {EPOCH_STEPS}; change batch_size or epochs"),
    ForeignKey("lr_policy", "Caffe's", "schedule", values=CAFFE_POLICIES,
               note="step's step_size and multistep's milestones count epochs, Caffe's "
               "stepsize and stepvalue iterations; inv and poly count steps, as Caffe's do"),
    ForeignKey("policy", "Darknet's", "schedule", values=DARKNET_POLICIES,
               note="Darknet's steps policy is multistep; step_size and milestones count "
               "epochs, Darknet's step and steps batches"),
    _iterations("stepsize", "Caffe's", "schedule", "schedule step(step_size=E, gamma=0.1)"),
    _iterations("stepvalue", "Caffe's", "schedule", "schedule multistep(milestones=[E1, E2], "
                "gamma=0.1)"),
    _iterations("steps", "Darknet's", "schedule", "schedule multistep(milestones=[E1, E2], "
                "gamma=0.1)"),
    ForeignKey("scales", "Darknet's", "schedule", "schedule multistep(milestones=[E1, E2], "
               "gamma=0.1)", "one gamma multiplies the lr at every milestone"),
    ForeignKey("lr_scheduler", "PyTorch's", "schedule", "schedule step(step_size=10, gamma=0.1)",
               f"the schedules: {', '.join(SCHEDULES)}"),
    ForeignKey("decay", "Darknet's", "weight_decay", "weight_decay {value}"),
    ForeignKey("decay", "Keras 2's", "schedule", "schedule inv(gamma={value}, power=1)",
               "its optimizers' lr / (1 + decay · iteration), per step"),
    ForeignKey("regularization_type", "Caffe's", "weight_decay", "weight_decay 5e-4",
               "weight decay is L2 only"),
    ForeignKey("type", "Caffe's solver", "optimizer", values=CAFFE_SOLVERS),
    ForeignKey("solver_type", "Caffe's", "optimizer", values=CAFFE_SOLVERS),
    ForeignKey("clip_gradients", "Caffe's", "clip_norm", "clip_norm {value}"),
    ForeignKey("clipnorm", "Keras'", "clip_norm", "clip_norm {value}"),
    ForeignKey("clipvalue", "Keras'", "clip_value", "clip_value {value}"),
    ForeignKey("random_seed", "Caffe's", "seed", "seed {value}"),
    ForeignKey("manual_seed", "PyTorch's", "seed", "seed {value}"),
    ForeignKey("validation_split", "Keras'", "val_split", "val_split {value}"),
    ForeignKey("patience", "Keras' EarlyStopping", "early_stop", "early_stop {value}"),
    _iterations("burn_in", "Darknet's", "warmup", "warmup E"),
    ForeignKey("subdivisions", "Darknet's", None, note="a step computes its whole batch at "
               "once (Darknet's subdivisions splits it to fit in memory); remove the line, or "
               "lower batch_size if memory is short"),
    ForeignKey("iter_size", "Caffe's", None, note="gradients are not accumulated over "
               "iterations: set batch_size to Caffe's batch_size · iter_size"),
    ForeignKey("test_interval", "Caffe's", None, note=EVERY_EPOCH),
    ForeignKey("test_iter", "Caffe's", None, note=EVERY_EPOCH),
    ForeignKey("display", "Caffe's", None, note="training prints every epoch's loss and "
               "accuracy"),
    ForeignKey("snapshot", "Caffe's", None, note="every epoch writes the weights to the run "
               "folder's checkpoint.npz (and best.npz with a val_split above 0)"),
    ForeignKey("solver_mode", "Caffe's", None, note="training runs on the CPU with NumPy; "
               "`cores N` runs each batch as N parts side by side"),
    ForeignKey("shuffle", "Keras'", None, note="the training images are shuffled every epoch, "
               "in an order that follows the seed"),
    ForeignKey("metrics", "Keras' compile", None, note="training prints every epoch's loss "
               "and accuracy, train and validation; evaluating the run adds top-k accuracy, "
               "per-class precision and recall and the confusion matrix"),
    ForeignKey("callbacks", "Keras' fit", None, note="EarlyStopping(patience=N) is `early_stop "
               "N`, ReduceLROnPlateau `schedule plateau`; the best epoch's weights are kept in "
               "the run folder's best.npz, as ModelCheckpoint(save_best_only=True) keeps them, "
               "and its metrics.csv and curves.png are a CSVLogger's and TensorBoard's"),
    ForeignKey("verbose", "Keras' fit", None, note="training prints a line per epoch; "
               "train's --quiet prints only the result"),
    ForeignKey("angle", "Darknet's", "augment", "augment rotate(degrees={value})"),
    ForeignKey("rotation_range", "Keras'", "augment", "augment rotate(degrees={value})"),
    ForeignKey("horizontal_flip", "Keras'", "augment", "augment flip"),
    ForeignKey("mirror", "Caffe's", "augment", "augment flip"),
    ForeignKey("flip", "Darknet's", "augment", "augment flip"),
    ForeignKey("criterion", "PyTorch scripts'", "loss", "loss cross_entropy",
               f"the losses: {', '.join(LOSSES)}"),
)

# Each foreign name and its meanings here.
FOREIGN_KEY_NAMES: dict[str, tuple[ForeignKey, ...]] = {
    name: tuple(f for f in FOREIGN_KEYS if f.name == name) for name in
    dict.fromkeys(f.name for f in FOREIGN_KEYS)}


def foreign_key_hint(name: str, value: str | None = None, lines: bool = True) -> str | None:
    """The hint for a training setting another library calls ``name`` (any case), given the
    ``value`` written (None: not known), each of its meanings; None for any other name.
    ``lines``: with the train block's line that means it (an IR's hint has none)."""
    meanings = FOREIGN_KEY_NAMES.get(name.lower(), ())
    return "; or ".join(f.hint(value, lines) for f in meanings) or None


def defaults() -> dict:
    """A fresh ``training`` object holding every key's default."""
    return {name: copy.deepcopy(key.default) for name, key in KEYS.items()}


def name_hints(catalogue: dict[str, Entry]) -> dict[str, str]:
    """The hint for each name another library gives an entry of ``catalogue`` (its
    ``foreign`` names, lower case), read by the language, the IR schema and the checker."""
    return {name: f"{there} is {entry.name} here: write {entry.name}"
            for entry in catalogue.values() for name, there in entry.foreign}


def unknown_name_hint(catalogue: dict[str, Entry], name) -> str | None:
    """The hint for a name another library gives an entry of ``catalogue``, or None."""
    return name_hints(catalogue).get(str(name).lower())


def entry_problems(key: Key, value, dtype: str = DEFAULT_DTYPE) -> list[Problem]:
    """Every mistake in the value of a key that names an entry of its catalogue, for a run
    that trains in ``dtype``: an unknown name, unknown or missing arguments, values out of
    range, arguments that do not work together. ``Problem.arg`` is ``name`` or the
    argument's name."""
    catalogue = key.catalogue
    assert catalogue is not None, key.name
    name = value.get("name") if key.objects and isinstance(value, dict) else value
    if not isinstance(name, str) or name not in catalogue:
        return [Problem("name", f"unknown {key.words} {name!r}",
                        unknown_name_hint(catalogue, name)
                        or f"valid {key.words}s: {', '.join(catalogue)}")]
    if not key.objects:
        return []
    entry = catalogue[name]
    found = argument_problems(name, entry.args, value, dtype=dtype)
    if not found:
        found += [p for rule in entry.rules if (p := rule(value)) is not None]
    return found


def problems(training: dict, dtype: str = DEFAULT_DTYPE) -> list[tuple[str, Problem]]:
    """Every mistake in an IR ``training`` object but its data (the dataset table's
    :func:`~cnnspec.ir.datasets.problems` checks that), for a run that trains in ``dtype``
    (a setting that must be above 0 must be so there), as ``(where, problem)``: ``where`` is
    the key, or ``key.arg`` for the name or an argument of an optimizer or schedule."""
    found = [(name, Problem(name, f"unknown training setting '{name}'",
                            foreign_key_hint(name, lines=False)
                            or f"the training settings are {', '.join(KEYS)}"))
             for name in training if name not in KEYS]
    for name, key in KEYS.items():
        if name not in training:
            found.append((name, Problem(name, f"the training settings need a value for "
                                        f"'{name}'", **hinted(spelled_out("setting")))))
            continue
        if name == "data":
            continue
        value = training[name]
        if key.arg is not None:
            problem = key.arg.problem(value, dtype)
            if problem:
                found.append((name, Problem(name, f"{name} {problem}",
                                            **hinted(key.arg.advice(value, dtype)))))
            continue
        if key.many:
            found += _many_problems(key, value, dtype)
            continue
        for problem in entry_problems(key, value, dtype):
            where = f"{name}.{problem.arg}" if key.objects else name
            found.append((where, problem))
    return found


def _many_problems(key: Key, value, dtype: str) -> list[tuple[str, Problem]]:
    """The mistakes in a list of entries (augment), each at ``key[i]`` or ``key[i].arg``."""
    if not isinstance(value, list):
        return [(key.name, Problem(key.name, f"{key.name} must be a list of {key.words}s, not "
                                   f"{value!r}", f"e.g. [{', '.join(key.catalogue)}]; [] for "
                                   "none"))]
    found = []
    for i, item in enumerate(value):
        for problem in entry_problems(key, item, dtype):
            found.append((f"{key.name}[{i}].{problem.arg}", problem))
    return found



def declared_arg(ir, where: list) -> Arg | None:
    """The declaration of the training value at ``where`` in ``ir`` (``["training", "lr"]``,
    ``["training", "optimizer", "momentum"]``), or None when there is none."""
    if len(where) < 2 or where[0] != "training" or where[1] not in KEYS:
        return None
    key = KEYS[where[1]]
    if len(where) == 2:
        return key.arg
    value = ir["training"][key.name]
    if key.many and len(where) == 4 and isinstance(value, list) and isinstance(where[2], int) \
            and where[2] < len(value):
        value, where = value[where[2]], [*where[:2], where[3]]
    if len(where) != 3 or not key.objects or not isinstance(value, dict):
        return None
    entry = key.catalogue.get(value.get("name"))
    return next((a for a in entry.args if a.name == where[2]), None) if entry else None


def refuse_whole_setting(key: str, value, hint: str | None = None) -> int:
    """A :class:`SettingError` naming the setting ``key`` (``epochs``, ``batch_size``,
    ``seed``, ``cores``) as the caller calls it, unless ``value`` is a whole number within the
    range the spec's own setting has; ``hint`` (a template, e.g. ``{seed:0}``) by default
    gives an example of it. Returns the number as a Python int (NumPy's ``np.int64(3)`` is
    3, which a run's JSON can hold)."""
    value, arg = plain(value), KEYS[key].arg
    if arg.problem(value):
        raise _whole_number_error(key, value, arg.low, arg.high, hint)
    return value


def refuse_count(name: str, value, low: int, hint: str | None = None) -> int:
    """As :func:`refuse_whole_setting`, for a count a run's caller gives that is no spec
    setting (a sweep's ``seeds`` and ``folds``): a whole number from ``low``, returned as a
    Python int."""
    value = plain(value)
    problem = number_problem(value, whole=True)
    if problem or value < low or too_large_int(value):
        raise _whole_number_error(name, value, low, None, hint)
    return value


def _whole_number_error(name: str, value, low: float, high: float | None,
                        hint: str | None) -> SettingError:
    wanted = (f"an integer >= {low:g}" if high is None
              else f"an integer from {low:g} to {high:g}")
    return SettingError(f"{{{name}}} must be {wanted}, not {shown(value)}",
                        hint or f"e.g. {{{name}:{low:g}}}", invalid=True)

"""What each optimizer's update rule does with weight decay and the gradient, and how many
arrays its step writes: facts the engine's optimizers act on (:mod:`cnnspec.engine.optim`) and
the training catalogue states for the memory estimate, the checks and the importers
(:mod:`cnnspec.ir.training_catalogue`, :mod:`cnnspec.check.memory`), written once here, where
both read them. The engine imports no IR and the IR no engine (NumPy), so the fact sits below
both, as :mod:`cnnspec.shapes` holds the output-size formulas the checker and the engine share.

An optimizer's arguments are given as the IR writes them, which are its engine constructor's
keywords (``{"momentum": 0.9, "nesterov": False}``).
"""
from __future__ import annotations

from collections.abc import Callable

from cnnspec.records import record


def _never(args: dict) -> bool:
    """An update rule that reads the gradient after it starts writing its update (Adam's,
    RMSprop's, Adagrad's): its update needs an array of its own."""
    return False


@record(frozen=True)
class UpdateRule:
    """How an optimizer's step treats weight decay and the gradients it is given.

    ``decoupled_decay``: the weight decay shrinks the parameters before the update, ``p <- p *
    (1 - lr * weight_decay)`` (AdamW, Loshchilov & Hutter 2019), instead of joining the
    gradient as L2 regularisation, ``g <- g + weight_decay * p`` (PyTorch's ``weight_decay``
    of SGD, Adam, RMSprop and Adagrad), which takes a scratch array the size of the parameters.
    ``over_gradients``: given the optimizer's arguments, whether its step may write its update
    over the gradient it is given, which it reads no more once it writes there: a packed step
    (all the parameters as flat arrays) then needs no update array beside the gathered
    gradients.
    ``raw_step``: the step is lr times the gradient itself (SGD, with or without momentum),
    not divided by a running scale of it (Adam, RMSprop, Adagrad): the first step is as large
    as the first gradient, however large that is.
    """

    decoupled_decay: bool = False
    over_gradients: Callable[[dict], bool] = _never
    raw_step: bool = False

    def update_arrays(self, args: dict) -> int:
        """How many arrays the size of all the parameters a step with ``args`` writes beside
        the optimizer's state: the gradients a packed step gathers into one flat array, and
        the update, unless it is written over them."""
        return 1 if self.over_gradients(args) else 2


def _unless_nesterov(args: dict) -> bool:
    """SGD's update is the gradient times the lr (or the momentum buffer's), written over the
    gradient; Nesterov's direction is written before it reads the gradient once more."""
    return not args["nesterov"]


SGD = UpdateRule(over_gradients=_unless_nesterov, raw_step=True)
# Adam's, RMSprop's and Adagrad's: the decay joins the gradient, the update an array of its own.
L2 = UpdateRule()
ADAMW = UpdateRule(decoupled_decay=True)

"""Fine-tuning: a new run that starts from another run's trained weights.

``WeightsFrom(run, layers=None, freeze=False)`` names the run to take weights from and which
layers: all the layers the two networks share (same name, same parameter shapes) by default,
or the ones named. ``freeze`` makes those layers frozen in the new run's IR (``trainable``
false), so only the rest trains, as when a pretrained feature extractor gets a new head.
Weights are copied after the init steps, so LSUV rescales only the layers that start fresh.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from cnnspec.errors import SettingError, literal
from cnnspec.given import shown
from cnnspec.records import record
from cnnspec.training.files import read_npz
from cnnspec.training.rundir import open_run_dir
from cnnspec.training.state import checked_weights


@record(frozen=True)
class WeightsFrom:
    """Where a fine-tuned run's weights come from (see the module docstring)."""

    run: str | Path
    layers: tuple[str, ...] | None = None
    freeze: bool = False


def given_weights_from(weights_from) -> WeightsFrom | None:
    """``weights_from`` as a :class:`WeightsFrom`: a path to a run folder (a text or a
    ``Path``, as ``--weights-from`` takes it) is all of its shared layers, unfrozen; None is
    None; anything else a :class:`SettingError` naming it."""
    if weights_from is None or isinstance(weights_from, WeightsFrom):
        return weights_from
    if isinstance(weights_from, (str, os.PathLike)):
        return WeightsFrom(weights_from)
    raise SettingError(f"{{weights_from}} takes a run folder or a WeightsFrom, not "
                       f"{shown(weights_from)}", invalid=True,
                       hint="e.g. weights_from='runs/digits-20250101-120000', or "
                            "cnnspec.WeightsFrom(run, layers=['conv1'], freeze=True)")


def source_weights(source: WeightsFrom) -> dict[str, dict[str, np.ndarray]]:
    """The source run's checkpoint as ``{layer: {"weight": ..., "bias": ..., buffers}}``."""
    run = open_run_dir(source.run)
    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for key, value in checked_weights(read_npz(run.checkpoint), run.checkpoint).items():
        layer, _, part = key.rpartition(".")
        by_layer.setdefault(layer, {})[part] = value
    return by_layer


def chosen_layers(source: WeightsFrom, weights: dict, model_state: dict[str, np.ndarray]
                  ) -> list[str]:
    """The layers whose weights are copied: the named ones (each must exist in both networks
    with the same shapes) or, by default, every layer that matches."""
    mine: dict[str, dict[str, tuple]] = {}
    for key, value in model_state.items():
        layer, _, part = key.rpartition(".")
        mine.setdefault(layer, {})[part] = np.shape(value)

    def fits(layer: str) -> bool:
        theirs = {part: np.shape(v) for part, v in weights.get(layer, {}).items()}
        return layer in mine and theirs == mine[layer]

    if source.layers is None:
        matching = [layer for layer in mine if fits(layer)]
        if not matching:
            raise SettingError(literal(f"the run {source.run} shares no layer with this "
                                       "network (same name and parameter shapes)"),
                               hint="name the layers alike, or train without {weights_from}",
                               invalid=True)
        return matching
    for layer in source.layers:
        if not fits(layer):
            why = ("has no such layer" if layer not in weights else
                   "has it with other parameter shapes" if layer in mine else
                   "has it, but this network does not")
            raise SettingError(literal(f"layer '{layer}': the run {source.run} {why}"),
                               hint="name layers with parameters that both networks share",
                               invalid=True)
    return list(source.layers)


def frozen_ir(ir: dict, layers: list[str]) -> dict:
    """A copy of ``ir`` with ``layers`` frozen (those that have a ``trainable`` field)."""
    ir = copy.deepcopy(ir)
    for layer in ir["layers"]:
        if layer["name"] in layers and "trainable" in layer:
            layer["trainable"] = False
    return ir


def copy_weights(model, weights: dict, layers: list[str]) -> None:
    """Copy the source's arrays of ``layers`` into the model (its arrays stay the same)."""
    state = model.state_dict()
    for layer in layers:
        for part, value in weights[layer].items():
            state[f"{layer}.{part}"] = value
    model.load_state_dict(state)

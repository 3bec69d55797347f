"""The parsed spec: the IR (plain JSON data) plus where each part came from.

The IR itself holds no positions, so it round-trips through JSON unchanged. Positions live
beside it in :attr:`Spec.spans`, keyed by ``(layer_name, field)``:

- ``(name, None)`` is the layer's declaration (its name, or its kind if unnamed);
- ``(name, "kernel")``, ``(name, "weight_init")``, ... the token that set that field;
  ``(name, "inputs")`` the inputs written, ``(name, "inputs[i]")`` the i-th of them;
  ``(name, "weight_init.values")`` a literal written after its option, and
  ``(name, "weight_init.values[i][j]")`` each list inside it (:func:`element_field`);
- ``("input", None)`` the input line; ``("training", key)`` a training setting, and
  ``("training", "key.arg")`` an argument written in it (``data.count``, ``optimizer.nesterov``).

For a ``.json`` IR file there are no spans; :meth:`Spec.error` then points at the JSON path
(``$.layers[3].kernel``) instead, so later stages report a mistake the same way for both.
"""
from __future__ import annotations

from dataclasses import field

from cnnspec.errors import Span, SpecError, hinted, library_worded, run_setting_error
from cnnspec.records import record


def element_field(field_name: str, index: tuple[int, ...]) -> str:
    """The field of the entry at ``index`` inside the list ``field_name`` holds
    (``weight_init.values[1][0]``): its key in :attr:`Spec.spans`, and the tail of its JSON
    path."""
    return field_name + "".join(f"[{i}]" for i in index)


@record
class Spec:
    ir: dict
    path: str | None = None
    text: str | None = None
    spans: dict[tuple[str, str | None], Span] = field(default_factory=dict)
    # Training keys whose values are a run's settings (the command line's --batch-size), not
    # the text's: a mistake in them is not at the setting the text wrote.
    overridden: frozenset[str] = frozenset()
    # Those of them a sweep gives each cell by a --set, whose messages it prefixes with the
    # setting (``loss=bce: ...``): a hint names the setting as the run gives it, and need not
    # say again that it is the run's.
    swept: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.ir["name"]

    def layer_index(self, name: str) -> int | None:
        """The index of the first layer called ``name``, None if none is. Read from a table of
        the layers' names made once, not a scan for each name (a check of a JSON IR that
        locates a warning at each of n layers took n^2 steps), and made again where the
        layers have changed since (a name not where the table says, another list or length)."""
        layers = self.ir["layers"]
        table = self.__dict__.get("_layer_indexes")
        if table is not None and table[0] is layers and table[1] == len(layers):
            index = table[2].get(name)
            if index is None or layers[index]["name"] == name:
                return index
        indexes: dict[str, int] = {}
        for i, layer in enumerate(layers):
            indexes.setdefault(layer["name"], i)
        self.__dict__["_layer_indexes"] = (layers, len(layers), indexes)
        return indexes.get(name)

    def span_of(self, layer: str, field_name: str | None = None) -> Span | None:
        """The most precise span known: the field's (for an argument such as
        ``("training", "data.count")``, else its setting's), else the layer declaration's."""
        setting = field_name.partition(".")[0] if field_name else None
        return (self.spans.get((layer, field_name)) or self.spans.get((layer, setting))
                or self.spans.get((layer, None)))

    def json_path_of(self, layer: str, field_name: str | None = None) -> str:
        if layer == "training":
            return "$.training" + (f".{field_name}" if field_name else "")
        if layer == "input":
            return "$.input.shape"
        if layer == "output" and self.layer_index("output") is None:
            return "$.output"
        index = self.layer_index(layer)
        base = f"$.layers[{index}]" if index is not None else "$.layers"
        return base + (f".{field_name}" if field_name else "")

    def error(self, message: str, layer: str, field_name: str | None = None,
              hint: str | None = None, severity: str = "error",
              hint_template: str | None = None) -> SpecError:
        """A :class:`SpecError` located at ``layer``/``field_name`` in whichever form applies;
        for a training setting the run overrides, in the file alone, the hint saying so.
        ``hint_template``, instead of ``hint``: a hint naming settings a run may be given
        (``{batch_size:64}``), worded as the caller gives them
        (:meth:`SpecError.worded_hint`)."""
        setting = field_name.partition(".")[0] if field_name else None
        if layer == "training" and setting in self.swept:
            return SpecError(message, severity=severity, file=self.path,
                             **(hinted(hint_template) if hint_template is not None
                                else {"hint": hint}))
        if layer == "training" and setting in self.overridden:
            return run_setting_error(message, setting, hint, severity, self.path, hint_template)
        where = ({"span": self.span_of(layer, field_name)} if self.text is not None
                 else {"json_path": self.json_path_of(layer, field_name)})
        if hint_template is not None:
            hint = library_worded(hint_template)
        return SpecError(message, hint=hint, severity=severity, file=self.path,
                         hint_template=hint_template, about=self.about(layer),
                         **where)

    def init_place(self, layer: str, field_name: str) -> str:
        """Where ``layer``'s init ``field_name`` (``weight_init``, ``bias_init``) is written,
        for a diagnostic of that init to point at: the `default` line where the layer takes
        the init from it, else the layer (a JSON IR has no `default` line to point at)."""
        index = self.layer_index(layer)
        defaulted = index is not None and field_name in self.ir["layers"][index].get(
            "default_inits", ())
        return "default" if defaulted and ("default", field_name) in self.spans else layer

    def about(self, layer: str) -> tuple[str, ...]:
        """``(layer,)`` where ``layer`` is a layer of the network, else ``()``: the layer a
        diagnostic located at it (at its declaration or one of its fields, which may lie on a
        `default` line) is about (:attr:`SpecError.about`)."""
        return (layer,) if self.layer_index(layer) is not None else ()

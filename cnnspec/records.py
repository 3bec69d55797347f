"""Records: dataclasses that are quick to define.

Defining a dataclass writes the source of each method it adds (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, and ``__setattr__``/``__delattr__`` for a frozen one) and compiles
each in an ``exec`` of its own: some 0.1 ms a method, 0.7 ms a frozen class. cnnspec defines
some 75 classes before it checks a spec, which made that the largest part of ``cnnspec check``'s
start-up. A record is a dataclass (``dataclasses.fields``, ``replace`` and ``asdict`` work on
it) whose ``__init__`` is the one method written for it, and whose ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__`` and ``__delattr__`` are shared by all records, each reading the
class's fields through an ``operator.attrgetter`` made once per class. It does what the dataclass
with the same arguments does (tests/test_records.py holds the two side by side), refusing as it
refuses (frozen and not mixed by inheritance, a frozen class's own ``__setattr__``), but that
``__dataclass_params__`` says it is neither frozen nor compared, a class without a docstring
gets none (:func:`_undocumented_kept`), and a field takes neither ``InitVar`` nor ``kw_only``
nor a name starting ``__record_`` (which no record needs; asking for them is a TypeError).
"""

from __future__ import annotations

import dataclasses
import operator
import re
import reprlib
from collections.abc import Callable
from contextlib import contextmanager
from typing import TypeVar

Class = TypeVar("Class", bound=type)

# What a class writes itself it keeps, as with a dataclass.
_OWN_METHODS = ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__")


def record(cls: Class | None = None, /, *, frozen: bool = False,
           eq: bool = True) -> Class | Callable[[Class], Class]:
    """``cls`` made a record (see the module's docstring): ``@record``, ``@record(frozen=True)``,
    ``@record(eq=False)``, as ``@dataclass`` with the same arguments."""

    def made(cls: Class) -> Class:
        own = {name for name in _OWN_METHODS if name in cls.__dict__}
        _refuse_mixed_freezing(cls, frozen, own)
        # Python sets __hash__ to None in a class that writes __eq__ and not __hash__.
        own_hash = cls.__dict__.get("__hash__") is not None
        with _undocumented_kept(cls):
            cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False)
        fields = dataclasses.fields(cls)
        shown = [f.name for f in fields if f.repr]
        methods = {"__init__": _init(cls, frozen), "__repr__": _repr,
                   "_record_names": tuple(shown), "_record_shown": _values_of(shown)}
        if eq:
            methods |= {"__eq__": _eq, "_record_compared":
                        _values_of([f.name for f in fields if f.compare])}
        if frozen:
            methods |= {"__setattr__": _refuse_set, "__delattr__": _refuse_delete,
                        "_record_frozen": True}
        for name, method in methods.items():
            if name not in own:
                setattr(cls, name, method)
        if eq and not own_hash:
            hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
            cls._record_hashed = _values_of(hashed)
            cls.__hash__ = _hash if frozen else None
        return cls

    return made if cls is None else made(cls)


@contextmanager
def _undocumented_kept(cls: type):
    """A class without a docstring keeps none through ``dataclasses.dataclass``, which writes
    one from ``inspect.signature(cls)``: for a record, whose ``__init__`` is not written yet,
    ``object``'s, read by tokenizing its text signature, whose patterns took 4 ms to compile
    in a ``cnnspec check`` (three records have no docstring) for a docstring ``Spec()``."""
    undocumented = not cls.__dict__.get("__doc__")
    if undocumented:
        cls.__doc__ = "-"  # anything dataclasses takes for a docstring
    try:
        yield
    finally:
        if undocumented:
            cls.__doc__ = None


def _refuse_mixed_freezing(cls: type, frozen: bool, own: set[str]) -> None:
    """A TypeError where ``cls`` mixes frozen and not as a dataclass refuses it: a record
    frozen or not unlike a record it inherits from, or a frozen one writing its own
    ``__setattr__`` or ``__delattr__``."""
    for base in cls.__mro__[1:]:
        is_record = "__dataclass_fields__" in base.__dict__ and "_record_names" in base.__dict__
        if is_record and bool(base.__dict__.get("_record_frozen")) != frozen:
            state = "frozen" if frozen else "non-frozen"
            raise TypeError(f"cannot inherit {state} record {cls.__qualname__} from "
                            f"{'non-frozen' if frozen else 'frozen'} {base.__qualname__}")
    for name in ("__setattr__", "__delattr__"):
        if frozen and name in own:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__qualname__}")


_FACTORY = object()  # an argument left out whose field has a default_factory


def _init(cls: type, frozen: bool) -> Callable:
    """The ``__init__`` a dataclass of ``cls`` has: each field given (or its default, or a new
    value of its default_factory) set on the instance, then ``__post_init__`` called.
    A frozen record sets them with ``object.__setattr__``, past its own ``__setattr__``."""
    fields = dataclasses.fields(cls)  # ClassVar and InitVar pseudo-fields left out
    for f in fields:
        if f.kw_only:
            raise TypeError(f"{cls.__qualname__}.{f.name}: a record's field is not kw_only")
    for f in cls.__dataclass_fields__.values():
        if f.name.startswith("__record_"):
            raise TypeError(f"{cls.__qualname__}.{f.name}: a record's own names start so")
        if f not in fields and re.match(r"(dataclasses\.)?InitVar\b", str(f.type)):
            raise TypeError(f"{cls.__qualname__}.{f.name}: a record takes no InitVar")
    # the generated code's own names cannot meet a field's: no field's name starts so
    names = {"__record_set": object.__setattr__, "__record_FACTORY": _FACTORY}
    # "self" as a dataclass names it, unless a field is so named
    me = "__record_self" if any(f.name == "self" for f in fields) else "self"
    parameters, lines = [me], []
    for f in fields:
        factory, default = f.default_factory, f.default
        if factory is not dataclasses.MISSING:
            names[f"__record_factory_{f.name}"] = factory
            value = (f"__record_factory_{f.name}() if {f.name} is __record_FACTORY "
                     f"else {f.name}" if f.init else f"__record_factory_{f.name}()")
            parameter = f"{f.name}=__record_FACTORY"
        elif default is not dataclasses.MISSING:
            names[f"__record_default_{f.name}"] = default
            value = f.name if f.init else f"__record_default_{f.name}"
            parameter = f"{f.name}=__record_default_{f.name}"
        elif f.init:
            if "=" in parameters[-1]:
                raise TypeError(f"{cls.__qualname__}: non-default argument {f.name!r} follows "
                                "default argument")
            value = parameter = f.name
        else:
            continue  # set by __post_init__, if at all
        if f.init:
            parameters.append(parameter)
        lines.append(f"__record_set({me}, {f.name!r}, {value})" if frozen
                     else f"{me}.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        lines.append(f"{me}.__post_init__()")
    body = "\n    ".join(lines or ["pass"])
    exec(f"def __init__({', '.join(parameters)}):\n    {body}\n", names)  # noqa: S102
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _values_of(names: list[str]) -> Callable[[object], tuple]:
    """A function giving an object's values of ``names``, as a tuple (attrgetter gives a lone
    value bare and takes no empty list)."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    # A function read through an instance would be bound to it: a static method is not.
    if names:
        lone = operator.attrgetter(names[0])
        return staticmethod(lambda obj: (lone(obj),))
    return staticmethod(lambda _: ())


@reprlib.recursive_repr()
def _repr(self) -> str:
    shown = ", ".join(f"{name}={value!r}"
                      for name, value in zip(self._record_names, self._record_shown(self)))
    return f"{type(self).__qualname__}({shown})"


def _eq(self, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return self._record_compared(self) == self._record_compared(other)


def _hash(self) -> int:
    return hash(self._record_hashed(self))


def _refuse_set(self, name: str, value: object) -> None:
    """A frozen record's ``__setattr__``: as a frozen dataclass's, anything on the record's own
    class, a field on a plain class that inherits from it."""
    if "_record_frozen" in type(self).__dict__ or name in self.__dataclass_fields__:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _refuse_delete(self, name: str) -> None:
    if "_record_frozen" in type(self).__dict__ or name in self.__dataclass_fields__:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)

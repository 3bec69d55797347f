"""A record does what the dataclass with the same arguments does (cnnspec/records.py)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import InitVar, field
from pathlib import Path

import pytest

from cnnspec.records import record

CASES = [{}, {"frozen": True}, {"eq": False}, {"frozen": True, "eq": False}]


def _pair(options: dict):
    """The same class made a record and made a dataclass."""

    def body():
        class Point:
            """A point."""

            x: int
            y: float = 1.5
            tags: list = field(default_factory=list)
            hidden: str = field(default="h", repr=False, compare=False)
            # set by __post_init__: no argument of its own
            total: float = field(init=False, default=0.0)

            def __post_init__(self) -> None:
                object.__setattr__(self, "total", self.x + self.y)

        return Point

    return record(**options)(body()), dataclasses.dataclass(**options)(body())


@pytest.mark.parametrize("options", CASES)
def test_a_record_behaves_as_its_dataclass(options):
    made, reference = _pair(options)
    for args, kwargs in [((1,), {}), ((1, 2.0), {"hidden": "z"}), ((), {"x": 3, "tags": [1]})]:
        ours, theirs = made(*args, **kwargs), reference(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)
        assert [f.name for f in dataclasses.fields(ours)] == \
            [f.name for f in dataclasses.fields(theirs)]
        assert (ours == made(*args, **kwargs)) == (theirs == reference(*args, **kwargs))
        assert (ours == made(*args, hidden="other", **{k: v for k, v in kwargs.items()
                                                        if k != "hidden"})) == \
            (theirs == reference(*args, hidden="other", **{k: v for k, v in kwargs.items()
                                                            if k != "hidden"}))
        assert (made.__hash__ is None) == (reference.__hash__ is None)
        if options == {"frozen": True}:  # hashed by its compared fields, as a dataclass is
            assert hash(made(*args, **{**kwargs, "tags": (1,)})) == \
                hash(reference(*args, **{**kwargs, "tags": (1,)}))
        changed = dataclasses.replace(ours, x=9)
        assert changed.x == 9 and changed.total == 9 + ours.y
    assert made(1).tags is not made(1).tags  # a new list each time, as default_factory says


@pytest.mark.parametrize("options", CASES)
def test_a_frozen_record_refuses_changes_as_its_dataclass(options):
    made, reference = _pair(options)
    for cls in (made, reference):
        point = cls(1)
        if options.get("frozen"):
            with pytest.raises(dataclasses.FrozenInstanceError):
                point.x = 2
            with pytest.raises(dataclasses.FrozenInstanceError):
                point.other = 2
            with pytest.raises(dataclasses.FrozenInstanceError):
                del point.x
        else:
            point.x = 2
            assert point.x == 2


def test_a_record_is_not_equal_to_a_record_of_another_class():
    first, second = _pair({})[0], _pair({})[0]
    assert first(1) != second(1)
    assert first(1) != (1, 1.5)


def test_a_record_keeps_the_methods_its_class_writes():
    @record(frozen=True)
    class Named:
        name: str

        def __repr__(self) -> str:
            return f"<{self.name}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Named) and other.name.lower() == self.name.lower()

        def __hash__(self) -> int:
            return hash(self.name.lower())

    assert repr(Named("A")) == "<A>"
    assert Named("A") == Named("a") and hash(Named("A")) == hash(Named("a"))


def test_a_record_of_records_shows_them_and_a_loop_once():
    @record(frozen=True)
    class Leaf:
        value: int

    @record
    class Tree:
        leaves: list[Leaf]

    tree = Tree([Leaf(1), Leaf(2)])
    assert repr(tree).endswith("Tree(leaves=[" + repr(Leaf(1)) + ", " + repr(Leaf(2)) + "])")
    tree.leaves.append(tree)  # a loop is shown as ..., not followed
    assert repr(tree).endswith("...])")


def test_a_subclass_record_adds_its_fields_after_its_bases():
    @record(frozen=True)
    class Base:
        a: int
        b: int = 2

    @record(frozen=True)
    class Child(Base):
        c: int = 3

    assert Child(1) == Child(1, 2, 3) and Child(1) != Base(1)
    assert repr(Child(1, c=4)).endswith("Child(a=1, b=2, c=4)")


def test_an_exception_record_keeps_its_message():
    @record
    class Failed(Exception):
        message: str
        hint: str | None = None

        def __post_init__(self) -> None:
            super().__init__(self.message)

    error = Failed("it broke", hint="mend it")
    assert str(error) == "it broke" and error.hint == "mend it"
    with pytest.raises(Failed, match="it broke"):
        raise error


@pytest.mark.parametrize("body", ["init_var", "kw_only", "default_first"])
def test_what_a_record_does_not_take_is_refused_when_it_is_defined(body):
    with pytest.raises(TypeError):
        if body == "init_var":
            @record
            class WithInitVar:
                x: int
                scale: InitVar[int] = 1
        elif body == "kw_only":
            @record
            class WithKwOnly:
                x: int = field(kw_only=True)
        else:
            @record
            class Misordered:
                x: int = 1
                y: int


def test_every_dataclass_of_the_package_is_a_record():
    """A plain @dataclass costs check's start-up its compiled methods (cnnspec/records.py);
    Lark's generated module is its own."""
    import cnnspec

    package = Path(cnnspec.__file__).parent
    plain = [f"{path.relative_to(package)}:{number}"
             for path in sorted(package.rglob("*.py")) if path.name != "standalone.py"
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if re.match(r"\s*@(dataclasses\.)?dataclass\b", line)]
    assert plain == []


@pytest.mark.parametrize("base_frozen", [True, False])
def test_a_record_refuses_to_mix_frozen_and_not_by_inheritance_as_a_dataclass(base_frozen):
    for make in (record, dataclasses.dataclass):
        @make(frozen=base_frozen)
        class Base:
            a: int

        with pytest.raises(TypeError, match="cannot inherit"):
            @make(frozen=not base_frozen)
            class Child(Base):
                b: int = 0


def test_a_frozen_record_refuses_a_setattr_of_its_own_as_a_dataclass():
    for make in (record, dataclasses.dataclass):
        with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__"):
            @make(frozen=True)
            class Guarded:
                a: int

                def __setattr__(self, name, value):
                    object.__setattr__(self, name, value)


def test_a_plain_subclass_of_a_frozen_record_sets_what_is_not_a_field_as_a_dataclasss():
    for make in (record, dataclasses.dataclass):
        @make(frozen=True)
        class Base:
            a: int

        class Plain(Base):
            pass

        plain = Plain(1)
        plain.extra = 2
        assert plain.extra == 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            plain.a = 3


def test_fields_named_as_the_generated_code_names_its_own_once_did_still_work():
    @record(frozen=True)
    class Odd:
        self: int
        _set: int = 1
        _FACTORY: list = field(default_factory=list)

    odd = Odd(5, _set=2)
    assert (odd.self, odd._set, odd._FACTORY) == (5, 2, [])


def test_a_record_without_a_docstring_gets_none_and_one_with_keeps_it():
    """dataclasses writes a missing docstring from the class's signature, tokenizing it (some
    4 ms of patterns compiled at a check's start-up); a record leaves it missing, also when
    the class is made a record by inheritance."""

    @record
    class Bare:
        x: int

    @record(frozen=True)
    class Said:
        """Said."""

        x: int

    @record(frozen=True)
    class Inherited(Said):
        y: int = 0

    assert Bare.__doc__ is None and Inherited.__doc__ is None
    assert Said.__doc__ == "Said."
    assert Inherited(1, 2) == Inherited(1, 2) and repr(Bare(3)).endswith("Bare(x=3)")

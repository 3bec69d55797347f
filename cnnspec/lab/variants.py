"""Init variants: one spec, checked several times with a different model-wide weight init.

``--init he_normal`` means "this spec, with he_normal as its default weight init": it replaces
the model-wide default (and the built-in he_normal default), while a layer that names its own
init keeps it — a hand-written, frozen kernel stays what the author wrote. The init text uses the
language's own grammar (``normal(0, 0.01)``, ``he_uniform(mode=fan_out)``...).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnnspec.check.model import CheckedSpec
from cnnspec.errors import RunError, SpecError

# The label of the variant that keeps the spec's own inits.
SPEC_LABEL = "spec"


@dataclass
class Variant:
    """A checked spec and the init text that made it (``SPEC_LABEL`` for the spec as written)."""

    label: str
    checked: CheckedSpec


def load_variant(path: str | Path, init: str | None = None) -> Variant:
    """Parse and check ``path`` with ``init`` (language syntax) as the default weight init."""
    import cnnspec

    if init is None:
        return Variant(SPEC_LABEL, cnnspec.load(path))
    return Variant(init, _load_with_default(Path(path), init))


def load_variants(path: str | Path, inits: list[str] | None) -> list[Variant]:
    """One variant per ``--init`` text, or the spec as written when there is none."""
    return [load_variant(path, init) for init in (inits or [None])]


def _load_with_default(path: Path, init: str) -> CheckedSpec:
    from cnnspec.check import check
    from cnnspec.lang import parse

    init_ir = _parse_init_option(init)
    if path.suffix == ".json":
        raise SpecError(
            f"--init needs a .cnn spec; {path.name} is an IR file",
            hint="an IR file has every layer's init written out and no model-wide default "
            "to replace; pass the .cnn spec it was exported from",
            file=str(path),
        )
    if path.suffix != ".cnn":
        raise RunError(f"{path}: not a spec file (expected a .cnn spec)",
                       hint="a spec written in the cnnspec language ends in .cnn")
    from cnnspec.sourcefile import read_spec_text

    return check(parse(read_spec_text(path), str(path), weight_default=init_ir))


def _parse_init_option(init: str) -> dict:
    """The IR init of an ``--init`` text. Its mistakes name the option and its text: the text
    is no file, so a line and column inside it would point nowhere the user can look."""
    from cnnspec.lang import parse_init

    try:
        return parse_init(init)
    except SpecError as exc:
        raise SpecError(exc.message, hint=exc.hint, file=f'--init "{init}"') from exc


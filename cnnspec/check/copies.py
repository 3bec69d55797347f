"""One diagnostic for each spot of a spec: what a repeat block's copies share, said once.

A statement inside ``repeat 30 as blk { c: conv ... }`` makes a layer in every copy of the
block (``blk_1_c`` .. ``blk_30_c``, :mod:`cnnspec.ir.instances`), and the checker checks each
layer: an error or a warning that holds for every copy would be printed 30 times at the same
source position, worded alike but for the copy's name. :func:`folded` makes such a run one
diagnostic, whose message names the first and the last copy and which copies it holds for,
and whose ``copies`` lists their layers.

A folded text speaks of several layers where it was written of one: a range that is a
sentence's subject takes the plural of its verb ("'blk_1_c' .. 'blk_3_c' read", not "reads"),
and where the text's first layer is a range, the pronouns after it are plural too ("its" is
"their", "it" "they" or "them", "itself" "themselves"), and so is "the layer" ("the layers
start"). A diagnostic that names a layer refers
back with it, its and itself only to the layers it names (its own, the layers it reads), and
to anything else (an init, a loss, the stack of layers) by a noun, so that rule holds.

Diagnostics are one only when nothing but the copy's name tells them apart: the same
severity, the same source span (so the same file, statement and field), and the same message
and hint once each copy's layer name is written as its statement's. So a figure that differs
from copy to copy (a signal factor that grows with depth) keeps them apart, and no folded
message states a number that holds for one copy alone. A diagnostic without a source position
is left as it is: in a ``.json`` IR every copy is a layer of its own, at its own JSON path.

Warnings of layers written one after another read alike the same way (``default weight
zeros`` over 20 convs: the same warning of each): :func:`grouped` makes each such run one
where they are printed, its layers' names written as a range with their count, ``conv2 ..
conv20 (19 layers)``, at the first; "the line" is plural there too, and a hint that names none
of the layers is said of them (its "the layer", not its pronouns, which may refer to anything
it names). It runs where diagnostics are printed, not in the checker:
the JSON output keeps one entry a layer, for the programs that read it.
"""
from __future__ import annotations

import dataclasses
import functools
import re

from cnnspec.errors import Span, SpecError, counted, listed
from cnnspec.ir.spec import Spec
from cnnspec.patterns import LazyPattern
from cnnspec.records import record
from cnnspec.sourcefile import lenient_text, source_lines

# A word of a message that may be a layer's name (`blk_3_c` in "conv 'blk_3_c': ...").
WORD = LazyPattern(r"[A-Za-z_][A-Za-z0-9_]*")
# Where a copy's name stood in a message once the name is set aside: its statement's number.
STATEMENT_MARK = "\x00{}\x00"


@record(frozen=True)
class _Copy:
    """A layer of a repeat block's copy: which statement made it (numbered in the network's
    order), its name in the block, and which of the statement's copies it is (from 1)."""

    statement: int
    local: str
    number: int


@record
class _Copies:
    """The layers of a spec's repeat blocks, by name, and how many copies each statement made;
    the names of all its layers."""

    by_name: dict[str, _Copy]
    totals: dict[int, int]
    layers: frozenset[str]


def _copies(spec: Spec) -> _Copies:
    """Every layer a statement inside a repeat block made. The copies of one statement share
    its source position and their name in the block, whatever the blocks around them."""
    statements: dict[tuple[Span | None, str], int] = {}
    by_name: dict[str, _Copy] = {}
    totals: dict[int, int] = {}
    for layer in spec.ir["layers"]:
        group, name = layer.get("group"), layer["name"]
        if not group or not name.startswith(f"{group}_"):
            continue
        local = name[len(group) + 1:]
        statement = statements.setdefault((spec.spans.get((name, None)), local), len(statements))
        totals[statement] = totals.get(statement, 0) + 1
        by_name[name] = _Copy(statement, local, totals[statement])
    return _Copies(by_name, totals, frozenset(layer["name"] for layer in spec.ir["layers"]))


def _texts(diagnostic: SpecError) -> tuple[str, str, str]:
    return diagnostic.message, diagnostic.hint or "", diagnostic.hint_template or ""


def _names(text: str, copies: _Copies) -> list[re.Match]:
    """The words of ``text`` that name a copy's layer."""
    return [match for match in WORD.finditer(text) if match.group() in copies.by_name]


def _key(diagnostic: SpecError, copies: _Copies) -> tuple | None:
    """What a diagnostic says with each copy's name set aside, and where: equal keys, one
    diagnostic. None for one that is not folded (no source position, no copy named)."""
    if diagnostic.span is None:
        return None
    texts = _texts(diagnostic)
    if not any(_names(text, copies) for text in texts):
        return None
    set_aside = tuple(_set_aside(text, copies) for text in texts)
    return (diagnostic.severity, diagnostic.file, diagnostic.span, diagnostic.json_path,
            set_aside)


def _set_aside(text: str, copies: _Copies) -> str:
    """``text`` with each copy's name written as its statement's mark: equal for texts alike
    but for which copies they name."""
    return WORD.sub(lambda match: STATEMENT_MARK.format(copies.by_name[match.group()].statement)
                    if match.group() in copies.by_name else match.group(), text)


def _named(diagnostic: SpecError, copies: _Copies) -> list[str]:
    """The copies' names in a diagnostic's message and hints, in order."""
    return [match.group() for text in _texts(diagnostic) for match in _names(text, copies)]


def _differing(members: list[SpecError], copies: _Copies) -> dict[int, list[str]] | None:
    """For diagnostics alike but for their copies' names: where the names differ (their
    places among the names each names, in order), and the names there, one list per place
    in the order of ``members``. None where the names do not tell the members apart one to
    one (a diagnostic given twice, one naming two layers of a statement where another names
    one), so that they are left as they are."""
    return _differing_names([_named(member, copies) for member in members], copies)


def _differing_names(named: list[list[str]], copies: _Copies) -> dict[int, list[str]] | None:
    """:func:`_differing` of texts that name the copies ``named``, one list for each text.
    Each place names another copy in each text. Two places may name two copies of one
    statement where both go up together, copy by copy ('blk_1_c' .. 'blk_19_c' are read by
    'blk_2_c' .. 'blk_20_c', each by the next), which the ranges then say; texts that name
    the same copies in turn ('blk_1_c' reads 'blk_2_c', 'blk_2_c' reads 'blk_1_c') stay
    apart."""
    places = [i for i in range(len(named[0])) if len({names[i] for names in named}) > 1]
    columns = {i: [names[i] for names in named] for i in places}
    if not places or any(len(set(column)) < len(named) for column in columns.values()):
        return None
    by_statement: dict[int, set[tuple[str, ...]]] = {}
    for column in columns.values():
        by_statement.setdefault(copies.by_name[column[0]].statement, set()).add(tuple(column))
    order = sorted(range(len(named)), key=lambda k: copies.by_name[columns[places[0]][k]].number)
    for alike in by_statement.values():
        numbers = [[copies.by_name[column[k]].number for k in order] for column in alike]
        if len(alike) > 1 and any(row != sorted(row) for row in numbers):
            return None
    return columns


def _runs(numbers: list[int]) -> list[str]:
    """``[1, 3, 4, 6, 7, 8]``: ``1``, ``3``, ``4``, ``6..8``; sorted numbers, written as a
    range where three or more follow each other."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return [text for run in runs
            for text in ([f"{run[0]}..{run[-1]}"] if len(run) > 2 else map(str, run))]


def _which(numbers: list[int], total: int) -> str:
    """``all 30 copies``, ``both copies``, ``copies 3..30 of 30``, ``copies 1, 3 and 5..30
    of 30``."""
    if len(numbers) == total:
        return "both copies" if total == 2 else f"all {total} copies"
    return f"copies {listed(_runs(numbers))} of {total}"


def _ranges(names: list[str]) -> str:
    """``'blk_1_c' .. 'blk_30_c'``, or ``'blk_1_c' and 'blk_3_c'`` for two: the first and
    the last of ``names``, without their outer quotes (to be put around it)."""
    return names[0] + ("' and '" if len(names) == 2 else "' .. '") + names[-1]


# The words that refer back to a layer, and their plurals: the pronouns, and the noun a text
# says of the layer it names ("the layer starts nearly dead"); "it" is "they" before its verb
# ("the channels it takes": "they take") and "them" after a preposition or as an object ("a
# batchnorm after it brings", "leave it little input"); a verb after "the layer" agrees.
PLURAL_PRONOUNS = {"its": "their", "itself": "themselves", "it": "them",
                   "the layer's": "the layers'", "the layer": "the layers"}
# Those of layers each on a statement of its own (:func:`grouped`; a repeat block's copies
# share theirs): the line too ("remove the line").
OWN_LINES = {**PLURAL_PRONOUNS, "the line": "the lines"}
# Back-references that may be a verb's subject, which it then agrees with.
SUBJECTS = ("it", "the layer", "the line")


def _replaced(text: str, places: dict[int, str], copies: _Copies, about: str | None,
              words: dict[str, str] = PLURAL_PRONOUNS, plural: bool = False
              ) -> tuple[str, str | None]:
    """``text`` with the names at ``places`` (their places among its names) written as
    the range of the copies' names given there, the first followed by ``about`` (which copies
    they are, if not said yet); and ``about`` if it is still to be said. The ``words`` that
    refer back to its first layer are plural where that is a range; where the text is said of
    a range named elsewhere (``plural``: a hint that names no layer, of the message's), its
    nouns alone ("the layer"): its pronouns may refer to anything it names ("the smallest
    float32 with all its significant bits")."""
    out, end, subject = [], 0, False
    if not _opens_with_range(text, places, copies):
        words = {word: said for word, said in words.items() if word.startswith("the ")}
    else:
        plural = True
    for place, match in enumerate(_names(text, copies)):
        if place not in places:
            continue
        quoted = text[match.start() - 1:match.start()] == "'" == text[match.end():match.end() + 1]
        out.append(_plural_pronouns(_agreeing(text[end:match.start()], subject),
                                    plural and place > 0, words)
                   + (places[place] if quoted else places[place].replace("'", "")))
        subject = _is_subject(text[:match.start() - quoted])
        end = match.end()
        if about is not None:  # after the closing quote
            close = "'" if quoted else ""
            out.append(f"{close} ({about})")
            end += len(close)
            about = None
    return "".join(out) + _plural_pronouns(_agreeing(text[end:], subject), plural, words), about


def _opens_with_range(text: str, places: dict[int, str], copies: _Copies) -> bool:
    """Whether the first layer ``text`` names is written as a range of copies (its first copy's
    name, at place 0, is among ``places``): the layer its pronouns refer back to is several."""
    first = next((match.group() for match in WORD.finditer(text)
                  if match.group() in copies.layers), None)
    return 0 in places and first in copies.by_name


# A copy's name stands as a sentence's subject where it opens the text or a clause (after a
# colon, semicolon or comma), alone or after one word: its kind ("layer 'b_1_c' is not used").
# After a preposition ("the kernel of conv 'b_1_c' is larger") the verb has another subject.
SUBJECT_BEFORE = LazyPattern(r"(?:^|[:;,] )(?:[a-z_]+ )?$")
# The verb after a subject, its adverb first ("never changes"), after any figure of the
# subject's in parentheses (:func:`_verb`).
VERB = LazyPattern(r" ((?:never|also|still|only|then) )?([a-z]+)\b")
IRREGULAR_PLURALS = {"is": "are", "has": "have", "does": "do", "was": "were"}


def _verb(after: str) -> re.Match | None:
    """The verb ``after`` opens with (:data:`VERB`), past the closing quote of its subject's
    name (a range's first name has it written with the copies it names) and a figure of its
    subject's in parentheses ("dropout 'b_1_d' .. 'b_4_d' (p = 0.5) come directly before"),
    which may hold parentheses of its own ("'b_1_b' .. 'b_3_b' (normal, N(0, 3^2)) have");
    None where no verb opens it."""
    start = 1 if after.startswith("'") else 0
    if after.startswith(" (", start):
        depth = 0
        for i in range(start, len(after)):
            depth += {"(": 1, ")": -1}.get(after[i], 0)
            if depth == 0 and after[i] == ")":
                start = i + 1
                break
        else:  # a parenthesis left open: no verb after it
            return None
    return VERB.match(after, start)


def _is_subject(before: str) -> bool:
    """Whether a name after ``before`` (its opening quote set aside) is the subject of the verb
    that follows it."""
    return SUBJECT_BEFORE.search(before) is not None


def _agreeing(after: str, plural: bool) -> str:
    """``after``, the text that follows a range of copies' names, with the verb it opens in the
    plural where the range is its subject: the range names several layers, and the message
    was written of one ("'r_1_s' and 'r_2_s' read 'a'", not "reads")."""
    match = _verb(after) if plural else None
    if match is None:
        return after
    verb = match.group(2)
    if verb in IRREGULAR_PLURALS:
        verb = IRREGULAR_PLURALS[verb]
    elif re.search(r"(?:ss|sh|ch|x|z)es$", verb):
        verb = verb[:-2]
    elif verb.endswith("ies"):
        verb = verb[:-3] + "y"
    elif verb.endswith("s") and not verb.endswith("ss"):
        verb = verb[:-1]
    return after[:match.start(2)] + verb + after[match.end(2):]


PREPOSITIONS = ("after", "before", "through", "to", "of", "from", "with", "by", "into", "on",
                "in", "for", "about")
# The modal verbs, which open a verb phrase after "it" as a verb in -s does ("it would").
MODALS = ("can", "could", "may", "might", "must", "would", "will", "should")


def _plural_pronouns(text: str, plural: bool, words: dict[str, str]) -> str:
    """``text``, a part of a folded text after its first layer, with the ``words`` that refer
    back to that layer in the plural where it is a range (``plural``)."""
    if not plural:
        return text
    out = []
    while (match := _back_reference(tuple(words)).search(text)) is not None:
        word, after = match.group(), text[match.end():]
        before = text[:match.start()].split()
        out.append(text[:match.start()])
        if word in SUBJECTS and not (word == "it" and before and before[-1] in PREPOSITIONS) \
                and _opens_verb(after):
            out.append("they" if word == "it" else words[word])
            text = _agreeing(after, True)
        else:
            out.append(words[word])
            text = after
    return "".join(out) + text


@functools.cache
def _back_reference(words: tuple[str, ...]) -> re.Pattern:
    """A pattern of any of ``words``, each whole, the longest first ("the layer's" before
    "the layer"); compiled where a folded text first needs it (cnnspec/patterns.py says
    why)."""
    return re.compile(r"\b(" + "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
                      + r")\b")


def _opens_verb(after: str) -> bool:
    """Whether ``after``, the text after "it", opens with its verb ("takes", "is", "would",
    "never changes"), not an object ("little input") or a clause's end."""
    match = _verb(after)
    if match is None:
        return False
    word = match.group(2)
    return word in IRREGULAR_PLURALS or word in MODALS or (word.endswith("s")
                                                            and not word.endswith("ss"))


def _shown(differ: dict[int, list[str]], copies: _Copies
           ) -> tuple[list[int], str, dict[int, str]]:
    """For texts alike but for their copies' names at the places ``differ``: their order (by
    the copy their first name is), which copies they are, and at each place the range of the
    names there."""
    first = min(differ)
    order = sorted(range(len(differ[first])),
                   key=lambda i: copies.by_name[differ[first][i]].number)
    own = [differ[first][i] for i in order]
    copy = copies.by_name[own[0]]
    about = (f"the repeat block's '{copy.local}' in "
             f"{_which([copies.by_name[n].number for n in own], copies.totals[copy.statement])}")
    return order, about, {place: _ranges([names[i] for i in order])
                          for place, names in differ.items()}


def _fold(members: list[SpecError], differ: dict[int, list[str]], copies: _Copies,
          about: str | None = None, own_lines: bool = False) -> SpecError:
    """One diagnostic for ``members``, whose copies' names differ at the places ``differ``:
    the first member's (in network order), each name there written as the range of the
    copies', the first name followed by which copies of its statement they are (or by
    ``about``). ``own_lines``: the members are of layers on statements of their own
    (:func:`grouped`), whose lines a text refers back to in the plural too, and a hint
    that names none of them is said of the layers the message names."""
    order, which, shown = _shown(differ, copies)
    about = about or which
    own = [differ[min(differ)][i] for i in order]
    base = members[order[0]]
    message, hint, template = _texts(base)
    counts = [len(_names(text, copies)) for text in (message, hint, template)]

    def places(k: int) -> dict[int, str]:
        """The places of ``shown`` in the k-th text, counted from its first name."""
        offset = sum(counts[:k])
        return {place - offset: range_ for place, range_ in shown.items()
                if offset <= place < offset + counts[k]}

    words = OWN_LINES if own_lines else PLURAL_PRONOUNS
    message, rest = _replaced(message, places(0), copies, about, words)
    of_range = own_lines and _opens_with_range(base.message, places(0), copies)
    # the hint and its template are two wordings of one text: each says which copies, if
    # the message did not
    hint = _replaced(hint, places(1), copies, rest, words, of_range)[0]
    template = _replaced(template, places(2), copies, rest, words, of_range)[0]
    return dataclasses.replace(base, message=message, hint=base.hint and hint,
                               hint_template=base.hint_template and template, copies=tuple(own))


def folded(spec: Spec, diagnostics: list[SpecError]) -> list[SpecError]:
    """``diagnostics`` (errors and warnings, in the order found) with each set that differs
    only in the repeat block copy it is about made one, in the place of its first."""
    copies = _copies(spec)
    if not copies.by_name:
        return diagnostics
    alike: dict[tuple, list[int]] = {}
    for i, diagnostic in enumerate(diagnostics):
        key = _key(diagnostic, copies)
        if key is not None:
            alike.setdefault(key, []).append(i)
    out: dict[int, SpecError | None] = dict(enumerate(diagnostics))
    for indices in alike.values():
        members = [diagnostics[i] for i in indices]
        differ = _differing(members, copies) if len(members) > 1 else None
        if differ is None:
            continue
        out[indices[0]] = _fold(members, differ, copies)
        for i in indices[1:]:
            out[i] = None
    return [diagnostic for diagnostic in out.values() if diagnostic is not None]


def folded_texts(spec: Spec, texts: list[str]) -> list[str]:
    """``texts`` (each a clause of one message, about one layer: a name alone, ``c never
    changes (...)``) with each set alike but for the repeat block copy it names made one, in
    the place of its first, as :func:`folded` makes diagnostics one: the names written as
    ranges, the first followed by which copies they are, verbs and pronouns in the plural."""
    copies = _copies(spec)
    alike: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        if _names(text, copies):
            alike.setdefault(_set_aside(text, copies), []).append(i)
    out: dict[int, str | None] = dict(enumerate(texts))
    for indices in alike.values():
        named = [[match.group() for match in _names(texts[i], copies)] for i in indices]
        differ = _differing_names(named, copies) if len(indices) > 1 else None
        if differ is None:
            continue
        order, about, shown = _shown(differ, copies)
        out[indices[0]] = _replaced(texts[indices[order[0]]], shown, copies, about)[0]
        for i in indices[1:]:
            out[i] = None
    return [text for text in out.values() if text is not None]


def grouped(diagnostics: list[SpecError], text: str | None = None) -> list[SpecError]:
    """``diagnostics`` as they are printed: each run of warnings, one after another, of one
    lint about one layer each, whose layers are written on statements that follow each other
    in the source (blank and comment lines between), and that say the same but for their
    layer's name, made one in the place of the first (:func:`_joined`). ``text``: the source
    of every diagnostic, else each is read from its file."""
    out: list[SpecError] = []
    run: list[SpecError] = []
    # each source's lines, split once (a check's warnings are many, its files few)
    lines: dict[str | None, list[str] | None] = {}
    given = None if text is None else source_lines(text)
    for diagnostic in [*diagnostics, None]:
        if run and diagnostic is not None and _follows(run[-1], diagnostic, lines, given):
            run.append(diagnostic)
            continue
        out.extend(_joined(run) if len(run) > 1 else run)
        run = [] if diagnostic is None else [diagnostic]
    return out


def _follows(before: SpecError, after: SpecError, lines: dict,
             given: list[str] | None) -> bool:
    """Whether the warning ``after`` says what ``before`` says of the layer on the statement
    after ``before``'s (:func:`grouped`); ``given``: the source's lines where the caller gave
    them, else each file's read into ``lines``."""
    if not (_one_layer(before) and _one_layer(after)) or before.lint != after.lint \
            or before.file != after.file or after.span.line <= before.span.line \
            or _layer_set_aside(before) != _layer_set_aside(after):
        return False
    if given is None:
        if before.file not in lines:
            text = lenient_text(before.file) if before.file else None
            lines[before.file] = None if text is None else source_lines(text)
        given = lines[before.file]
    if given is None:
        return False
    between = given[before.span.line:after.span.line - 1]
    return all(not line.strip() or line.lstrip().startswith("#") for line in between)


def _one_layer(diagnostic: SpecError) -> bool:
    """Whether ``diagnostic`` is a warning of a lint, at a place of the source, about one layer
    and not a repeat block's copies said at once."""
    return diagnostic.severity == "warning" and diagnostic.lint is not None \
        and diagnostic.span is not None and len(diagnostic.about) == 1 \
        and not diagnostic.copies


def _layer_set_aside(diagnostic: SpecError) -> tuple[str, ...]:
    """The texts of ``diagnostic`` with its layer's name set aside: equal for warnings alike
    but for the layer they are about."""
    name = diagnostic.about[0]
    return tuple(WORD.sub(lambda match: STATEMENT_MARK if match.group() == name
                          else match.group(), text) for text in _texts(diagnostic))


def _joined(members: list[SpecError]) -> list[SpecError]:
    """One warning for ``members``, alike but for their layers' names, at the first: each
    name written as the range of theirs and their count, ``conv2 .. conv20 (19 layers)``,
    verbs and pronouns as :func:`folded` writes them of a range; ``members`` as they are
    where their names do not tell them apart one to one."""
    names = [member.about[0] for member in members]
    copies = _Copies({name: _Copy(0, name, number) for number, name in enumerate(names, 1)},
                     {0: len(names)}, frozenset(names))
    differ = _differing(members, copies)
    if differ is None:
        return members
    return [dataclasses.replace(_fold(members, differ, copies, counted(len(names), "layer"),
                                      own_lines=True),
                                copies=(), about=tuple(names))]

"""The message table compiled for speed: bytes buffer in, events out, in buffer order.

Python's ``re`` jumps quickly between occurrences of the literal a pattern starts with, but
tries every position for an alternation of differently-starting patterns (measured 40 times slower
here), and ``bytes.find`` of a long literal is faster still. So the table is compiled into a
few *passes*, each one read of the buffer: a regex pass for each short literal start shared by
frequent messages (``--``, ``[``), which also takes the long-literal messages starting the same
way (it visits those places anyway), and a ``find`` pass for each other message that starts with
a long literal or names an ``anchor`` (rare messages: memory errors, script timeouts, traceback
headers …), messages whose anchors start alike sharing one. The passes' events are merged by
offset. Every pass more costs about 10 ms per 40 MB; the table has grown, the passes should not.

A counting scan (``fold_samples``) also *folds* the most frequent line, a finished sample: a
``sample_done`` event stands for the sample lines of the same task printed right after its own
(each a whole line: prefix, ``{type}[{k}] - {id} - {n}``, nothing else), their (type, k) in its
``samples`` field. Those lines hold no other message, and nothing is printed between them, so a
tally counts them exactly as it would one by one, at a third of the cost. A buffer holding a
traceback header is read unfolded: the scanner reads lines inside a block one by one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping
from operator import itemgetter
from typing import Any

from threadwatch.events import Event, Kind
from threadwatch.parse.guardline import GUARD_REGEX, decode_guard
from threadwatch.parse.patterns import (
    DEFAULT_PROGRAM_FILES,
    PATTERNS,
    compile_message,
    program_prefix,
)
from threadwatch.parse.tracebacks import HEADER_REGEXES
from threadwatch.text import common_start

# A match becomes an event: decode(match, source, base_offset) -> Event | None
Decoder = Callable[["re.Match[bytes]", str, int], "Event | None"]

_SHORT_LITERAL = 2  # frequent messages are grouped by their first two literal characters
_LONG_LITERAL = 8  # a literal start this long is found faster by bytes.find
_LINE_START = "(?m:^)"
_INT_FIELDS = frozenset({"batch_index", "sample_index", "number", "items"})
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")
_BACKREF = re.compile(r"\(\?P=(\w+)\)")
_FOLD = "fold"  # the group of a folding row that holds the lines after the first
_LITERAL_CHAR = re.compile(r"[^\\\[\](){}.*+?^$|]|\\[^\w]")
_POSITION = {name: i for i, name in enumerate(Event._fields)}
_SAMPLES = _POSITION["samples"]
assert _SAMPLES == len(Event._fields) - 1  # noqa: SIM300 - the last field: events are built up to it
_BLANK = [None, None, None, *(Event._field_defaults[name] for name in Event._fields[3:])]
assert all(value is None or type(value) is str for value in _BLANK)  # repr() writes them
_new_event = tuple.__new__
_by_offset = itemgetter(2)


def literal_start(source: str) -> tuple[str, str]:
    """Split a regex source into the literal text it starts with (unescaped) and the rest."""
    pos = 0
    literal = ""
    while (match := _LITERAL_CHAR.match(source, pos)) is not None:
        if source[match.end() : match.end() + 1] in ("*", "+", "?", "{"):
            break  # a quantified character is not literal
        literal += match.group()[-1]
        pos = match.end()
    return literal, source[pos:]


def _tag_groups(source: str, tag: int) -> str:
    """Make group names unique inside a combined regex."""
    source = _NAMED_GROUP.sub(lambda m: f"(?P<{m[1]}__{tag}>", source)
    return _BACKREF.sub(lambda m: f"(?P={m[1]}__{tag})", source)


def line_around(buf: bytes, start: int) -> str:
    """The text of the line holding ``buf[start]``, decoded."""
    line_start = buf.rfind(b"\n", 0, start) + 1
    line_end = buf.find(b"\n", start)
    line_end = len(buf) if line_end < 0 else line_end
    return buf[line_start:line_end].rstrip(b"\r").decode("utf-8", "replace")


def _table_decoder(
    kind: Kind,
    before: tuple[str, tuple[str, ...]] | None,
    groupindex: Mapping[str, int],
    tag: str,
    keep_text: bool,
    *,
    fold: Callable[..., list[tuple[bytes, bytes]]] | None = None,
) -> Decoder:
    """A decoder that copies the named groups ``<field><tag>`` into event fields; with
    ``fold`` (a folding row's ``findall`` of (word, index) over its group ``fold<tag>``), also
    the folded samples.

    The decoder runs once per match, half a million times for a large log, so its body is
    generated for its fields (as ``collections.namedtuple`` does): no per-field loop, no
    intermediate list. Measured 2.5 µs → 1 µs per event here.
    """
    by_position: dict[int, str] = {0: "KIND", 1: "source", 2: "base + start"}
    groups: list[int] = []
    for name, group in groupindex.items():
        if name.endswith(tag) and not name.startswith("alt__"):
            key = name.removesuffix(tag)
            if key == _FOLD:
                continue
            value = f"v{len(groups)}"
            text = f"{value}.decode('utf-8', 'replace')"
            convert = f"int({value})" if key in _INT_FIELDS else text
            by_position[_POSITION[key]] = f"(None if {value} is None else {convert})"
            groups.append(group)
    lines = ["def decode(match, source, base):", "    start = match.start()"]
    if keep_text:  # line_around, inlined: this runs for every event tail reads
        by_position[_POSITION["text"]] = "text"
        lines += [
            "    s = match.string",
            "    end = s.find(b'\\n', start)",
            "    text = s[s.rfind(b'\\n', 0, start) + 1 : end if end >= 0 else len(s)]"
            ".rstrip(b'\\r').decode('utf-8', 'replace')",
        ]
    words_by_length: dict[int, dict[bytes, str]] = {}
    if before is not None:
        field, words = before
        for word in words:
            words_by_length.setdefault(len(word), {})[word.encode()] = word
        by_position[_POSITION[field]] = "word"
        by_position[2] = "base + start - len(word)"
        lines.append("    s = match.string")
        indent = "    "
        for width in sorted(words_by_length):  # shortest first: the most frequent words
            lines += [
                f"{indent}word = WORDS[{width}].get(s[start - {width} : start])"
                f" if start >= {width} else None",
                f"{indent}if word is None:",
            ]
            indent += "    "
        lines.append(f"{indent}return None")
    if groups:  # one call for all the groups (after the cheap checks above)
        names = ", ".join(f"v{i}" for i in range(len(groups)))
        lines.append(f"    {names} = match.group({', '.join(map(str, groups))})")
    if fold is not None and before is not None:
        by_position[_SAMPLES] = "samples"
        lines += [
            f"    a, b = match.span({groupindex[_FOLD + tag]})",
            "    samples = tuple([(WORD_OF[w], int(k)) for w, k in FOLD(match.string, a, b)])"
            " if b > a else None",
        ]
    # defaults written as constants (None, ''): no lookup per field and event
    values = ", ".join(by_position.get(i, repr(_BLANK[i])) for i in range(len(_BLANK)))
    lines.append(f"    return NEW(EVENT, ({values}))")
    namespace: dict[str, Any] = {
        "KIND": kind,
        "NEW": _new_event,
        "EVENT": Event,
        "WORDS": words_by_length,
        "FOLD": fold,
        "WORD_OF": {word.encode(): word for word in before[1]} if before else {},
    }
    exec("\n".join(lines), namespace)  # the source is built above from the table only
    decoder: Decoder = namespace["decode"]
    return decoder


def _guard_decoder(groupindex: Mapping[str, int], tag: str, keep_text: bool) -> Decoder:
    name_group = groupindex[f"guard_event{tag}"]
    fields_group = groupindex[f"guard_fields{tag}"]

    def decode(match: re.Match[bytes], source: str, base: int) -> Event | None:
        decoded = decode_guard(
            match.group(name_group).decode("ascii"),
            match.group(fields_group).decode("utf-8", "replace"),
        )
        if decoded is None:
            return None
        kind, fields = decoded
        if keep_text:
            fields["text"] = line_around(match.string, match.start())
        return Event(kind, source, base + match.start(), **fields)

    return decode


DecoderFactory = Callable[[Mapping[str, int], str, bool], Decoder]


def _make_table_factory(
    kind: Kind, before: tuple[str, tuple[str, ...]] | None
) -> DecoderFactory:
    return lambda groupindex, tag, keep_text: _table_decoder(
        kind, before, groupindex, tag, keep_text
    )


def _folding_factory(
    kind: Kind, before: tuple[str, tuple[str, ...]], program_files: tuple[str, ...]
) -> tuple[str, str, DecoderFactory]:
    """What makes a row fold the lines after it (see the module docstring): the regex source
    to put before its own (its words must stand before the ``[`` the pass starts at, so that a
    line that is not a sample never takes the next lines with it), the source to put after it,
    and its decoder factory."""
    words = "|".join(re.escape(word) for word in sorted(before[1], key=len, reverse=True))
    lookbehind = "(?:" + "|".join(f"(?<={re.escape(word)}\\[)" for word in before[1]) + ")"
    prefix = program_prefix(program_files)

    def line(word: str, index: str) -> str:
        return rf"\n(?:{prefix})?{word}\[{index}\]"

    more = line(f"(?:{words})", r"\d++") + r" - (?P=task_id) - \d++(?=\n)"
    after = f"(?P<{_FOLD}>(?:{more})*+)"
    findall = re.compile(line(f"({words})", r"(\d++)").encode()).findall

    def factory(groupindex: Mapping[str, int], tag: str, keep_text: bool) -> Decoder:
        return _table_decoder(kind, before, groupindex, tag, keep_text, fold=findall)

    return lookbehind, after, factory


class _RegexPass:
    """Alternatives sharing a literal start, factored out so the engine can skip to it.

    An alternative whose decoder is ``_no_decoder`` (a known line of a kind not asked for) is
    not matched but *refused*: a negative lookahead in front of the alternatives after it. So
    such a line costs no match object and no call (most ``-- `` lines of a counting scan: the
    task's scored and done lines), and the rows after it are still not tried on it.
    """

    def __init__(
        self, literal: str, alternatives: list[tuple[str, DecoderFactory]], keep_text: bool
    ) -> None:
        parts = [
            (f"(?P<alt__{i}>{_tag_groups(rest, i)})", factory is _no_decoder)
            for i, (rest, factory) in enumerate(alternatives)
        ]
        self.regex = re.compile((re.escape(literal) + "(?:" + _alternation(parts) + ")").encode())
        index = self.regex.groupindex
        size = max(index.values(), default=0) + 1
        self._decoders: list[Decoder | None] = [None] * size
        for i, (_, factory) in enumerate(alternatives):
            if f"alt__{i}" in index:
                self._decoders[index[f"alt__{i}"]] = factory(index, f"__{i}", keep_text)

    def events(self, buf: bytes, start: int, end: int, source: str, base: int) -> list[Event]:
        decoders = self._decoders
        found = []
        for match in self.regex.finditer(buf, start, end):
            event = decoders[match.lastindex](match, source, base)  # type: ignore[index,misc]
            if event is not None:
                found.append(event)
        return found


_Member = tuple["re.Pattern[bytes]", Decoder]


class _FindPass:
    """Rare messages that share an anchor: ``bytes.find`` of it, then each message's regex at
    that place (``at_start``: the message starts with the anchor) or on that line.

    Messages whose anchors start alike share one pass (``thread creation failed`` also finds
    ``thread creation failed after``): each pass is one more read of the whole buffer.
    """

    def __init__(self, anchor: str) -> None:
        self.anchor = anchor.encode()
        # (source, factory, at start, keep text): compiled when the anchor is first found (most
        # logs never hold most rare messages: a short report need not compile them)
        self._members: list[tuple[str, DecoderFactory, bool, bool]] = []
        self._compiled: tuple[list[_Member], list[_Member]] | None = None

    def add(self, source: str, factory: DecoderFactory, *, at_start: bool,
            keep_text: bool = False) -> _FindPass:
        """Look for one more message here; ``at_start`` means its text starts with the anchor."""
        self._members.append((source, factory, at_start, keep_text))
        self._compiled = None
        return self

    def _compile(self) -> tuple[list[_Member], list[_Member]]:
        starts: list[_Member] = []
        lines: list[_Member] = []
        for source, factory, at_start, keep_text in self._members:
            regex = re.compile(f"(?P<alt__0>{_tag_groups(source, 0)})".encode())
            member = (regex, factory(regex.groupindex, "__0", keep_text))
            (starts if at_start else lines).append(member)
        return starts, lines

    def matches(self, buf: bytes, start: int, end: int) -> list[tuple[re.Match[bytes], Decoder]]:
        """Every match in ``buf[start:end]`` with its decoder, in buffer order."""
        found: list[tuple[re.Match[bytes], Decoder]] = []
        find, anchor = buf.find, self.anchor
        at = find(anchor, start, end)
        if at < 0:
            return found
        if self._compiled is None:
            self._compiled = self._compile()
        starts, lines = self._compiled
        line_done = start  # lines before this were searched whole already
        while at >= 0:
            for regex, decode in starts:
                match = regex.match(buf, at, end)
                if match is not None:
                    found.append((match, decode))
            if lines and at >= line_done:
                line_start = max(buf.rfind(b"\n", start, at) + 1, start)
                line_end = find(b"\n", at, end)
                line_done = end if line_end < 0 else line_end
                for regex, decode in lines:
                    found += [(m, decode) for m in regex.finditer(buf, line_start, line_done)]
            at = find(anchor, line_done if not starts else at + 1, end)
        if len(starts) + len(lines) > 1 and len(found) > 1:
            found.sort(key=lambda pair: pair[0].start())
        return found

    def positions(self, buf: bytes, start: int, end: int) -> list[int]:
        """Where the matches start."""
        return [match.start() for match, _ in self.matches(buf, start, end)]

    def events(self, buf: bytes, start: int, end: int, source: str, base: int) -> list[Event]:
        return [
            event
            for match, decode in self.matches(buf, start, end)
            if (event := decode(match, source, base)) is not None
        ]


class _LineStartPass:
    """A message that fills a line and starts with no literal (``(?m:^)``, a ``date`` line):
    the regex engine skips from newline to newline (``\\n`` is a literal start it can jump to)
    instead of trying every position, ten times faster (30 ms rather than 215 ms per 40 MB),
    then the message is matched from its line's start (so its offset and text are the line's).
    """

    def __init__(self, source: str, factory: DecoderFactory, keep_text: bool) -> None:
        self._line = re.compile(f"(?P<alt__0>{_tag_groups(source, 0)})".encode())
        self._after_newline = re.compile(b"\n" + source.encode())
        self._decode = factory(self._line.groupindex, "__0", keep_text)

    def events(self, buf: bytes, start: int, end: int, source: str, base: int) -> list[Event]:
        starts = [at.start() + 1 for at in self._after_newline.finditer(buf, start, end)]
        if start == 0 or buf[start - 1] == 0x0A:  # the first line has no newline before it
            starts.insert(0, start)
        found = []
        for at in starts:
            match = self._line.match(buf, at, end)
            if match is not None and (event := self._decode(match, source, base)) is not None:
                found.append(event)
        return found


class Grammar:
    """The compiled message table.

    Args:
        program_files: file names whose ``name:lineno:`` prefix starts a message (glue splits).
        kinds: only messages of these kinds are searched for (None: all); traceback headers and
            guard lines are always searched.
        keep_text: events carry their line's text (alerts show it); off for fast counting.
        fold_samples: fold runs of sample lines into one event (a counting scan; see the
            module docstring).
    """

    def __init__(
        self,
        program_files: tuple[str, ...] = DEFAULT_PROGRAM_FILES,
        kinds: Collection[Kind] | None = None,
        *,
        keep_text: bool = True,
        fold_samples: bool = False,
    ) -> None:
        compiled = [
            (
                pattern,
                compile_message(pattern.regex, program_files),
                kinds is None or pattern.kind in kinds,
            )
            for pattern in PATTERNS
        ]
        # a message with a long literal start joins the regex pass of its first characters
        # when there is one (it visits those places anyway) rather than read the buffer again
        keys = {
            literal[:_SHORT_LITERAL]
            for literal in (literal_start(source)[0] for _, source, wanted in compiled if wanted)
            if 0 < len(literal) < _LONG_LITERAL
        }
        grouped: dict[str, dict[tuple[str, Kind, str | None], tuple[str, ...]]] = {}
        dropped: set[tuple[str, Kind, str | None]] = set()
        finds: list[tuple[str, str, DecoderFactory, bool]] = []
        slow: list[_RegexPass | _LineStartPass] = []
        for pattern, source, wanted in compiled:
            literal, _ = literal_start(source)
            key = literal[:_SHORT_LITERAL]
            factory = _make_table_factory(pattern.kind, pattern.before)
            if literal and key in keys:
                rest = source[len(_literal_source(source, len(key))) :]
                # rows alike but for the words before them are one alternative (else the
                # first would take every match and drop those with the other rows' words)
                field, words = pattern.before or (None, ())
                alike = grouped.setdefault(key, {})
                row = (rest, pattern.kind, field)
                alike[row] = alike.get(row, ()) + words
                if not wanted:
                    # a known line of a kind not asked for is matched and dropped, rather
                    # than tried against every other row of its pass (most `-- ` lines)
                    dropped.add(row)
            elif not wanted:
                continue
            elif literal:
                finds.append((literal, source, factory, True))
            elif pattern.anchor:
                finds.append((pattern.anchor, source, factory, False))
            elif source.startswith(_LINE_START):  # found after each newline (a `date` line)
                slow.append(_LineStartPass(source.removeprefix(_LINE_START), factory, keep_text))
            else:  # no literal to skip to: slow, so only for kinds a caller asks for
                slow.append(_RegexPass("", [(source, factory)], keep_text))
        finds.append(("threadwatch-guard event=", GUARD_REGEX, _guard_decoder, True))

        def alternative(rest: str, kind: Kind, field: str | None, words: tuple[str, ...],
                        fold: bool) -> tuple[str, DecoderFactory]:
            if (rest, kind, field) in dropped:
                return rest, _no_decoder
            if fold and kind is Kind.SAMPLE_DONE and field == "sample_type":
                before, after, folding = _folding_factory(kind, (field, words), program_files)
                return before + rest + after, folding
            return rest, _make_table_factory(kind, (field, words) if field else None)

        def regex_passes(fold: bool) -> list[_RegexPass]:
            return [
                _RegexPass(
                    key,
                    [alternative(*row, words, fold) for row, words in alike.items()],
                    keep_text,
                )
                for key, alike in grouped.items()
            ]

        found_by_find: list[_RegexPass | _FindPass] = [*_find_passes(finds, keep_text)]
        self._passes: list[_RegexPass | _FindPass | _LineStartPass] = [
            *found_by_find, *regex_passes(fold=fold_samples), *slow
        ]
        # the unfolded passes, for a buffer with a traceback: made when one is first met (each
        # regex pass compiled and its decoders generated costs a few ms of every start-up)
        self._unfolded: Callable[[], list[_RegexPass | _FindPass | _LineStartPass]] = (
            functools.cache(lambda: [*found_by_find, *regex_passes(fold=False), *slow])
            if fold_samples
            else lambda: self._passes
        )
        self._headers = _find_passes(
            [(literal_start(header)[0], header, _no_decoder, True) for header in HEADER_REGEXES],
            keep_text=False,
        )
        self.program_prefix = re.compile(program_prefix(program_files).encode())

    def events(self, buf: bytes, start: int, end: int, source: str, base: int, *,
               fold: bool = True) -> list[Event]:
        """Every message in ``buf[start:end]`` as events (offset = base + position), in order;
        ``fold=False``: never fold sample lines (a buffer with traceback blocks)."""
        found: list[Event] = []
        runs = 0
        for scan_pass in self._passes if fold else self._unfolded():
            more = scan_pass.events(buf, start, end, source, base)
            if more:
                found += more
                runs += 1
        if runs > 1:
            found.sort(key=_by_offset)
        return found

    def headers(self, buf: bytes, start: int, end: int) -> list[int]:
        """Positions of traceback block headers in ``buf[start:end]``, in order."""
        found = [at for header in self._headers for at in header.positions(buf, start, end)]
        found.sort()
        return found


def _literal_source(source: str, length: int) -> str:
    """The regex source of the first ``length`` literal characters of ``source``."""
    pos = 0
    for _ in range(length):
        match = _LITERAL_CHAR.match(source, pos)
        assert match is not None
        pos = match.end()
    return source[:pos]


def _find_passes(
    finds: list[tuple[str, str, DecoderFactory, bool]], keep_text: bool
) -> list[_FindPass]:
    """One pass per group of messages whose anchors share a long enough start (anchor, regex
    source, decoder factory, whether the message starts with its anchor)."""
    passes: list[_FindPass] = []
    anchors: list[str] = []
    members: list[list[tuple[str, DecoderFactory, bool]]] = []
    for anchor, source, factory, at_start in finds:
        for i, other in enumerate(anchors):
            shared = common_start([anchor, other])
            if len(shared) >= _LONG_LITERAL:
                anchors[i] = shared
                members[i].append((source, factory, at_start))
                break
        else:
            anchors.append(anchor)
            members.append([(source, factory, at_start)])
    for anchor, group in zip(anchors, members, strict=True):
        find_pass = _FindPass(anchor)
        for source, factory, at_start in group:
            find_pass.add(source, factory, at_start=at_start, keep_text=keep_text)
        passes.append(find_pass)
    return passes


def _no_decoder(groupindex: Mapping[str, int], tag: str, keep_text: bool) -> Decoder:
    return lambda match, source, base: None


def _alternation(parts: list[tuple[str, bool]]) -> str:
    """Regex alternatives in order; a run of refused ones (``True``) becomes a negative
    lookahead guarding the alternatives after it, which keeps the table's order: a row before
    a refused one still wins over it, and a refused one over the rows after it."""
    for i, (_, refused) in enumerate(parts):
        if refused:
            end = next((j for j in range(i, len(parts)) if not parts[j][1]), len(parts))
            kept = [source for source, _ in parts[:i]]
            rest = _alternation(parts[end:])
            if rest:  # nothing after the refused rows: they need no lookahead
                refusal = "|".join(_NAMED_GROUP.sub("(?:", source) for source, _ in parts[i:end])
                kept.append(f"(?!{refusal})(?:{rest})")
            return "|".join(kept) if kept else "(?!)"
    return "|".join(source for source, _ in parts)

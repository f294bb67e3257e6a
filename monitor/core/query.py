"""The query language of topic rules and archive search: text -> immutable tree, and back.

Pure: no I/O, standard library only. A query is parsed once; ``matcher`` (Python) and
``monitor.store.fts`` (SQLite FTS5) are two back ends of the same tree.

Syntax: whitespace is AND (``AND`` may be written too); ``OR`` (capitals) is either; ``-term``
or ``NOT term`` excludes; parentheses group; OR binds loosest, NOT tightest. ``"..."`` is a
phrase; ``title:`` / ``summary:`` before a term, phrase or group restricts it to that field;
a trailing ``*`` (on a term or right after a phrase) makes the last word a prefix. Any
other ``word:word`` is plain words, since colons occur in headlines. Full-width operators
(``（ ） ＂ － ＊ ：``, ``ＯＲ``) work like their ASCII forms, for Japanese input methods.

A term is compiled to a *pattern*: index tokens (see ``text``) that must occur at
consecutive positions of one field. A term with several script runs (``AI-driven``,
``AI戦略本部``, ``foo:bar``) is therefore a phrase of its runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from monitor.core.text import cjk_tokens, runs
from monitor.errors import QuerySyntaxError

FIELDS = ("title", "summary", "text")
_KEYWORDS = ("OR", "AND", "NOT")
_SPECIAL = '()"'
_MAX_DEPTH = 64
# SQLite refuses an expression tree deeper than 1000 and PostgreSQL slows down sharply past a few
# hundred terms (500 AND-ed words: 11 s); the largest shipped topic has 170.
MAX_TERMS = 400
# A phrase counts as one term whatever its length, and each of its tokens costs the databases a
# position check: a 5,000-word phrase took 91 s on 100,000 entries. The shipped topics' longest
# term has 25 tokens (words and Japanese character pairs), all their terms 482.
MAX_TERM_TOKENS = 100
MAX_TOKENS = 2000
_TERMS = frozenset(("word", "word*", "phrase", "phrase*"))
# Full-width ASCII (U+FF01..U+FF5E) -> ASCII, one character for one, so positions survive.
_HALF = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
# What a word processor or a Japanese keyboard puts for the ASCII operators, read as them: curly
# and corner quotes around a phrase, the minus sign (U+2212) for NOT. One character for one, so
# positions in error messages stay right.
_HALF |= {ord(c): ord('"') for c in "\u201c\u201d\u300c\u300d"} | {0x2212: ord("-")}


def pattern(text: str) -> tuple[tuple[str, ...], bool]:
    """The token pattern of a term's text and whether its last token is a prefix by nature.

    The last CJK run of a term may sit anywhere in a document run, so it is searched as its
    bigrams (one character: as a prefix, since every document token starts with its
    character). A CJK run followed by another run must end where the document run ends,
    so it keeps its full index tokens (bigrams + final unigram), which fixes the adjacency.
    """
    parts = runs(text)
    tokens: list[str] = []
    for index, (cjk, run) in enumerate(parts):
        if not cjk:
            tokens.append(run)
        elif index < len(parts) - 1:
            tokens.extend(cjk_tokens(run))
        elif len(run) == 1:
            tokens.append(run)
            return tuple(tokens), True
        else:
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tuple(tokens), False


@dataclass(frozen=True, slots=True)
class Term:
    """A leaf: ``tokens`` at consecutive positions of one field (``field`` or any)."""

    text: str  # as written, without quotes, field or star: the label of explanations
    tokens: tuple[str, ...]
    prefix: bool  # the last token matches any document token that starts with it
    field: str | None = None

    @property
    def star(self) -> bool:
        """Whether the prefix was asked for with ``*`` rather than implied by one CJK char."""
        return self.prefix and not pattern(self.text)[1]

    @property
    def label(self) -> str:
        """The term as a person wrote it, for "matched: ..." explanations."""
        return self.text + ("*" if self.star else "")


@dataclass(frozen=True, slots=True)
class And:
    """Every child matches (two or more children; nested groups are kept as written)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not match; its terms never count as hits."""

    child: Node


Node = Term | And | Or | Not


def term(text: str, *, star: bool = False, field: str | None = None) -> Term:
    """Build a Term from its written text; ValueError when the text has nothing to search."""
    if field is not None and field not in FIELDS:
        raise ValueError(f"unknown field {field!r}: use one of {', '.join(FIELDS)}")
    tokens, implied = pattern(text)
    if not tokens:
        raise ValueError(f"{text!r} has no letters or digits to search for")
    return Term(text, tokens, star or implied, field)


def terms(node: Node) -> list[tuple[Term, bool]]:
    """Every leaf of ``node`` in order, with whether it sits in a positive position."""
    out: list[tuple[Term, bool]] = []

    def walk(n: Node, positive: bool) -> None:
        if isinstance(n, Term):
            out.append((n, positive))
        elif isinstance(n, Not):
            walk(n.child, not positive)
        else:
            for child in n.children:
                walk(child, positive)

    walk(node, True)
    return out


def parse(query: str) -> Node:
    """Parse ``query`` into a tree; QuerySyntaxError says what is wrong and where."""
    return _Parser(query).parse()


_Token = tuple[str, str, int, int]  # kind, value, start, end


def _lex(query: str) -> list[_Token]:
    s = query.translate(_HALF)
    out: list[_Token] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append((c, c, i, i + 1))
            i += 1
        elif c == '"':
            close = s.find('"', i + 1)
            if close < 0:
                raise QuerySyntaxError('unterminated quote: add the closing "', query, i)
            star = s.startswith("*", close + 1)
            out.append(("phrase*" if star else "phrase", query[i + 1 : close], i, close + 1 + star))
            i = close + 1 + star
        elif c == "-" and i + 1 < n and not s[i + 1].isspace() and s[i + 1] != ")":
            out.append(("NOT", "-", i, i + 1))
            i += 1
        else:
            j = i
            while j < n and not s[j].isspace() and s[j] not in _SPECIAL:
                j += 1
            word = s[i:j]
            field = next((f for f in FIELDS if word.lower().startswith(f + ":")), None)  # Title: too
            if field is not None:  # what follows the colon is lexed on its own
                out.append(("field", field, i, i + len(field) + 1))
                i += len(field) + 1
                continue
            _refuse_misspelt_field(word, query, i)
            _refuse_inner_star(word, query, i)
            if word in _KEYWORDS:
                out.append((word, word, i, j))
            elif word.endswith("*"):
                out.append(("word*", query[i : j - 1], i, j))
            else:
                out.append(("word", query[i:j], i, j))
            i = j
    return out


def _refuse_misspelt_field(word: str, query: str, at: int) -> None:
    """``titel:Stargate`` would be a word that no document holds, so the topic would match
    nothing and say nothing: a prefix one typo away from a field name is an error that names
    the fields (not Summer:2026 or Tiles:Art, two letters away: words of a headline)."""
    prefix, colon, rest = word.partition(":")
    if colon and rest and prefix.isascii() and prefix.isalpha() and any(_one_typo(prefix.lower(), f) for f in FIELDS):
        fields = ", ".join(f"{f}:" for f in FIELDS)
        raise QuerySyntaxError(f'unknown field {prefix}: (the fields are {fields}; to search for the words, '
                               f'quote them: "{word}")', query, at)


def _one_typo(word: str, field: str) -> bool:
    """One letter wrong, missing, extra, or two letters swapped (titel, tittle, sumary)."""
    if word == field or abs(len(word) - len(field)) > 1:
        return False
    if len(word) == len(field):
        wrong = [i for i in range(len(word)) if word[i] != field[i]]
        return len(wrong) == 1 or (len(wrong) == 2 and wrong[1] == wrong[0] + 1
                                   and word[wrong[0]] == field[wrong[1]] and word[wrong[1]] == field[wrong[0]])
    short, long_ = sorted((word, field), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _refuse_inner_star(word: str, query: str, at: int) -> None:
    """``*`` makes a prefix only at a word's end: ``st*gate`` or ``*gate`` would quietly search
    for other words (st gate, gate), so it is an error that says so."""
    inner = word.find("*")
    if 0 <= inner < len(word) - 1:
        raise QuerySyntaxError("'*' only ends a word (invest* for invest, investors...); "
                               "it cannot stand inside or before one", query, at + inner)


def _meant(word: str) -> str | None:
    """How to write the operator a punctuation word stands for (-: NOT, | || |||: OR), or None.
    Full-width forms too (－, ｜): what an IME in full-width mode types."""
    if word in ("-", "－"):
        return "to leave a word out write -word, with no space"
    return "write OR" if word and set(word) <= {"|", "｜"} else None


def _without_punctuation(tokens: list[_Token]) -> list[_Token]:
    """The tokens less bare words with no letter or digit (the " – " of a pasted headline,
    "Utah – The Washington Post", or ・, |): they can match nothing, so they are left out rather
    than refused. Not a lone "-" or "|", which may mean "leave out" (stargate - SG1) or OR:
    those stay errors saying how to write them; nor after a minus or a field, whose operand
    they are."""
    kept: list[_Token] = []
    for token in tokens:
        if (token[0] == "word" and _meant(token[1]) is None and not pattern(token[1])[0]
                and not (kept and kept[-1][0] in ("NOT", "field") and kept[-1][3] == token[2])):
            continue
        kept.append(token)
    return kept if any(t[0] != "word" or pattern(t[1])[0] for t in kept) else tokens


class _Parser:
    """Recursive descent: or_expr := and_expr (OR and_expr)*; and_expr := unary+;
    unary := (- | NOT)* primary; primary := [field:] (word | "phrase" | ( or_expr ))."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _without_punctuation(_lex(query))
        self.i = 0
        self.depth = self.token_count = 0
        terms = [t for t in self.tokens if t[0] in _TERMS]
        if len(terms) > MAX_TERMS:
            raise self.error(f"too many terms (more than {MAX_TERMS}): split it into several topics or searches",
                             terms[MAX_TERMS][2])

    def error(self, message: str, position: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, position)

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise self.error("empty query: write at least one term", 0)
        node = self.or_expr()
        extra = self.peek()
        if extra is not None:  # only a ")" stops or_expr early
            raise self.error("unbalanced parenthesis: ')' without a matching '('", extra[2])
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (token := self.peek()) is not None and token[0] == "OR":
            self.take()
            after = self.peek()
            if after is None or after[0] in ("OR", ")"):
                raise self.error("OR needs a term after it", token[2])
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children: list[Node] = []
        while (token := self.peek()) is not None and token[0] not in ("OR", ")"):
            if token[0] == "AND":
                self.take()
                after = self.peek()
                if not children or after is None or after[0] in ("OR", ")", "AND"):
                    raise self.error("AND needs a term on each side", token[2])
                continue
            children.append(self.unary())
        if not children:
            token = self.peek()
            if token is None:
                raise self.error("expected a term at the end", len(self.query))
            if token[0] == "OR":
                raise self.error("OR needs a term before it", token[2])
            if self.i > 0 and self.tokens[self.i - 1][0] == "(":
                raise self.error("empty parentheses: put a term inside", self.tokens[self.i - 1][2])
            raise self.error("unbalanced parenthesis: ')' without a matching '('", token[2])
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        nots: list[_Token] = []
        while (token := self.peek()) is not None and token[0] == "NOT":
            nots.append(self.take())
            self.enter(token[2])
        after = self.peek()
        if nots and (after is None or after[0] in ("OR", "AND", ")")):
            raise self.error(f"{nots[-1][1]} needs a term right after it", nots[-1][2])
        node = self.primary()
        for token in nots:
            node = Not(node)
            self.depth -= 1
        return node

    def primary(self) -> Node:
        token = self.take()
        kind, value, start, end = token
        if kind == "(":
            return self.group(token)
        if kind == "field":
            after = self.peek()
            if (
                after is None
                or after[2] != end
                or after[0] not in ("word", "word*", "phrase", "phrase*", "(")
            ):
                if after is not None and after[2] == end and after[0] == "NOT":
                    raise self.error(f"put the minus before the field: -{value}:...", end)
                raise self.error(f"{value}: needs a term, a phrase or a group right after it", end)
            if after[0] == "(":
                return self.with_field(self.group(self.take()), value, start)
            return self.leaf(self.take(), value)
        if kind in ("word", "word*", "phrase", "phrase*"):
            return self.leaf(token, None)
        raise self.error(f"unexpected {value}", start)  # pragma: no cover (callers peek first)

    def group(self, open_token: _Token) -> Node:
        self.enter(open_token[2])
        node = self.or_expr()
        close = self.peek()
        if close is None or close[0] != ")":
            raise self.error("unbalanced parenthesis: '(' is never closed", open_token[2])
        self.take()
        self.depth -= 1
        return node

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"too deeply nested (more than {_MAX_DEPTH} levels)", position)

    def leaf(self, token: _Token, field: str | None) -> Term:
        kind, text, start, _ = token
        if kind.startswith("phrase") and not text.strip():
            raise self.error("empty phrase: put words between the quotes", start)
        if kind == "word*" and not text:
            raise self.error("'*' needs a word right before it", start)
        if kind == "word" and (meant := _meant(text)):  # an operator written otherwise: say how, do not guess
            raise self.error(f"{text!r} has no letters or digits: {meant}", start)
        try:
            leaf = term(text, star=kind.endswith("*"), field=field)
        except ValueError as exc:
            raise self.error(str(exc), start) from None
        if len(leaf.tokens) > MAX_TERM_TOKENS:
            raise self.error(f"a phrase of more than {MAX_TERM_TOKENS} words (or Japanese character pairs): "
                             "search for fewer of its words", start)
        self.token_count += len(leaf.tokens)
        if self.token_count > MAX_TOKENS:
            raise self.error(f"too many words in all (more than {MAX_TOKENS}): split it into several topics "
                             "or searches", start)
        return leaf

    def with_field(self, node: Node, field: str, position: int) -> Node:
        if isinstance(node, Term):
            if node.field not in (None, field):
                raise self.error(f"{node.field}: inside {field}:(...) can never match", position)
            return replace(node, field=field)
        if isinstance(node, Not):
            return Not(self.with_field(node.child, field, position))
        children = tuple(self.with_field(child, field, position) for child in node.children)
        return And(children) if isinstance(node, And) else Or(children)


def format_query(node: Node) -> str:
    """Print ``node`` as a query that parses back to an equal tree."""
    if isinstance(node, Term):
        text = node.text if _bare(node.text) else f'"{node.text}"'
        if '"' in node.text.translate(_HALF):
            raise ValueError(f"a term cannot contain a double quote: {node.text!r}")
        return (f"{node.field}:" if node.field else "") + text + ("*" if node.star else "")
    if isinstance(node, Not):
        inner = format_query(node.child)
        return "-" + (inner if isinstance(node.child, (Term, Not)) else f"({inner})")
    if isinstance(node, Or):
        return " OR ".join(
            f"({format_query(c)})" if isinstance(c, Or) else format_query(c) for c in node.children
        )
    return " ".join(
        f"({format_query(c)})" if isinstance(c, (And, Or)) else format_query(c) for c in node.children
    )


def _bare(text: str) -> bool:
    """Whether ``text`` lexes back as exactly one plain word with this text."""
    s = text.translate(_HALF)
    return bool(
        s
        and s not in _KEYWORDS
        and not s.startswith("-")
        and "*" not in s  # a prefix at the end, an error inside
        and not any(c.isspace() or c in _SPECIAL for c in s)
        and ":" not in s  # a field, or a word a misspelt field name would start (titel:)
    )

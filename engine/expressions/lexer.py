"""Jinja2's lexer, taught Pebble's extra tokens and where each token starts.

Kestra writes ``a ?? b``, ``a ??? b``, ``c ? a : b``, ``1..5`` and long
literals such as ``10l``. Jinja's lexer knows none of them, so this subclass
swaps the operator rule of the expression states for one that also matches
``???``, ``??``, ``?`` and ``..`` (longest first, so ``1..5`` is never read as
a float), accepts an ``l``/``L`` suffix on integers, and gives every token
the column it starts at: syntax errors then point at the character the
author typed, not only at the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from jinja2 import lexer as jl
from jinja2.exceptions import TemplateSyntaxError

#: Pebble operators Jinja does not have, by the token type the parser sees.
PEBBLE_OPERATORS = {"???": "undefcoalesce", "??": "coalesce", "?": "question", "..": "range"}

_OPERATORS = [*jl.operators, *PEBBLE_OPERATORS]
OPERATOR_RE = re.compile("(" + "|".join(re.escape(op) for op in sorted(_OPERATORS, key=lambda x: -len(x))) + ")")
#: Jinja's integers, or a decimal integer with Java's long suffix (``10l``).
INTEGER_RE = re.compile(r"(?:[1-9](?:_?\d)*|0)[lL]\b|" + jl.integer_re.pattern, re.IGNORECASE | re.VERBOSE)


_UNESCAPED = "unescaped_string"
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|.)", re.S)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


def unescape(text: str) -> str:
    """A string literal's value: ``\\n``, ``\\t``, ``\\\\``, quotes and ``\\uXXXX`` are decoded;
    any other backslash is kept as written, so regular expressions such as ``'\\d+'`` reach
    the regex engine unchanged (Python's decoder would warn and may one day refuse them).
    """

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _SIMPLE:
            return _SIMPLE[code]
        if len(code) > 1:
            return chr(int(code[1:], 16))
        return "\\" + code

    return _ESCAPE.sub(one, text) if "\\" in text else text


class PositionedToken(jl.Token):
    """A token that also knows its column (1-based) in the template text."""

    col: int


def column_of(source: str, offset: int) -> int:
    """1-based column of ``offset`` in ``source``."""
    return offset - (source.rfind("\n", 0, offset) + 1) + 1


class PebbleLexer(jl.Lexer):
    """Jinja's lexer with Pebble's operators, long literals and token columns."""

    def __init__(self, environment: object, max_tokens: int = 20_000) -> None:
        super().__init__(environment)  # type: ignore[arg-type]
        #: Tokens one template may have: parsing time grows with them.
        self.max_tokens = max_tokens
        for rules in self.rules.values():
            for i, rule in enumerate(rules):
                if rule.pattern is jl.operator_re:
                    rules[i] = jl._Rule(OPERATOR_RE, rule.tokens, rule.command)
                elif rule.pattern is jl.integer_re:
                    rules[i] = jl._Rule(INTEGER_RE, rule.tokens, rule.command)

    def tokenize(
        self,
        source: str,
        name: str | None = None,
        filename: str | None = None,
        state: str | None = None,
    ) -> jl.TokenStream:
        normalized = "\n".join(jl.newline_re.split(source)[::2])
        where = {"col": 1}

        def raw() -> Iterator[tuple[int, str, str]]:
            cursor = 0
            try:
                for lineno, token, value in self.tokeniter(source, name, filename, state):
                    found = normalized.find(value, cursor) if value else -1
                    if found >= 0:
                        where["col"] = column_of(normalized, found)
                        cursor = found + len(value)
                    else:
                        where["col"] = column_of(normalized, cursor)
                    if token == jl.TOKEN_OPERATOR and value in PEBBLE_OPERATORS:
                        token = PEBBLE_OPERATORS[value]
                    elif token == jl.TOKEN_INTEGER and value[-1:] in "lL" and value[:2].lower() not in ("0x", "0b"):
                        value = value[:-1]
                    elif token == jl.TOKEN_STRING:
                        token = _UNESCAPED  # decoded below, not by Jinja's unicode-escape
                        value = unescape(self._normalize_newlines(value[1:-1]))
                    yield lineno, token, value
            except TemplateSyntaxError as exc:
                exc.col = _lexer_error_column(exc, normalized, cursor)  # type: ignore[attr-defined]
                raise

        max_tokens = self.max_tokens

        def positioned() -> Iterator[jl.Token]:
            for count, token in enumerate(self.wrap(raw(), name, filename)):
                if count >= max_tokens:
                    error = TemplateSyntaxError(
                        f"the expression is too large: over {max_tokens:,} words and symbols; split it or move data to a file",
                        token.lineno,
                    )
                    error.col = where["col"]  # type: ignore[attr-defined]
                    raise error
                out = PositionedToken(token.lineno, jl.TOKEN_STRING if token.type == _UNESCAPED else token.type, token.value)
                out.col = where["col"]
                yield out

        return jl.TokenStream(positioned(), name, filename)


def _lexer_error_column(exc: TemplateSyntaxError, source: str, cursor: int) -> int:
    """Where a lexer error happened: Jinja says "at <offset>" for unexpected characters."""
    match = re.search(r" at (\d+)$", exc.message or "")
    if match:
        offset = int(match.group(1))
        exc.args = ((exc.message or "")[: match.start()], *exc.args[1:])
        return column_of(source, min(offset, len(source)))
    return column_of(source, min(cursor, len(source)))

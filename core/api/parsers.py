"""The API's JSON parser: DRF's, with two refusals that used to be 500s. A body nested thousands of levels deep made
the decoder raise RecursionError; no endpoint takes more than a few levels, so more than MAX_JSON_DEPTH is a 400.
A NUL character (``\u0000``) in a string cannot be stored by PostgreSQL (text or jsonb) and was a 500 there; no
field needs one, so it is a 400 on every database."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64


def _problem(data) -> str | None:
    """Why ``data`` is refused (too deep, or a string with NUL), or None."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "a string holds a NUL (\\u0000) character, which cannot be stored"
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"the body is nested deeper than {MAX_JSON_DEPTH} levels"
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value)
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)
    return None


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - the body is nested deeper than {MAX_JSON_DEPTH} levels.") from None
        problem = _problem(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}.")
        return data

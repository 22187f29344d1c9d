"""The mapping expression language (docs/mapping_guide.md), parsed into a tree and evaluated column-wise.

Nothing the user writes reaches Python's ``eval``: a tokenizer and a precedence-climbing parser build a small tree of
``Node`` objects, and ``evaluate`` walks it with pyarrow.compute kernels over whole columns.

Grammar (lowest precedence first)::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?
    sum     := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | STRING | "true" | "false" | "null" | NAME | NAME "(" args ")" | "(" expr ")"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# name -> (min args, max args or None for any number)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "if": (3, 3),
    "coalesce": (1, None),
    "lower": (1, 1),
    "upper": (1, 1),
    "strip": (1, 1),
    "concat": (1, None),
    "round": (1, 2),
    "abs": (1, 1),
    "min": (2, None),
    "max": (2, None),
    "col": (1, 1),
}
KEYWORDS = {"and", "or", "not", "true", "false", "null"}


class ExprError(ValueError):
    """A syntax error; ``pos`` is the 0-based character offset in the expression."""

    def __init__(self, expression: str, pos: int, message: str):
        self.expression = expression
        self.pos = pos
        self.message = message
        super().__init__(f"{message} at position {pos + 1} in {expression!r}")


@dataclass(frozen=True)
class Node:
    kind: str  # num, str, bool, null, col, neg, not, bin, call
    value: object = None
    args: tuple[Node, ...] = ()
    pos: int = 0


@dataclass(frozen=True)
class Expr:
    text: str
    tree: Node

    @property
    def columns(self) -> frozenset[str]:
        """Source columns the expression reads."""
        found: set[str] = set()

        def walk(node: Node) -> None:
            if node.kind == "col":
                found.add(str(node.value))
            for arg in node.args:
                walk(arg)

        walk(self.tree)
        return frozenset(found)


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|[-+*/<>(),])
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, object, int]]:
    tokens: list[tuple[str, object, int]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            char = text[pos]
            if char == ".":
                raise ExprError(text, pos, "attribute access is not allowed")
            if char in "'\"":
                raise ExprError(text, pos, "unterminated string")
            raise ExprError(text, pos, f"unexpected character {char!r}")
        start = m.start(m.lastgroup)
        kind = m.lastgroup
        raw = m.group(kind)
        if kind == "num":
            value: object = float(raw) if any(c in raw for c in ".eE") else int(raw)
        elif kind == "str":
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "name":
            if raw.startswith("__"):
                raise ExprError(text, start, f"name {raw!r} is not allowed")
            if raw in KEYWORDS:
                kind = "kw"
            value = raw
        else:
            value = raw
        tokens.append((kind, value, start))
        pos = m.end()
    tokens.append(("end", None, len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        if len(self.tokens) > MAX_EXPRESSION_TOKENS + 1:  # + the end token
            raise ExprError(text, self.tokens[MAX_EXPRESSION_TOKENS][2], f"more than {MAX_EXPRESSION_TOKENS} terms")
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, object, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, object, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, val, pos = self.take()
        if val != value or kind not in ("op", "kw"):
            raise ExprError(
                self.text, pos, f"expected {value!r}" + (" but the expression ended" if kind == "end" else "")
            )

    def nest(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise ExprError(self.text, pos, f"parentheses or calls nested deeper than {MAX_EXPRESSION_DEPTH}")

    def error(self, message: str) -> ExprError:
        return ExprError(self.text, self.peek()[2], message)

    def parse(self) -> Node:
        if self.peek()[0] == "end":
            raise self.error("empty expression")
        node = self.parse_or()
        kind, val, pos = self.peek()
        if kind != "end":
            raise ExprError(self.text, pos, f"unexpected {val!r}")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.peek()[:2] == ("kw", "or"):
            pos = self.take()[2]
            node = Node("bin", "or", (node, self.parse_and()), pos)
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.peek()[:2] == ("kw", "and"):
            pos = self.take()[2]
            node = Node("bin", "and", (node, self.parse_not()), pos)
        return node

    def parse_not(self) -> Node:
        if self.peek()[:2] == ("kw", "not"):
            pos = self.take()[2]
            return Node("not", None, (self.parse_not(),), pos)
        return self.parse_cmp()

    def parse_cmp(self) -> Node:
        node = self.parse_sum()
        kind, val, pos = self.peek()
        if kind == "op" and val in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            node = Node("bin", val, (node, self.parse_sum()), pos)
        return node

    def parse_sum(self) -> Node:
        node = self.parse_term()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            _, op, pos = self.take()
            node = Node("bin", op, (node, self.parse_term()), pos)
        return node

    def parse_term(self) -> Node:
        node = self.parse_unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/"):
            _, op, pos = self.take()
            node = Node("bin", op, (node, self.parse_unary()), pos)
        return node

    def parse_unary(self) -> Node:
        if self.peek()[:2] == ("op", "-"):
            pos = self.take()[2]
            return Node("neg", None, (self.parse_unary(),), pos)
        if self.peek()[:2] == ("op", "+"):
            self.take()
            return self.parse_unary()
        return self.parse_atom()

    def parse_atom(self) -> Node:
        kind, val, pos = self.take()
        if kind == "num":
            return Node("num", val, (), pos)
        if kind == "str":
            return Node("str", val, (), pos)
        if kind == "kw" and val in ("true", "false"):
            return Node("bool", val == "true", (), pos)
        if kind == "kw" and val == "null":
            return Node("null", None, (), pos)
        if kind == "op" and val == "(":
            self.nest(pos)
            node = self.parse_or()
            self.expect(")")
            self.depth -= 1
            return node
        if kind == "name":
            if self.peek()[:2] == ("op", "("):
                return self.parse_call(str(val), pos)
            return Node("col", val, (), pos)
        if kind == "end":
            raise ExprError(self.text, pos, "the expression ended too early")
        raise ExprError(self.text, pos, f"unexpected {val!r}")

    def parse_call(self, name: str, pos: int) -> Node:
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExprError(self.text, pos, f"unknown function {name!r} (known: {known})")
        self.expect("(")
        self.nest(pos)
        args: list[Node] = []
        if self.peek()[:2] != ("op", ")"):
            args.append(self.parse_or())
            while self.peek()[:2] == ("op", ","):
                self.take()
                args.append(self.parse_or())
        self.expect(")")
        self.depth -= 1
        low, high = FUNCTIONS[name]
        if len(args) < low or (high is not None and len(args) > high):
            want = str(low) if low == high else f"{low}..{high}" if high else f"at least {low}"
            raise ExprError(self.text, pos, f"{name}() takes {want} argument(s), got {len(args)}")
        if name == "col":
            if args[0].kind != "str":
                raise ExprError(self.text, args[0].pos, "col() takes a quoted column name")
            return Node("col", args[0].value, (), pos)
        if name == "round" and len(args) == 2 and args[1].kind != "num":
            raise ExprError(self.text, args[1].pos, "round() takes a constant number of digits")
        return Node("call", name, tuple(args), pos)


# An expression is a line of arithmetic; the bounds keep parsing and evaluation (both recursive) far from the stack's
# limit, whatever a mapping holds.
MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_TOKENS = 300
MAX_EXPRESSION_DEPTH = 32


def parse(text: str) -> Expr:
    """Parse an expression; raises ExprError naming the position."""
    if not isinstance(text, str):
        raise ExprError(str(text), 0, "an expression must be a string")
    if len(text) > MAX_EXPRESSION_CHARS:
        message = f"the expression is {len(text):,} characters; at most {MAX_EXPRESSION_CHARS:,}"
        raise ExprError(text[:80] + "…", 0, message)
    return Expr(text, _Parser(text).parse())


# --- evaluation -------------------------------------------------------------------------------------------------

Value = pa.Array | pa.Scalar


class EvalContext:
    """What an expression needs from a chunk: its columns and a way to read text as numbers.

    ``to_number(array, column)`` returns float64 with null for text that is not a number; the context records the
    failing rows so the caller can quarantine them with the value that failed.
    """

    def __init__(self, length: int, column: Callable[[str], pa.Array], to_number: Callable[[pa.Array, str], pa.Array]):
        self.length = length
        self.column = column
        self.to_number = to_number


def _is_num(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _is_str(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _num(v: Value, ctx: EvalContext, node: Node) -> Value:
    t = v.type
    if _is_num(t):
        return v.cast(pa.float64()) if pa.types.is_decimal(t) else v
    if pa.types.is_null(t):
        return v.cast(pa.float64())
    if pa.types.is_boolean(t):
        return v.cast(pa.int64())
    if _is_str(t):
        if isinstance(v, pa.Scalar):
            try:
                return pa.scalar(float(v.as_py()) if v.is_valid else None, pa.float64())
            except ValueError:
                return pa.scalar(None, pa.float64())
        name = node.value if node.kind == "col" else "expression"
        return ctx.to_number(v, str(name))
    return v.cast(pa.float64())


def _text(v: Value) -> Value:
    if _is_str(v.type):
        return v
    if pa.types.is_floating(v.type):
        # 3.0 -> "3" so that concat(campaign, "-", 3) reads naturally
        whole = pc.equal(pc.round(v), v)
        as_int = pc.cast(pc.if_else(whole, v, None), pa.int64(), safe=False).cast(pa.string())
        return pc.coalesce(as_int, v.cast(pa.string()))
    return v.cast(pa.string())


def _bool(v: Value, ctx: EvalContext, node: Node) -> Value:
    if pa.types.is_boolean(v.type):
        return v
    if _is_str(v.type):
        return pc.greater(pc.utf8_length(v), 0)
    return pc.not_equal(_num(v, ctx, node), 0)


def _unify(a: Value, b: Value, ctx: EvalContext, na: Node, nb: Node) -> tuple[Value, Value]:
    ta, tb = a.type, b.type
    if ta == tb:
        return a, b
    if pa.types.is_null(ta):
        return a.cast(tb), b
    if pa.types.is_null(tb):
        return a, b.cast(ta)
    if _is_num(ta) or _is_num(tb) or pa.types.is_boolean(ta) or pa.types.is_boolean(tb):
        a, b = _num(a, ctx, na), _num(b, ctx, nb)
        if a.type != b.type:
            a, b = a.cast(pa.float64()), b.cast(pa.float64())
        return a, b
    return _text(a), _text(b)


_CMP = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}


def evaluate(expr: Expr, ctx: EvalContext) -> pa.Array:
    """Evaluate over a chunk; always returns an array of ``ctx.length``."""
    out = _eval(expr.tree, ctx)
    if isinstance(out, pa.Scalar):
        out = pa.array([out.as_py()] * ctx.length, type=out.type if not pa.types.is_null(out.type) else pa.null())
    return out


def _eval(node: Node, ctx: EvalContext) -> Value:
    k = node.kind
    if k == "num":
        return pa.scalar(node.value, pa.int64() if isinstance(node.value, int) else pa.float64())
    if k == "str":
        return pa.scalar(node.value, pa.string())
    if k == "bool":
        return pa.scalar(node.value, pa.bool_())
    if k == "null":
        return pa.scalar(None, pa.null())
    if k == "col":
        return ctx.column(str(node.value))
    if k == "neg":
        return pc.negate(_num(_eval(node.args[0], ctx), ctx, node.args[0]))
    if k == "not":
        return pc.invert(_bool(_eval(node.args[0], ctx), ctx, node.args[0]))
    if k == "bin":
        op = node.value
        na, nb = node.args
        a, b = _eval(na, ctx), _eval(nb, ctx)
        if op in ("and", "or"):
            fn = pc.and_kleene if op == "and" else pc.or_kleene
            return fn(_bool(a, ctx, na), _bool(b, ctx, nb))
        if op in _CMP:
            a, b = _unify(a, b, ctx, na, nb)
            return _CMP[op](a, b)
        a, b = _num(a, ctx, na), _num(b, ctx, nb)
        if op == "+":
            return pc.add(a, b)
        if op == "-":
            return pc.subtract(a, b)
        if op == "*":
            return pc.multiply(a, b)
        a, b = a.cast(pa.float64()), b.cast(pa.float64())
        # x / 0 is null (the row then fails the field's check) rather than inf
        return pc.divide(a, pc.if_else(pc.equal(b, 0.0), pa.scalar(None, pa.float64()), b))
    # calls
    name = node.value
    args = [_eval(a, ctx) for a in node.args]
    if name == "if":
        cond = _bool(args[0], ctx, node.args[0])
        a, b = _unify(args[1], args[2], ctx, node.args[1], node.args[2])
        if isinstance(cond, pa.Scalar) and isinstance(a, pa.Scalar) and isinstance(b, pa.Scalar):
            return a if cond.as_py() else b
        cond = _broadcast(cond, ctx)
        return pc.if_else(cond, a, b)
    if name == "coalesce":
        vals = args[0:1]
        for arg, n in zip(args[1:], node.args[1:], strict=True):
            x, y = _unify(vals[0], arg, ctx, node.args[0], n)
            vals = [x, *(v.cast(x.type) if v.type != x.type else v for v in vals[1:]), y]
        return pc.coalesce(*vals)
    if name in ("lower", "upper", "strip"):
        fn = {"lower": pc.utf8_lower, "upper": pc.utf8_upper, "strip": pc.utf8_trim_whitespace}[name]
        return fn(_text(args[0]))
    if name == "concat":
        return pc.binary_join_element_wise(*[_text(a) for a in args], "")
    if name == "round":
        digits = int(node.args[1].value) if len(node.args) == 2 else 0
        return pc.round(_num(args[0], ctx, node.args[0]), ndigits=digits, round_mode="half_towards_infinity")
    if name == "abs":
        return pc.abs(_num(args[0], ctx, node.args[0]))
    if name in ("min", "max"):
        nums = [_num(a, ctx, n) for a, n in zip(args, node.args, strict=True)]
        if len({v.type for v in nums}) > 1:
            nums = [v.cast(pa.float64()) for v in nums]
        fn = pc.min_element_wise if name == "min" else pc.max_element_wise
        return fn(*nums)
    raise ExprError("", node.pos, f"unknown function {name!r}")  # pragma: no cover - the parser refuses these


def _broadcast(v: Value, ctx: EvalContext) -> pa.Array:
    if isinstance(v, pa.Scalar):
        return pa.array([v.as_py()] * ctx.length, type=v.type)
    return v

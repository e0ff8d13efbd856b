"""The script sandbox: scripts, conditions and timer expressions from diagrams run here.

Code is compiled with RestrictedPython (``compile_restricted_exec`` / ``_eval``) under a policy
that also

* calls ``_tick_()`` at the top of every ``while`` / ``for`` body, function and lambda, and
  wraps every iteration, so a time limit stops infinite loops and runaway recursion;
* routes ``**``, ``*`` and ``<<`` through guards that refuse results too large to compute in
  the limit (``10 ** 10 ** 10``, ``"x" * 10 ** 10``).

Names starting with ``_`` and attribute walks such as ``().__class__.__base__.__subclasses__()``
are refused at compile time; ``import``, ``open``, ``eval``, ``getattr``, ``type`` and friends
do not exist at run time. Only a short whitelist of safe values is offered: ``math``, ``date``,
``datetime``, ``timedelta``, ``timezone``, ``Decimal``, plus helpers the engine registers (such
as ``business_days`` later).

The time limit is wall time measured with ``time.monotonic`` (a CPU budget, not business
time, so it does not read the injected clock).
"""

from __future__ import annotations

import ast
import math
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector

from engine.errors import ScriptError

DEFAULT_TIME_LIMIT_MS = 1000
DEFAULT_MAX_SEQUENCE = 100_000
_MAX_POW_BITS = 100_000


class ScriptTimeout(BaseException):  # noqa: N818 - a BaseException so `except Exception` cannot swallow it
    """Raised inside a script when its time limit has passed."""


class SandboxLimits:
    """Per-engine limits: wall time per evaluation and the largest sequence one operation builds."""

    __slots__ = ("max_sequence", "time_limit")

    def __init__(self, time_limit_ms: int = DEFAULT_TIME_LIMIT_MS, max_sequence: int = DEFAULT_MAX_SEQUENCE):
        if int(time_limit_ms) <= 0:
            raise ValueError("sandbox time limit must be a positive number of milliseconds")
        self.time_limit = int(time_limit_ms) / 1000.0
        self.max_sequence = int(max_sequence)


class _Budget:
    """The time budget of one evaluation; once spent it stays spent."""

    __slots__ = ("count", "deadline", "limit", "spent")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = time.monotonic() + limit
        self.count = 0
        self.spent = False

    def tick(self) -> None:
        self.count += 1
        if self.spent or (self.count & 31 == 0 and time.monotonic() > self.deadline):
            self.spent = True
            raise ScriptTimeout(f"script ran longer than its time limit of {self.limit * 1000:.0f} ms")


#: Builtins that reach outside the sandbox; refused when the diagram is deployed.
_UNAVAILABLE = frozenset({
    "open", "exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "globals",
    "locals", "vars", "dir", "type", "input", "breakpoint", "memoryview", "help", "exit", "quit",
    "object", "super", "classmethod", "staticmethod", "property", "iter", "next",
})


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus time-limit ticks and size guards on big operators."""

    _GUARDED_OPS = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_"}

    @staticmethod
    def _tick_stmt(like: ast.AST) -> ast.stmt:
        call = ast.Expr(value=ast.Call(func=ast.Name(id="_tick_", ctx=ast.Load()), args=[], keywords=[]))
        return ast.fix_missing_locations(ast.copy_location(call, like))

    def _with_tick(self, node: Any) -> Any:
        node.body.insert(0, self._tick_stmt(node.body[0] if node.body else node))
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, f"import is not allowed in scripts; available names: {', '.join(sorted(_WHITELIST))}")
        return node

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in _UNAVAILABLE:
            self.error(node, f"{node.id}() is not available in scripts")
        return super().visit_Name(node)

    def visit_While(self, node: ast.While) -> ast.AST:
        return self._with_tick(super().visit_While(node))

    def visit_For(self, node: ast.For) -> ast.AST:
        return self._with_tick(super().visit_For(node))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._with_tick(super().visit_FunctionDef(node))

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = super().visit_Lambda(node)
        tick = ast.Call(func=ast.Name(id="_tick_", ctx=ast.Load()), args=[], keywords=[])
        # lambda: body  ->  lambda: (_tick_(), body)[1]
        pair = ast.Subscript(
            value=ast.Tuple(elts=[tick, node.body], ctx=ast.Load()),
            slice=ast.Constant(value=1),
            ctx=ast.Load(),
        )
        node.body = ast.fix_missing_locations(ast.copy_location(pair, node.body))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = super().visit_BinOp(node)
        guard = self._GUARDED_OPS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


def _format_errors(errors: Iterable[str]) -> str:
    return "; ".join(errors)


@lru_cache(maxsize=4096)
def compile_script(source: str) -> Any:
    """Compile a script (statements) under the sandbox policy; cached by source.

    Raises:
        ScriptError: the script uses something the sandbox forbids, or has a syntax error.
    """
    result = compile_restricted_exec(source, filename="<script>", policy=_Policy)
    if result.errors:
        raise ScriptError(_format_errors(result.errors))
    return result.code


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Any:
    """Compile an expression (condition, timer, parameter) under the sandbox policy; cached.

    Raises:
        ScriptError: the expression uses something the sandbox forbids, or has a syntax error.
    """
    result = compile_restricted_eval(source.strip(), filename="<expression>", policy=_Policy)
    if result.errors:
        raise ScriptError(_format_errors(result.errors))
    return result.code


def check_script(source: str) -> str | None:
    """Return why ``source`` would be refused as a script, or None when it compiles."""
    try:
        compile_script(source)
    except ScriptError as exc:
        return exc.message
    return None


def check_expression(source: str) -> str | None:
    """Return why ``source`` would be refused as an expression, or None when it compiles."""
    try:
        compile_expression(source)
    except ScriptError as exc:
        return exc.message
    return None


class Sandbox:
    """Runs compiled scripts and expressions with the guards, whitelist and time limit."""

    def __init__(
        self, limits: SandboxLimits | None = None, helpers: Mapping[str, Callable[..., Any]] | None = None
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.helpers: dict[str, Any] = dict(helpers or {})
        self._builtins = self._make_builtins()

    def register_helper(self, name: str, function: Callable[..., Any]) -> None:
        """Offer ``function`` to every script under ``name`` (e.g. ``business_days``)."""
        if name.startswith("_"):
            raise ValueError(f"helper names may not start with an underscore: {name!r}")
        self.helpers[name] = function

    # -- running -------------------------------------------------------------------------------

    def globals_for(self, budget: _Budget) -> dict[str, Any]:
        """Return a fresh globals dict: builtins, guards, whitelist and helpers."""
        limits = self.limits

        def getiter(obj: Any) -> Iterator[Any]:
            for item in iter(obj):
                budget.tick()
                yield item

        def guarded_range(*args: int) -> range:
            result = range(*args)
            if len(result) > limits.max_sequence:
                raise ScriptError(f"range() of {len(result)} items is over the limit of {limits.max_sequence}")
            return result

        def guarded_mul(left: Any, right: Any) -> Any:
            for seq, count in ((left, right), (right, left)):
                is_sequence = isinstance(seq, str | bytes | list | tuple) and isinstance(count, int)
                if is_sequence and len(seq) * count > limits.max_sequence:
                    raise ScriptError(f"a sequence of {len(seq) * count} items is over the limit")
            return left * right

        globals_ = {
            "__builtins__": dict(self._builtins, range=guarded_range),
            "__name__": "tawasul_script",
            "__metaclass__": type,
            "_getattr_": safer_getattr,
            "_getitem_": default_guarded_getitem,
            "_getiter_": getiter,
            "_write_": full_write_guard,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_apply_": _apply,
            "_print_": PrintCollector,
            "_tick_": budget.tick,
            "_pow_": _guarded_pow,
            "_mul_": guarded_mul,
            "_lshift_": _guarded_lshift,
            "_inplacevar_": lambda op, x, y: _inplace(op, x, y, guarded_mul),
        }
        globals_.update(_WHITELIST)
        globals_.update(self.helpers)
        return globals_

    def evaluate(self, source: str, context: Mapping[str, Any]) -> Any:
        """Evaluate an expression against ``context`` (task data) and return its value.

        Raises:
            ScriptError: refused at compile time, over its time limit, or failed.
        """
        code = compile_expression(source)
        budget = _Budget(self.limits.time_limit)
        globals_ = self.globals_for(budget)
        globals_.update(context)
        try:
            return eval(code, globals_)  # noqa: S307 - code compiled by RestrictedPython with guards
        except ScriptTimeout as exc:
            raise ScriptError(str(exc)) from None

    def execute(self, source: str, context: dict[str, Any]) -> None:
        """Run a script; names it assigns (or deletes) are written back into ``context``.

        Raises:
            ScriptError: refused at compile time, over its time limit, or failed.
        """
        code = compile_script(source)
        budget = _Budget(self.limits.time_limit)
        base = self.globals_for(budget)
        scope = dict(base)
        scope.update(context)
        try:
            exec(code, scope)  # noqa: S102 - code compiled by RestrictedPython with guards
        except ScriptTimeout as exc:
            raise ScriptError(str(exc)) from None
        for key in list(context):
            if key not in scope:
                del context[key]
        for key, value in scope.items():
            if key in base and base[key] is value:
                continue
            if key.startswith("_") or callable(value) and not isinstance(value, type):
                continue
            context[key] = value

    def _make_builtins(self) -> dict[str, Any]:
        names = [
            "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float",
            "frozenset", "int", "isinstance", "len", "list", "map", "max", "min", "ord", "reversed",
            "round", "set", "sorted", "str", "sum", "tuple", "zip",
            "ArithmeticError", "Exception", "IndexError", "KeyError", "LookupError", "TypeError",
            "ValueError", "ZeroDivisionError",
        ]
        import builtins

        table: dict[str, Any] = {name: getattr(builtins, name) for name in names}
        table.update({"True": True, "False": False, "None": None, "pow": _guarded_pow_builtin})
        return table


_WHITELIST: dict[str, Any] = {
    "math": math,
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "timezone": timezone,
    "Decimal": Decimal,
}


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def _guarded_pow(base: Any, exponent: Any) -> Any:
    big_ints = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if big_ints and exponent * max(1, abs(base).bit_length()) > _MAX_POW_BITS:
        raise ScriptError(f"{base} ** {exponent} is too large to compute")
    return base**exponent


def _guarded_pow_builtin(base: Any, exponent: Any, modulo: Any = None) -> Any:
    if modulo is not None:
        return pow(base, exponent, modulo)
    return _guarded_pow(base, exponent)


def _guarded_lshift(value: Any, shift: Any) -> Any:
    if isinstance(shift, int) and shift > _MAX_POW_BITS:
        raise ScriptError(f"<< {shift} is too large to compute")
    return value << shift


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.add,
    "-=": operator.sub,
    "/=": operator.truediv,
    "//=": operator.floordiv,
    "%=": operator.mod,
    "**=": _guarded_pow,
    "<<=": _guarded_lshift,
    ">>=": operator.rshift,
    "&=": operator.and_,
    "|=": operator.or_,
    "^=": operator.xor,
}


def _inplace(op: str, left: Any, right: Any, mul: Callable[[Any, Any], Any]) -> Any:
    if op == "*=":
        return mul(left, right)
    try:
        function = _INPLACE_OPS[op]
    except KeyError:
        raise ScriptError(f"operator {op} is not allowed in scripts") from None
    return function(left, right)

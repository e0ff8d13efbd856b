"""The script sandbox: scripts, conditions and timer expressions from diagrams run here.

Code is compiled with RestrictedPython (``compile_restricted_exec`` / ``_eval``) under a policy
that also

* calls ``_tick_()`` at the top of every ``while`` / ``for`` body, function and lambda, and
  wraps every iteration, so a time limit stops infinite loops and runaway recursion;
* routes ``**``, ``*``, ``<<``, ``//``, ``%`` and ``+`` through guards that refuse results too
  large to compute in the limit (``10 ** 10 ** 10``, ``"x" * 10 ** 10``): one C call holds the
  interpreter lock, so the time limit cannot stop it once it has begun. Integers stay under
  `_MAX_INT_BITS` bits, the strings and lists one call builds under `_MAX_TOTAL` items, and text
  made from a value (``str()``, f-strings, ``%``, ``print``) is sized before it is made;
* measures the memory the process holds now (not its peak) against the script's budget.

Names the sandbox provides (builtins, the whitelist, helpers) cannot be assigned by a script.

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
import builtins
import codecs
import contextvars
import decimal
import itertools
import math
import operator
import os
import re
import resource
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as clock_time
from decimal import Decimal
from functools import lru_cache
from types import ModuleType
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
DEFAULT_MAX_MEMORY_MB = 256
#: Largest integer a script may make (about 30,000 decimal digits); division, roots, gcd and the
#: like on integers this size take milliseconds, so they cannot outlast the time limit.
_MAX_INT_BITS = 100_000
#: ``pow(base, exponent, modulo)`` costs about bits(exponent) x bits(modulo)^1.6: 10**7 is ~70 ms.
_MAX_MODPOW_WORK = 10**7
#: Largest string, bytes or list one operation may build by joining or growing (2 million items).
_MAX_TOTAL = 2_000_000
_MAX_FORMAT_WIDTH = 10_000
#: How many items the size estimate of a value's text may visit before it calls the value too big.
_MAX_TEXT_WALK = 1_000_000
_MAX_FACTORIAL = 5_000
#: Modules C code inside whitelisted types imports on its own (strftime, strptime).
_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})


class ScriptTimeout(BaseException):  # noqa: N818 - a BaseException so `except Exception` cannot swallow it
    """Raised inside a script when its time limit has passed."""


class SandboxLimits:
    """Per-engine limits of the sandbox.

    Wall time and memory growth per evaluation, and the largest sequence one operation builds.
    """

    __slots__ = ("max_memory_kb", "max_sequence", "time_limit")

    def __init__(
        self,
        time_limit_ms: int = DEFAULT_TIME_LIMIT_MS,
        max_sequence: int = DEFAULT_MAX_SEQUENCE,
        max_memory_mb: int = DEFAULT_MAX_MEMORY_MB,
    ):
        if int(time_limit_ms) <= 0:
            raise ValueError("sandbox time limit must be a positive number of milliseconds")
        if int(max_memory_mb) <= 0:
            raise ValueError("sandbox memory limit must be a positive number of megabytes")
        self.time_limit = int(time_limit_ms) / 1000.0
        self.max_sequence = int(max_sequence)
        self.max_memory_kb = int(max_memory_mb) * 1024


class _Budget:
    """The time and memory budget of one evaluation; once spent it stays spent.

    Memory is the growth of the process's resident size since the script began, read every 64
    ticks and after each call that can build a large object (`_size_guarded`). It is the size
    now, not the peak, so a script after another one's peak is measured as well; other threads'
    allocations count too, which errs on the safe side.
    """

    __slots__ = ("count", "deadline", "limit", "memory_kb", "rss0", "reason")

    def __init__(self, limit: float, memory_kb: int = DEFAULT_MAX_MEMORY_MB * 1024) -> None:
        self.limit = limit
        self.deadline = time.monotonic() + limit
        self.count = 0
        self.memory_kb = memory_kb
        self.rss0 = _rss_kb()
        self.reason = ""

    def tick(self) -> None:
        self.count += 1
        if self.reason:
            raise ScriptTimeout(self.reason)
        if self.count & 31 == 0 and time.monotonic() > self.deadline:
            self.reason = f"script ran longer than its time limit of {self.limit * 1000:.0f} ms"
            raise ScriptTimeout(self.reason)
        if self.count & 63 == 0:
            self.check_memory()

    def check_memory(self) -> None:
        if _rss_kb() - self.rss0 > self.memory_kb:
            self.reason = f"script used more than its memory limit of {self.memory_kb // 1024} MB"
            raise ScriptTimeout(self.reason)


class _Statm:
    """The process's resident size now, from ``/proc/self/statm`` (a kept descriptor, ~2 µs a read).

    Where there is no /proc the peak (``ru_maxrss``) stands in: it never goes down, so there a
    script after another's peak is measured only once it passes that peak.
    """

    def __init__(self) -> None:
        self.pid = -1
        self.fd: int | None = None
        self.page_kb = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4

    def rss_kb(self) -> int:
        if self.pid != os.getpid():  # opened before a fork, /proc/self would still be the parent
            self._reopen()
        if self.fd is not None:
            try:
                return int(os.pread(self.fd, 64, 0).split()[1]) * self.page_kb
            except (OSError, ValueError, IndexError):
                self.fd = None
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def _reopen(self) -> None:
        self.pid = os.getpid()
        if self.fd is not None:
            os.close(self.fd)
        try:
            self.fd = os.open("/proc/self/statm", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            self.fd = None


_rss_kb = _Statm().rss_kb


#: Builtins that reach outside the sandbox; refused when the diagram is deployed.
_UNAVAILABLE = frozenset({
    "open", "exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "globals",
    "locals", "vars", "dir", "type", "input", "breakpoint", "memoryview", "help", "exit", "quit",
    "object", "super", "classmethod", "staticmethod", "property", "iter", "next",
})


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus time-limit ticks and size guards on big operators."""

    _GUARDED_OPS = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_", ast.Add: "_add_", ast.Mod: "_mod_",
                    ast.FloorDiv: "_floordiv_"}

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

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        caught = node.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if caught is None or any(isinstance(n, ast.Name) and n.id == "BaseException" for n in names):
            # The time limit is raised as a BaseException; catching everything would swallow it.
            self.error(node, "a bare 'except:' (or except BaseException) is not allowed; catch Exception")
        return super().visit_ExceptHandler(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed in scripts")
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if any(isinstance(part, ast.FormattedValue) for part in parts):
                self.error(node, "an f-string format spec must be fixed text, not computed")
            text = "".join(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str))
            widths = [int(w) for w in re.findall(r"\d+", text)]
            if widths and sum(widths) > _MAX_FORMAT_WIDTH:  # a date spec may hold many (%9999Y%9999Y...)
                self.error(node, f"an f-string width over {_MAX_FORMAT_WIDTH} is not allowed")
        node = super().visit_FormattedValue(node)
        # f"{value}" -> f"{_text_(value)}": the value's text is sized before it is made.
        sized = ast.Call(func=ast.Name(id="_text_", ctx=ast.Load()), args=[node.value], keywords=[])
        node.value = ast.fix_missing_locations(ast.copy_location(sized, node.value))
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in _UNAVAILABLE:
            self.error(node, f"{node.id}() is not available in scripts")
        if isinstance(node.ctx, ast.Store | ast.Del) and node.id in _PROVIDED:
            # `datetime = 'poison'` would hide the sandbox's datetime and stay in the case's data.
            self.error(node, f"'{node.id}' is a name the sandbox provides; a script may not assign or delete it, "
                             "so choose another name")
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

    @staticmethod
    def _guarded(guard: str, node: ast.expr) -> ast.expr:
        """``node`` -> ``guard(node)`` (a constant is left as it is: it is small)."""
        if isinstance(node, ast.Constant):
            return node
        call = ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[node], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def _key(self, node: ast.expr) -> ast.expr:
        """A set item or dict key is sized before it is hashed."""
        return self._guarded("_key_", node)

    def visit_Set(self, node: ast.Set) -> ast.AST:
        node = super().visit_Set(node)
        node.elts = [self._key(elt) for elt in node.elts]
        return node

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        node = super().visit_Dict(node)
        node.keys = [self._key(key) if key is not None else None for key in node.keys]
        return node

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        node = super().visit_SetComp(node)
        node.elt = self._key(node.elt)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        node = super().visit_DictComp(node)
        node.key = self._key(node.key)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        node = super().visit_Compare(node)
        if all(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            return node  # identity reads nothing inside
        # a < b == c  ->  _compare_(a) < _compare_(b) == _compare_(c): each operand is sized as
        # Python reaches it, so a chain still stops at its first false part.
        node.left = self._guarded("_compare_", node.left)
        node.comparators = [self._guarded("_compare_", operand) for operand in node.comparators]
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


#: Decimal arithmetic in scripts: results stay within 10^±4300, so turning one into an int
#: (floor, round, '%d') is as bounded as int() of a Decimal (a huge exponent is an Overflow).
_DECIMALS = decimal.Context(Emax=4300, Emin=-4300)


#: The longest text of an exception a script raises that is passed on as it is.
_MAX_ERROR_TEXT = 10_000


@contextmanager
def _running_under(budget: _Budget) -> Iterator[None]:
    """Run a script or expression with ``budget``, and Decimals bounded.

    Its time-out is a `ScriptError`, also when the script caught it (a ``BaseException`` it
    reached some way).
    """
    token = _running.set(budget)
    try:
        with decimal.localcontext(_DECIMALS):
            yield
    except ScriptTimeout as exc:
        raise ScriptError(str(exc)) from None
    except Exception as exc:
        # What the script raised is turned into text by whoever reports it: raise ValueError(l)
        # of a list of shared lists would be gigabytes.
        if not isinstance(exc, ScriptError) and _text_length(exc, _MAX_ERROR_TEXT) > _MAX_ERROR_TEXT:
            raise ScriptError(f"the script raised {type(exc).__name__} with a message too long to show "
                              f"(over {_MAX_ERROR_TEXT} characters)") from None
        raise
    finally:
        _running.reset(token)
    if budget.reason:  # the limit was reached and the script swallowed it
        raise ScriptError(budget.reason)


class Sandbox:
    """Runs compiled scripts and expressions with the guards, whitelist and time limit."""

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.helpers: dict[str, Any] = dict(helpers or {})
        self._builtins = self._make_builtins()
        self._now = now or (lambda: datetime.now(UTC))
        self._whitelist = _make_whitelist(lambda: self._now())

    def set_clock(self, now: Callable[[], datetime]) -> None:
        """Make ``datetime.now()`` and ``date.today()`` in scripts read ``now``."""
        self._now = now

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
            if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                raise ScriptError("a product of integers that large is too large to compute")
            return left * right

        def guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
            # RestrictedPython's own returns None for a missing attribute; a typo must not pass.
            if name == "mro":  # from any type to object, BaseException and the unguarded types
                raise AttributeError("mro() is not available in scripts")
            value = safer_getattr(obj, name, _MISSING)
            if value is _MISSING:
                if default is not _MISSING:
                    return default
                if isinstance(obj, _Facade):
                    raise AttributeError(f"{obj._cls.__name__}.{name} is not available in scripts")
                if isinstance(obj, _BuiltinType):
                    raise AttributeError(f"{obj._real.__name__}.{name} is not available in scripts")
                raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}")
            return _size_guarded(obj, name, value, budget)

        globals_ = {
            "__builtins__": dict(self._builtins, range=guarded_range),
            "__name__": "tawasul_script",
            "__metaclass__": type,
            "_getattr_": guarded_getattr,
            "_getitem_": _guarded_getitem,
            "_getiter_": getiter,
            "_write_": _guarded_write,
            "_compare_": _guarded_compare,
            "_key_": _key_sized,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_apply_": _apply,
            "_print_": _BoundedPrint,
            "_text_": _text_sized,
            "_tick_": budget.tick,
            "_pow_": _guarded_pow,
            "_mul_": guarded_mul,
            "_lshift_": _guarded_lshift,
            "_add_": _guarded_add,
            "_mod_": _guarded_mod,
            "_floordiv_": _guarded_floordiv,
            "_inplacevar_": lambda op, x, y: _inplace(op, x, y, guarded_mul),
        }
        globals_.update(self._whitelist)
        globals_.update(self.helpers)
        return globals_

    def reserved_names(self) -> frozenset[str]:
        """Names scripts see besides task data; task data may not use them (it would hide them)."""
        return frozenset(self._builtins) | frozenset(self._whitelist) | frozenset(self.helpers) | {"range"}

    @staticmethod
    def _visible(context: Mapping[str, Any]) -> dict[str, Any]:
        # Names starting with _ are the sandbox's own hooks (_getattr_, _tick_, ...): data must
        # never replace them, whatever path it came in by (a multi-instance item, say).
        return {key: value for key, value in context.items() if not str(key).startswith("_")}

    def evaluate(self, source: str, context: Mapping[str, Any]) -> Any:
        """Evaluate an expression against ``context`` (task data) and return its value.

        Raises:
            ScriptError: refused at compile time, over its time limit, or failed.
        """
        code = compile_expression(source)
        budget = _Budget(self.limits.time_limit, self.limits.max_memory_kb)
        globals_ = self.globals_for(budget)
        globals_.update(self._visible(context))
        with _running_under(budget):
            return eval(code, globals_)  # noqa: S307 - code compiled by RestrictedPython with guards

    def execute(self, source: str, context: dict[str, Any]) -> None:
        """Run a script; names it assigns (or deletes) are written back into ``context``.

        Raises:
            ScriptError: refused at compile time, over its time limit, or failed.
        """
        code = compile_script(source)
        budget = _Budget(self.limits.time_limit, self.limits.max_memory_kb)
        base = self.globals_for(budget)
        scope = dict(base)
        scope.update(self._visible(context))
        with _running_under(budget):
            exec(code, scope)  # noqa: S102 - code compiled by RestrictedPython with guards
        for name in self.helpers:
            if scope.get(name, _MISSING) is not base[name]:
                # Builtins and the whitelist are refused when compiled; helpers are known only here.
                raise ScriptError(f"'{name}' is a helper the engine provides; a script may not assign or "
                                  "delete it, so choose another name")
        for key in list(context):
            if key not in scope and not str(key).startswith("_"):
                del context[key]
        for key, value in scope.items():
            if key in base and base[key] is value:
                continue
            if key.startswith("_") or callable(value) or isinstance(value, ModuleType | _MathNamespace):
                continue  # functions, lambdas, classes, modules and the whitelist are not data
            context[key] = value

    def _make_builtins(self) -> dict[str, Any]:
        table: dict[str, Any] = {name: getattr(builtins, name) for name in _BUILTIN_NAMES}
        table.update({"True": True, "False": False, "None": None, "pow": _guarded_pow_builtin, "sum": _guarded_sum,
                      "divmod": _guarded_divmod, "round": _guarded_round, "__import__": _internal_import})
        table.update(_GUARDED_BUILTINS)
        return table


#: The builtins scripts have (some of them guarded, see `Sandbox._make_builtins`).
_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float",
    "frozenset", "int", "isinstance", "len", "list", "map", "max", "min", "ord", "reversed",
    "round", "set", "sorted", "str", "sum", "tuple", "zip", "pow",
    "ArithmeticError", "Exception", "IndexError", "KeyError", "LookupError", "TypeError",
    "ValueError", "ZeroDivisionError",
)


_MISSING = object()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _internal_import(name: str, *args: Any, **kwargs: Any) -> Any:
    # Scripts cannot call this (import statements and names starting with _ are refused at
    # compile time); C code of date/datetime uses it to load time and _strptime.
    if name not in _INTERNAL_IMPORTS:
        raise ScriptError(f"import of {name!r} is not allowed")
    return __import__(name, *args, **kwargs)


def _guarded_add(left: Any, right: Any) -> Any:
    both_sequences = isinstance(left, str | bytes | list | tuple) and isinstance(right, str | bytes | list | tuple)
    if both_sequences and len(left) + len(right) > _MAX_TOTAL:
        raise ScriptError(f"joining {len(left) + len(right)} items is over the limit of {_MAX_TOTAL}")
    return left + right


# -- integers: no operand or result over _MAX_INT_BITS ------------------------------------------


def _checked_ints(what: str, *values: Any) -> None:
    """Refuse ``what`` when one of the integers it works on is over `_MAX_INT_BITS` bits."""
    for value in values:
        if _is_int(value) and value.bit_length() > _MAX_INT_BITS:
            raise ScriptError(f"{what} of an integer of {value.bit_length()} bits is too large to compute "
                              f"(the limit is {_MAX_INT_BITS} bits)")


def _checked_result_bits(what: str, bits: int) -> None:
    if bits > _MAX_INT_BITS:
        raise ScriptError(f"{what} would make an integer of {bits} bits, too large to compute "
                          f"(the limit is {_MAX_INT_BITS} bits)")


def _guarded_floordiv(left: Any, right: Any) -> Any:
    _checked_ints("//", left, right)
    return left // right


def _guarded_divmod(left: Any, right: Any) -> Any:
    _checked_ints("divmod()", left, right)
    return divmod(left, right)


def _guarded_round(number: Any, ndigits: Any = None) -> Any:
    # round(1, -10**8) computes 10 ** 10**8 inside one C call.
    if _is_int(ndigits) and abs(ndigits) > _MAX_FORMAT_WIDTH:
        raise ScriptError(f"round() to {ndigits} digits is not allowed (at most {_MAX_FORMAT_WIDTH} either way)")
    _checked_ints("round()", number)
    return round(number) if ndigits is None else round(number, ndigits)


def _guarded_lshift(value: Any, shift: Any) -> Any:
    if _is_int(value) and _is_int(shift) and value and shift > 0:
        _checked_result_bits("<<", value.bit_length() + shift)
    return value << shift


def _guarded_pow(base: Any, exponent: Any) -> Any:
    big_ints = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if big_ints and exponent * max(1, abs(base).bit_length()) > _MAX_INT_BITS:
        raise ScriptError(f"{_short(base)} ** {_short(exponent)} is too large to compute")
    return base**exponent


def _guarded_pow_builtin(base: Any, exponent: Any, modulo: Any = None) -> Any:
    if modulo is not None:
        _checked_ints("pow()", base, exponent, modulo)
        if _is_int(exponent) and _is_int(modulo) and exponent.bit_length() * modulo.bit_length() > _MAX_MODPOW_WORK:
            raise ScriptError("pow() with numbers that large is too large to compute")
        return pow(base, exponent, modulo)
    return _guarded_pow(base, exponent)


def _short(number: Any) -> str:
    """A number for a message: a huge one by its size, not its 30,000 digits."""
    if _is_int(number) and number.bit_length() > 64:
        return f"<an integer of {number.bit_length()} bits>"
    return str(number)


_PERCENT_TAIL = re.compile(r"[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _percent_specs(text: str) -> Iterator[tuple[str | None, str | None]]:
    """The width and precision of each %-directive of ``text``, read as Python reads them.

    A mapping key in parentheses may itself hold parentheses.
    """
    at = text.find("%")
    while 0 <= at < len(text) - 1:
        end = at + 1
        if text[end] == "(":
            depth, end = 1, end + 1
            while end < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
        spec = _PERCENT_TAIL.match(text, end)
        yield spec.group(1), spec.group(2)
        at = text.find("%", spec.end() + 1)


def _guarded_mod(left: Any, right: Any) -> Any:
    if isinstance(left, str | bytes):
        text = left.decode("latin-1") if isinstance(left, bytes) else left
        args = right if isinstance(right, tuple) else (right,)
        starred = any(_is_int(a) and abs(a) > _MAX_FORMAT_WIDTH for a in args)
        for spec in _percent_specs(text):
            for part, name in ((spec[0], "width"), (spec[1], "precision")):
                if part and ((part == "*" and starred) or (part != "*" and int(part) > _MAX_FORMAT_WIDTH)):
                    raise ScriptError(f"a %-format {name} over {_MAX_FORMAT_WIDTH} is not allowed")
        _text_sized(right)
    else:
        _checked_ints("%", left, right)
    return left % right


def _guarded_sum(iterable: Any, start: Any = 0) -> Any:
    if not isinstance(start, int | float | Decimal):
        raise ScriptError("sum() adds numbers; join lists or strings with a loop or ''.join()")
    return sum(_bounded(iterable), start)


def _guarded_int(value: Any = 0, *args: Any) -> int:
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > 4300:
        raise ScriptError("int() of a Decimal with more than 4300 digits is not allowed")
    if isinstance(value, float) and value != value:  # NaN
        raise ScriptError("int() of NaN")
    result = int(value, *args)
    # int('1' * 10**6, 2): a base that is a power of two has no digit limit.
    _checked_result_bits("int()", result.bit_length())
    return result


# -- text: sized before it is made --------------------------------------------------------------


def _text_length(value: Any, limit: int) -> int:
    """About how long ``str(value)`` is, at most ``limit + 1`` (counting stops there).

    Shared items count each time they appear, as the text repeats them: ``[[s] * 1000] * 1000``
    is a million copies of ``s``. Visiting more than `_MAX_TEXT_WALK` items counts as too long.
    """
    total, visits, stack = 0, 0, [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        visits += 1
        kind = type(item)
        if kind is str:
            total += len(item) + 2
        elif kind is int:
            total += item.bit_length() // 3 + 2
        elif kind is list or kind is tuple or kind is set or kind is frozenset:
            total += 2 * len(item) + 2
            extend(item)
        elif kind is dict:
            total += 4 * len(item) + 2
            extend(item.keys())
            extend(item.values())
        elif kind is bytes or kind is bytearray:
            total += 4 * len(item) + 3  # b'\x00' is four characters a byte
        elif kind is Decimal:
            total += len(item.as_tuple().digits) + 8
        elif kind in _SHORT_TEXT or isinstance(item, _BuiltinType | _Facade | _MathNamespace) or callable(item):
            total += 64  # a date, a float, a function, an iterator's "<zip object at ...>": short
        elif kind in _VIEWS:
            total += 2 * len(item) + 16
            extend(item)
        elif isinstance(item, BaseException):
            total += 64
            extend(item.args)
        else:
            return limit + 1  # a text we cannot size: too long
        if total > limit or visits > _MAX_TEXT_WALK or len(stack) > _MAX_TEXT_WALK:
            return limit + 1
    return total


#: Types whose text is short, whatever their value.
_SHORT_TEXT = frozenset({
    bool, type(None), float, complex, date, datetime, clock_time, timedelta, timezone, range, zip, map, filter,
    enumerate, reversed, type(iter([])), type(iter(())), type(iter("")), type(x for x in ()),
})
#: Dictionary views: their text lists what they show.
_VIEWS = frozenset({type({}.keys()), type({}.values()), type({}.items())})
#: Types whose text is no longer than the value itself (an int's is capped by Python at 4300 digits).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _text_sized(value: Any) -> Any:
    """``value`` itself, once its text is known to be under `_MAX_TOTAL` characters."""
    if type(value) not in _PLAIN and _text_length(value, _MAX_TOTAL) > _MAX_TOTAL:
        raise ScriptError(f"the text of this value would be over the limit of {_MAX_TOTAL} characters")
    return value


class _BuiltinType(type):
    """A builtin type as scripts see it.

    ``isinstance`` and its methods are the type's own; calling it goes through a guard
    (`_make`), and ``mro`` (a way to the real types) is refused.
    """

    _real: type
    _make: Callable[..., Any]

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._real)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return isinstance(subclass, type) and issubclass(subclass, cls._real)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._make(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name in ("format", "format_map", "mro") or name.startswith("_"):
            # a format string walks attributes; mro() reaches object and the unguarded types
            raise AttributeError(f"{cls._real.__name__}.{name} is not available in scripts")
        method = getattr(cls._real, name)
        if name == "fromkeys":  # a class method: its first argument is the keys
            return lambda keys, *args: method(_keys_checked(_bounded(keys)), *args)
        if name in _AMPLIFYING or name in _LOOKUPS:
            # str.join(sep, items) is sep.join(items), dict.get(d, k) is d.get(k): the same guard.
            return lambda self, *args, **kwargs: _size_guarded(self, name, getattr(self, name))(*args, **kwargs)
        return method


def _builtin_type(real: type, make: Callable[..., Any]) -> _BuiltinType:
    return _BuiltinType(real.__name__, (), {"_real": real, "_make": staticmethod(make)})


#: Types whose items are counted by their length already (at most `_MAX_TOTAL` or the sequence limit).
_SIZED = frozenset({list, tuple, str, bytes, dict, set, frozenset, range})
#: The budget of the evaluation running in this thread (for the guards that iterate).
_running: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("tawasul_sandbox_budget", default=None)


def _bounded(iterable: Any) -> Any:
    """``iterable`` itself if it is a sized container; else its items, each a step of the budget.

    So the time limit and the memory check reach a C loop over ``zip``, ``map`` and the like;
    at most `_MAX_TOTAL` items.
    """
    if type(iterable) in _SIZED:
        return iterable
    return _counted(iter(iterable), _running.get())


def _counted(items: Iterator[Any], budget: _Budget | None) -> Iterator[Any]:
    for count, item in enumerate(items, 1):
        if budget is not None:
            budget.tick()
        if count > _MAX_TOTAL:
            raise ScriptError(f"a sequence of more than {_MAX_TOTAL} items is over the limit")
        yield item


def _make_text(value: Any = "", *args: Any, **kwargs: Any) -> str:
    if args or kwargs:  # str(data, encoding): a decoding, as long as the data
        _checked_codec(args[0] if args else kwargs.get("encoding", "utf-8"))
        return str(value, *args, **kwargs)
    if type(value) not in _PLAIN:
        _text_sized(value)
    return str(value)


def _make_container(real: type) -> Callable[..., Any]:
    hashed = real in (set, frozenset)

    def make(iterable: Any = (), *args: Any, **kwargs: Any) -> Any:
        items = _bounded(iterable)
        return real(_keys_checked(items) if hashed else items, *args, **kwargs)
    return make


def _make_dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    if args and type(args[0]) is not dict:
        source = args[0]
        if hasattr(source, "keys"):
            return dict(source, *args[1:], **kwargs)
        pairs = (_pair_checked(pair) for pair in _bounded(source))
        return dict(pairs, *args[1:], **kwargs)
    return dict(*args, **kwargs)


def _sized_keys(key: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``key`` for a sort: the keys it gives, all together, reach at most `_MAX_REACH` items."""
    total = [0]

    def sized(item: Any) -> Any:
        value = key(item)
        if type(value) in _CONTAINERS:
            total[0] += _reach(value)
            if total[0] > _MAX_REACH:
                raise ScriptError(f"sorting by keys that reach over {_MAX_REACH} items (counting repeats) is not "
                                  "allowed: it would take too long")
        return value
    return sized


def _pair_checked(pair: Any) -> Any:
    if type(pair) in (tuple, list) and pair:
        _key_sized(pair[0])
    return pair


def _consumer(function: Callable[..., Any], compares: bool = False) -> Callable[..., Any]:
    """``function`` (sorted, min, max, any, all) with its one iterable argument `_bounded`.

    For those that compare items, the items they may reach are sized first.
    """
    def consume(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            args = (_bounded(args[0]),)
            if compares and type(args[0]) not in _SIZED:
                args = (list(args[0]),)  # collected first, so what the comparisons reach is known
        if compares:
            _checked_reach("sorting or comparing", args[0] if len(args) == 1 else args)
            if kwargs.get("key") is not None:
                kwargs["key"] = _sized_keys(kwargs["key"])
        return function(*args, **kwargs)
    consume.__name__ = function.__name__
    return consume


#: Codecs scripts may encode and decode with (others are slow pure Python, such as punycode).
_CODECS = frozenset({"utf-8", "ascii", "latin-1", "iso8859-1", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                     "utf-32-le", "utf-32-be", "cp1256", "iso8859-6"})


def _checked_codec(encoding: Any) -> None:
    try:
        name = codecs.lookup(encoding).name if isinstance(encoding, str) else None
    except LookupError:
        name = None
    if name not in _CODECS:
        raise ScriptError(f"the encoding {str(encoding)[:40]!r} is not available in scripts; use one of "
                          f"{', '.join(sorted(_CODECS))}")


class _BoundedPrint(PrintCollector):
    """``print`` in scripts: what it collects stays under `_MAX_TOTAL` characters."""

    def __init__(self, _getattr_: Any = None) -> None:
        super().__init__(_getattr_)
        self.size = 0

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        room = _MAX_TOTAL - self.size
        size = sum(_text_length(obj, room) for obj in objects)
        size += _text_length(kwargs.get("sep") or " ", room) * max(0, len(objects) - 1)
        size += _text_length(kwargs.get("end") or "\n", room)
        if size > room:
            raise ScriptError(f"print() would collect over the limit of {_MAX_TOTAL} characters")
        self.size += size
        super()._call_print(*objects, **kwargs)


def _checked_size(name: str, size: Any) -> None:
    if _is_int(size) and size > _MAX_TOTAL:
        raise ScriptError(f"{name}() of {size} is over the limit of {_MAX_TOTAL}")


#: Methods whose result can be much larger than the object they are called on.
_AMPLIFYING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "translate",
                         "to_bytes", "from_bytes", "extend", "strftime", "encode", "decode"})


def _size_guarded(obj: Any, name: str, value: Any, budget: _Budget | None = None) -> Any:
    """Wrap methods that build an object whose size an argument chooses.

    The result's size is checked before the call; with a ``budget``, its memory after it.
    """
    if name not in _AMPLIFYING and name not in _LOOKUPS or not callable(value):
        return value
    check = _size_check(obj, name) if name in _AMPLIFYING else _lookup_check(obj, name)
    if check is None:
        return value

    def guarded(*args: Any, **kwargs: Any) -> Any:
        args = check(list(args), kwargs)
        result = value(*args, **kwargs)
        if budget is not None:
            budget.check_memory()
        return result

    return guarded


def _argument(args: list[Any], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _size_check(obj: Any, name: str) -> Callable[[list[Any], dict[str, Any]], list[Any]] | None:
    """A function of (args, kwargs) that refuses those making ``obj.name(...)`` too large.

    It returns the positional arguments to call with: an iterable it had to read is handed on
    as a list.
    """
    if isinstance(obj, str | bytes | bytearray):
        if name in ("ljust", "rjust", "center", "zfill"):
            return lambda args, kwargs: _checked(name, _argument(args, kwargs, 0, "width", 0), args)
        if name == "expandtabs":
            def expanded(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
                tabsize = _argument(args, kwargs, 0, "tabsize", 8)
                tabs = obj.count("\t" if isinstance(obj, str) else b"\t")
                return _checked(name, tabs * (tabsize if _is_int(tabsize) else 0) + len(obj), args)
            return expanded
        if name == "replace":
            def replaced(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
                old, new = _argument(args, kwargs, 0, "old", ""), _argument(args, kwargs, 1, "new", "")
                count = _argument(args, kwargs, 2, "count", -1)
                if not isinstance(old, str | bytes | bytearray) or not isinstance(new, str | bytes | bytearray):
                    return args  # the call itself says what is wrong
                times = obj.count(old) if not _is_int(count) or count < 0 else min(count, obj.count(old))
                grown = len(obj) + times * (len(new) - len(old)) + (len(obj) + 1) * len(new) * (not old)
                return _checked(name, grown, args)
            return replaced
        if name == "join":
            def joined(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
                if not args:
                    return args
                items = args[0] if isinstance(args[0], list | tuple) else list(args[0])
                pieces = sum(len(item) for item in items if isinstance(item, str | bytes | bytearray))
                return _checked(name, pieces + len(obj) * max(0, len(items) - 1), [items, *args[1:]])
            return joined
        if name == "translate" and isinstance(obj, str):
            return lambda args, kwargs: _checked(name, len(obj) * _longest_replacement(args[0] if args else None), args)
    if name in ("encode", "decode") and isinstance(obj, str | bytes | bytearray):
        def coded(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
            _checked_codec(_argument(args, kwargs, 0, "encoding", "utf-8"))
            return args
        return coded
    if name == "strftime" and isinstance(obj, date | clock_time):
        return lambda args, kwargs: _checked_strftime(_argument(args, kwargs, 0, "format", ""), args)
    if _is_int(obj) and name == "to_bytes":
        return lambda args, kwargs: _checked(name, _argument(args, kwargs, 0, "length", 1), args)
    if _is_int(obj) and name == "from_bytes":
        def from_bytes(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
            data = _argument(args, kwargs, 0, "bytes", b"")
            size = len(data) if isinstance(data, bytes | bytearray | list | tuple) else 0
            _checked_result_bits("from_bytes()", 8 * size)
            return args
        return from_bytes
    if isinstance(obj, list) and name == "extend":
        def extend(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
            if not args:
                return args
            items = args[0] if isinstance(args[0], list | tuple) else list(args[0])
            return _checked(name, len(obj) + len(items), [items, *args[1:]])
        return extend
    return None


_STRFTIME_WIDTH = re.compile(r"%[-_0^#]*(\d+)")


def _checked_strftime(form: Any, args: list[Any]) -> list[Any]:
    """A date format's result is about as long as the format, unless a directive asks for a width."""
    if isinstance(form, str):
        widths = [int(width) for width in _STRFTIME_WIDTH.findall(form)]
        if widths and max(widths) > 100:
            raise ScriptError("a date format width over 100 (such as %1000Y) is not allowed")
        _checked_size("strftime", 16 * len(form) + sum(widths))
    return args


def _checked(name: str, size: Any, args: list[Any]) -> list[Any]:
    _checked_size(name, size)
    return args


def _longest_replacement(table: Any) -> int:
    """The longest text one character may become under ``str.translate(table)`` (at least 1)."""
    if isinstance(table, dict):
        values: Iterable[Any] = table.values()
    elif isinstance(table, str | list | tuple):
        values = table
    else:
        return 1
    return max([1, *(len(v) for v in values if isinstance(v, str))])


# -- math ---------------------------------------------------------------------------------------


def _guarded_factorial(n: Any) -> int:
    if _is_int(n) and n > _MAX_FACTORIAL:
        raise ScriptError(f"factorial({n}) is too large to compute (the limit is {_MAX_FACTORIAL})")
    return math.factorial(n)


def _guarded_comb(n: Any, k: Any) -> int:
    if _is_int(n) and n > _MAX_FACTORIAL:
        raise ScriptError(f"comb({n}, ...) is too large to compute (the limit is {_MAX_FACTORIAL})")
    return math.comb(n, k)


def _guarded_perm(n: Any, k: Any = None) -> int:
    if _is_int(n) and n > _MAX_FACTORIAL:
        raise ScriptError(f"perm({n}, ...) is too large to compute (the limit is {_MAX_FACTORIAL})")
    return math.perm(n, k)


def _guarded_prod(iterable: Any, *, start: Any = 1) -> Any:
    result = start
    for item in iterable:
        if _is_int(result) and _is_int(item) and result.bit_length() + item.bit_length() > _MAX_INT_BITS:
            raise ScriptError("a product of integers that large is too large to compute")
        result = result * item
    return result


def _guarded_isqrt(n: Any) -> int:
    _checked_ints("math.isqrt()", n)
    return math.isqrt(n)


def _guarded_gcd(*numbers: Any) -> int:
    _checked_ints("math.gcd()", *numbers)
    return math.gcd(*numbers)


def _guarded_lcm(*numbers: Any) -> int:
    _checked_ints("math.lcm()", *numbers)
    # The least common multiple can be as large as the product of them all.
    _checked_result_bits("math.lcm()", sum(n.bit_length() for n in numbers if _is_int(n)))
    return math.lcm(*numbers)


class _MathNamespace:
    """``math`` for scripts: the module's functions, with the ones that can run for ever guarded."""

    def __init__(self) -> None:
        for name in dir(math):
            if not name.startswith("_"):
                setattr(self, name, getattr(math, name))
        self.factorial, self.comb = _guarded_factorial, _guarded_comb
        self.perm, self.prod = _guarded_perm, _guarded_prod
        self.isqrt, self.gcd, self.lcm = _guarded_isqrt, _guarded_gcd, _guarded_lcm
        self.pow = _guarded_pow  # math.pow works on floats; the guard only bites on huge ints

    def __setattr__(self, name: str, value: Any) -> None:
        # Built in __init__ only; scripts cannot reach this (writes go through _write_), and
        # the namespace is made once per sandbox, so a script cannot poison another.
        object.__setattr__(self, name, value)


#: A Decimal's exponent may reach ±1000, so an integer of more bits than this is refused unread.
_MAX_DECIMAL_INT_BITS = 3400


def _checked_decimal(value: Any = "0", *args: Any) -> Decimal:
    if _is_int(value) and value.bit_length() > _MAX_DECIMAL_INT_BITS:
        raise ScriptError("a Decimal with an exponent beyond ±1000 is not allowed")
    result = Decimal(value, *args)
    if result.is_finite() and abs(result.adjusted()) > 1000:
        raise ScriptError("a Decimal with an exponent beyond ±1000 is not allowed")
    return result


class _Facade:
    """Stands for a class in scripts: calling it constructs; a few class methods are offered.

    ``now()`` and ``today()`` read the engine's clock (so tests and ``--now`` agree with scripts).
    """

    def __init__(self, cls: type, **methods: Any) -> None:
        self._cls = cls
        self._methods = methods

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._cls(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in self._methods:
            return self._methods[name]
        raise AttributeError(f"{self._cls.__name__}.{name} is not available in scripts")


def _make_whitelist(now: Callable[[], datetime]) -> dict[str, Any]:
    def local_now(tz: Any = None) -> datetime:
        current = now()
        return current.astimezone(tz) if tz is not None else current

    datetime_facade = _Facade(
        datetime,
        now=local_now, utcnow=lambda: now().astimezone(UTC).replace(tzinfo=None),
        today=lambda: now().replace(tzinfo=None), fromisoformat=datetime.fromisoformat,
        strptime=datetime.strptime, combine=datetime.combine, fromtimestamp=datetime.fromtimestamp,
        min=datetime.min, max=datetime.max,
    )
    date_facade = _Facade(
        date, today=lambda: now().date(), fromisoformat=date.fromisoformat, min=date.min, max=date.max,
    )
    return {
        "math": _MathNamespace(),
        "date": date_facade,
        "datetime": datetime_facade,
        "timedelta": timedelta,
        "timezone": timezone,
        "Decimal": _checked_decimal,
    }


#: The whitelisted names, for messages (the objects themselves are made per sandbox).
_WHITELIST = ("Decimal", "date", "datetime", "math", "timedelta", "timezone")
#: Names a script may not assign or delete (refused when it is compiled).
_PROVIDED = frozenset(_BUILTIN_NAMES) | frozenset(_WHITELIST) | {"range"}


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": _guarded_add,
    "%=": _guarded_mod,
    "-=": operator.sub,
    "/=": operator.truediv,
    "//=": _guarded_floordiv,
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


#: Builtins that are types scripts may test with isinstance, and functions that consume an
#: iterable in one C loop, each through its guard.
_Text = _builtin_type(str, _make_text)
_GUARDED_BUILTINS: dict[str, Any] = {
    "str": _Text,
    "int": _builtin_type(int, _guarded_int),
    "list": _builtin_type(list, _make_container(list)),
    "tuple": _builtin_type(tuple, _make_container(tuple)),
    "set": _builtin_type(set, _make_container(set)),
    "frozenset": _builtin_type(frozenset, _make_container(frozenset)),
    "dict": _builtin_type(dict, _make_dict),
    "sorted": _consumer(sorted, compares=True), "min": _consumer(min, compares=True),
    "max": _consumer(max, compares=True),
    "any": _consumer(any), "all": _consumer(all),
}


# -- deep structures: compared, hashed and sorted only when the items reached are bounded --------

#: Items one comparison, hash or sort may reach, a shared item counted each time it is reached:
#: ``[[s] * 100000] * 100000`` is a few kilobytes, and comparing two of them 10^10 items in C.
#: Above the longest flat list one call builds (`_MAX_TOTAL`); 10^7 items take ~0.1 s.
_MAX_REACH = 10_000_000
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset, *_VIEWS})


def _items_of(value: Any) -> Iterable[Any]:
    return itertools.chain(value.keys(), value.values()) if type(value) is dict else value


def _reach(value: Any, limit: int = _MAX_REACH) -> int:
    """How many items comparing or hashing ``value`` may visit, at most ``limit + 1``.

    A shared item counts each time it is reached (memoized, so the walk costs its distinct
    items); a container whose items hold no container is its length without a walk.
    """
    if type(value) not in _CONTAINERS:
        return 1
    if _CONTAINERS.isdisjoint(set(map(type, _items_of(value)))):
        return len(value) + 1
    memo: dict[int, int] = {}
    stack: list[list[Any]] = [[value, iter(_items_of(value)), 1]]
    active = {id(value)}
    budget, steps = _running.get(), 0
    while stack:
        frame = stack[-1]
        for child in frame[1]:
            steps += 1
            if budget is not None and steps & 4095 == 0:  # the walk itself keeps to the time limit
                budget.tick()
            if type(child) not in _CONTAINERS:
                frame[2] += 1
            elif id(child) in memo:
                frame[2] += memo[id(child)]
            elif id(child) in active:  # a list that holds itself
                frame[2] += 1
            else:
                stack.append([child, iter(_items_of(child)), 1])
                active.add(id(child))
                break
            if frame[2] > limit:
                return limit + 1
        else:
            stack.pop()
            active.discard(id(frame[0]))
            memo[id(frame[0])] = frame[2]
            if stack:
                stack[-1][2] += frame[2]
                if stack[-1][2] > limit:
                    return limit + 1
    return memo[id(value)]


def _checked_reach(what: str, *values: Any) -> None:
    for value in values:
        if type(value) in _CONTAINERS and _reach(value) > _MAX_REACH:
            raise ScriptError(f"{what} a value that reaches over {_MAX_REACH} items (counting repeats) is not "
                              "allowed: it would take too long")


def _guarded_compare(operand: Any) -> Any:
    """``operand`` itself, once comparing it (or looking for it, or among it) is known to be bounded."""
    if type(operand) in _CONTAINERS:
        _checked_reach("comparing", operand)
    return operand


def _guarded_getitem(obj: Any, key: Any) -> Any:
    if type(key) is tuple:  # a dict key is hashed: a deep tuple would be walked
        _checked_reach("looking up", key)
    return default_guarded_getitem(obj, key)


class _DictWriter:
    """``d[key] = value`` in scripts, with the key sized before it is hashed."""

    __slots__ = ("target",)

    def __init__(self, target: dict[Any, Any]) -> None:
        self.target = target

    def __setitem__(self, key: Any, value: Any) -> None:
        _checked_reach("a dictionary key of", key)
        self.target[key] = value

    def __delitem__(self, key: Any) -> None:
        _checked_reach("a dictionary key of", key)
        del self.target[key]


def _guarded_write(obj: Any) -> Any:
    return _DictWriter(obj) if type(obj) is dict else full_write_guard(obj)


def _key_sized(key: Any) -> Any:
    """``key`` itself, once hashing it is known to be bounded.

    Only tuples and frozensets hash their items, and tuples do not keep their hash.
    """
    if type(key) in (tuple, frozenset):
        _checked_reach("hashing", key)
    return key


def _keys_checked(items: Any) -> Any:
    """The items of a set to be, each sized as a key."""
    if type(items) in _SIZED:
        # All the keys of one call together: hashing each costs what it reaches.
        if type(items) is not dict and not {tuple, frozenset}.isdisjoint(set(map(type, items))):
            _checked_reach("hashing", items)
        return items
    return (_key_sized(item) for item in items)


#: Methods that hash or compare their arguments (dict and set lookups; list and tuple searches).
_LOOKUPS = frozenset({"get", "setdefault", "pop", "add", "discard", "remove", "index", "count", "fromkeys", "sort",
                      "update", "union", "intersection", "difference", "symmetric_difference", "issubset",
                      "issuperset", "isdisjoint", "intersection_update", "difference_update",
                      "symmetric_difference_update"})


def _lookup_check(obj: Any, name: str) -> Callable[[list[Any], dict[str, Any]], list[Any]] | None:
    if type(obj) in (dict, set, frozenset):
        def hashed(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
            for arg in args:
                if name in ("update", "union", "intersection", "difference", "symmetric_difference", "issubset",
                            "issuperset", "isdisjoint", "fromkeys") or name.endswith("_update"):
                    if type(arg) in _SIZED and type(arg) is not dict:
                        _keys_checked(arg)
                else:
                    _key_sized(arg)
            return args
        return hashed
    if type(obj) is list and name == "sort":
        def sorting(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
            _checked_reach("sorting", obj)
            if kwargs.get("key") is not None:
                kwargs["key"] = _sized_keys(kwargs["key"])
            return args
        return sorting
    if type(obj) in (list, tuple) and name in ("index", "count", "remove"):
        def searched(args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
            if args and type(args[0]) in _CONTAINERS:
                _checked_reach("looking for a list or tuple among", obj)
            return args
        return searched
    return None

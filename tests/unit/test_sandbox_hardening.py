"""Attacks from an adversarial review of the sandbox: each must be refused with a clear error.

Each attack runs in a child process with a time-out and a 2 GB address-space limit, so a
guard that regressed makes the test fail instead of hanging or exhausting the machine.
"""

from datetime import UTC, datetime

import pytest

from engine.errors import ScriptError
from engine.sandbox import Sandbox, SandboxLimits
from tests.support.sandbox import attack


@pytest.mark.parametrize(
    "source, message",
    [
        ("x = math.factorial(10**7)", "too large to compute"),
        ("x = math.comb(10**7, 5*10**6)", "too large to compute"),
        ("x = math.prod([7**30000] * 2000)", "too large to compute"),
        ("x = pow(3, 10**25000, 10**25000 + 1)", "too large to compute"),
        ("x = 7**30000\nx = x * x", "too large to compute"),
        ("x = sum([[0]] * 100000, [])", "sum() adds numbers"),
        ("x = int(Decimal('1e99999999'))", "exponent beyond"),
        ("x = len((0).to_bytes(6 * 10**9, 'big'))", "to_bytes() of"),
        ("x = '%*s' % (10**9, '')", "%-format width"),
        ("x = '%999999999s' % ''", "%-format width"),
        ("x = 'x'.ljust(10**10)", "ljust() of"),
        ("x = ('x' * 1000).replace('x', 'y' * 90000)", "replace() of"),
        ("x = ('\\t' * 90000).expandtabs(100000)", "expandtabs() of"),
        ("s = 'x' * 100000\nfor i in range(30):\n    s = s + s", "over the limit"),
        ("l = [0] * 100000\nfor i in range(30):\n    l += l", "over the limit"),
        ("l = [0] * 100000\nfor i in range(30):\n    l.extend(l)", "extend() of"),
    ],
)
def test_c_level_amplifiers_are_refused(source, message):
    result = attack(source)
    assert result["outcome"] == "refused", result
    assert message in result["message"]


@pytest.mark.parametrize(
    "source, message",
    [
        ("x = f'{1:>1000000000}'", "f-string width"),
        ("n = 5\nx = f'{1:>{n}}'", "format spec must be fixed"),
        ("try:\n    while True:\n        pass\nexcept:\n    pass", "bare 'except:'"),
        ("try:\n    pass\nexcept (ValueError, BaseException):\n    pass", "bare 'except:'"),
        ("class Evil:\n    pass", "class definitions are not allowed"),
    ],
)
def test_refused_when_compiled(source, message):
    with pytest.raises(ScriptError, match=message):
        Sandbox().execute(source, {})


def test_task_data_cannot_replace_the_sandbox_hooks():
    sandbox = Sandbox(SandboxLimits(time_limit_ms=200))
    with pytest.raises(ScriptError, match="time limit"):
        sandbox.execute("n = 0\nwhile True:\n    n = n + 1", {"_tick_": int, "_getiter_": iter})
    with pytest.raises(TypeError):
        sandbox.execute("math.ceil = lambda x: 42", {"_write_": lambda obj: obj})
    assert Sandbox().evaluate("math.ceil(1.5)", {}) == 2


def test_whitelisted_dates_work_and_read_the_engine_clock():
    frozen = datetime(2026, 12, 1, 8, tzinfo=UTC)
    sandbox = Sandbox(now=lambda: frozen)
    data = {}
    sandbox.execute(
        "a = date(2026, 1, 1).strftime('%d.%m.%Y')\n"
        "b = datetime.strptime('2026-03-05', '%Y-%m-%d').day\n"
        "c = datetime.now().isoformat()\n"
        "d = date.today().isoformat()\n"
        "e = f'{date(2026, 1, 2):%d/%m}'\n",
        data,
    )
    assert data == {"a": "01.01.2026", "b": 5, "c": "2026-12-01T08:00:00+00:00", "d": "2026-12-01", "e": "02/01"}
    with pytest.raises(AttributeError, match="not available"):
        sandbox.evaluate("datetime.resolution", {})
    with pytest.raises(AttributeError, match="has no attribute 'yeer'"):
        sandbox.evaluate("d.yeer", {"d": frozen})


def test_functions_and_modules_are_not_stored_as_data():
    data = {}
    Sandbox().execute("f = lambda: 1\nm = math\nd = date\nx = 1", data)
    assert data == {"x": 1}


def test_reserved_names_include_builtins_whitelist_and_helpers():
    sandbox = Sandbox(helpers={"business_days": lambda n: n})
    assert {"str", "len", "math", "date", "business_days", "range"} <= sandbox.reserved_names()

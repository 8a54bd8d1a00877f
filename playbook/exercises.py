"""Checkers for the notebooks' exercises: a trainee computes a number, ``check`` says whether it is
right (within a tolerance) without printing the answer first."""
from __future__ import annotations

import math
from collections.abc import Callable

from . import metrics

#: exercise id -> (question, function(data) -> the right answer, relative tolerance)
EXERCISES: dict[str, tuple[str, Callable, float]] = {}


def exercise(key: str, question: str, rel_tol: float = 0.005):
    def register(func):
        EXERCISES[key] = (question, func, rel_tol)
        return func
    return register


@exercise("00.private_domain_share", "Share of the report month's GMV from the private domain (私域)")
def _private_domain_share(data) -> float:
    orders = data.month_rows("orders")
    private = orders["channel"].isin(data.settings["shop"]["private_domain_channels"])
    return metrics.gmv(orders[private]) / metrics.gmv(orders)


@exercise("00.aov_tmall", "AOV (客单价) of tmall orders in the report month")
def _aov_tmall(data) -> float:
    orders = data.month_rows("orders")
    return metrics.aov(orders[orders["channel"] == "tmall"])


def check(key: str, answer: float, data) -> str:
    """Compare a trainee's ``answer`` with the right one; returns a sentence (and never the answer
    when it is wrong, so the exercise stays an exercise)."""
    question, solve, rel_tol = EXERCISES[key]
    if answer is None:  # the cell as the notebook ships it (and as the monthly pack runs it): nothing to check yet
        return f"{question}: write your number in `answer` and run the cell again."
    try:
        right = float(solve(data))
    except (KeyError, ZeroDivisionError):  # a missing column, or nothing to divide by
        right = float("nan")
    if math.isnan(right):
        return f"{question}: this data cannot answer it (a table or column it needs is missing)."
    try:
        given = float(answer)
    except (TypeError, ValueError):
        return f"{question}: give a number, not {answer!r}."
    if math.isclose(given, right, rel_tol=rel_tol, abs_tol=1e-9):
        return f"{question}: correct ({given:,.4g})."
    hint = "too high" if given > right else "too low"
    return f"{question}: not yet, {given:,.4g} is {hint}. Check the definition in the glossary and try again."

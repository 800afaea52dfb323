"""What a rule reads besides the observation: its parameters, checked once per batch and asked per event."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detections.rule import ParamValue, RuleContext
from detections.state import InMemoryStateStore, StateView


def context(**params: ParamValue) -> RuleContext:
    """A rule context over an empty batch with these parameters."""
    view = StateView(InMemoryStateStore(), horizon=timedelta(minutes=5), units=frozenset({"u1"}))
    return RuleContext(state=view, params=params)


def test_an_integer_parameter_is_the_same_each_time_asked() -> None:
    # GIVEN a rule whose threshold is given as 5 and whose ratio is given as 2.9
    rule = context(threshold=5, ratio=2.9)
    # WHEN the parameters are asked for three times each
    answers = [(rule.param_int("threshold"), rule.param_int("ratio")) for _ in range(3)]
    # THEN each answer is the whole number, every time
    assert answers == [(5, 2), (5, 2), (5, 2)]


@pytest.mark.parametrize("value", [True, "5"])
def test_a_parameter_that_is_no_number_fails_each_time_asked(value: ParamValue) -> None:
    # GIVEN a rule whose threshold and window are not numbers
    rule = context(threshold=value, window_minutes=value)
    # WHEN they are asked for twice THEN each question fails (the engine counts each as a rule error)
    for _ in range(2):
        with pytest.raises(TypeError, match="'threshold' must be a number"):
            rule.param_int("threshold")
        with pytest.raises(TypeError, match="'window_minutes' must be a number"):
            rule.param_window()


def test_equal_windows_are_one_object_across_rules() -> None:
    # GIVEN two rules with a five-minute window (one as an int, one as a float) and one with ten
    five, same, ten = context(window_minutes=5), context(window_minutes=5.0), context(window_minutes=10)
    # WHEN their windows are asked for
    windows = (five.param_window(), same.param_window(), ten.param_window())
    # THEN each is the length given, and the equal ones are the same object (the state view's cue)
    assert windows == (timedelta(minutes=5), timedelta(minutes=5), timedelta(minutes=10))
    assert windows[0] is windows[1] is five.param_window()

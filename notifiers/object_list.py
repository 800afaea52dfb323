"""The 'a, b, c (+N more)' list of the objects an alert names, shared by every renderer (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

MAX_LISTED_OBJECTS = 50  # names shown in full before "+N more"


def object_list(
    objects: Sequence[str], *, limit: int = MAX_LISTED_OBJECTS, fits: Callable[[str], bool] | None = None
) -> str:
    """Up to `limit` names joined by ', ', then '+N more'; fewer names when the text must `fits` a budget."""
    shown = min(len(objects), limit)
    while True:
        text = ", ".join(objects[:shown])
        hidden = len(objects) - shown
        if hidden:
            text = f"{text} +{hidden} more" if shown else f"+{hidden} more"
        if fits is None or shown == 0 or fits(text):
            return text
        shown -= 1

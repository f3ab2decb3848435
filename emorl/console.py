"""The one way emorl builds a rich console: names and words are printed as written."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def make_console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A rich console with emoji codes off, so ``dailydialog:train:`` or a caller's
    ``:smile:`` stays text; markup in user text still needs ``rich.markup.escape``."""
    from rich.console import Console

    return Console(stderr=stderr, width=width, emoji=False)

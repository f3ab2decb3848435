"""Text renderings of a call: ``ansi`` (a string) and ``human`` (rich, to the terminal)."""

from __future__ import annotations

from typing import Any

from emorl.emotions import FOUR_CLASS


def _line(entry: dict[str, Any], index: int) -> tuple[str, str, str]:
    heard = FOUR_CLASS[int(entry["posteriors"].argmax())]
    p = float(entry["posteriors"].max())
    agent = entry["act"] or "(call starts)"
    if entry.get("system_text"):
        agent = f"{agent}: {entry['system_text']}"
    return (
        agent,
        entry["text"],
        f"true {entry['emotion']}, heard {heard} {p:.2f}, r={entry['reward']:+.3f}",
    )


def render_ansi(env: Any) -> str:
    """The call so far, one agent act and user reply per turn."""
    rows = []
    for i, entry in enumerate(env.history):
        agent, text, note = _line(entry, i)
        rows.append(
            f"[{i:2d}] agent: {agent}\n     user:  {text}\n"
            f"     ({note}, valence {entry['valence']:+.2f})"
        )
    return "\n".join(rows) + "\n"


def render_human(env: Any) -> None:
    """The latest turn, printed with rich."""
    from rich.markup import escape

    from emorl.console import make_console

    if not env.history:
        return
    i = len(env.history) - 1
    agent, text, note = _line(env.history[-1], i)
    make_console().print(
        f"[bold cyan][{i}] agent:[/] {escape(agent)}\n[bold]user:[/] {escape(text)}\n"
        f"[dim]{escape(note)}[/]"
    )

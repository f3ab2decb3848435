"""The live view: transcript, emotion bars per branch and fused, reward history, agent reply.

:class:`LiveDisplay` redraws a rich ``Live`` panel; :class:`PlainDisplay` prints one line per
turn (pipes, logs, tests).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from emorl.console import make_console
from emorl.demo.session import Turn
from emorl.emotions import FOUR_CLASS

COLOURS = {"neutral": "white", "happy": "green", "sad": "blue", "angry": "red"}
BAR_WIDTH = 20
HISTORY = 12


def bar(p: float, colour: str, width: int = BAR_WIDTH) -> Text:
    """A horizontal bar of ``p`` in [0, 1] with its value."""
    filled = round(max(0.0, min(1.0, p)) * width)
    return Text("█" * filled + "·" * (width - filled), style=colour) + Text(f" {p:.2f}")


def timing(turn: Turn) -> str:
    """The turn's times: "recognised in R s, shown S s after you stopped".

    R is IEmoNet and the caller's speaker statistics on the utterance (``latency``'s
    ``recognition``); S is ``end_of_speech_to_display`` (endpoint + queue + processing).

    With speculation the recognition ran during the end-of-speech silence, so ``processing``
    (end decided to display) is only milliseconds: it is not shown as the turn's time.
    """
    latency = turn.latency
    recognised = latency.get("recognition", turn.timings.get("recognition"))
    parts = [] if recognised is None else [f"recognised in {recognised:.2f} s"]
    shown = latency.get("end_of_speech_to_display")
    if shown is not None:
        parts.append(f"shown {shown:.2f} s after you stopped")
    return ", ".join(parts)


def emotion_table(turn: Turn) -> Table:
    """One row per emotion, one column of bars per branch (SER, TER, fused)."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("emotion")
    branches = [("SER", turn.ser), ("TER", turn.ter), ("fused", turn.fused)]
    for name, _ in branches:
        table.add_column(name)
    for emotion in FOUR_CLASS:
        cells = [
            bar(p[emotion], COLOURS[emotion]) if p is not None else Text("-", style="dim")
            for _, p in branches
        ]
        table.add_row(Text(emotion, style=COLOURS[emotion]), *cells)
    return table


def reward_history(turns: deque[Turn]) -> Table:
    table = Table(
        box=None, pad_edge=False, show_edge=False, title="reward history", title_justify="left"
    )
    for column in ("turn", "heard", "after act", "ΔP term", "r_est", "reward"):
        table.add_column(
            column, justify="right" if column not in ("heard", "after act") else "left"
        )
    for turn in turns:
        r = turn.reward
        if r is None:
            table.add_row(str(turn.index), turn.label, "(call opens)", "-", "-", "-")
            continue
        style = "green" if r["reward"] > 0.02 else "red" if r["reward"] < -0.02 else ""
        table.add_row(
            str(turn.index),
            turn.label,
            turn.answered_act or "",
            f"{r['delta']:+.3f}",
            f"{r['r_est']:+.3f}",
            Text(f"{r['reward']:+.3f}", style=style),
        )
    return table


class LiveDisplay:
    """The rich live panel; use as a context manager."""

    def __init__(self, source: str, agent: str, console: Console | None = None) -> None:
        self.console = console or make_console()
        self.source, self.agent = source, agent
        self.status = "listening"
        self.last: Turn | None = None
        self.history: deque[Turn] = deque(maxlen=HISTORY)
        self._live = Live(self._render(), console=self.console, auto_refresh=False)

    def __enter__(self) -> LiveDisplay:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)

    def set_status(self, status: str) -> None:
        self.status = status
        self._live.update(self._render(), refresh=True)

    def show(self, turn: Turn) -> None:
        self.last = turn
        self.history.append(turn)
        self._live.update(self._render(), refresh=True)

    def note(self, message: str) -> None:
        self.console.print(message)

    def _render(self) -> Panel:
        header = Text.from_markup(
            f"[bold]{escape(self.source)}[/]  agent: {escape(self.agent)}  "
            f"[yellow]{self.status}[/]  (Ctrl-C ends)"
        )
        parts: list[Any] = [header]
        turn = self.last
        if turn is not None:
            said = escape(turn.transcript) if turn.transcript else "[dim](no words heard)[/]"
            parts += [
                Text.from_markup(f"\n[bold]you:[/] {said}"),
                Text.from_markup(
                    f"heard [bold]{turn.label}[/] ({', '.join(turn.branches)}); {timing(turn)}"
                ),
                emotion_table(turn),
                Text(""),
                reward_history(self.history),
                Text.from_markup(f"\n[bold cyan]agent ({turn.act}):[/] {escape(turn.agent_text)}"),
            ]
            if turn.call_ended:
                parts.append(
                    Text.from_markup(
                        f"[dim]call ended ({turn.call_ended}); speak to start a new one[/]"
                    )
                )
        return Panel(Group(*parts), title="emorl demo", border_style="cyan")


class PlainDisplay:
    """One printed block per turn, for terminals without live redraw."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or make_console()

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def set_status(self, status: str) -> None:
        return None

    def note(self, message: str) -> None:
        self.console.print(message)

    def show(self, turn: Turn) -> None:
        fused = " ".join(f"{e} {turn.fused[e]:.2f}" for e in FOUR_CLASS)
        reward = "-" if turn.reward is None else f"{turn.reward['reward']:+.3f}"
        self.console.print(
            f"[{turn.index}] you: {escape(turn.transcript or '(no words)')}\n"
            f"    heard {turn.label} ({fused}), reward {reward}\n"
            f"    {timing(turn)}\n"
            f"    agent ({turn.act}): {escape(turn.agent_text)}"
        )

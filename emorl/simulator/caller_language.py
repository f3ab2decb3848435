"""The simulated caller's words: an emotion-bearing opener, a core per intent, a closer.

A reply is composed from three parts, each drawn with the caller's generator:

- an **opener** that shows the emotion ("Ugh.", "Oh no.", "Wonderful!"), picked by the
  intent's class, the emotion and the intensity band (mild / medium / strong); for some
  intents it may instead be a real corpus reaction from the
  :class:`~emorl.simulator.bank.UtteranceBank` whose cue words fit that intent ("Shame on
  you!" after bad news, "Thanks again." when thanking), drawn over every fitting line;
- a **core** that does what the intent says (gives the slot value, corrects a misheard
  value, thanks), in words that carry the emotion, with extra blunt or polite variants;
- a **closer**: an emotional tail of the intensity band ("This is ridiculous!") or a
  courtesy of the politeness band ("Thank you."), or nothing.

Every part is a complete sentence, so replies join with single spaces (an opener that
ends in a comma runs into its core). :meth:`TemplateCallerLanguage.all_replies` walks the
same tables, so it lists exactly the texts :meth:`~TemplateCallerLanguage.realise` can
say for a scenario (the text-recognizer posterior cache is built from it). Run
``python -m emorl.simulator.caller_language --counts`` for the counts per intent.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from itertools import product

import numpy as np

from emorl.emotions import FOUR_CLASS
from emorl.simulator.bank import UtteranceBank
from emorl.simulator.scenario import Scenario

#: The caller's reply intents (see the module of the user simulator for when each fires).
INTENTS: tuple[str, ...] = (
    "open",
    "greet_back",
    "provide_slot",
    "already_gave",
    "not_needed",
    "confirm_yes",
    "confirm_correct",
    "confirm_missing",
    "repeat_complaint",
    "wrong_record",
    "premature",
    "not_resolved",
    "thank",
    "react_bad_news",
    "accept_alternative",
    "refuse_alternative",
    "not_helpful",
    "acknowledge_apology",
    "acknowledge_empathy",
    "transferred",
    "goodbye",
    "hangup",
)
#: The context keys each intent's words use (besides those it may ignore).
FILL_KEYS: dict[str, tuple[str, ...]] = {
    "open": ("problem",),
    "greet_back": ("problem",),
    "provide_slot": ("prompt", "value"),
    "already_gave": ("prompt", "value"),
    "not_needed": ("prompt",),
    "confirm_correct": ("prompt", "value"),
    "wrong_record": ("prompt",),
    "react_bad_news": ("problem",),
}
BANDS: tuple[str, ...] = ("mild", "medium", "strong")
POLITENESS: tuple[str, ...] = ("blunt", "ordinary", "polite")

#: Which opener/closer tables an intent uses.
CLASS_OF: dict[str, str] = {
    "open": "start",
    "greet_back": "start",
    "provide_slot": "answer",
    "confirm_yes": "answer",
    "confirm_correct": "complaint",
    "not_needed": "complaint",
    "already_gave": "complaint",
    "confirm_missing": "complaint",
    "repeat_complaint": "complaint",
    "wrong_record": "complaint",
    "premature": "complaint",
    "not_resolved": "complaint",
    "not_helpful": "complaint",
    "thank": "good",
    "accept_alternative": "good",
    "acknowledge_apology": "good",
    "acknowledge_empathy": "good",
    "transferred": "good",
    "goodbye": "good",
    "react_bad_news": "bad",
    "refuse_alternative": "bad",
    "hangup": "bad",
}
#: Intents whose fills multiply the reply count: they get fewer openers and closers.
_FILLED_SLOT = {"provide_slot", "already_gave", "confirm_correct"}

Bands = tuple[Sequence[str], Sequence[str], Sequence[str]]

# ---------------------------------------------------------------- openers: class -> emotion
OPENERS: dict[str, dict[str, Bands]] = {
    "start": {
        "neutral": (["Hello.", "Hi."], ["Hello there.", "Good morning."], ["Hello, yes."]),
        "happy": (
            ["Hi there!", "Hello!"],
            ["Oh, hi there!", "Hello, lovely to get through!"],
            ["Hi! Great, a real person!", "Oh wonderful, hello!"],
        ),
        "sad": (
            ["Hi...", "Hello, um."],
            ["Oh, hello. Sorry.", "Hi. Um, hello."],
            ["Hello... I'm at my wits' end.", "Oh, hi. I'm really struggling here."],
        ),
        "angry": (
            ["Yes, hello.", "Right, hello."],
            ["Finally, somebody answers.", "About time someone picked up."],
            ["Ugh, finally! Forty minutes on hold!", "At last! This is unacceptable!"],
        ),
    },
    "answer": {
        "neutral": (["", "Sure."], ["Okay.", "Right."], ["Yes.", "Alright."]),
        "happy": (["Sure!", "Of course."], ["Oh, sure!", "No problem!"], ["Absolutely!", "Great!"]),
        "sad": (["Um.", "Oh, okay."], ["Oh... okay.", "Sigh. Okay."], ["Oh dear.", "Sigh..."]),
        "angry": (
            ["Fine.", "Look,"],
            ["Ugh, fine.", "Ugh."],
            ["Ugh, seriously.", "Oh, for God's sake."],
        ),
    },
    "complaint": {
        "neutral": (["", "Hmm."], ["Um.", "Sorry,"], ["Hold on.", "Wait."]),
        "happy": (
            ["Ha,", "Oh,"],
            ["Haha, no worries.", "Ha, easy mistake."],
            ["Ha! Oh, that's funny.", "Oh, no harm done!"],
        ),
        "sad": (
            ["Oh.", "Um,"],
            ["Oh no.", "Oh dear."],
            ["Oh no, not again.", "Oh, this is so hard."],
        ),
        "angry": (
            ["Look,", "Excuse me?"],
            ["Ugh.", "Oh, come on."],
            ["Are you kidding me?", "Unbelievable!", "Oh, for God's sake!"],
        ),
    },
    "good": {
        "neutral": (["", "Right."], ["Alright.", "Right."], ["Fair enough.", "Right then."]),
        "happy": (
            ["Oh, good.", "Great."],
            ["Oh, great!", "Lovely!"],
            ["Wonderful!", "Oh, brilliant!", "Fantastic!"],
        ),
        "sad": (
            ["Oh.", "Okay..."],
            ["Oh, okay.", "Well, alright."],
            ["Oh... well.", "I suppose so."],
        ),
        "angry": (
            ["Fine.", "Right."],
            ["Finally.", "Well, fine."],
            ["About time!", "Finally!"],
        ),
    },
    "bad": {
        "neutral": (["", "Hmm."], ["I see.", "Oh."], ["Really?", "Is that so?"]),
        "happy": (
            ["Oh well.", "Ha, okay."],
            ["Oh well!", "Ah, never mind."],
            ["Ha, oh well!", "Oh, never mind!"],
        ),
        "sad": (
            ["Oh.", "Oh, right."],
            ["Oh no.", "Oh dear."],
            ["Oh no, no, no.", "Oh, that's awful."],
        ),
        "angry": (
            ["What?", "Seriously?"],
            ["Are you kidding me?", "Oh, come on!"],
            ["Unbelievable!", "You've got to be joking!"],
        ),
    },
}

# ---------------------------------------------------------------- tails: class -> emotion
TAILS: dict[str, dict[str, Bands]] = {
    "start": {
        "neutral": ([""], [""], ["Thanks."]),
        "happy": ([""], ["Hope you're having a good day!"], ["I'm sure you can sort it out!"]),
        "sad": ([""], ["I'm really worried about it."], ["I just don't know what to do."]),
        "angry": ([""], ["I'm not happy about this."], ["I've had it with this!"]),
    },
    "answer": {
        "neutral": ([""], [""], [""]),
        "happy": ([""], ["Happy to give it."], ["Glad we are getting somewhere!"]),
        "sad": ([""], ["I hope that's enough."], ["Please, I just want this sorted."]),
        "angry": ([""], ["Hurry up."], ["Now get on with it!"]),
    },
    "complaint": {
        "neutral": ([""], ["Could we move on?"], ["Let's get back to my problem."]),
        "happy": ([""], ["No rush, though."], ["Honestly, no problem!"]),
        "sad": ([""], ["This is getting me down."], ["I'm so tired of this."]),
        "angry": ([""], ["This is ridiculous."], ["This is absolutely ridiculous!", "I'm fed up!"]),
    },
    "good": {
        "neutral": ([""], [""], [""]),
        "happy": ([""], ["That's great!"], ["You've made my day!", "I'm so relieved!"]),
        "sad": ([""], ["I suppose that's something."], ["It's been a rough week."]),
        "angry": ([""], ["It shouldn't have taken this long."], ["That took far too long!"]),
    },
    "bad": {
        "neutral": ([""], [""], ["That's a pity."]),
        "happy": ([""], ["These things happen."], ["Can't win them all!"]),
        "sad": ([""], ["That's really disappointing."], ["I really needed this."]),
        "angry": (
            [""],
            ["This is outrageous."],
            ["This is absolutely outrageous!", "I'm furious!"],
        ),
    },
}

# --------------------------------------------------------- courtesy: class -> politeness
COURTESY: dict[str, tuple[Sequence[str], Sequence[str], Sequence[str]]] = {
    "start": (
        [],
        ["Can you help?"],
        ["Could you help me, please?", "Thank you for taking my call."],
    ),
    "answer": ([], ["Thanks."], ["Thank you."]),
    "complaint": ([], [], ["Sorry to be difficult.", "If you don't mind."]),
    "good": ([], ["Thanks."], ["Thank you.", "I really appreciate it."]),
    "bad": ([], [], ["Thanks for explaining.", "I know it's not your fault."]),
}

# ------------------------------------------------------------- cores: intent -> emotion
# Each entry: a list of cores, or a dict with "any" plus optional "blunt" / "polite" extras.
Cores = Sequence[str] | Mapping[str, Sequence[str]]
CORES: dict[str, dict[str, Cores]] = {
    "open": {
        "neutral": ["{problem}", "I'm calling because {problem_lc}", "I need some help. {problem}"],
        "happy": [
            "{problem}",
            "I'm hoping you can help. {problem}",
            "Quick one for you. {problem}",
        ],
        "sad": ["{problem}", "I'm sorry to bother you, but {problem_lc}", "I need help. {problem}"],
        "angry": {
            "any": [
                "{problem}",
                "{problem} And nobody has fixed it.",
                "I want this sorted. {problem}",
            ],
            "blunt": ["Listen. {problem}"],
        },
    },
    "greet_back": {
        "neutral": ["As I said, {problem_lc}", "{problem}"],
        "happy": ["Thanks for asking! {problem}", "Nice to talk to you! {problem}"],
        "sad": ["Like I said, {problem_lc}", "{problem} It's really stressing me out."],
        "angry": {
            "any": ["{problem}", "Like I said, {problem_lc}"],
            "blunt": ["Skip the pleasantries. {problem}"],
        },
    },
    "provide_slot": {
        "neutral": ["My {prompt} is {value}.", "It's {value}."],
        "happy": ["My {prompt} is {value}!", "It's {value}!"],
        "sad": ["It's... {value}.", "My {prompt} is {value}, I think."],
        "angry": ["It's {value}.", "My {prompt} is {value}. Write it down."],
    },
    "already_gave": {
        "neutral": [
            "I already gave you my {prompt}. It's {value}.",
            "I said that already: {value}.",
        ],
        "happy": ["I think I gave you that already! It's {value}.", "That was {value}, remember?"],
        "sad": ["I already told you... it's {value}.", "I gave you that. It's {value}."],
        "angry": ["I already told you! It's {value}!", "How many times? My {prompt} is {value}!"],
    },
    "not_needed": {
        "neutral": [
            "I don't think you need my {prompt} for this.",
            "My {prompt} isn't relevant here.",
        ],
        "happy": [
            "Oh, I don't think you need my {prompt} for this!",
            "I don't think my {prompt} matters here!",
        ],
        "sad": [
            "I don't see why you'd need my {prompt} for this.",
            "Do you really need my {prompt}? I don't think it helps.",
        ],
        "angry": [
            "Why on earth do you need my {prompt}?",
            "My {prompt} has nothing to do with this!",
            "You don't need my {prompt} for this!",
        ],
    },
    "confirm_yes": {
        "neutral": ["Yes, that's all right.", "Correct, that's me.", "Yes, those are my details."],
        "happy": ["Yes, that's right!", "Spot on!", "Perfect, that's all correct!"],
        "sad": ["Yes, that's right.", "Yes... that's it.", "That's right, yes."],
        "angry": ["Yes. That's right.", "Yes, obviously.", "Yes, that's what I said."],
    },
    "confirm_correct": {
        "neutral": ["No, my {prompt} is {value}.", "Not quite. It's {value}."],
        "happy": ["Almost! My {prompt} is actually {value}.", "Close! It's {value}."],
        "sad": ["No, sorry, it's {value}.", "That's not right. My {prompt} is {value}."],
        "angry": ["No! My {prompt} is {value}!", "Wrong. It's {value}."],
    },
    "confirm_missing": {
        "neutral": ["You don't have my details yet.", "You haven't taken my details yet."],
        "happy": ["You haven't got my details yet!", "I haven't given you my details yet!"],
        "sad": ["But you don't have my details yet.", "I haven't even given you my details."],
        "angry": [
            "You haven't even asked for my details!",
            "Confirm what? You don't have my details!",
        ],
    },
    "repeat_complaint": {
        "neutral": ["You already said that.", "We've done this bit already."],
        "happy": ["You said that already!", "I think we've done this part!"],
        "sad": ["You already said that...", "We keep going round in circles."],
        "angry": {
            "any": [
                "You already said that!",
                "Stop repeating yourself!",
                "We've been through this!",
            ],
            "polite": ["Please, we've already been through this."],
        },
    },
    "wrong_record": {
        "neutral": ["That's not my account.", "That isn't my {prompt}. You must have misheard."],
        "happy": ["That's not my account!", "Oops, that isn't my {prompt}!"],
        "sad": ["That's not my account...", "That isn't my {prompt}. Now what?"],
        "angry": ["That's not my account!", "That's not my {prompt}! Were you even listening?"],
    },
    "premature": {
        "neutral": [
            "You haven't taken my details yet.",
            "How can you say that without my details?",
        ],
        "happy": [
            "Wait, you haven't even got my details yet!",
            "Already? You don't have my details!",
        ],
        "sad": ["But you haven't looked at my account yet.", "You haven't even checked yet."],
        "angry": {
            "any": [
                "You haven't even looked at my account!",
                "How would you know? You have no details!",
            ],
            "blunt": ["Rubbish. You haven't checked anything."],
        },
    },
    "not_resolved": {
        "neutral": ["That hasn't fixed anything.", "I don't think that's sorted."],
        "happy": ["Hmm, I don't think that's fixed yet!", "Nice try, but it's still not sorted!"],
        "sad": ["It's still not fixed.", "But nothing has changed."],
        "angry": ["That hasn't fixed anything!", "Nothing has been fixed!", "It is not sorted!"],
    },
    "thank": {
        "neutral": [
            "Thanks, that fixes it.",
            "Thank you, that's sorted then.",
            "Good, that's everything I needed.",
            "Okay, that sorts it out.",
        ],
        "happy": [
            "Thank you so much!",
            "That's brilliant, thank you!",
            "Thanks, you've been great!",
        ],
        "sad": [
            "Thank you. That helps.",
            "Thanks... that's a relief.",
            "That's a weight off my mind.",
            "At least that's sorted now.",
        ],
        "angry": {
            "any": ["Fine, thanks.", "Good. Thanks.", "Well, at least it's done."],
            "polite": ["Thank you, I suppose."],
        },
    },
    "react_bad_news": {
        "neutral": [
            "So you can't do it?",
            "That's not what I hoped to hear.",
            "So there's nothing you can do?",
        ],
        "happy": ["Oh, that's a shame!", "Ah, well, no harm in asking!"],
        "sad": [
            "So you can't help me?",
            "That's really bad news.",
            "What am I supposed to do now?",
        ],
        "angry": {
            "any": [
                "That's not acceptable!",
                "You can't be serious about this!",
                "So you're refusing to help me?",
            ],
            "blunt": ["That's rubbish!"],
        },
    },
    "accept_alternative": {
        "neutral": ["Okay, I'll take that.", "That works for me, then.", "Alright, let's do that."],
        "happy": ["Yes, let's do that!", "That sounds great!", "Oh, I'd love that!"],
        "sad": [
            "I suppose that will do.",
            "Okay, I'll take that.",
            "It's better than nothing, I suppose.",
        ],
        "angry": ["Fine, I'll take it.", "Whatever. Do that then.", "I suppose it'll have to do."],
    },
    "refuse_alternative": {
        "neutral": ["No, that doesn't work for me.", "No thanks, I'll pass."],
        "happy": ["Ah, no thanks!", "That's kind, but no thanks!"],
        "sad": ["No... that doesn't help me.", "I don't think that helps."],
        "angry": ["No! That's not what I want!", "No. That's useless to me."],
    },
    "not_helpful": {
        "neutral": ["That doesn't help me.", "That's not what I asked for."],
        "happy": ["That's nice, but it doesn't really help!", "Ha, that's not what I need!"],
        "sad": ["That doesn't really help.", "I don't see how that helps me."],
        "angry": ["That doesn't help at all!", "That's not what I asked for!"],
    },
    "acknowledge_apology": {
        "neutral": ["That's alright, no harm done.", "Apology accepted."],
        "happy": ["Oh, no need to apologise!", "That's alright, don't worry!"],
        "sad": [
            "Thank you. It's been hard.",
            "It's okay, I suppose.",
            "It's alright. It's not your fault.",
        ],
        "angry": ["Sorry doesn't fix it.", "An apology isn't enough."],
    },
    "acknowledge_empathy": {
        "neutral": [
            "Thanks, I appreciate you saying that.",
            "Yes, it has been a hassle.",
            "It's been a bit of a pain, yes.",
        ],
        "happy": ["Aw, thank you!", "That's kind of you!"],
        "sad": [
            "Thank you. It really has been awful.",
            "It's been a nightmare, honestly.",
            "It really has been a horrible week.",
        ],
        "angry": ["I don't need sympathy, I need a fix.", "Understanding doesn't fix anything."],
    },
    "transferred": {
        "neutral": ["Put me through, then.", "I'll hold, then."],
        "happy": ["Yes, put me through!", "Sure, I'll hold!"],
        "sad": ["Okay... I'll hold.", "Alright, put me through, I guess."],
        "angry": ["Fine. Put me through.", "Another transfer? Fine."],
    },
    "goodbye": {
        "neutral": ["Bye for now.", "Goodbye, then."],
        "happy": ["Bye now!", "Goodbye, have a lovely day!"],
        "sad": ["Bye, then.", "Okay, bye for now."],
        "angry": ["Bye.", "Goodbye."],
    },
    "hangup": {
        "neutral": ["I'll call back another time.", "I'm going to end the call."],
        "happy": ["I'll try again later, bye!", "I'll call back some other time!"],
        "sad": ["I give up. Goodbye.", "I can't do this anymore. Bye."],
        "angry": {
            "any": ["I'm hanging up!", "Forget it, I'm done!", "I'm taking my business elsewhere!"],
            "polite": ["I'm sorry, but I'm ending this call."],
        },
    },
}

# ------------------------------------------------------- corpus reactions: cue -> intents
#: A bank line of ``emotion`` may open a reply of ``intents`` when it contains one of the
#: cue words (lowercase, whole words). No recognizer is involved: lines are selected by
#: the corpus's own emotion label and these words.
CORPUS_CUES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    (
        "angry",
        frozenset({"fault", "shame", "harsh", "excessive", "damnit"}),
        frozenset(
            {
                "react_bad_news",
                "premature",
                "not_resolved",
                "not_helpful",
                "refuse_alternative",
                "hangup",
            }
        ),
    ),
    ("angry", frozenset({"true", "right"}), frozenset({"not_resolved", "react_bad_news"})),
    ("angry", frozenset({"nevermind"}), frozenset({"hangup"})),
    (
        "happy",
        frozenset({"thank", "thanks", "glad", "appreciate", "kindly", "kind"}),
        frozenset({"thank", "goodbye", "accept_alternative"}),
    ),
    (
        "happy",
        frozenset({"great", "wonderful", "perfect", "excellent", "happy", "timing"}),
        frozenset({"thank"}),
    ),
    ("happy", frozenset({"idea", "sounds", "nice"}), frozenset({"accept_alternative"})),
    ("neutral", frozenset({"right", "exactly"}), frozenset({"confirm_yes"})),
    ("neutral", frozenset({"mean"}), frozenset({"acknowledge_apology", "acknowledge_empathy"})),
    ("neutral", frozenset({"mind"}), frozenset({"accept_alternative"})),
    ("neutral", frozenset({"bad"}), frozenset({"react_bad_news"})),
)
#: Chance that a reply whose intent has fitting corpus lines opens with one of them.
CORPUS_SHARE = 0.3

_WORDS = re.compile(r"[a-z']+")


def _lower_first(text: str) -> str:
    if text.startswith("I ") or text.startswith("I'"):
        return text
    return text[:1].lower() + text[1:]


def _join(parts: Sequence[str]) -> str:
    out = ""
    for part in parts:
        if not part:
            continue
        if not out:
            out = part
        elif out.endswith(","):
            out = f"{out} {_lower_first(part)}"
        else:
            out = f"{out} {part}"
    return out


_THANKS = re.compile(r"\b(thank|thanks|appreciate)\b", re.IGNORECASE)


def _closers_for(opener: str, core: str, closers: tuple[str, ...]) -> tuple[str, ...]:
    """The closers that do not thank again when the opener or core already thanks."""
    if not (_THANKS.search(opener) or _THANKS.search(core)):
        return closers
    kept = tuple(c for c in closers if not _THANKS.search(c))
    return kept or ("",)


def band(x: float) -> int:
    """0, 1 or 2: the third of [0, 1] that ``x`` falls in (clipped)."""
    return min(2, max(0, int(float(x) * 3.0)))


class TemplateCallerLanguage:
    """The built-in caller wording (see the module docstring). ``bank``: corpus reactions."""

    def __init__(
        self, bank: UtteranceBank | None = None, *, corpus_share: float = CORPUS_SHARE
    ) -> None:
        self.bank = bank if bank is not None else UtteranceBank.load()
        self.corpus_share = float(corpus_share)
        self._corpus: dict[tuple[str, str], tuple[str, ...]] = {}
        for emotion in FOUR_CLASS:
            lines = sorted(set(self.bank.all_lines(emotion)))
            for intent in INTENTS:
                fit = tuple(
                    line
                    for line in lines
                    if any(
                        emo == emotion
                        and intent in intents
                        and cues & set(_WORDS.findall(line.lower()))
                        for emo, cues, intents in CORPUS_CUES
                    )
                )
                if fit:
                    self._corpus[(intent, emotion)] = fit

    # ---------------------------------------------------------------- the parts
    def corpus_lines(self, intent: str, emotion: str) -> tuple[str, ...]:
        """The bank lines that may open ``intent`` in ``emotion`` (empty when none)."""
        return self._corpus.get((intent, emotion), ())

    def parts(
        self, intent: str, emotion: str, intensity_band: int, politeness_band: int
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(template openers, corpus openers, cores, closers) for one band pair; unfilled."""
        if intent not in CLASS_OF:
            raise ValueError(f"unknown intent {intent!r}; intents are {list(INTENTS)}")
        if emotion not in FOUR_CLASS:
            raise ValueError(f"unknown emotion {emotion!r}; emotions are {list(FOUR_CLASS)}")
        cls = CLASS_OF[intent]
        ib, pb = intensity_band, politeness_band
        openers = tuple(OPENERS[cls][emotion][ib])
        tails = tuple(TAILS[cls][emotion][ib])
        courtesy = tuple(COURTESY[cls][pb])
        if emotion == "angry":  # an angry caller keeps only the plainest courtesy
            courtesy = courtesy[:1]
        if intent in _FILLED_SLOT:  # each fill multiplies: keep these lean
            openers, tails, courtesy = openers[:2], tails[:1], courtesy[:1]
        raw = CORES[intent][emotion]
        if isinstance(raw, Mapping):
            extra = raw.get(POLITENESS[pb], ())
            cores = (*raw["any"], *extra)
        else:
            cores = tuple(raw)
        corpus = self.corpus_lines(intent, emotion) if ib > 0 else ()
        closers = tuple(dict.fromkeys((*tails, *courtesy))) or ("",)
        return openers, corpus, cores, closers

    # ---------------------------------------------------------------- realise
    def realise(
        self,
        intent: str,
        emotion: str,
        rng: np.random.Generator,
        *,
        intensity: float,
        politeness: float,
        context: Mapping[str, str],
    ) -> str:
        """The caller's reply for ``intent`` in ``emotion``, filled from ``context``."""
        ib, pb = band(intensity), band(politeness)
        openers, corpus, cores, closers = self.parts(intent, emotion, ib, pb)
        if corpus and rng.random() < self.corpus_share:
            opener = corpus[int(rng.integers(len(corpus)))]
        else:
            opener = openers[int(rng.integers(len(openers)))]
        core = _fill(cores[int(rng.integers(len(cores)))], intent, context)
        fitting = _closers_for(opener, core, closers)
        closer = fitting[int(rng.integers(len(fitting)))]
        return _join((opener, core, closer))

    # ---------------------------------------------------------------- enumerate
    def replies(
        self, intent: str, emotion: str, fills: Sequence[Mapping[str, str]]
    ) -> Iterator[str]:
        """Every text :meth:`realise` can say for ``intent`` and ``emotion`` over ``fills``."""
        for ib, pb in product(range(3), range(3)):
            openers, corpus, cores, closers = self.parts(intent, emotion, ib, pb)
            for fill in fills:
                filled = [_fill(core, intent, fill) for core in cores]
                for opener, core in product((*openers, *corpus), filled):
                    for closer in _closers_for(opener, core, closers):
                        yield _join((opener, core, closer))

    def all_replies(self, scenario: Scenario) -> list[str]:
        """Every distinct text :meth:`realise` can produce for ``scenario``, in a fixed order."""
        out: dict[str, None] = {}
        for intent in INTENTS:
            fills = scenario_fills(scenario, intent)
            for emotion in FOUR_CLASS:
                for text in self.replies(intent, emotion, fills):
                    out.setdefault(text)
        return list(out)

    def counts(self, scenario: Scenario) -> dict[str, dict[str, int]]:
        """Distinct replies per intent and emotion (and ``all``) for ``scenario``."""
        table: dict[str, dict[str, int]] = {}
        for intent in INTENTS:
            fills = scenario_fills(scenario, intent)
            row = {e: len(set(self.replies(intent, e, fills))) for e in FOUR_CLASS}
            row["all"] = len({t for e in FOUR_CLASS for t in self.replies(intent, e, fills)})
            table[intent] = row
        return table


def scenario_fills(scenario: Scenario, intent: str) -> list[dict[str, str]]:
    """The contexts ``intent`` can be realised with in ``scenario`` (keys it uses only)."""
    keys = FILL_KEYS.get(intent, ())
    if "value" in keys:
        return [
            {"prompt": slot.prompt, "value": value}
            for slot in scenario.slots.values()
            for value in slot.values
        ]
    if "prompt" in keys:
        return [{"prompt": slot.prompt} for slot in scenario.slots.values()]
    if "problem" in keys:
        return [{"problem": p.description} for p in scenario.problems]
    return [{}]


def _fill(core: str, intent: str, context: Mapping[str, str]) -> str:
    if "{" not in core:
        return core
    values = {key: context.get(key, "") for key in FILL_KEYS.get(intent, ())}
    if "problem" in values:
        values["problem_lc"] = _lower_first(values["problem"])
    missing = [k for k in FILL_KEYS.get(intent, ()) if not values.get(k)]
    if missing:
        raise KeyError(f"intent {intent!r} needs context {missing}")
    return core.format(**values)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m emorl.simulator.caller_language --counts [--scenario FILE] [--json]``."""
    parser = argparse.ArgumentParser(prog="python -m emorl.simulator.caller_language")
    parser.add_argument("--counts", action="store_true", help="distinct replies per intent")
    parser.add_argument("--scenario", default=None, help="scenario file (default: shipped)")
    parser.add_argument("--bank", default=None, help="bank file or folder (default: shipped)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--examples", type=int, default=0, help="print N sampled replies")
    args = parser.parse_args(argv)
    scenario = Scenario.load(args.scenario)
    language = TemplateCallerLanguage(UtteranceBank.load(args.bank) if args.bank else None)
    if args.counts:
        table = language.counts(scenario)
        total = len(language.all_replies(scenario))
        if args.json:
            print(json.dumps({"intents": table, "total": total}))
        else:
            print(f"{'intent':<20}" + "".join(f"{e:>9}" for e in (*FOUR_CLASS, "all")))
            for intent, row in table.items():
                print(f"{intent:<20}" + "".join(f"{row[e]:>9}" for e in (*FOUR_CLASS, "all")))
            print(f"{'total distinct':<20}{total:>45}")
    if args.examples:
        rng = np.random.default_rng(0)
        for _ in range(args.examples):
            intent = INTENTS[int(rng.integers(len(INTENTS)))]
            emotion = FOUR_CLASS[int(rng.integers(4))]
            fills = scenario_fills(scenario, intent)
            context = fills[int(rng.integers(len(fills)))]
            i, p = float(rng.random()), float(rng.random())
            text = language.realise(
                intent, emotion, rng, intensity=i, politeness=p, context=context
            )
            print(f"{intent:<20}{emotion:<8} i={i:.2f} p={p:.2f}  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

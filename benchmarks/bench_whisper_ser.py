"""Whisper-encoder SER: what it costs alone, and what it adds to the ASR in one shared pass.

Phases, each in a fresh process:

- ``features:<model>`` (``tiny.en``, ``base`` when installed): model load,
  :meth:`WhisperEncoderFeatures.states` of a 3 s RAVDESS clip in ``unpadded`` mode (the
  clip's own frames, mel included), and the same clip padded to Whisper's 30 s window and
  encoded (what an ASR pass's encoder costs).
- ``shared:<model>``: the ASR alone (``WhisperTranscriber.transcribe``, no VAD filter, as the
  shared pass decodes) against the shared pass (``transcribe_with_states``: mel once,
  encoder once, decoder on the encoder output), interleaved call by call on the same 3 s
  clip; then the SER's own work on that pass's states (slice, pool or attend, normalise,
  head) for the ``logreg`` and ``attention`` heads, and the paper's IS09 branch on the same
  clip for comparison (openSMILE frames + TDNN-BiLSTM-attention). The SER's add-on over the
  ASR alone is ``p50(shared - ASR alone)`` (paired) plus the head's p50.
- ``wer:<model>``: the shared pass against the default ASR (VAD filter on) on ``--wer-clips``
  RAVDESS clips whose sentence is known from the file name, raw and loudness-normalised
  (-23 dB) audio; WER under Whisper's normaliser (``emorl.asr.wer.corpus_wer``).

Writes ``benchmarks/results/whisper_ser.json`` and prints markdown tables.

    python benchmarks/bench_whisper_ser.py [--threads 2] [--repeats 20] [--wer-clips 48]
"""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # CTranslate2 and torch share the cores

import numpy as np
from harness import peak_mb, phase_arguments, run_phase, timed, write_results

MODELS = ("tiny.en", "base")
SENTENCES = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
SR = 16_000


def _clip(data) -> np.ndarray:
    from emorl.audio import load_audio

    path = next(iter(sorted((data / "ravdess").rglob("*.flac"))), None)
    if path is None:
        raise SystemExit(f"no RAVDESS clip under {data / 'ravdess'}")
    samples = load_audio(path).samples
    return samples[: 3 * SR]


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(float(np.median(ordered)), 3),
        "p95_ms": round(float(ordered[int(0.95 * (len(ordered) - 1))]), 3),
    }


def phase_features(model: str, data, threads: int, repeats: int, _clips: int) -> dict:
    import ctranslate2

    from emorl.recognizers.speech.whisper import WhisperEncoderFeatures

    clip = _clip(data)
    begun = time.perf_counter()
    features = WhisperEncoderFeatures(
        model, threads=threads, mode="unpadded", loudness_db=None, cache_dir=False
    ).load()
    load_s = time.perf_counter() - begun
    unpadded = timed(lambda: features.states(clip, SR), repeats)
    mel = features.mel(clip)
    window = np.zeros((1, mel.shape[0], 3000), dtype=np.float32)
    window[0, :, : mel.shape[1]] = mel
    padded = timed(
        lambda: features._encoder.encode(ctranslate2.StorageView.from_array(window)), repeats
    )
    return {
        "model": model,
        "load_s": round(load_s, 3),
        "states_3s_unpadded": unpadded,
        "encode_3s_padded_30s": padded,
        "peak_mb": round(peak_mb(), 1),
    }


def _heads(model: str):
    """The shipped Whisper SER when it fits ``model``, and heads fitted on random states."""
    from emorl.recognizers.speech.heads import AttentionConfig
    from emorl.recognizers.speech.whisper import (
        DEFAULT_WHISPER_SER_DIR,
        WhisperEncoderFeatures,
        WhisperSER,
    )

    fingerprint = WhisperEncoderFeatures(model).fingerprint
    heads = {}
    if (DEFAULT_WHISPER_SER_DIR / "config.json").is_file():
        shipped = WhisperSER.from_pretrained(DEFAULT_WHISPER_SER_DIR)
        if shipped.model_fingerprint == fingerprint:
            heads[f"shipped ({shipped.head_kind})"] = shipped
    rng = np.random.default_rng(0)
    width = WhisperEncoderFeatures(model).d_model
    states = [
        rng.normal(0, 1, (int(rng.integers(100, 200)), width)).astype(np.float32) for _ in range(24)
    ]
    labels = [("neutral", "happy", "sad", "angry")[i % 4] for i in range(24)]
    speakers = [f"s{i % 3}" for i in range(24)]
    for kind in ("logreg", "attention"):
        ser = WhisperSER(model=model, head=kind, C=0.1, attention=AttentionConfig(epochs=1))
        ser.fit_states(states, labels, speakers)
        ser.model_fingerprint = fingerprint
        heads[kind] = ser
    return heads


def phase_shared(model: str, data, threads: int, repeats: int, _clips: int) -> dict:
    import warnings

    import torch

    from emorl.asr import WhisperTranscriber
    from emorl.audio import load_audio
    from emorl.recognizers.speech.branch import speech_branch
    from emorl.recognizers.speech.model import SpeechEmotionRecognizer
    from emorl.recognizers.speech.whisper import resolve_whisper_folder
    from emorl.recognizers.threads import torch_threads

    warnings.simplefilter("ignore", UserWarning)  # no speaker statistics: global ones
    torch.set_num_threads(1)
    folder = None if model == "tiny.en" else str(resolve_whisper_folder(model))
    asr = WhisperTranscriber(
        model=folder, word_timestamps=False, vad_filter=False, cpu_threads=threads
    ).load()
    default_asr = WhisperTranscriber(model=folder, word_timestamps=False, cpu_threads=threads)
    default_asr._model = asr._model  # the same loaded model, VAD filter on
    heads = _heads(model)
    branch = speech_branch(next(iter(heads.values())))
    clip = branch.prepare(load_audio(_clip(data), SR))
    asr.transcribe(clip), asr.transcribe_with_states(clip)  # warm-up
    plain, shared, vad, diffs = [], [], [], []
    head_times: dict[str, list[float]] = {name: [] for name in heads}
    for _ in range(repeats):
        t0 = time.perf_counter()
        text = asr.transcribe(clip).text
        t1 = time.perf_counter()
        result, encoded = asr.transcribe_with_states(clip)
        t2 = time.perf_counter()
        default_asr.transcribe(clip)
        t3 = time.perf_counter()
        plain.append((t1 - t0) * 1000)
        shared.append((t2 - t1) * 1000)
        vad.append((t3 - t2) * 1000)
        diffs.append(shared[-1] - plain[-1])
        assert result.text == text, (result.text, text)
        for name, ser in heads.items():
            with torch_threads(1):
                t4 = time.perf_counter()
                states = ser.states_from_encoded(encoded)
                ser.outputs([states], [None], adapt=False)
                head_times[name].append((time.perf_counter() - t4) * 1000)
    is09 = SpeechEmotionRecognizer.from_pretrained()
    is09_branch = speech_branch(is09)
    is09_branch.clip_outputs(clip, None, states=False)
    is09_times = []
    for i in range(repeats):
        other = load_audio(clip.samples * np.float32(1 - 0.001 * (i + 1)), SR)  # no frame cache
        t0 = time.perf_counter()
        is09_branch.clip_outputs(other, None, states=False)
        is09_times.append((time.perf_counter() - t0) * 1000)
    heads_out = {name: _stats(times) for name, times in head_times.items()}
    diff = _stats(diffs)
    return {
        "model": model,
        "clip": "first 3 s of the first RAVDESS file, loudness-normalised to -23 dB",
        "transcript": text,
        "repeats": repeats,
        "asr_alone_no_vad": _stats(plain),
        "asr_default_vad_filter": _stats(vad),
        "shared_pass": _stats(shared),
        "shared_minus_asr_alone_paired": diff,
        "ser_head_on_shared_states": heads_out,
        "ser_add_on_p50_ms": {
            name: round(diff["p50_ms"] + head["p50_ms"], 3) for name, head in heads_out.items()
        },
        "is09_branch_features_plus_ser": _stats(is09_times),
        "peak_mb": round(peak_mb(), 1),
    }


def phase_wer(model: str, data, threads: int, repeats: int, clips: int) -> dict:
    from emorl.asr import WhisperTranscriber
    from emorl.asr.wer import corpus_wer
    from emorl.audio import load_audio
    from emorl.recognizers.speech.augment import normalize_loudness
    from emorl.recognizers.speech.whisper import resolve_whisper_folder

    del repeats
    folder = None if model == "tiny.en" else str(resolve_whisper_folder(model))
    asr = WhisperTranscriber(model=folder, word_timestamps=False, cpu_threads=threads).load()
    paths = sorted((data / "ravdess").rglob("*.flac"))
    step = max(1, len(paths) // clips)
    chosen = paths[::step][:clips]
    pairs: dict[str, list[tuple[str, str]]] = {"default_asr": [], "shared": [], "shared_ln": []}
    for path in chosen:
        reference = SENTENCES[path.stem.split("-")[4]]
        clip = load_audio(path)
        pairs["default_asr"].append((reference, asr.transcribe(clip).text))
        pairs["shared"].append((reference, asr.transcribe_with_states(clip)[0].text))
        louder = normalize_loudness(clip.samples, -23.0)
        pairs["shared_ln"].append(
            (reference, asr.transcribe_with_states(louder, sampling_rate=SR)[0].text)
        )
    return {
        "model": model,
        "clips": len(chosen),
        "wer": {name: round(corpus_wer(p).wer, 4) for name, p in pairs.items()},
        "differing_transcripts_shared_vs_default": sum(
            a[1] != b[1] for a, b in zip(pairs["default_asr"], pairs["shared"], strict=True)
        ),
    }


PHASES = {"features": phase_features, "shared": phase_shared, "wer": phase_wer}


def main() -> None:
    parser = phase_arguments(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--wer-clips", type=int, default=48)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--phases", default=",".join(PHASES))
    args = parser.parse_args()
    if args.phase:
        kind, model = args.phase.split(":", 1)
        out = PHASES[kind](model, args.data, args.threads, args.repeats, args.wer_clips)
        print(json.dumps(out))
        return
    from emorl.recognizers.speech.whisper import resolve_whisper_folder

    phases: dict[str, dict] = {}
    load = os.getloadavg()[0]
    for model in args.models.split(","):
        try:
            resolve_whisper_folder(model)
        except (FileNotFoundError, ValueError) as err:
            phases[model] = {"skipped": str(err)}
            continue
        extra = ["--repeats", str(args.repeats), "--wer-clips", str(args.wer_clips)]
        for kind in args.phases.split(","):
            phases[f"{kind}:{model}"] = run_phase(
                __file__, f"{kind}:{model}", args.data, args.threads, extra
            )
    report = {
        "threads": args.threads,
        "load_average_before": load,
        "load_average_after": os.getloadavg()[0],
        "phases": phases,
    }
    write_results("whisper_ser", report)
    for name, row in phases.items():
        if name.startswith("features:"):
            u, p = row["states_3s_unpadded"], row["encode_3s_padded_30s"]
            print(
                f"| {row['model']} | load {row['load_s']:.2f} s | unpadded states "
                f"{u['p50_ms']:.1f} / {u['p95_ms']:.1f} ms | padded encode "
                f"{p['p50_ms']:.0f} / {p['p95_ms']:.0f} ms |"
            )
        elif name.startswith("shared:"):
            print(f"| {row['model']} | p50 / p95 ms |")
            for key in (
                "asr_alone_no_vad",
                "shared_pass",
                "shared_minus_asr_alone_paired",
                "asr_default_vad_filter",
                "is09_branch_features_plus_ser",
            ):
                print(f"| {key} | {row[key]['p50_ms']:.1f} / {row[key]['p95_ms']:.1f} |")
            for head, t in row["ser_head_on_shared_states"].items():
                print(f"| SER head {head} | {t['p50_ms']:.2f} / {t['p95_ms']:.2f} |")
            print(f"SER add-on over the ASR alone, p50 ms: {row['ser_add_on_p50_ms']}")
        elif name.startswith("wer:"):
            print(f"WER {row['model']} on {row['clips']} RAVDESS clips: {row['wer']}")


if __name__ == "__main__":
    main()

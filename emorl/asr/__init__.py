"""Speech recognition: offline Whisper, simulated recognition errors, word error rate.

* :class:`WhisperTranscriber` (faster-whisper, packaged Whisper tiny.en by default) implements
  the :class:`Transcriber` interface and returns :class:`Transcript` records.
* :func:`transcribe_files` / :func:`transcribe_corpus`: many clips with a progress bar and a
  cache keyed by audio content and model; a corpus gets automatic transcripts.
* :class:`TranscriptNoise`: substitutions, deletions and insertions at a target WER.
* :func:`word_errors`, :func:`corpus_wer`, :func:`normalize_text`: scoring.

Importing this package loads no model; faster-whisper is imported on first transcription.
"""

from __future__ import annotations

from emorl.asr.batch import BatchResult, TranscriptCache, transcribe_corpus, transcribe_files
from emorl.asr.evaluation import evaluate_transcriber
from emorl.asr.manifest import SpeechItem, read_speech_manifest, write_corpus_manifest
from emorl.asr.noise import NoisyText, TranscriptNoise
from emorl.asr.text_normalization import normalize_text, normalize_words
from emorl.asr.transcriber import Transcriber, Transcript, Word
from emorl.asr.wer import ErrorCounts, align, corpus_wer, word_errors
from emorl.asr.whisper import WhisperConfig, WhisperTranscriber, resolve_model_dir

__all__ = [
    "BatchResult",
    "ErrorCounts",
    "NoisyText",
    "SpeechItem",
    "Transcriber",
    "Transcript",
    "TranscriptCache",
    "TranscriptNoise",
    "WhisperConfig",
    "WhisperTranscriber",
    "Word",
    "align",
    "corpus_wer",
    "evaluate_transcriber",
    "normalize_text",
    "normalize_words",
    "read_speech_manifest",
    "resolve_model_dir",
    "transcribe_corpus",
    "transcribe_files",
    "word_errors",
    "write_corpus_manifest",
]

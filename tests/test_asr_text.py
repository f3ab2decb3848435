"""Text side of ASR: normalisation, WER alignment, the transcript-noise simulator."""

from __future__ import annotations

import pytest

from emorl.asr.text_normalization import normalize_text, normalize_words
from emorl.asr.wer import ErrorCounts, align, corpus_wer, word_errors

pytest.importorskip("num2words")

# A few hundred words of ordinary dialogue (public-domain style sentences written for the test).
PARAGRAPH = (
    "Good morning, sir. Is there a bank near here? There is one about five blocks away. "
    "Well, that's too far. Can you change some money for me? Surely, of course. "
    "What kind of currency have you got? I would like to check the balance of my account. "
    "I've been waiting on hold for an hour and nobody can tell me anything. "
    "Thank you so much, that solved my problem! This is the third time I'm calling and you "
    "still haven't fixed it. I just heard that my grandmother passed away last night. "
    "Could you tell me when the store opens tomorrow? I'm so excited about the trip next "
    "week, everything is booked. Fine. Whatever. Just cancel it. Do you have your forms? "
    "Yeah, let me see them. Is there a problem with the order? We need to talk about what "
    "happened at the meeting yesterday. She said she would call back in the afternoon but "
    "she never did. The weather is lovely today, let's go for a walk in the park. "
    "My brother works at the hospital and he comes home very late every evening. "
    "Please put the books back on the shelf when you are done reading them."
)


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Go forward 10 meters.", "go forward ten meters"),
        ("And Mr. John Dashwood's", "and mister john dashwood's"),
        ("I don\u2019t know, \u201creally\u201d!", "i don't know really"),
        ("1,000 people", "one thousand people"),
        ("in 1999", "in nineteen ninety nine"),
        ("3.5% of $20", "three point five percent of twenty dollars"),
        ("the 21st century", "the twenty first century"),
        ("cold-hearted / ill-disposed", "cold hearted ill disposed"),
        ("R&B -- OK?", "r and b okay"),
        ("  ", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_normalisation_is_token_local() -> None:
    text = "Well, that's 5 blocks -- too far!"
    words = [w for token in text.split() for w in normalize_words(token)]
    assert words == normalize_words(text)


# --------------------------------------------------------------------------- WER


def test_align_counts_each_error_type() -> None:
    counts = align(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"]).counts
    assert counts == ErrorCounts(substitutions=1, deletions=0, insertions=1, hits=3)
    counts = align(["a", "b", "c", "d"], ["a", "c", "d"]).counts
    assert (counts.deletions, counts.errors, counts.reference_words) == (1, 1, 4)
    assert align([], ["x"]).counts.insertions == 1
    assert align(["x"], []).counts.deletions == 1


def test_word_errors_normalises_both_sides() -> None:
    found = word_errors("go forward ten meters", "Go forward 10 meters.")
    assert found.errors == 0 and found.wer == 0.0
    found = word_errors("eight of spades four of clubs", "Eight of spades, four of close.")
    assert (found.substitutions, found.wer) == (1, pytest.approx(1 / 6))


def test_counts_come_from_jiwer_on_a_known_pair() -> None:
    import jiwer

    ref, hyp = "the cat sat on the mat", "the black cat sit on mat"
    out = jiwer.process_words(ref, hyp)
    found = word_errors(ref, hyp, normalize=False)
    assert (found.substitutions, found.deletions, found.insertions, found.hits) == (1, 1, 1, 4)
    assert (found.substitutions, found.deletions, found.insertions, found.hits) == (
        out.substitutions,
        out.deletions,
        out.insertions,
        out.hits,
    )
    assert found.wer == pytest.approx(jiwer.wer(ref, hyp)) == pytest.approx(3 / 6)
    # among equal-cost paths jiwer scores a swap as a deletion and an insertion
    assert align(["a", "b"], ["b", "a"]).counts == ErrorCounts(deletions=1, insertions=1, hits=1)
    with pytest.raises(ValueError, match="whitespace"):
        align(["a b"], ["a"])


def test_wer_uses_whispers_english_normaliser() -> None:
    from emorl.asr.wer import normalize_for_wer

    assert normalize_for_wer("Go forward ten meters.") == ["go", "forward", "10", "meters"]
    said = ["i", "do", "not", "like", "the", "color"]
    assert normalize_for_wer("Um, I don't like the colour") == said
    assert normalize_for_wer("five five") == ["55"]  # successive digits read as one number
    spelled = ["go", "forward", "ten", "meters"]
    assert normalize_for_wer("Go forward 10 meters.", "tokens") == spelled
    assert normalize_for_wer("A, b.", False) == ["A,", "b."]
    assert word_errors("I don't know", "i do not know").errors == 0
    assert word_errors("the centre", "the center").errors == 0
    with pytest.raises(ValueError, match="normalize"):
        normalize_for_wer("a", "basic")  # type: ignore[arg-type]


def test_corpus_wer_sums_counts_before_dividing() -> None:
    total = corpus_wer([("a b c d", "a b c d"), ("e f", "e")])
    assert total.wer == pytest.approx(1 / 6)
    assert corpus_wer([]).wer == 0.0
    assert ErrorCounts(insertions=2).wer == float("inf")


# --------------------------------------------------------------------------- noise


@pytest.fixture(scope="module")
def noise_module():
    pytest.importorskip("pronouncing", reason="the noise simulator needs emorl[noise]")
    from emorl.asr import noise

    return noise


def test_noise_is_deterministic_and_seeded(noise_module) -> None:
    noise = noise_module.TranscriptNoise(0.3, seed=1)
    first = noise(PARAGRAPH)
    assert first == noise_module.TranscriptNoise(0.3, seed=1)(PARAGRAPH)
    assert first != PARAGRAPH
    assert first != noise_module.TranscriptNoise(0.3, seed=2)(PARAGRAPH)
    # Order independence: a text's noise does not depend on what came before it.
    noise("something else entirely")
    assert noise(PARAGRAPH) == first
    # Keys give repeated texts different errors.
    texts = ["Could you tell me when the store opens tomorrow?"] * 40
    assert len(set(r.text for r in noise.apply_corpus(texts))) > 1


def test_zero_wer_and_empty_text_unchanged(noise_module) -> None:
    assert noise_module.TranscriptNoise(0.0)(PARAGRAPH) == PARAGRAPH
    result = noise_module.TranscriptNoise(0.3).apply("  ... ")
    assert result.text == "  ... " and result.counts.errors == 0


def test_noise_reaches_target_on_the_paragraph(noise_module) -> None:
    sentences = [s.strip() + "." for s in PARAGRAPH.split(".") if s.strip()] * 6
    for target in (0.06, 0.15, 0.30):
        results = noise_module.TranscriptNoise(target, seed=3).apply_corpus(sentences)
        total = sum((r.counts for r in results), ErrorCounts())
        assert total.reference_words > 1000
        assert abs(total.wer - target) <= 0.01, (target, total)
        # the simulator counts on the token-local normaliser, not Whisper's
        pairs = [(s, r.text) for s, r in zip(sentences, results, strict=True)]
        assert corpus_wer(pairs, normalize="tokens") == total


def test_error_mix_and_realism(noise_module) -> None:
    from emorl.asr.phonetics import phone_distance

    noise = noise_module.TranscriptNoise(0.3, seed=0)
    sentences = [s.strip() + "." for s in PARAGRAPH.split(".") if s.strip()] * 4
    lexicon = noise.lexicon
    results = noise.apply_corpus(sentences)
    edits = [edit for r in results for edit in r.edits]
    kinds = [op for op, _, _ in edits]
    assert kinds.count("sub") / len(kinds) == pytest.approx(0.6, abs=0.08)
    assert kinds.count("del") / len(kinds) == pytest.approx(0.25, abs=0.08)
    assert kinds.count("ins") / len(kinds) == pytest.approx(0.15, abs=0.08)
    assert sum(r.counts.errors for r in results) == len(edits)
    for op, ref, hyp in edits:
        if op == "sub":  # substitutes sound like the word they replace
            assert ref != hyp
            distance = min(
                phone_distance(a, b) for a in lexicon.phones(ref) for b in lexicon.phones(hyp)
            )
            assert distance <= 2, (ref, hyp)
    deleted = [lexicon.phone_count(ref) for op, ref, _ in edits if op == "del"]
    words = [lexicon.phone_count(w) for r in results for w in r.reference_words]
    short = sum(n <= 2 for n in deleted) / len(deleted)
    assert short > 0.8 > 1.5 * sum(n <= 2 for n in words) / len(words)  # short words go first
    inserted = [lexicon.phone_count(hyp) for op, _, hyp in edits if op == "ins"]
    assert sum(inserted) / len(inserted) <= 2.5


def test_insertion_at_the_end_goes_before_the_full_stop(noise_module) -> None:
    noise = noise_module.TranscriptNoise(1.0, seed=0, mix=(0, 0, 1))
    result = noise.apply("Fine.")
    assert result.text.startswith(("Fine", "fine")) or result.text.split()[0].islower()
    assert result.text.endswith(".") and result.counts.insertions == 1


def test_noise_keeps_formatting(noise_module) -> None:
    noise = noise_module.TranscriptNoise(0.5, seed=4, mix=(1.0, 0.0, 0.0))
    text = "Hello there, my FRIEND. Where is the STATION?"
    result = noise.apply(text)
    assert result.counts.substitutions >= 3 and result.counts.deletions == 0
    tokens, noisy = text.split(), result.text.split()
    assert len(noisy) == len(tokens)
    for before, after in zip(tokens, noisy, strict=True):
        assert before[-1].isalpha() == after[-1].isalpha()  # punctuation stays
        assert before[0].isupper() == after[0].isupper()  # so does casing


def test_noise_rejects_bad_settings(noise_module) -> None:
    with pytest.raises(ValueError, match="wer"):
        noise_module.TranscriptNoise(1.5)
    with pytest.raises(ValueError, match="mix"):
        noise_module.TranscriptNoise(0.1, mix=(1.0, -1.0, 0.5))
    with pytest.raises(ValueError, match="keys"):
        noise_module.TranscriptNoise(0.1).apply_corpus(["a b"], keys=[])


def test_custom_vocabulary(noise_module) -> None:
    vocabulary = {"bear": 5.0, "bare": 1.0, "pear": 1.0, "beer": 1.0, "the": 10.0}
    noise = noise_module.TranscriptNoise(1.0, seed=0, mix=(1, 0, 0), vocabulary=vocabulary)
    result = noise.apply("bear bear bear bear")
    assert set(result.hypothesis_words) <= {"bare", "pear", "beer"}
    with pytest.raises(ValueError, match="pronunciation"):
        noise_module.PhoneticLexicon({"zzxqj": 1.0})


@pytest.mark.data
def test_noise_targets_on_real_dialogue(shared_data, noise_module) -> None:
    """Achieved WER within one point at 0.06/0.15/0.30 over ~9,000 words of MELD dialogue."""
    from emorl.data import load_corpus

    corpus = load_corpus("meld", shared_data / "meld" / "dev_sent_emo.csv", labels="full")
    texts = [u.text for u in corpus.utterances if u.text]
    keys = [u.id for u in corpus.utterances if u.text]
    for target in (0.06, 0.15, 0.30):
        results = noise_module.TranscriptNoise(target, seed=0).apply_corpus(texts, keys)
        total = sum((r.counts for r in results), ErrorCounts())
        assert total.reference_words > 5000
        assert abs(total.wer - target) <= 0.01, (target, total.to_dict())

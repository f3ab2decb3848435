"""Corpus readers: synthetic files in each real layout, bad input, and the shared data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from emorl.data import (
    CORPUS_READERS,
    Corpus,
    CorpusFormatError,
    Utterance,
    detokenize,
    load_corpus,
)
from emorl.data.speech_corpora import TESS_SKIP, parse_tess_name
from emorl.emotions import CORPUS_LABELS, FOUR_CLASS

try:
    from fixtures_corpora import IEMOCAP_TEXTS, touch_all, write_iemocap
except ImportError:  # tests/ imported as a package
    from tests.fixtures_corpora import IEMOCAP_TEXTS, touch_all, write_iemocap

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def ids(corpus: Corpus) -> list[str]:
    return [u.id for u in corpus.utterances]


def assert_well_formed(corpus: Corpus, name: str) -> None:
    assert corpus.name == name
    assert len(set(ids(corpus))) == len(corpus)
    assert all(isinstance(u, Utterance) and u.corpus == name for u in corpus.utterances)
    assert all(u.label in corpus.labels for u in corpus.utterances)


# --- registry ----------------------------------------------------------------------------


def test_registry_names_and_errors(tmp_path: Path) -> None:
    assert set(CORPUS_READERS) == {*CORPUS_LABELS, "manifest"}
    with pytest.raises(ValueError, match="unknown corpus 'nope'.*dailydialog.*semeval"):
        load_corpus("nope", tmp_path)
    missing = tmp_path / "absent.tsv"
    with pytest.raises(FileNotFoundError, match="absent.tsv"):
        load_corpus("semeval", missing)
    with pytest.raises(ValueError, match="'four' or 'full'"):
        load_corpus("semeval", tmp_path, labels="three")  # type: ignore[arg-type]


# --- SemEval -----------------------------------------------------------------------------

SHARED_TSV = (
    "\ufeffid\tlabel\ttext\tsource\r\n"
    "1\tneutral\tWon the match #getin .\ttwitter-2013dev-A\r\n"
    "2\tPositive\tLove it\twith a tab\ttwitter-2016test-A\r\n"
    "1\tnegative\tduplicate id\ttwitter-2016test-A\r\n"
    "\r\n"
    "3\tNEGATIVE\tawful\ttwitter-2014test-A\r\n"
)


def test_semeval_shared_format(tmp_path: Path) -> None:
    corpus = load_corpus("semeval", write(tmp_path / "train.tsv", SHARED_TSV))
    assert_well_formed(corpus, "semeval")
    assert ids(corpus) == ["1", "2", "3"]
    assert [u.label for u in corpus.utterances] == ["neutral", "positive", "negative"]
    assert corpus.utterances[1].text == "Love it\twith a tab"
    assert corpus.utterances[0].extra == {"source": "twitter-2013dev-A"}
    assert corpus.utterances[0].speaker is None and corpus.utterances[0].dialogue is None
    assert corpus.skipped == Counter({"duplicate tweet id": 1})
    assert corpus.labels == ("negative", "neutral", "positive")
    assert load_corpus("semeval", tmp_path / "train.tsv", labels="full").labels == corpus.labels


def test_semeval_official_format_and_folder(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "20\tneutral\tsecond file\n10\tpositive\tseen again\n")
    write(tmp_path / "a.tsv", "10\tpositive\tgreat\tday \t\n11\tnegative\tbad\t\n")
    write(tmp_path / "notes.md", "not a corpus file")
    corpus = load_corpus("semeval", tmp_path)
    assert ids(corpus) == ["10", "11", "20"]
    assert corpus.utterances[0].text == "great\tday"
    assert corpus.utterances[1].text == "bad"
    assert corpus.utterances[0].extra == {}
    assert corpus.skipped["duplicate tweet id"] == 1


def test_semeval_bad_input(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.tsv", "1\tpositive\tok\n2\tmixed\tunsure\n")
    with pytest.raises(CorpusFormatError, match=r"bad\.tsv:2: .*unknown label 'mixed'"):
        load_corpus("semeval", bad)
    raw = tmp_path / "raw.tsv"
    raw.write_bytes(b"1\tpositive\tok\n2\tneutral\tcaf\xe9\n")
    with pytest.raises(CorpusFormatError, match=r"raw\.tsv:2: not valid UTF-8"):
        load_corpus("semeval", raw)
    for name, content in (("empty.tsv", ""), ("header.tsv", "id\tlabel\ttext\tsource\n")):
        with pytest.raises(CorpusFormatError, match=rf"{name}: no rows"):
            load_corpus("semeval", write(tmp_path / "e" / name, content))
    with pytest.raises(CorpusFormatError, match=r"short\.tsv:1: expected"):
        load_corpus("semeval", write(tmp_path / "short.tsv", "1\tpositive\n"))


# --- MELD --------------------------------------------------------------------------------

MELD_HEADER = (
    "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,"
    "StartTime,EndTime\n"
)
MELD_TRAIN = MELD_HEADER + (
    '1,"also I was the point person on my company’s transition.",Chandler,neutral,neutral,'
    '0,0,8,21,"00:16:16,059","00:16:21,731"\n'
    "2,  You must’ve had your hands full.  ,The Interviewer,joy,positive,0,1,8,21,a,b\n"
    "3,Oh no!,Ross,fear,negative,1,0,1,1,a,b\n"
    "4,   ,Ross,anger,negative,1,1,1,1,a,b\n"
    '5,"What, really?",Monica,Surprise,positive,1,2,1,1,a,b\n'
)
MELD_DEV = MELD_HEADER + "1,Hi.,Joey,sadness,negative,0,0,1,1,a,b\n"


def test_meld_file_and_folder(tmp_path: Path) -> None:
    write(tmp_path / "train_sent_emo.csv", MELD_TRAIN)
    write(tmp_path / "dev_sent_emo.csv", MELD_DEV)
    train = load_corpus("meld", tmp_path / "train_sent_emo.csv")
    assert_well_formed(train, "meld")
    assert ids(train) == ["train_dia0_utt0", "train_dia0_utt1"]
    first, second = train.utterances
    assert first.text == "also I was the point person on my company’s transition."
    assert second.text == "You must’ve had your hands full."
    assert (second.label, second.speaker) == ("happy", "The Interviewer")
    assert second.dialogue == "train_dia0"
    assert second.extra == {"sentiment": "positive", "split": "train"}
    assert train.skipped == Counter(
        {
            "label 'fear' not in four-class set": 1,
            "label 'surprise' not in four-class set": 1,
            "empty text": 1,
        }
    )
    both = load_corpus("meld", tmp_path, labels="full")
    assert both.labels == CORPUS_LABELS["meld"]
    assert ids(both) == [
        "dev_dia0_utt0",
        "train_dia0_utt0",
        "train_dia0_utt1",
        "train_dia1_utt0",
        "train_dia1_utt2",
    ]
    assert [u.label for u in both.utterances] == ["sadness", "neutral", "joy", "fear", "surprise"]
    assert both.skipped == Counter({"empty text": 1})


def test_meld_bad_input(tmp_path: Path) -> None:
    row = "1,Hi.,Joey,joy,positive,0,0,1,1,a,b\n"
    no_emotion = MELD_HEADER.replace("Emotion,", "Feeling,") + row
    with pytest.raises(CorpusFormatError, match=r"x_sent_emo\.csv:1: missing column 'Emotion'"):
        load_corpus("meld", write(tmp_path / "x_sent_emo.csv", no_emotion))
    unknown = MELD_HEADER + row + "2,Yo.,Joey,glee,positive,0,1,1,1,a,b\n"
    with pytest.raises(CorpusFormatError, match=r"y_sent_emo\.csv:3: .*unknown label 'glee'"):
        load_corpus("meld", write(tmp_path / "y_sent_emo.csv", unknown))
    with pytest.raises(CorpusFormatError, match=r"z_sent_emo\.csv: no rows"):
        load_corpus("meld", write(tmp_path / "z_sent_emo.csv", MELD_HEADER))


def test_meld_cp1252_fallback_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "old_sent_emo.csv", MELD_DEV.replace("Hi.", "It’s me."), "cp1252")
    with pytest.warns(UserWarning, match=r"old_sent_emo\.csv.*cp1252"):
        corpus = load_corpus("meld", path)
    assert corpus.utterances[0].text == "It’s me."
    assert corpus.utterances[0].extra["split"] == "old"


# --- DailyDialog -------------------------------------------------------------------------

DD_TEXT = (
    "Say , Jim , how about going for a few beers after dinner ? __eou__ "
    "You know that is tempting but is really not good for our fitness . __eou__\n"
    "It ' s $ 5 ( about 50 % ) . __eou__ I do n't know ... __eou__ Fine ! __eou__ \n"
    "Hello ! __eou__ Hi . __eou__ Bye . __eou__\n"
)
DD_EMOTION = "0 4 \n1 3 5\n0 0\n"
DD_ACT = "3 4\n1 2 1\n2 1\n"


def test_dailydialog_plain_layout(tmp_path: Path) -> None:
    folder = tmp_path / "train"
    write(folder / "dialogues.txt", DD_TEXT)
    write(folder / "dialogues_emotion.txt", DD_EMOTION)
    write(folder / "dialogues_act.txt", DD_ACT)
    corpus = load_corpus("dailydialog", folder)
    assert_well_formed(corpus, "dailydialog")
    assert ids(corpus) == ["train_0_0", "train_0_1", "train_1_0", "train_1_2"]
    first = corpus.utterances[0]
    assert first.text == "Say, Jim, how about going for a few beers after dinner?"
    assert first.extra["raw_text"] == "Say , Jim , how about going for a few beers after dinner ?"
    assert (first.label, first.extra["act"], first.dialogue) == ("neutral", "directive", "train_0")
    assert [u.speaker for u in corpus.utterances] == [
        "train_0_A",
        "train_0_B",
        "train_1_A",
        "train_1_A",
    ]
    assert corpus.utterances[1].label == "happy"
    assert corpus.utterances[2].text == "It's $5 (about 50%)."
    assert corpus.skipped == Counter(
        {
            "label 'fear' not in four-class set": 1,
            "dailydialog: turn/label count mismatch": 1,
            "dailydialog: turns lost to turn/label count mismatch": 3,
        }
    )
    full = load_corpus("dailydialog", folder, labels="full", detokenize_text=False)
    assert [u.label for u in full.utterances][:3] == ["no emotion", "happiness", "anger"]
    assert full.utterances[0].text == full.utterances[0].extra["raw_text"]


def test_dailydialog_official_layout_without_acts(tmp_path: Path) -> None:
    write(tmp_path / "dialogues_test.txt", "Hi . __eou__ Hello , you . __eou__\n")
    write(tmp_path / "dialogues_emotion_test.txt", "0 6\n")
    corpus = load_corpus("dailydialog", tmp_path, labels="full")
    assert ids(corpus) == ["test_0_0", "test_0_1"]
    assert corpus.utterances[1].text == "Hello, you."
    assert corpus.utterances[1].label == "surprise"
    assert "act" not in corpus.utterances[0].extra


def test_dailydialog_bad_input(tmp_path: Path) -> None:
    write(tmp_path / "a" / "dialogues.txt", "Hi . __eou__\nBye . __eou__\n")
    write(tmp_path / "a" / "dialogues_emotion.txt", "0\n")
    with pytest.raises(CorpusFormatError, match=r"dialogues_emotion\.txt: 1 lines but"):
        load_corpus("dailydialog", tmp_path / "a")
    write(tmp_path / "b" / "dialogues.txt", "Hi . __eou__\nBye . __eou__\n")
    write(tmp_path / "b" / "dialogues_emotion.txt", "0\nx\n")
    with pytest.raises(CorpusFormatError, match=r"dialogues_emotion\.txt:2: non-integer label 'x'"):
        load_corpus("dailydialog", tmp_path / "b")
    write(tmp_path / "c" / "dialogues_emotion.txt", "0\n")
    with pytest.raises(CorpusFormatError, match="no DailyDialog files"):
        load_corpus("dailydialog", tmp_path / "c")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Say , Jim", "Say, Jim"),
        ("I do n't know .", "I don't know."),
        ("it ' s fine", "it's fine"),
        ("I ’ Ve seen it at 5 o ’ clock", "I’ve seen it at 5 o’clock"),
        ("Well ... maybe !", "Well... maybe!"),
        ("Yes , ma ’ am , at 8 : 30 a . m .", "Yes, ma’am, at 8:30 a.m."),
        ("the students ' books", "the students ' books"),
        ("DON'T stop", "DON'T stop"),
    ],
)
def test_detokenize(raw: str, clean: str) -> None:
    assert detokenize(raw) == clean


# --- IEMOCAP -----------------------------------------------------------------------------


def test_iemocap_release_layout(tmp_path: Path) -> None:
    root = write_iemocap(tmp_path / "IEMOCAP_full_release")
    corpus = load_corpus("iemocap", root)
    assert_well_formed(corpus, "iemocap")
    assert ids(corpus) == [
        "Ses01F_impro01_F000",
        "Ses01F_impro01_M000",
        "Ses01M_script01_1_M000",
        "Ses02F_impro02_F000",
        "Ses02F_impro02_M000",
    ]
    assert corpus.label_counts() == {"neutral": 1, "happy": 2, "sad": 1, "angry": 1}
    assert corpus.skipped == Counter(
        {
            "no majority label (xxx)": 1,
            "label 'frustrated' not in four-class set": 1,
            "duration outside 3-15 s": 2,
        }
    )
    first, excited, script = corpus.utterances[:3]
    assert first.text == IEMOCAP_TEXTS[first.id]
    assert first.speaker == "Ses01F" and excited.speaker == "Ses01M"
    assert excited.label == "happy" and script.text is None
    assert script.dialogue == "Ses01M_script01_1" and script.speaker == "Ses01M"
    assert first.audio_path is not None and first.audio_path.is_file()
    assert first.audio_path.name == "Ses01F_impro01_F000.wav"
    assert first.extra["session"] == 1
    assert first.extra["duration"] == pytest.approx(3.9456)
    assert (first.extra["valence"], first.extra["activation"], first.extra["dominance"]) == (
        2.5,
        3.0,
        3.5,
    )


def test_iemocap_options(tmp_path: Path) -> None:
    root = write_iemocap(tmp_path)
    no_merge = load_corpus("iemocap", root, merge_excited=False)
    assert no_merge.skipped["label 'excited' not in four-class set"] == 1
    full = load_corpus("iemocap", root, labels="full", min_duration=None, max_duration=None)
    assert full.labels == CORPUS_LABELS["iemocap"]
    assert Counter(u.label for u in full.utterances) == Counter(
        {"neutral": 1, "excited": 1, "angry": 2, "frustrated": 1, "sad": 1, "happy": 2}
    )
    assert full.skipped == Counter({"no majority label (xxx)": 1})
    only_two = load_corpus("iemocap", root, sessions=[2], max_duration=5.0)
    assert ids(only_two) == ["Ses02F_impro02_M000"]
    assert only_two.skipped == Counter({"duration outside 3-5 s": 1})
    with pytest.raises(FileNotFoundError, match="Session3"):
        load_corpus("iemocap", root, sessions=[3])


def test_iemocap_bad_input(tmp_path: Path) -> None:
    root = write_iemocap(tmp_path)
    path = root / "Session2" / "dialog" / "EmoEvaluation" / "Ses02F_impro02.txt"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if "\thap\t" in line)
    lines[index] = lines[index].replace("\thap\t", "\tjoy\t")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusFormatError, match=rf"Ses02F_impro02\.txt:{index + 1}: .*'joy'"):
        load_corpus("iemocap", root)
    with pytest.raises(CorpusFormatError, match="no Session"):
        load_corpus("iemocap", root / "Session1")


# --- manifest ----------------------------------------------------------------------------


def test_manifest_csv(tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere" / "c.wav"
    write(
        tmp_path / "set" / "manifest.csv",
        "audio,text,Label,speaker,dialogue,id,split\n"
        f"clips/a.wav,hello,Happy ,s1,d1,,train\n"
        f"{absolute},,sad,s2,,c,train\n"
        ",just text,fear,,,,dev\n"
        "clips/b.wav,,neutral,,,,dev\n",
    )
    corpus = load_corpus("manifest", tmp_path / "set" / "manifest.csv")
    assert_well_formed(corpus, "manifest")
    assert corpus.labels == FOUR_CLASS
    assert ids(corpus) == ["manifest_0", "c", "manifest_3"]
    a, c, b = corpus.utterances
    assert a.audio_path == tmp_path / "set" / "clips" / "a.wav"
    assert (a.label, a.text, a.speaker, a.dialogue, a.extra) == (
        "happy",
        "hello",
        "s1",
        "d1",
        {"split": "train"},
    )
    assert c.audio_path == absolute and c.text is None and b.text is None
    assert corpus.skipped == Counter({"label 'fear' not in four-class set": 1})
    full = load_corpus("manifest", tmp_path / "set" / "manifest.csv", labels="full")
    assert full.labels == ("fear", "happy", "neutral", "sad")
    assert len(full) == 4


def test_manifest_jsonl_with_label_set(tmp_path: Path) -> None:
    rows = [
        {"audio": "x.flac", "label": "calm"},
        {"text": "fine", "label": "NEUTRAL", "id": "n1", "score": 3},
    ]
    path = write(tmp_path / "m.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    full = load_corpus("manifest", path, labels="full", label_set=["neutral", "calm", "tense"])
    assert full.labels == ("neutral", "calm", "tense")
    assert ids(full) == ["m_0", "n1"]
    assert full.utterances[1].extra == {"score": 3}
    four = load_corpus("manifest", path, label_set=["neutral", "calm"])
    assert ids(four) == ["n1"]
    assert four.skipped == Counter({"label 'calm' not in four-class set": 1})
    with pytest.raises(CorpusFormatError, match=r"m\.jsonl:1: unknown label 'calm'"):
        load_corpus("manifest", path, label_set=["neutral"])


def test_manifest_bad_input(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.jsonl", '{"text": "a", "label": "sad"}\n{"text": "b",\n')
    with pytest.raises(CorpusFormatError, match=r"broken\.jsonl:2: malformed JSON"):
        load_corpus("manifest", broken)
    no_label = write(tmp_path / "nolabel.jsonl", '{"text": "a", "label": "sad"}\n{"text": "b"}\n')
    with pytest.raises(CorpusFormatError, match=r"nolabel\.jsonl:2: missing field 'label'"):
        load_corpus("manifest", no_label)
    neither = write(tmp_path / "neither.jsonl", '{"speaker": "a", "label": "sad"}\n')
    with pytest.raises(CorpusFormatError, match=r"neither\.jsonl:1: .*'audio' or 'text'"):
        load_corpus("manifest", neither)
    with pytest.raises(CorpusFormatError, match=r"nocol\.csv:1: missing column 'label'"):
        load_corpus("manifest", write(tmp_path / "nocol.csv", "audio,emotion\na.wav,sad\n"))
    with pytest.raises(CorpusFormatError, match=r"dup\.csv:3: duplicate utterance id 'x'"):
        load_corpus("manifest", write(tmp_path / "dup.csv", "id,text,label\nx,a,sad\nx,b,sad\n"))
    with pytest.raises(CorpusFormatError, match=r"m\.tsv: manifest must be"):
        load_corpus("manifest", write(tmp_path / "m.tsv", "text\tlabel\n"))
    with pytest.raises(CorpusFormatError, match=r"empty\.csv: no rows"):
        load_corpus("manifest", write(tmp_path / "empty.csv", "text,label\n"))


# --- speech corpora named by file ----------------------------------------------------------


def test_ravdess(tmp_path: Path) -> None:
    touch_all(
        tmp_path,
        [
            "Actor_02/03-01-05-02-01-02-02.flac",
            "Actor_01/03-01-02-01-02-01-01.wav",
            "Actor_01/03-01-06-01-01-01-01.wav",
            "Actor_01/03-02-03-01-01-01-01.wav",  # song
            "Actor_01/notes.txt",
            "Actor_01/._03-01-02-01-02-01-01.wav",
        ],
    )
    corpus = load_corpus("ravdess", tmp_path)
    assert_well_formed(corpus, "ravdess")
    assert ids(corpus) == ["03-01-02-01-02-01-01", "03-01-05-02-01-02-02"]
    calm, angry = corpus.utterances
    assert (calm.label, calm.speaker, calm.text) == (
        "neutral",
        "ravdess_01",
        "Dogs are sitting by the door",
    )
    assert calm.extra == {"intensity": "normal", "statement": 2, "repetition": 1, "gender": "male"}
    assert angry.extra["gender"] == "female" and angry.extra["intensity"] == "strong"
    assert angry.audio_path == tmp_path / "Actor_02" / "03-01-05-02-01-02-02.flac"
    assert corpus.skipped == Counter(
        {"song, not speech": 1, "label 'fearful' not in four-class set": 1}
    )
    full = load_corpus("ravdess", tmp_path, labels="full")
    assert [u.label for u in full.utterances] == ["calm", "fearful", "angry"]
    touch_all(tmp_path, ["Actor_03/03-01-05-02.wav"])
    with pytest.raises(CorpusFormatError, match=r"03-01-05-02\.wav: not a RAVDESS name"):
        load_corpus("ravdess", tmp_path)


def test_emodb_tess_cremad(tmp_path: Path) -> None:
    touch_all(tmp_path / "emodb", ["wav/03a01Fa.wav", "wav/16b10Lb.wav", "wav/08a02Wc.wav"])
    emodb = load_corpus("emodb", tmp_path / "emodb", labels="full")
    assert [(u.id, u.label, u.speaker) for u in emodb.utterances] == [
        ("03a01Fa", "happy", "emodb_03"),
        ("08a02Wc", "angry", "emodb_08"),
        ("16b10Lb", "boredom", "emodb_16"),
    ]
    assert load_corpus("emodb", tmp_path / "emodb").skipped == Counter(
        {"label 'boredom' not in four-class set": 1}
    )
    touch_all(
        tmp_path / "tess",
        [
            "OAF_angry/OAF_back_angry.wav",
            "YAF_pleasant_surprised/YAF_dog_ps.wav",
            "YAF_sad/YAF_germ_sad.wav",
        ],
    )
    tess = load_corpus("tess", tmp_path / "tess", labels="full")
    assert [(u.label, u.speaker, u.text) for u in tess.utterances] == [
        ("angry", "tess_OAF", "Say the word back"),
        ("pleasant_surprise", "tess_YAF", "Say the word dog"),
        ("sad", "tess_YAF", "Say the word germ"),
    ]
    touch_all(
        tmp_path / "cremad", ["1001_DFA_ANG_XX.wav", "1091_TIE_SAD_HI.wav", "1002_IEO_FEA_LO.wav"]
    )
    cremad = load_corpus("cremad", tmp_path / "cremad")
    assert [(u.label, u.speaker, u.text) for u in cremad.utterances] == [
        ("angry", "cremad_1001", "Don't forget a jacket"),
        ("sad", "cremad_1091", "That is exactly what happened"),
    ]
    assert cremad.utterances[1].extra == {"sentence": "TIE", "level": "high"}
    assert cremad.skipped == Counter({"label 'fear' not in four-class set": 1})
    for name, bad in (
        ("emodb", "03a01Xa.wav"),
        ("cremad", "1001_DFA_JOY_XX.wav"),
    ):
        touch_all(tmp_path / name, [bad])
        with pytest.raises(CorpusFormatError, match=bad.replace(".", r"\.")):
            load_corpus(name, tmp_path / name)
    with pytest.raises(CorpusFormatError, match="no .wav or .flac files"):
        load_corpus("tess", write(tmp_path / "empty" / "readme.txt", "nothing").parent)


def test_tess_irregular_real_names(tmp_path: Path) -> None:
    """Names found in real copies of TESS parse; what still does not is counted, not fatal."""
    names = [
        "OAF_Fear/OAF_back_fear.wav",
        "OAF_Neutral/OA_bite_neutral.flac",  # short speaker code
        "YAF_fear/YAF_germ_Fear.wav",  # capitalised emotion
        "YAF_sad/YAF_chain_sad .wav",  # trailing space
        "YAF_happy/YAF__book_happy.wav",  # double underscore
        "OAF_angry/oaf_bath__ANGRY .wav",
        "YA_disgust/YA_dab_disgust.wav",
        "YAF_pleasant_surprised/YAF_dog_ps.wav",
        "OAF_Pleasant_surprise/OAF_dime_pleasant_surprise.wav",
        "junk/MAF_back_angry.wav",  # unknown speaker
        "junk/OAF_back_calm.wav",  # not a TESS emotion
        "junk/OAF_back_home_angry.wav",  # word with an underscore
        "junk/OAF_angry.wav",  # no word
        "junk/readme.wav",
    ]
    touch_all(tmp_path, names)
    full = load_corpus("tess", tmp_path, labels="full")
    assert_well_formed(full, "tess")
    got = {u.id: (u.speaker, u.extra["word"], u.label) for u in full.utterances}
    assert got == {
        "OAF_back_fear": ("tess_OAF", "back", "fear"),
        "OA_bite_neutral": ("tess_OAF", "bite", "neutral"),
        "YAF_germ_Fear": ("tess_YAF", "germ", "fear"),
        "YAF_chain_sad": ("tess_YAF", "chain", "sad"),
        "YAF__book_happy": ("tess_YAF", "book", "happy"),
        "oaf_bath__ANGRY": ("tess_OAF", "bath", "angry"),
        "YA_dab_disgust": ("tess_YAF", "dab", "disgust"),
        "YAF_dog_ps": ("tess_YAF", "dog", "pleasant_surprise"),
        "OAF_dime_pleasant_surprise": ("tess_OAF", "dime", "pleasant_surprise"),
    }
    neutral = next(u for u in full.utterances if u.id == "OA_bite_neutral")
    assert neutral.text == "Say the word bite" and neutral.extra["age"] == "older"
    assert neutral.audio_path == tmp_path / "OAF_Neutral" / "OA_bite_neutral.flac"
    assert full.skipped == Counter({TESS_SKIP: 5})
    four = load_corpus("tess", tmp_path)
    assert four.label_counts() == {"neutral": 1, "happy": 1, "sad": 1, "angry": 1}
    assert four.skipped[TESS_SKIP] == 5
    assert four.skipped["label 'fear' not in four-class set"] == 2
    # the same utterance with and without a trailing space is one utterance
    touch_all(tmp_path, ["copy/YAF_chain_sad.wav"])
    assert load_corpus("tess", tmp_path).skipped["duplicate file name"] == 1


@pytest.mark.parametrize(
    ("stem", "parsed"),
    [
        ("OA_bite_neutral", ("OAF", "bite", "neutral")),
        ("YAF_germ_Fear", ("YAF", "germ", "fear")),
        (" YAF_dog_PS ", ("YAF", "dog", "pleasant_surprise")),
        ("OAF_back_angry_", ("OAF", "back", "angry")),
        ("OAF__back___sad", ("OAF", "back", "sad")),
        ("OAF_back", None),
        ("OAF_back_angry_extra", None),
        ("XAF_back_angry", None),
        ("OAF_b@ck_angry", None),
        ("", None),
    ],
)
def test_parse_tess_name(stem: str, parsed: tuple[str, str, str] | None) -> None:
    assert parse_tess_name(stem) == parsed


def test_readers_are_deterministic(tmp_path: Path) -> None:
    root = write_iemocap(tmp_path)
    assert load_corpus("iemocap", root) == load_corpus("iemocap", root)


# --- the shared real data (skipped when ../shared/data is absent) ---------------------------


def shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


@pytest.mark.data
def test_real_semeval() -> None:
    corpus = load_corpus("semeval", shared("semeval2017_4a/train.tsv"))
    assert len(corpus) == 49_570
    assert corpus.label_counts() == {"negative": 7_732, "neutral": 22_202, "positive": 19_636}
    assert not corpus.skipped
    assert_well_formed(corpus, "semeval")


@pytest.mark.data
def test_real_dailydialog() -> None:
    train = load_corpus("dailydialog", shared("dailydialog/train"), labels="full")
    assert train.skipped == Counter(
        {
            "dailydialog: turn/label count mismatch": 1,
            "dailydialog: turns lost to turn/label count mismatch": 12,
        }
    )
    assert not any(u.dialogue == "train_7851" for u in train.utterances)
    assert_well_formed(train, "dailydialog")
    validation = load_corpus("dailydialog", shared("dailydialog/validation"), labels="full")
    assert not validation.skipped
    assert len({u.dialogue for u in validation.utterances}) == 1_000


@pytest.mark.data
def test_real_meld() -> None:
    train = load_corpus("meld", shared("meld/train_sent_emo.csv"))
    assert train.label_counts() == {"neutral": 4710, "happy": 1743, "sad": 683, "angry": 1109}
    assert sum(train.skipped.values()) == 9_989 - len(train)
    assert_well_formed(train, "meld")


@pytest.mark.data
def test_real_ravdess() -> None:
    corpus = load_corpus("ravdess", shared("ravdess"), labels="full")
    assert len(corpus) == 1_200
    assert len({u.speaker for u in corpus.utterances}) == 20
    assert not corpus.skipped
    assert_well_formed(corpus, "ravdess")


def test_speech_corpus_nested_copy_counts_duplicates(tmp_path: Path) -> None:
    names = ["OAF_back_angry.wav", "OAF_back_happy.wav", "YAF_dog_sad.wav"]
    touch_all(tmp_path / "tess" / "OAF_angry", names[:1])
    touch_all(tmp_path / "tess" / "OAF_happy", names[1:2])
    touch_all(tmp_path / "tess" / "YAF_sad", names[2:])
    touch_all(tmp_path / "tess" / "tess copy" / "OAF_angry", names[:1])  # nested re-copy
    corpus = load_corpus("tess", tmp_path / "tess")
    assert len(corpus) == 3
    assert corpus.skipped["duplicate file name"] == 1

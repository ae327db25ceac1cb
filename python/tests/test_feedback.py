"""Feedback log: append, read back, train from it, errors."""
import asyncio
import time

import pytest

import intent


def test_round_trip(tmp_path):
    log = tmp_path / "fb.log"
    t0 = time.time()
    intent.feedback(log, "read me the document on my screen", ["FILES", "VISION", "VOICE"])
    intent.feedback(str(log), "play some jazz", "MUSIC")
    with intent.FeedbackLog(log) as fb:
        fb.append("what's the weather, ça va? 🙂", ["WEATHER"])
        st = fb.stats()
        assert st["n_records"] == 3 and st["bytes"] == log.stat().st_size
        assert st["torn_bytes"] == 0
    recs = intent.read_feedback(log)
    assert [(r.text, r.labels) for r in recs] == [
        ("read me the document on my screen", ("FILES", "VISION", "VOICE")),
        ("play some jazz", ("MUSIC",)),
        ("what's the weather, ça va? 🙂", ("WEATHER",))]
    assert all(t0 - 5 <= r.time <= time.time() + 5 for r in recs)
    assert recs[0].offset < recs[1].offset < recs[2].offset
    ds = intent.Dataset.from_feedback(log)
    assert list(ds) == [(r.text, tuple(sorted(r.labels, key=ds.labels.index))) for r in recs]


def test_retrain_on_feedback(tmp_path):
    log = tmp_path / "fb.log"
    with intent.FeedbackLog(log) as fb:
        for _ in range(3):
            for text, label in [("play some jazz", "MUSIC"), ("play my playlist", "MUSIC"),
                                ("will it rain", "WEATHER"), ("weather in rome", "WEATHER")]:
                fb.append(text, label)
    m = intent.train(intent.Dataset.from_feedback(log), threads=1, min_count=1)
    assert set(m.labels) == {"MUSIC", "WEATHER"}
    assert m.predict("play some jazz").names == ("MUSIC",)


def test_append_async(tmp_path):
    log = tmp_path / "fb.log"

    async def main():
        with intent.FeedbackLog(log) as fb:
            await asyncio.gather(*[fb.append_async(f"text {i}", "A") for i in range(20)])

    asyncio.run(main())
    texts = sorted(r.text for r in intent.read_feedback(log))
    assert texts == sorted(f"text {i}" for i in range(20))


def test_errors(tmp_path):
    log = tmp_path / "fb.log"
    with pytest.raises(intent.ArgumentError) as e:
        intent.feedback(log, "some text", ["NOT VALID"])
    assert e.value.message
    with pytest.raises(intent.ArgumentError):
        intent.feedback(log, "   ", ["A"])
    assert intent.read_feedback(log) == []  # nothing written; the log exists, empty
    foreign = tmp_path / "foreign.log"
    foreign.write_text("this is not a feedback log, just some text of some length\n" * 3)
    with pytest.raises(intent.FormatError) as e:
        intent.FeedbackLog(foreign)
    assert str(foreign) in str(e.value)
    with pytest.raises(intent.FormatError):
        intent.read_feedback(foreign)
    with pytest.raises(intent.FileError):
        intent.feedback(tmp_path / "no" / "such" / "dir" / "fb.log", "x", "A")
    fb = intent.FeedbackLog(log)
    fb.close()
    with pytest.raises(ValueError):
        fb.append("x", "A")


def test_torn_tail_is_skipped_and_cut(tmp_path):
    log = tmp_path / "fb.log"
    intent.feedback(log, "first", "A")
    intent.feedback(log, "second", "B")
    size = log.stat().st_size
    with open(log, "r+b") as f:
        f.truncate(size - 3)  # a crash in the middle of the second append
    assert [r.text for r in intent.read_feedback(log)] == ["first"]
    with intent.FeedbackLog(log) as fb:
        assert fb.stats()["torn_bytes"] > 0 and fb.stats()["n_records"] == 1
        fb.append("third", "C")
    assert [r.text for r in intent.read_feedback(log)] == ["first", "third"]

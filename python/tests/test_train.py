"""Training: data as files or pairs, options, progress callbacks, stopping, errors."""
import pytest

import intent
from intent.train import OPTIONS

PAIRS = [
    ("play some jazz", ["MUSIC"]), ("play the next song", "MUSIC"), ("pause the music", "MUSIC"),
    ("turn the music up", "MUSIC"), ("play my workout playlist", "MUSIC"),
    ("what's the weather", ["WEATHER"]), ("will it rain tomorrow", "WEATHER"),
    ("how hot is it outside", "WEATHER"), ("weather forecast for paris", "WEATHER"),
    ("is it sunny today", "WEATHER"),
    ("play jazz and tell me the weather", "MUSIC,WEATHER"),
    ("check the weather then play a song", ["WEATHER", "MUSIC"]),
]
SMALL = dict(threads=1, epochs=30, min_count=1, dev_fraction=0.2)


def test_train_from_pairs():
    with intent.train(PAIRS, **SMALL) as m:
        assert set(m.labels) == {"MUSIC", "WEATHER"} and m.none_label is None
        assert m.predict("play some music").names == ("MUSIC",)
        assert m.predict("is it raining").names[0] == "WEATHER"


def test_train_with_dev_set_dataset_and_none_label(examples):
    train = intent.Dataset.from_file(examples / "assistant.tsv")
    dev = intent.Dataset.from_file(examples / "assistant_test.tsv")
    assert len(train) == 613 and "oos" in train.labels
    assert train[0] == ("pause the music and lock the computer", ("MUSIC", "SYSTEM"))
    m = intent.train(train, dev, "oos", threads=2, epochs=10)
    assert m.none_label == "oos" and len(train) == 613  # the caller's dataset is left open
    assert m.predict("buy some bitcoin").out_of_scope
    m.close()
    train.close()
    dev.close()


def test_same_seed_same_bytes():
    a = intent.train(PAIRS, seed=7, **SMALL)
    b = intent.train(PAIRS, seed=7, **SMALL)
    c = intent.train(PAIRS, seed=8, **SMALL)
    assert a.to_bytes() == b.to_bytes() != c.to_bytes()


def test_options_and_presets():
    d = intent.default_options()
    assert d["hidden"] == [96] and d["epochs"] == 50 and d["lr"] == 0.003 and d["refit"] is True
    assert d["label_names"] is True
    assert set(d) == set(OPTIONS)
    assert intent.default_options("original")["hidden"] == [256, 128, 64]
    assert intent.default_options("ensemble")["n_nets"] == 3
    with pytest.raises(intent.ArgumentError) as e:
        intent.default_options("fastest")
    assert "fastest" in str(e.value)
    m = intent.train(PAIRS, hidden=[16, 8], buckets=1024, lr=0.01, calibrate=False,
                     tune_threshold=False, threshold=0.4, **SMALL)
    assert m.threshold == 0.4
    assert "16" in m.describe() and "1024" in m.describe()


def test_bad_options():
    with pytest.raises(TypeError) as e:
        intent.train(PAIRS, epoch=3)
    assert "epoch" in str(e.value) and "epochs" in str(e.value)
    with pytest.raises(ValueError):
        intent.train(PAIRS, epochs=-1)            # would wrap to 4294967295 in C
    with pytest.raises(TypeError):
        intent.train(PAIRS, lr="fast")
    with pytest.raises(ValueError):
        intent.train(PAIRS, hidden=[8] * 9)
    with pytest.raises(intent.ArgumentError) as e:  # refused by the library, its message
        intent.train(PAIRS, dropout=2.0, threads=1)
    assert e.value.status == 1 and e.value.message


def test_progress_reports_epochs():
    seen = []
    m = intent.train(PAIRS, progress=seen.append, **SMALL)
    assert seen and all(isinstance(r, intent.EpochReport) for r in seen)
    assert seen[0].epoch == 1 and seen[0].train_loss > 0 and 0 <= seen[0].dev_score <= 1
    assert any(r.best for r in seen) and seen[-1].elapsed_s >= seen[0].elapsed_s
    refit = [r for r in seen if r.refit]
    assert refit and refit[0].dev_loss is None and refit[0].dev_score is None
    m.close()


def test_progress_can_stop_training():
    seen = []

    def stop_at_3(r):
        seen.append(r.epoch)
        return r.epoch >= 3

    with pytest.raises(intent.Cancelled) as e:
        intent.train(PAIRS, progress=stop_at_3, **SMALL)
    assert seen == [1, 2, 3] and e.value.status == 10


def test_exception_in_progress_is_raised():
    class Boom(Exception):
        pass

    def boom(r):
        raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        intent.train(PAIRS, progress=boom, **SMALL)


def test_malformed_data_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("MUSIC\tplay jazz\nWEATHER\twill it rain\nthis line has no tab\n")
    with pytest.raises(intent.ParseError) as e:
        intent.train(bad)
    assert f"{bad}:3:" in str(e.value) and e.value.status == 4
    assert isinstance(e.value, ValueError)
    with pytest.raises(intent.ParseError) as e:
        intent.Dataset.from_string('{"text": "x", "labels": [}\n', name="mem.jsonl")
    assert "mem.jsonl:1:" in str(e.value)


def test_missing_file_and_empty_data(tmp_path):
    with pytest.raises(intent.FileError) as e:
        intent.train(tmp_path / "nope.tsv")
    assert "nope.tsv" in str(e.value)
    with pytest.raises(intent.EmptyError):
        intent.train([])


def test_bad_examples_are_refused():
    ds = intent.Dataset()
    with pytest.raises(intent.ArgumentError) as e:
        ds.add("play jazz", ["MU SIC"])
    assert e.value.message
    with pytest.raises(intent.ArgumentError):
        ds.add("", "MUSIC")
    with pytest.raises(intent.ArgumentError):
        ds.add("play jazz", [])
    ds.add("play jazz", "MUSIC, JAZZ")  # "A,B" splits at commas, spaces around go
    assert list(ds) == [("play jazz", ("MUSIC", "JAZZ"))] and ds.labels == ("MUSIC", "JAZZ")
    ds.close()
    with pytest.raises(ValueError):
        len(ds)


def test_data_formats(tmp_path):
    ft = tmp_path / "d.ft"
    ft.write_text("__label__MUSIC play jazz\n__label__WEATHER __label__MUSIC rain songs\n")
    js = tmp_path / "d.jsonl"
    js.write_text('{"text": "play jazz", "labels": ["MUSIC"]}\n')
    text, labels = intent.Dataset.from_file(ft)[1]
    assert text == "rain songs" and set(labels) == {"MUSIC", "WEATHER"}
    assert intent.Dataset.from_file(js, format="jsonl")[0] == ("play jazz", ("MUSIC",))
    with pytest.raises(ValueError):
        intent.Dataset.from_file(js, format="xml")

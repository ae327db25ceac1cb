"""Model: predictions of the example model, batch and threads, files and bytes, quantize,
evaluate, stats, errors and closing."""
import threading

import pytest

import intent

SCREEN_DOC = "read me the document on my screen"
COMMANDS = [SCREEN_DOC, "can you see my screen", "Can you see my screen?",
            "play music and lock the computer", "what's the weather tomorrow",
            "email the spreadsheet to my accountant", "tell me a joke", "buy some bitcoin",
            "asdf jkl qwerty", "open the Documents folder", "turn the volume down",
            "remind me to call mum at 6", "wikipedia page on the roman empire"]


def test_known_commands(model):
    p = model.predict(SCREEN_DOC)
    assert {"FILES", "VISION", "VOICE"} <= set(p.names)
    assert "VISION" in p and not p.out_of_scope
    assert all(0.0 <= s.confidence <= 1.0 for s in p.labels)
    assert [s.confidence for s in p.labels] == sorted((s.confidence for s in p.labels),
                                                      reverse=True)
    assert model.predict("Can you see my screen?").names == ("VISION",)
    assert model.predict("what's the weather tomorrow").names == ("WEATHER",)
    assert set(model.predict("play music and lock the computer").names) == {"MUSIC", "SYSTEM"}


def test_out_of_scope_gives_no_labels(model):
    for text in ("buy some bitcoin", "asdf jkl qwerty"):
        p = model.predict(text)
        assert p.out_of_scope and p.labels == () and p.names == ()
        assert len(p.top) == 1 and p.top[0].label in model.labels  # the closest one
        assert p.top[0].confidence < model.threshold
        assert p.to_dict()["labels"] == [] and p.to_dict()["out_of_scope"] is True


def test_top_and_threshold(model):
    p = model.predict("can you see my screen", top=3)
    assert len(p.top) == 3 and p.top[0].label == "VISION" and p.names == ("VISION",)
    assert len(model.predict("can you see my screen", top=100).top) == model.n_labels
    assert len(model.predict(SCREEN_DOC, top=1).top) == 3  # every label that applies
    assert model.predict("buy some bitcoin", threshold=0.0).names != ()
    assert model.predict(SCREEN_DOC, threshold=0.9999).names == ()
    with pytest.raises(ValueError):
        model.predict("x", top=-1)


def test_describe_the_model(model):
    assert model.none_label == "oos"
    assert len(model.labels) == model.n_labels == 10 and "oos" not in model.labels
    assert set(model.labels) == {"BROWSER", "CALENDAR", "CHAT", "EMAIL", "FILES", "MUSIC",
                                 "SYSTEM", "VISION", "VOICE", "WEATHER"}
    assert 0.0 < model.threshold < 1.0
    assert model.label_id(model.labels[3]) == 3
    assert "oos" in model.describe() and "VISION" in model.describe()
    assert "10 labels" in repr(model)


def test_bytes_text_and_empty_text(model):
    assert model.predict(SCREEN_DOC.encode()).names == model.predict(SCREEN_DOC).names
    assert model.predict("").out_of_scope
    assert model.predict("héllo wörld, ça va? 🙂").top


def test_batch_equals_single(model):
    batch = model.predict_batch(COMMANDS, top=3)
    assert [b.text for b in batch] == COMMANDS
    assert batch == [model.predict(t, top=3) for t in COMMANDS]
    assert model.predict_batch([]) == []


def test_threads_share_a_model(model):
    want = {t: model.predict(t) for t in COMMANDS}
    bad = []

    def work():
        for _ in range(200):
            for t in COMMANDS:
                if model.predict(t) != want[t]:
                    bad.append(t)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert bad == []


def test_save_load_and_bytes_round_trip(model, tmp_path):
    path = tmp_path / "copy.intent"
    model.save(path)
    data = model.to_bytes()
    assert path.read_bytes() == data
    with intent.Model.load(str(path)) as a, intent.Model.from_bytes(data) as b:
        assert a.labels == b.labels == model.labels
        for t in COMMANDS:
            assert a.predict(t) == b.predict(t) == model.predict(t)


def test_load_errors_carry_the_library_message(tmp_path):
    missing = tmp_path / "missing.intent"
    with pytest.raises(intent.FileError) as e:
        intent.Model.load(missing)
    assert str(missing) in str(e.value) and e.value.status == 3
    assert isinstance(e.value, OSError) and isinstance(e.value, intent.IntentError)
    with pytest.raises(intent.FormatError) as e:
        intent.Model.from_bytes(b"this is not a model file at all" * 10)
    assert e.value.message and e.value.status in (5, 6, 7)
    junk = tmp_path / "junk.intent"
    junk.write_bytes(b"\0" * 100)
    with pytest.raises(intent.FormatError) as e:
        intent.Model.load(junk)
    assert str(junk) in str(e.value)


def test_damaged_file_is_refused(model, tmp_path):
    data = bytearray(model.to_bytes())
    data[len(data) // 2] ^= 0x40
    with pytest.raises(intent.FormatError) as e:  # ChecksumError is a FormatError
        intent.Model.from_bytes(bytes(data))
    assert isinstance(e.value, intent.ChecksumError), e.value
    truncated = model.to_bytes()[:1000]
    with pytest.raises(intent.FormatError):
        intent.Model.from_bytes(truncated)


def test_quantize(model):
    q = model.quantize()
    assert len(q.to_bytes()) < len(model.to_bytes()) / 2
    assert q.labels == model.labels and q.threshold == model.threshold
    same = sum(q.predict(t).names == model.predict(t).names for t in COMMANDS)
    assert same >= len(COMMANDS) - 1
    assert {"FILES", "VISION", "VOICE"} <= set(q.predict(SCREEN_DOC).names)
    q.close()


def test_evaluate(model, examples):
    ev = model.evaluate(examples / "assistant_test.tsv")
    n = sum(1 for line in open(examples / "assistant_test.tsv") if line.strip())
    assert ev["n_examples"] == n
    assert ev["has_none"] and ev["n_in_scope"] + ev["n_out_of_scope"] == n
    for k in ("exact", "top1", "micro_f1", "macro_f1", "ece", "in_scope_acc", "oos_recall",
              "oos_auroc"):
        assert 0.0 <= ev[k] <= 1.0, k
    assert ev["in_scope_acc"] > 0.7 and ev["micro_f1"] > 0.7 and ev["oos_auroc"] > 0.7
    assert ev["threshold"] == model.threshold and ev["n_unknown"] == 0
    assert set(ev["per_label"]) == set(model.labels)
    vision = ev["per_label"]["VISION"]
    assert vision["support"] == vision["tp"] + vision["fn"] > 0
    # a list of pairs, and a threshold of its own
    pairs = [("can you see my screen", ["VISION"]), ("buy some bitcoin", "oos")]
    ev2 = model.evaluate(pairs, threshold=0.5)
    assert ev2["n_examples"] == 2 and ev2["threshold"] == 0.5 and ev2["exact"] == 1.0


def test_evaluate_on_bad_data(model, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("VISION\tcan you see my screen\nno tab on this line\n")
    with pytest.raises(intent.ParseError) as e:
        model.evaluate(bad)
    assert f"{bad}:2:" in str(e.value)


def test_stats_count_answers_and_latency(model_path):
    with intent.Model.load(model_path) as m:
        s = m.stats()
        assert s["answers"] == 0 and s["p50_us"] == 0.0
        for t in COMMANDS * 10:
            m.predict(t)
        m.predict_batch(COMMANDS)
        s = m.stats()
        n = len(COMMANDS) * 11
        assert s["source"] == "library" and s["answers"] == n and s["errors"] == 0
        assert s["out_of_scope"] == 11 * sum(m.predict(t).out_of_scope for t in COMMANDS)
        assert 0 < s["p50_us"] <= s["p95_us"] <= s["p99_us"] <= s["max_us"]
        assert sum(s["latency_hist"]) == n
        assert s["per_label"]["VISION"] >= 30 and s["answers_per_s"] > 0
        total = intent.stats()
    assert total["answers"] >= n  # every model of the process
    assert intent.stats()["answers"] >= total["answers"]  # closing keeps m's counts


def test_closed_model(model_path):
    m = intent.Model.load(model_path)
    m.predict("hello")
    m.close()
    m.close()  # twice is fine
    assert m.closed and "closed" in repr(m)
    with pytest.raises(ValueError):
        m.predict("hello")
    with pytest.raises(ValueError):
        m.save("x.intent")


def test_close_waits_for_predictions_in_flight(model_path):
    m = intent.Model.load(model_path)
    stop = threading.Event()
    errors = []

    def work():
        while not stop.is_set():
            try:
                m.predict(SCREEN_DOC)
            except ValueError:
                return  # closed: refused cleanly, never a crash
            except Exception as e:  # pragma: no cover
                errors.append(e)
                return

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    m.close()
    stop.set()
    for th in threads:
        th.join()
    assert errors == []

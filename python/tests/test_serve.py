"""Serving: retrain_async learns from feedback in the background and swaps the new model
in while predict_async answers; its failures (rejected, busy, a missing log, closing);
the library's stats against the answers given."""
import asyncio
import math
import time

import pytest

import intent
from intent import _lib, _stats
from test_async import Ticker

SHOPPING = ["order me a large pizza", "buy milk and eggs online",
            "add batteries to my shopping cart"]
TEXTS = ["can you see my screen", "play some jazz", "what's the weather tomorrow",
         "tell me a joke", "buy some bitcoin"]


def corrections(path, pairs):
    with intent.FeedbackLog(path) as log:
        for labels, text in pairs:
            log.append(text, labels)
    return path


def test_retrain_async_learns_a_new_label_while_answering(model_path, examples, tmp_path):
    log = corrections(tmp_path / "fb.log", [("SHOPPING", t) for t in SHOPPING])
    m = intent.Model.load(model_path)
    assert "SHOPPING" not in m.labels and m.model_version == 1
    answered = []  # (model version, during the retrain?)

    async def keep_answering(stop):
        i = 0
        while not stop.is_set():
            p = await m.predict_async(TEXTS[i % len(TEXTS)])
            answered.append((p.model_version, m.retraining))
            i += 1
            await asyncio.sleep(0)

    async def main():
        ticker = Ticker().start()
        stop = asyncio.Event()
        client = asyncio.ensure_future(keep_answering(stop))
        await asyncio.sleep(0.01)
        t0 = time.perf_counter()
        done = await m.retrain_async(log, examples / "assistant.tsv", max_drop=0.2, seed=1)
        elapsed = time.perf_counter() - t0
        after = await m.predict_async("order me a large pizza")
        await asyncio.sleep(0.01)
        stop.set()
        await client
        await ticker.stop()
        return done, elapsed, after, ticker.max_gap

    done, elapsed, after, max_gap = asyncio.run(main())
    assert max_gap < 0.25, max_gap  # the loop ran throughout
    assert isinstance(done, intent.Retrained) and done.version == 2
    assert "version 2 serving" in done.message
    r = done.report
    assert r["n_feedback"] == 3 and r["n_data"] > 500 and r["n_new_labels"] == 1
    assert r["accepted"] is True and 0.0 <= r["new_score"] <= 1.0
    # predictions went on during the retrain, from the old model, then from the new one
    during = [v for v, busy in answered if busy]
    assert during and set(during) <= {1, 2}, (len(answered), elapsed)
    assert answered[-1][0] == 2 and not m.retraining
    # the new model knows the new label, by name, everywhere
    assert m.model_version == 2 and "SHOPPING" in m.labels and m.label_id("SHOPPING") >= 10
    assert after.model_version == 2 and "SHOPPING" in after.names
    assert "SHOPPING" in m.predict("order me a large pizza").names
    assert m.predict("can you see my screen").names == ("VISION",)
    s = m.stats()
    assert s["model_version"] == 2 and s["swaps"] == 2 and "SHOPPING" in s["per_label"]
    m.close()


def test_retrain_async_refusals(model_path, examples, tmp_path):
    m = intent.Model.load(model_path)
    log = corrections(tmp_path / "fb.log", [("SHOPPING", t) for t in SHOPPING])
    # feedback that contradicts the data: the new model scores worse, and is not served
    texts = [line.rstrip("\n").split("\t", 1)[1]
             for line in (examples / "assistant.tsv").open(encoding="utf-8")][:150]
    wrong = corrections(tmp_path / "wrong.log", [("MUSIC", t) for t in texts])

    async def rejected():
        with pytest.raises(intent.RejectedError) as e:
            await m.retrain_async(wrong, examples / "assistant.tsv", max_drop=0.0,
                                  feedback_repeat=4)
        return e.value

    e = asyncio.run(rejected())
    assert e.status == 12 and "below" in str(e) and e.report["accepted"] is False
    assert e.report["new_score"] < e.report["base_score"]
    assert m.model_version == 1  # the served model stays

    async def missing():
        with pytest.raises(intent.FileError, match="nothing.log"):
            await m.retrain_async(tmp_path / "nothing.log")

    asyncio.run(missing())

    async def twice():  # one retrain at a time per model
        first = asyncio.ensure_future(m.retrain_async(log, examples / "assistant.tsv",
                                                      max_drop=0.2))
        await asyncio.sleep(0)
        with pytest.raises(intent.BusyError, match="runs already"):
            await m.retrain_async(log)
        return await first

    assert asyncio.run(twice()).version == 2
    with pytest.raises(TypeError):
        asyncio.run(m.retrain_async(log, hidden=[8]))
    with pytest.raises(TypeError):
        asyncio.run(m.retrain_async(log, nonsense=1))
    m.close()


def test_closing_stops_a_retrain(model_path, examples, tmp_path):
    log = corrections(tmp_path / "fb.log", [("SHOPPING", t) for t in SHOPPING])
    m = intent.Model.load(model_path)

    async def main():
        task = asyncio.ensure_future(m.retrain_async(log, examples / "assistant.tsv",
                                                     epochs=100000, patience=100000))
        while not m.retraining:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)
        m.close()  # stops the retrain at its next epoch and waits for it
        with pytest.raises(intent.Cancelled):
            await task

    asyncio.run(main())
    assert m.closed


def test_stats_agree_with_the_answers(model_path):
    m = intent.Model.load(model_path)
    s0 = m.stats()
    assert s0["source"] == "library" and s0["answers"] == 0 and s0["threads"] == 0
    assert s0["model_version"] == 1 and s0["models_alive"] == 1 and s0["memory_bytes"] > 0
    sync = [m.predict(t) for t in TEXTS * 7]

    async def main():
        return await asyncio.gather(*[m.predict_async(t) for t in TEXTS * 40])

    pool = asyncio.run(main())
    s = m.stats()
    answers = sync + pool
    assert s["answers"] == len(answers) and s["errors"] == 0 and s["busy"] == 0
    assert s["out_of_scope"] == sum(p.out_of_scope for p in answers)
    assert sum(s["latency_hist"]) == s["answers"]
    # per label: the labels answers gave
    for label, n in s["per_label"].items():
        assert n == sum(label in p.names for p in answers), label
    assert set(s["per_label"]) == set(m.labels)
    # percentiles as the library reads them from its histogram
    assert 0 < s["p50_us"] <= s["p95_us"] <= s["p99_us"] <= s["max_us"]
    for q in (0.50, 0.95, 0.99):
        assert math.isclose(s[f"p{round(q * 100)}_us"],
                            _stats.quantile_us(s["latency_hist"], q, s["max_us"]), rel_tol=1e-9)
    assert s["threads"] >= 1 and s["batches"] >= 1 and s["queued"] == 0
    assert s["answers_per_s"] > 0 and s["uptime_s"] > 0
    text = m.stats_text()
    assert f"answers       {len(answers)} in" in text and "pool" in text and "per label" in text
    total = intent.stats()
    assert total["answers"] >= len(answers) and total["models"] >= 1
    m.close()
    after = intent.stats()  # a closed model's counts stay in the totals
    assert after["answers"] >= total["answers"]
    assert m.stats()["answers"] == len(answers)


def test_histogram_edges_match_the_library():
    for i in range(_stats.BUCKETS + 1):
        want = _lib.lib.intent_stats_bucket_us(i)
        assert _stats.bucket_us(i) == want or (math.isinf(want) and math.isinf(_stats.bucket_us(i)))
    assert _stats.bucket(0) == 0 and _stats.bucket(1023) == 0 and _stats.bucket(1024) == 1
    for b in range(1, _stats.BUCKETS - 1):
        lo = int(_stats.bucket_lo_ns(b))
        assert _stats.bucket(lo) == b and _stats.bucket(lo - 1) == b - 1

"""asyncio: predict_async (the library's pool), swaps and train_async run off the event
loop, which keeps running; a full queue waits or raises BusyError."""
import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import intent

TEXTS = ["read me the document on my screen", "can you see my screen", "buy some bitcoin",
         "play music and lock the computer", "what's the weather tomorrow", "tell me a joke"]


class Ticker:
    """Counts the ticks of a coroutine sleeping 1 ms at a time, and the longest gap."""

    def __init__(self):
        self.ticks, self.max_gap, self._stop = 0, 0.0, False

    async def run(self):
        last = time.perf_counter()
        while not self._stop:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.ticks, self.max_gap = self.ticks + 1, max(self.max_gap, now - last)
            last = now

    def start(self):
        self._task = asyncio.get_running_loop().create_task(self.run())
        return self

    async def stop(self):
        self._stop = True
        await self._task


def test_many_concurrent_predictions_do_not_block_the_loop(model):
    want = {t: model.predict(t) for t in TEXTS}

    async def main():
        ticker = Ticker().start()
        await asyncio.sleep(0.005)
        # 64 clients, 40 requests each: 2560 predictions, 64 in flight at any time
        async def client(k):
            out = []
            for i in range(40):
                t = TEXTS[(k + i) % len(TEXTS)]
                out.append((t, await model.predict_async(t)))
            return out

        t0 = time.perf_counter()
        results = await asyncio.gather(*[client(k) for k in range(64)])
        elapsed = time.perf_counter() - t0
        ticks_during = ticker.ticks
        await ticker.stop()
        return results, elapsed, ticks_during, ticker.max_gap

    before = model.stats()["answers"]
    results, elapsed, ticks, max_gap = asyncio.run(main())
    answers = [p for r in results for p in r]
    assert len(answers) == 2560
    assert all(p == want[t] for t, p in answers)
    assert model.stats()["answers"] - before == 2560
    # the loop kept ticking while the predictions ran: never held for long
    assert ticks >= 3, (ticks, elapsed)
    assert max_gap < 0.25, max_gap


def test_predict_async_goes_through_the_library_pool(model_path):
    """The default call is answered by intent_pool, never by the executor or the loop."""
    m = intent.Model.load(model_path)
    called = []
    orig = m._predict
    m._predict = lambda *a: (called.append(threading.get_ident()), orig(*a))[1]

    async def main():
        return await asyncio.gather(*[m.predict_async(t) for t in TEXTS * 50])

    ps = asyncio.run(main())
    del m._predict
    assert called == []  # no Python-side prediction: the pool's threads answered in C
    assert [p.names for p in ps] == [m.predict(t).names for t in TEXTS * 50]
    assert all(p.model_version == 1 for p in ps)
    s = m.stats()
    assert s["threads"] >= 1 and s["queue_cap"] == 1024 and s["batches"] >= 1
    assert 1.0 <= s["mean_batch"] <= 32
    assert s["answers"] == len(TEXTS) * 50 * 2  # the pool's, and the sync check's
    m.close()


def test_threshold_or_top_run_on_the_executor(model):
    seen = set()
    ex = ThreadPoolExecutor(max_workers=3, thread_name_prefix="mine")
    orig = model._predict

    async def main():
        loop_thread = threading.get_ident()
        intent.set_executor(ex)
        try:
            model._predict = lambda *a: (seen.add(threading.get_ident()), orig(*a))[1]
            ps = await asyncio.gather(*[model.predict_async(t, top=2) for t in TEXTS * 20],
                                      *[model.predict_async(t, threshold=0.5) for t in TEXTS])
        finally:
            del model._predict
            intent.set_executor(None)
        return loop_thread, ps

    loop_thread, ps = asyncio.run(main())
    ex.shutdown()
    assert loop_thread not in seen and 1 <= len(seen) <= 3
    assert ps[:len(TEXTS) * 20] == [model.predict(t, top=2) for t in TEXTS * 20]
    assert ps[len(TEXTS) * 20:] == [model.predict(t, threshold=0.5) for t in TEXTS]


def test_a_full_queue_waits_or_raises_busy(model_path):
    m = intent.Model.load(model_path)
    m.serve(threads=1, queue=4, max_batch=1)
    with pytest.raises(ValueError, match="runs already"):
        m.serve()
    want = {t: m.predict(t) for t in TEXTS}

    async def waiting():  # the default: wait for room (asyncio.sleep), then answer
        ticker = Ticker().start()
        await asyncio.sleep(0.005)
        ps = await asyncio.gather(*[m.predict_async(t) for t in TEXTS * 100])
        await ticker.stop()
        return ps, ticker.max_gap

    ps, max_gap = asyncio.run(waiting())
    assert ps == [want[t] for t in TEXTS * 100]
    assert m.stats()["busy"] > 0 and max_gap < 0.25

    async def shedding():  # busy_timeout=0: BusyError at once for what does not fit
        return await asyncio.gather(*[m.predict_async(t, busy_timeout=0) for t in TEXTS * 50],
                                    return_exceptions=True)

    out = asyncio.run(shedding())
    busy = [e for e in out if isinstance(e, intent.BusyError)]
    answered = [p for p in out if isinstance(p, intent.Prediction)]
    assert busy and answered and len(busy) + len(answered) == len(out)
    assert busy[0].status == 13 and "full" in str(busy[0])
    s = m.stats()
    assert s["queued"] == 0 and s["queue_cap"] == 4 and s["threads"] == 1
    m.close()


def test_swap_and_reload_while_predict_async_answers(model_path, tmp_path):
    m = intent.Model.load(model_path)
    other = intent.Model.load(model_path)
    versions = []

    async def client(k):
        mine = []
        for i in range(300):
            p = await m.predict_async(TEXTS[(k + i) % len(TEXTS)])
            assert p.names == other.predict(p.text).names  # the same model, whole
            mine.append(p.model_version)
        assert mine == sorted(mine)  # a later request never meets an older model
        versions.extend(mine)

    async def swapper():
        for _ in range(5):
            await asyncio.sleep(0.002)
            m.swap(other)

    async def main():
        await asyncio.gather(*[client(k) for k in range(8)], swapper())

    asyncio.run(main())
    assert m.model_version == 6 and len(versions) == 2400
    assert min(versions) == 1 and max(versions) <= 6 and len(set(versions)) > 1
    s = m.stats()
    assert s["model_version"] == 6 and s["swaps"] == 6 and s["answers"] >= 2400
    assert not other.closed  # swap copies: other stays usable
    assert other.predict("can you see my screen").names == ("VISION",)

    assert m.reload(model_path) == 7 and m.model_version == 7
    with pytest.raises(intent.FileError, match="missing.intent"):
        m.reload(tmp_path / "missing.intent")
    s = m.stats()
    assert m.model_version == 7 and s["loads"] == 1 and s["load_failures"] == 1
    assert "missing.intent" in s["last_error"]
    assert asyncio.run(m.predict_async("play some jazz")).model_version == 7
    assert "version 7 (primary)" in m.stats_text()
    m.close()
    other.close()


def test_slow_prediction_leaves_the_loop_free(model):
    """A text long enough to take a while in C: the loop ticks meanwhile."""
    long_text = " ".join(["read me the document on my screen"] * 20000)

    async def main():
        ticker = Ticker().start()
        await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        before = ticker.ticks
        for _ in range(3):
            await model.predict_async(long_text)
        elapsed = time.perf_counter() - t0
        during = ticker.ticks - before
        await ticker.stop()
        return elapsed, during

    elapsed, during = asyncio.run(main())
    # each tick is at least 1 ms: a loop free for the whole time ticks about elapsed/1ms
    assert during >= min(3, int(elapsed / 0.001) // 4), (elapsed, during)


def test_async_errors_and_stats(model_path):
    async def main(m):
        ps = await asyncio.gather(*[m.predict_async(t, top=2) for t in TEXTS])
        pool = await asyncio.gather(*[m.predict_async(t) for t in TEXTS])
        batch = await m.predict_batch_async(TEXTS, top=2)
        return ps, pool, batch

    m = intent.Model.load(model_path)
    ps, pool, batch = asyncio.run(main(m))
    assert ps == batch == m.predict_batch(TEXTS, top=2)
    assert pool == m.predict_batch(TEXTS)
    assert m.stats()["answers"] == 5 * len(TEXTS)
    m.close()
    with pytest.raises(ValueError):
        asyncio.run(main(m))
    assert m.stats()["answers"] == 5 * len(TEXTS)  # kept from close


def test_train_async_keeps_the_loop_running(examples):
    epochs = []

    async def main():
        ticker = Ticker().start()
        await asyncio.sleep(0.005)
        loop = asyncio.get_running_loop()

        def progress(r):  # on the training thread
            assert threading.current_thread() is not threading.main_thread()
            loop.call_soon_threadsafe(epochs.append, r.epoch)

        before = ticker.ticks
        t0 = time.perf_counter()
        m = await intent.train_async(examples / "assistant.tsv", none_label="oos", threads=2,
                                     progress=progress)
        elapsed = time.perf_counter() - t0
        during = ticker.ticks - before
        await ticker.stop()
        await asyncio.sleep(0)
        return m, elapsed, during, ticker.max_gap

    m, elapsed, during, max_gap = asyncio.run(main())
    assert {"FILES", "VISION", "VOICE"} <= set(m.predict("read me the document on my screen").names)
    assert epochs and epochs[0] == 1
    assert during >= 3 and max_gap < 0.25, (elapsed, during, max_gap)
    m.close()


def test_train_async_errors_and_cancel(tmp_path, examples):
    bad = tmp_path / "bad.tsv"
    bad.write_text("MUSIC\tplay jazz\nnot a tab in sight\n")

    async def failing():
        with pytest.raises(intent.ParseError, match=f"{bad}:2:"):
            await intent.train_async(bad)

    asyncio.run(failing())

    epochs = []

    async def cancelled():
        task = asyncio.ensure_future(intent.train_async(
            examples / "assistant.tsv", threads=1, patience=1000, epochs=1000,
            progress=lambda r: epochs.append(r.epoch)))
        while not epochs:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        n = len(epochs)
        await asyncio.sleep(0.3)  # training stops at the end of its epoch
        return n

    n = asyncio.run(cancelled())
    assert len(epochs) <= n + 1 < 1000

"""asyncio: predict_async and train_async run off the event loop, which keeps running."""
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

    results, elapsed, ticks, max_gap = asyncio.run(main())
    answers = [p for r in results for p in r]
    assert len(answers) == 2560
    assert all(p == want[t] for t, p in answers)
    # the loop kept ticking while the predictions ran: never held for long
    assert ticks >= 3, (ticks, elapsed)
    assert max_gap < 0.25, max_gap


def test_predict_runs_on_executor_threads(model):
    seen = set()
    ex = ThreadPoolExecutor(max_workers=3, thread_name_prefix="mine")
    orig = model._predict

    async def main():
        loop_thread = threading.get_ident()
        intent.set_executor(ex)
        try:
            model._predict = lambda *a: (seen.add(threading.get_ident()), orig(*a))[1]
            ps = await asyncio.gather(*[model.predict_async(t) for t in TEXTS * 20])
        finally:
            del model._predict
            intent.set_executor(None)
        return loop_thread, ps

    loop_thread, ps = asyncio.run(main())
    ex.shutdown()
    assert loop_thread not in seen and 1 <= len(seen) <= 3
    assert [p.names for p in ps] == [model.predict(t).names for t in TEXTS * 20]


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
        batch = await m.predict_batch_async(TEXTS, top=2)
        return ps, batch

    m = intent.Model.load(model_path)
    ps, batch = asyncio.run(main(m))
    assert ps == batch == m.predict_batch(TEXTS, top=2)
    assert m.stats()["answers"] == 3 * len(TEXTS)
    m.close()
    with pytest.raises(ValueError):
        asyncio.run(main(m))


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

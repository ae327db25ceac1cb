"""Router: components for a command from examples/components.json, loads and unloads
(shell commands, callables, async callables), the budget, holds, registry errors."""
import asyncio
import json
import threading
import time

import pytest

import intent

SCREEN = {"screen", "camera", "ocr", "vision"}   # VISION: ocr and vision, with their deps
VOICE = {"audio", "stt", "tts"}


@pytest.fixture
def registry(examples):
    return json.loads((examples / "components.json").read_text())


def recording(registry, calls, fail=(), raise_in=(), delay=0.0):
    """registry with Python callables that record ("load"/"unload", name) in calls."""
    lock = threading.Lock()

    def action(what):
        def run(name):
            if delay:
                time.sleep(delay)
            with lock:
                calls.append((what, name))
            if name in raise_in:
                raise RuntimeError(f"cannot {what} {name}")
            return name not in fail
        return run

    for c in registry["components"]:
        c["load"], c["unload"] = action("load"), action("unload")
    return registry


def test_analyze_as_in_the_original_usage(model, examples):
    analyzer = intent.Router(model, examples / "components.json", run=False)

    async def main():
        components = await analyzer.analyze("Can you see my screen?")
        assert components == SCREEN
        assert await analyzer.analyze("read me the document on my screen") == \
            SCREEN | VOICE | {"files"}
        assert await analyzer.analyze("what's the weather tomorrow") == {"network", "weather"}
        assert await analyzer.analyze("turn the volume down") == {"system"}
        assert await analyzer.analyze("buy some bitcoin") == set()  # out of scope

    asyncio.run(main())
    assert SCREEN | VOICE | {"files", "network", "weather", "system"} <= analyzer.loaded()
    analyzer.close()


def test_plan_order_memory_and_budget(model, examples):
    r = intent.Router(model, examples / "components.json", run=False)
    p = r.route("can you see my screen")
    assert p.required == ("screen", "camera", "ocr", "vision") == p.to_load
    assert p.loaded == () and p.to_unload == () and p.labels == ("VISION",)
    assert p.memory_before == 0 and p.memory_after == (40 + 60 + 150 + 1100) << 20
    assert p.budget == 3072 << 20 and p.carried_out and r.memory == p.memory_after
    # the chat model does not fit beside the vision stack: least recently used go first
    p = r.route("tell me a joke")
    assert p.required == ("llm",)
    assert [why for _, why in p.to_unload] == ["budget"] * len(p.to_unload)
    assert {n for n, _ in p.to_unload} <= SCREEN and r.memory <= 3072 << 20
    p = r.route("can you see my screen")
    assert ("llm", "budget") in p.to_unload and "llm" not in r.loaded()
    # a plan only: nothing changes
    before = r.loaded()
    p = r.route("tell me a joke", load=False)
    assert not p.carried_out and p.to_load == ("llm",) and r.loaded() == before
    r.close()


def test_actions_run_once_in_load_order(model, registry):
    calls = []
    r = intent.Router(model, recording(registry, calls))
    assert asyncio.run(r.analyze("read me the document on my screen")) == SCREEN | VOICE | {"files"}
    loads = [n for what, n in calls if what == "load"]
    assert sorted(loads) == sorted(SCREEN | VOICE | {"files"})
    assert loads.index("audio") < loads.index("stt") and loads.index("screen") < loads.index("ocr")
    calls.clear()
    asyncio.run(r.analyze("can you see my screen"))  # all loaded already
    assert calls == []
    asyncio.run(r.analyze("tell me a joke"))        # unloads to make room, then loads llm
    assert calls[-1] == ("load", "llm") and ("unload", "vision") in calls
    r.close()


def test_concurrent_analyze_loads_each_component_once(model, registry):
    calls = []
    r = intent.Router(model, recording(registry, calls, delay=0.02))

    async def main():
        return await asyncio.gather(*[r.analyze("can you see my screen") for _ in range(12)])

    results = asyncio.run(main())
    assert all(c == SCREEN for c in results)
    assert sorted(n for _, n in calls) == sorted(SCREEN)  # once each, however many asked
    r.close()


def test_failed_load(model, registry):
    calls = []
    r = intent.Router(model, recording(registry, calls, fail={"camera"}))
    with pytest.raises(intent.ComponentError) as e:
        asyncio.run(r.analyze("can you see my screen"))
    plan = e.value.plan
    assert ("camera", 1) in plan.load_failed and ("vision", 0) in plan.load_failed
    assert "camera" in str(e.value) and "vision" not in r.loaded()
    assert {"screen", "ocr"} <= r.loaded()  # those that loaded stay loaded
    # a later call tries again
    r2_calls = []
    r._actions["camera"] = (lambda n: r2_calls.append(n), None)
    assert asyncio.run(r.analyze("can you see my screen")) == SCREEN
    assert r2_calls == ["camera"]
    r.close()


def test_exception_in_a_load_is_the_cause(model, registry):
    r = intent.Router(model, recording(registry, [], raise_in={"files"}))
    with pytest.raises(intent.ComponentError) as e:
        r.route("open the Documents folder")
    assert isinstance(e.value.__cause__, RuntimeError)
    assert "cannot load files" in str(e.value.__cause__)
    r.close()


def test_async_callables(model, registry):
    loaded = []

    async def load(name):
        await asyncio.sleep(0.001)
        loaded.append((name, threading.current_thread() is threading.main_thread()))

    for c in registry["components"]:
        c["load"], c.pop("unload")
        c["load"] = load

    r = intent.Router(model, registry)
    assert asyncio.run(r.analyze("what's the weather tomorrow")) == {"network", "weather"}
    assert loaded == [("network", True), ("weather", True)]  # ran on the loop's thread
    r.route("play some jazz")  # synchronous, outside any loop: run to completion here
    assert [n for n, _ in loaded][2:] == ["audio", "music"]
    r.close()


def test_shell_commands(model, registry, tmp_path, caplog):
    out = tmp_path / "ran"
    for c in registry["components"]:
        c["load"] = f'echo "load $INTENT_COMPONENT" >> {out}; echo hello from {c["name"]}'
        c["unload"] = f'echo "unload $INTENT_COMPONENT" >> {out}'
    registry["components"][-1]["load"] = "exit 3"  # llm
    r = intent.Router(model, registry)
    with caplog.at_level("INFO", logger="intent.router"):
        assert asyncio.run(r.analyze("what's the weather tomorrow")) == {"network", "weather"}
    assert out.read_text().split("\n")[:2] == ["load network", "load weather"]
    assert "hello from weather" in caplog.text
    with pytest.raises(intent.ComponentError) as e:
        r.route("tell me a joke")
    assert e.value.plan.load_failed == (("llm", 3),)
    r.close()


def test_hold_keeps_components(model, examples):
    r = intent.Router(model, examples / "components.json", run=False)
    with r.hold("can you see my screen") as plan:
        assert plan.components == SCREEN and r.info("vision").holders == 1
        assert r.info("vision").state == "loaded"
    assert r.info("vision").holders == 0

    async def main():
        async with r.hold("tell me a joke") as p:
            assert p.required == ("llm",) and r.info("llm").holders == 1
        assert r.info("llm").holders == 0

    asyncio.run(main())
    r.close()


def test_idle_timeout_and_set_loaded(model, examples):
    r = intent.Router(model, examples / "components.json", run=False)
    r.set_loaded("llm", idle_s=500)  # past its 120 s idle timeout
    assert r.info("llm").state == "loaded"
    p = r.route("turn the volume down")
    assert p.to_unload == (("llm", "timeout"),) and p.required == ("system",)
    r.set_loaded("llm", idle_s=500)
    assert r.unload_idle() == 1 and "llm" not in r.loaded()
    with pytest.raises(intent.ArgumentError):
        r.set_loaded("system")  # loaded already
    with pytest.raises(KeyError):
        r.info("nope")
    info = r.info("vision")
    assert info.depends == ("screen", "camera") and info.labels == ("VISION",)
    assert info.memory == 1100 << 20 and info.idle_timeout_s == 180
    assert info.description.startswith("describes images")
    assert [c.name for c in r.components()] == list(r.names) and len(r.names) == 16
    r.close()


def test_registry_forms_and_budget(model_path, registry):
    # a model path (owned by the router), the components as a list, no budget
    r = intent.Router(model_path, registry["components"])
    p = r.route("can you see my screen", load=False)
    assert p.budget == 0 and p.components == SCREEN
    r.close()
    assert r.model.closed
    r = intent.Router(model_path, registry, budget_mb=100, run=False)
    with pytest.raises(intent.LimitError) as e:  # the vision stack alone is over 100 MB
        r.route("can you see my screen")
    assert "budget" in str(e.value) and e.value.plan.components == SCREEN
    assert r.loaded() == set()  # nothing done
    r.close()


@pytest.mark.parametrize("change,message", [
    (lambda reg: reg["components"][0].update(colour="red"), 'unknown key "colour"'),
    (lambda reg: reg["components"][1].update(depends=["nothing"]), 'unknown dependency'),
    (lambda reg: reg["components"][0].update(depends=["stt"]), "dependency cycle"),
    (lambda reg: reg["components"][0].update(memory_mb=-1), '"memory_mb" must be'),
    (lambda reg: reg["components"][0].update(labels="VOICE"), '"labels" must be'),
    (lambda reg: reg["components"][0].update(name="two words"), "component"),
    (lambda reg: reg["components"].append({"name": "audio"}), "audio"),
    (lambda reg: reg.update(budget_mb="big"), '"budget_mb" must be'),
])
def test_registry_errors(model, registry, change, message):
    change(registry)
    with pytest.raises(intent.ArgumentError) as e:
        intent.Router(model, registry)
    assert message in str(e.value)


def test_registry_file_errors(model, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"budget_mb": 10,\n "components": [\n {"name": "a",}\n]}\n')
    with pytest.raises(intent.ParseError) as e:
        intent.Router(model, bad)
    assert f"{bad}:3:" in str(e.value)
    with pytest.raises(intent.FileError):
        intent.Router(model, tmp_path / "missing.json")

"""Router: from a command's text to the components that must be loaded to answer it.

    router = intent.Router(model, "examples/components.json")
    components = await router.analyze("Can you see my screen?")
    # {'screen', 'camera', 'ocr', 'vision'}

A Router predicts the labels of a command with a Model, then asks the library's component
manager (intent_components_*) which components those labels need, with their
dependencies, and carries the plan out: it unloads idle components past their idle
timeout and, least recently used first, as many as the memory budget needs, then loads
what is missing, each component once however many callers need it at the same time.

The registry is a JSON file like examples/components.json (the format `intent route`
reads: {"budget_mb": N, "components": [{"name", "labels", "depends", "memory_mb",
"idle_timeout_s", "load", "unload", "description"}]}), a dict of that shape, or the list
of component dicts alone. "load" and "unload" are shell commands (run with /bin/sh -c,
INTENT_COMPONENT naming the component, output logged on the "intent.router" logger) or,
from Python, callables taking the component's name: returning None, True or 0 is success;
False, a non-zero number or an exception is failure. An async callable works from
analyze / route_async / hold (it runs on the caller's event loop while the executor
thread waits for it).

DESIGN: plans and loads run on an executor thread (the loop's default executor): a load
may take seconds, and the library blocks a caller while another thread loads a component
it needs. The load/unload callbacks run on that thread, outside the registry's lock. One
C callback of each kind serves every component; Python callables are looked up by name.
"""
from __future__ import annotations

import asyncio
import ctypes
import functools
import inspect
import json
import logging
import math
import os
import subprocess
import threading
import time
from ctypes import byref, c_size_t, c_void_p
from dataclasses import dataclass
from typing import (Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Set,
                    Tuple, Union)

from . import _lib
from ._lib import lib
from .dataset import PathLike
from .errors import ArgumentError, ComponentError, IntentError, ParseError, error_for
from .model import Model, Prediction

log = logging.getLogger("intent.router")

Action = Union[str, Callable[[str], Any]]
"""A load or unload action: a shell command, or a callable taking the component's name."""

_TOP_KEYS = ("budget_mb", "components", "description")
_KEYS = ("name", "labels", "depends", "memory_mb", "idle_timeout_s", "load", "unload",
         "description")
_MAX_MB = 1e9          # a petabyte: larger is a typo (as the CLI)
_MAX_TIMEOUT_S = 1e9
_MIB = 1048576


@dataclass(frozen=True)
class Plan:
    """What the component manager decided for one command (intent_plan), by name.

    required:  the components the labels need, with every dependency, in load order
    loaded:    of required, those loaded already before this command
    to_load:   of required, those to load (carried out: loaded now), in load order
    to_unload: (name, why) of idle components unloaded first, why "timeout" or "budget"
    load_failed: (name, status the load returned; 0: a dependency did not load)
    unload_failed: components whose unload failed (they stay loaded)
    memory_*:  bytes loaded before and after; budget 0 means none
    carried_out: the plan was acted on (load=True) rather than only made
    """
    text: str
    prediction: Prediction
    required: Tuple[str, ...]
    loaded: Tuple[str, ...]
    to_load: Tuple[str, ...]
    to_unload: Tuple[Tuple[str, str], ...]
    load_failed: Tuple[Tuple[str, int], ...]
    unload_failed: Tuple[str, ...]
    memory_before: int
    memory_after: int
    budget: int
    carried_out: bool

    @property
    def components(self) -> Set[str]:
        """The required components as a set."""
        return set(self.required)

    @property
    def labels(self) -> Tuple[str, ...]:
        return self.prediction.names


@dataclass(frozen=True)
class ComponentInfo:
    """A snapshot of one component (intent_component_info)."""
    name: str
    labels: Tuple[str, ...]
    depends: Tuple[str, ...]
    memory: int               # bytes
    idle_timeout_s: float     # 0: never unloaded for idleness
    state: str                # "unloaded", "loading", "loaded", "unloading"
    holders: int              # callers holding it (Router.hold)
    last_used_ms: int         # time.monotonic() * 1000 of its last load, acquire or release
    description: Optional[str]


# ---- reading a registry ----------------------------------------------------------------


def _read_registry(components: Union[PathLike, Mapping[str, Any], Sequence[Mapping[str, Any]]]
                   ) -> Tuple[str, Dict[str, Any]]:
    """(name for messages, {"budget_mb", "components"}) from a path, a dict or a list."""
    if isinstance(components, (str, os.PathLike)):
        where = os.fspath(components)
        try:
            with open(where, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise error_for(3, f"{where}: {e.strerror or e}") from e
        try:
            root = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise ParseError(4, f"{where}: not UTF-8 ({e.reason} at byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise ParseError(4, f"{where}:{e.lineno}: not valid JSON ({e.msg})") from None
    elif isinstance(components, Mapping):
        where, root = "<registry>", dict(components)
    else:
        where, root = "<registry>", {"components": list(components)}
    if not isinstance(root, dict):
        raise ArgumentError(1, f"{where}: must be a JSON object "
                               '{"budget_mb": ..., "components": [...]}')
    for k in root:
        if k not in _TOP_KEYS:
            raise ArgumentError(1, f'{where}: unknown key "{k}" (known: {", ".join(_TOP_KEYS)})')
    if not isinstance(root.get("components"), list):
        raise ArgumentError(1, f'{where}: "components" must be an array of component objects')
    return where, root


def _number(v: Any, top: float) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or v < 0 or v > top:
        return None
    return float(v)


def _strings(v: Any) -> Optional[List[str]]:
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
        return None
    return list(v)


def _c_strings(names: Sequence[str]) -> "ctypes.Array[ctypes.c_char_p]":
    return (ctypes.c_char_p * max(1, len(names)))(*[n.encode("utf-8") for n in names])


# ---- the router -----------------------------------------------------------------------


class Router(_lib.Handle):
    """Which components a command needs, and loading them (intent_components).

    model: a Model, or the path of a model file (then the router owns and closes it).
    components: a registry (see the module docstring).
    budget_mb: overrides the registry's budget_mb (0: no budget).
    run: False plans and records loads without running any load or unload action (as
        `intent route` without --run).
    threshold: labels at or over it need their components (None: the model's).
    Thread-safe once made; close() frees the registry without unloading anything.
    """

    _WHAT = "router"

    def __init__(self, model: Union[Model, PathLike],
                 components: Union[PathLike, Mapping[str, Any], Sequence[Mapping[str, Any]]],
                 *, budget_mb: Optional[float] = None, run: bool = True,
                 threshold: Optional[float] = None) -> None:
        self._h: Optional[int] = None
        self._own_model = not isinstance(model, Model)
        self.model: Model = model if isinstance(model, Model) else Model.load(model)
        self.threshold = threshold
        self.run = run
        self._actions: Dict[str, Tuple[Optional[Action], Optional[Action]]] = {}
        self._descriptions: Dict[str, Optional[str]] = {}
        self._errors: Dict[str, BaseException] = {}   # last exception of a name's action
        self._local = threading.local()                # the event loop of an async caller
        # one C callback of each kind for every component; alive as long as the registry
        self._load_cb = _lib.COMPONENT_FN(functools.partial(self._on_action, 0))
        self._unload_cb = _lib.COMPONENT_FN(functools.partial(self._on_action, 1))
        try:
            self._build(components, budget_mb)
        except BaseException:
            self.close()
            raise

    def _build(self, components: Any, budget_mb: Optional[float]) -> None:
        where, root = _read_registry(components)
        mb = root.get("budget_mb", 0) if budget_mb is None else budget_mb
        if _number(mb, _MAX_MB) is None:
            raise ArgumentError(1, f'{where}: "budget_mb" must be a number from 0 to '
                                   f'{_MAX_MB:g} (0: no budget)')
        h = c_void_p()
        rc = lib.intent_components_new(int(round(mb * _MIB)), byref(h))
        if rc:
            raise error_for(rc, "components: out of memory")
        self._h = h.value
        for i, comp in enumerate(root["components"]):
            self._add(where, i, comp)
        if lib.intent_components_validate(self._h):
            raise ArgumentError(1, f"{where}: {self._errmsg()}")
        self._names = tuple(_lib.text(lib.intent_components_name(self._h, i)) or ""
                            for i in range(lib.intent_components_count(self._h)))

    def _add(self, where: str, i: int, comp: Any) -> None:
        name = comp.get("name") if isinstance(comp, Mapping) else None
        cid = f"component {name}" if isinstance(name, str) and name else f"component #{i + 1}"

        def bad(what: str) -> ArgumentError:
            return ArgumentError(1, f"{where}: {cid}: {what}")

        if not isinstance(comp, Mapping):
            raise bad("must be an object")
        if not isinstance(name, str) or not name:
            raise bad('"name" must be a non-empty string')
        for k in comp:
            if k not in _KEYS:
                raise bad(f'unknown key "{k}" (known: {", ".join(_KEYS)})')
        labels = _strings(comp.get("labels", []))
        depends = _strings(comp.get("depends", []))
        mb = _number(comp.get("memory_mb", 0), _MAX_MB)
        secs = _number(comp.get("idle_timeout_s", 0), _MAX_TIMEOUT_S)
        load, unload = comp.get("load"), comp.get("unload")
        if labels is None:
            raise bad('"labels" must be an array of strings')
        if depends is None:
            raise bad('"depends" must be an array of strings')
        if mb is None:
            raise bad(f'"memory_mb" must be a number from 0 to {_MAX_MB:g}')
        if secs is None:
            raise bad(f'"idle_timeout_s" must be a number of seconds from 0 to '
                      f'{_MAX_TIMEOUT_S:g} (0: never)')
        for a in (load, unload):
            if a is not None and not isinstance(a, str) and not callable(a):
                raise bad('"load" and "unload" must be shell commands (strings) or callables')
        desc = comp.get("description")
        if desc is not None and not isinstance(desc, str):
            raise bad('"description" must be a string')
        lab_c, dep_c = _c_strings(labels), _c_strings(depends)
        spec = _lib.new_struct(_lib.ComponentSpec)
        spec.name = name.encode("utf-8")
        spec.labels, spec.n_labels = lab_c, len(labels)
        spec.depends, spec.n_depends = dep_c, len(depends)
        spec.memory = int(round(mb * _MIB))
        spec.idle_timeout_ms = int(round(secs * 1000))
        if self.run and load is not None:
            spec.load = self._load_cb
        if self.run and unload is not None:
            spec.unload = self._unload_cb
        if lib.intent_components_add(self._h, byref(spec)):
            raise ArgumentError(1, f"{where}: {self._errmsg()}")
        self._actions[name] = (load, unload)
        self._descriptions[name] = desc

    def _errmsg(self) -> str:
        return _lib.text(lib.intent_components_errmsg(self._h)) or "invalid registry"

    # -- running actions (on the thread that acquires, outside the registry's lock) --

    def _on_action(self, which: int, name_b: bytes, user: Any) -> int:
        name = name_b.decode("utf-8", "replace")
        what = ("load", "unload")[which]
        try:
            action = self._actions[name][which]
            if isinstance(action, str):
                rc = self._shell(name, what, action)
            else:
                r = action(name)  # type: ignore[misc]
                if inspect.isawaitable(r):
                    r = self._await(r)
                rc = 0 if r is None or r is True else 1 if r is False else int(r)
            if rc:
                log.warning("component %s: %s returned %d", name, what, rc)
            else:
                self._errors.pop(name, None)
            return max(-2 ** 31, min(2 ** 31 - 1, rc))
        except BaseException as e:  # must not escape into C: ctypes would report success
            self._errors[name] = e
            log.error("component %s: %s raised %r", name, what, e)
            return 1

    def _shell(self, name: str, what: str, cmd: str) -> int:
        env = dict(os.environ, INTENT_COMPONENT=name)
        p = subprocess.run(["/bin/sh", "-c", cmd], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode("utf-8", "replace").rstrip()
        if out:
            log.info("component %s: %s: %s", name, what, out)
        return p.returncode if p.returncode >= 0 else 128 - p.returncode

    def _await(self, aw: Awaitable[Any]) -> Any:
        loop = getattr(self._local, "loop", None)

        async def wrap() -> Any:
            return await aw

        if loop is None:  # a synchronous caller outside any event loop
            return asyncio.run(wrap())
        return asyncio.run_coroutine_threadsafe(wrap(), loop).result()

    # -- planning and acquiring --

    def _acquire(self, text: str, load: bool, hold: bool,
                 threshold: Optional[float]) -> Tuple[Plan, Any]:
        """Predicts, then plans or acquires; returns the plan and, when hold, the C plan to
        release (else None). Raises the library's error with .plan set."""
        h = self._handle()
        thr = self.threshold if threshold is None else threshold
        pred = self.model.predict(text, thr)
        # by name: the model may be swapped between the prediction and the plan, and a
        # retrained one may number its labels differently
        names = _c_strings(pred.names)
        cp, err = _lib.new_struct(_lib.Plan), _lib.new_struct(_lib.Error)
        held = False
        fn = lib.intent_components_acquire if load else lib.intent_components_plan
        rc = fn(h, names, len(pred.names), byref(cp), byref(err))
        try:
            held = bool(load and rc == 0 and cp.held)
            plan = self._plan(text, pred, cp, load)
            if held and not hold:
                lib.intent_components_release(h, byref(cp))
                held = False
        finally:
            if not held:
                lib.intent_plan_free(byref(cp))
        if rc:
            exc = error_for(rc, err.message.decode("utf-8", "replace"))
            exc.plan = plan  # type: ignore[attr-defined]
            cause = next((self._errors[c] for c, _ in plan.load_failed if c in self._errors),
                         None)
            raise exc from cause
        return plan, (cp if held else None)

    def _plan(self, text: str, pred: Prediction, cp: _lib.Plan, carried_out: bool) -> Plan:
        names = self._names

        def ids(p: Any, k: int) -> Tuple[str, ...]:
            return tuple(names[p[i]] for i in range(k))

        return Plan(
            text=text, prediction=pred,
            required=ids(cp.required, cp.n_required),
            loaded=ids(cp.loaded, cp.n_loaded),
            to_load=ids(cp.to_load, cp.n_to_load),
            to_unload=tuple((names[cp.to_unload[i]],
                             _lib.UNLOAD_REASONS.get(cp.unload_why[i], str(cp.unload_why[i])))
                            for i in range(cp.n_to_unload)),
            load_failed=tuple((names[cp.load_failed[i]], cp.load_rc[i])
                              for i in range(cp.n_load_failed)),
            unload_failed=ids(cp.unload_failed, cp.n_unload_failed),
            memory_before=cp.memory_before, memory_after=cp.memory_after, budget=cp.budget,
            carried_out=carried_out)

    def route(self, text: str, *, load: bool = True,
              threshold: Optional[float] = None) -> Plan:
        """The plan for a command, on this thread. load=True carries it out (unloads,
        then loads, running the actions; the components stay loaded, idle from now);
        load=False only makes it. Raises ComponentError when a load failed, LimitError
        when the command's own components exceed the budget (e.plan says more)."""
        return self._acquire(text, load, False, threshold)[0]

    async def route_async(self, text: str, *, load: bool = True,
                          threshold: Optional[float] = None) -> Plan:
        """route on the event loop's default executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, self._in_thread, loop, functools.partial(self.route, text, load=load,
                                                           threshold=threshold))

    async def analyze(self, text: str, *, load: bool = True,
                      threshold: Optional[float] = None) -> Set[str]:
        """The set of components a command needs (with their dependencies), loaded and
        ready once this returns (load=False: only planned). Never blocks the event loop."""
        return (await self.route_async(text, load=load, threshold=threshold)).components

    def hold(self, text: str, *, threshold: Optional[float] = None) -> "Holding":
        """A context manager (with or async with) holding the command's components
        loaded for its block, so no other caller unloads them; gives the Plan."""
        return Holding(self, text, threshold)

    def _in_thread(self, loop: asyncio.AbstractEventLoop, call: Callable[[], Any]) -> Any:
        self._local.loop = loop
        try:
            return call()
        finally:
            self._local.loop = None

    # -- state --

    @property
    def names(self) -> Tuple[str, ...]:
        """The components' names, by id (the order they were given)."""
        return self._names

    @property
    def memory(self) -> int:
        """Bytes taken by loaded components now."""
        return lib.intent_components_memory(self._handle())

    def info(self, name: str) -> ComponentInfo:
        """A snapshot of one component."""
        h = self._handle()
        i = lib.intent_components_find(h, name.encode("utf-8"))
        if i < 0:
            raise KeyError(name)
        ci = _lib.new_struct(_lib.ComponentInfo)
        rc = lib.intent_components_info(h, i, byref(ci))
        if rc:
            raise error_for(rc, f"component {name}: no information")
        return ComponentInfo(
            name=name,
            labels=tuple(_lib.text(ci.labels[k]) or "" for k in range(ci.n_labels)),
            depends=tuple(_lib.text(ci.depends[k]) or "" for k in range(ci.n_depends)),
            memory=ci.memory, idle_timeout_s=ci.idle_timeout_ms / 1000.0,
            state=_lib.COMPONENT_STATES.get(ci.state, str(ci.state)), holders=ci.holders,
            last_used_ms=ci.last_used_ms, description=self._descriptions.get(name))

    def components(self) -> List[ComponentInfo]:
        """Snapshots of every component, by id."""
        return [self.info(n) for n in self._names]

    def loaded(self) -> Set[str]:
        """The components loaded now."""
        return {c.name for c in self.components() if c.state == "loaded"}

    def set_loaded(self, name: str, idle_s: float = 0.0) -> None:
        """Records that a component is loaded already (started outside this process),
        idle for idle_s seconds, without running its load action."""
        h = self._handle()
        i = lib.intent_components_find(h, name.encode("utf-8"))
        if i < 0:
            raise KeyError(name)
        now_ms = int(time.monotonic() * 1000)  # the registry's clock: CLOCK_MONOTONIC
        rc = lib.intent_components_set_loaded(h, i, max(0, now_ms - int(idle_s * 1000)))
        if rc:
            raise error_for(rc, f"component {name}: not unloaded, cannot be set loaded")

    def unload_idle(self) -> int:
        """Housekeeping (e.g. once a second): unloads idle components past their timeout,
        then least recently used ones while over the budget. Returns how many."""
        n, err = c_size_t(), _lib.new_struct(_lib.Error)
        rc = lib.intent_components_unload_idle(self._handle(), byref(n), byref(err))
        if rc:
            raise error_for(rc, err.message.decode("utf-8", "replace"))
        return n.value

    async def unload_idle_async(self) -> int:
        return await asyncio.get_running_loop().run_in_executor(None, self.unload_idle)

    # -- life --

    def close(self) -> None:
        """Frees the registry (running no unload action: unload first what must be) and
        the model if the router loaded it. No call may be in progress."""
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            lib.intent_components_free(h)
        if getattr(self, "_own_model", False):
            self.model.close()

    def __repr__(self) -> str:
        if self._h is None:
            return "<intent.Router closed>"
        return f"<intent.Router {len(self._names)} components, {self.memory / _MIB:g} MB loaded>"


class Holding:
    """Holds a command's components loaded (see Router.hold)."""

    def __init__(self, router: Router, text: str, threshold: Optional[float]) -> None:
        self.router, self.text, self.threshold = router, text, threshold
        self.plan: Optional[Plan] = None
        self._cp: Any = None

    def _take(self) -> Plan:
        self.plan, self._cp = self.router._acquire(self.text, True, True, self.threshold)
        return self.plan

    def __enter__(self) -> Plan:
        return self._take()

    def __exit__(self, *exc: object) -> None:
        cp, self._cp = self._cp, None
        if cp is not None:
            h = self.router._h
            if h is not None:
                lib.intent_components_release(h, byref(cp))
            lib.intent_plan_free(byref(cp))

    async def __aenter__(self) -> Plan:
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(None, self.router._in_thread, loop, self._take)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:  # let go of what the acquire still takes
            fut.add_done_callback(lambda f: None if f.cancelled() or f.exception()
                                  else self.__exit__())
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


__all__ = ["Router", "Plan", "ComponentInfo", "Holding", "IntentError", "ComponentError"]

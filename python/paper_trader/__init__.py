"""paper_trader from Python: recordings, sessions as Arrow tables, the engine in-process.

    import paper_trader as pt
    rec = pt.open_recording("recordings/sample")
    rec.header["venue"]; sum(1 for _ in rec); rec.to_arrow(); rec.events()
    ses = pt.replay(rec, "/tmp/s1", set={"fill_sim.fill_prob_base": 0.3})
    ses.summary["output_digest"]; ses.fills.to_pandas()
    from paper_trader.examples import TouchQuoter
    pt.replay(rec, "/tmp/s2", strategy=TouchQuoter())

Everything runs the `paper_trader` Rust library (the extension `paper_trader._native`): a
replay from Python writes the session the CLI would, with the same `output_digest`, and its
errors carry the CLI's messages (`PaperTraderError`). See docs/PYTHON.md.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import json
import os
import threading
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import pyarrow as pa

from . import _native
from ._native import PaperTraderError, View

__version__ = _native.__version__
__all__ = [
    "PaperTraderError",
    "Record",
    "Recording",
    "Session",
    "View",
    "load_session",
    "open_recording",
    "replay",
    "sweep",
]

PathLike = Union[str, "os.PathLike[str]"]

#: One record of a recording: receive time (ns since the epoch), stream name, raw bytes (a
#: feed message byte for byte; a control record is its JSON under the stream "control").
Record = collections.namedtuple("Record", ["recv_ns", "stream", "raw"])


def _table(ipc: bytes) -> pa.Table:
    return pa.ipc.open_stream(ipc).read_all()


class Recording:
    """A recording (a directory of log files, one file, or a live session's inputs/)."""

    def __init__(self, path: PathLike):
        self.path = os.fspath(path)
        #: venue, coins, program_version, created_by, seed, engine_config (a live session's,
        #: as a dict), synth (a synthetic recording's generator configuration and ground
        #: truth, as a dict), files, streams.
        self.header: dict = json.loads(_native.recording_header(self.path))

    @property
    def venue(self) -> str:
        return self.header["venue"]

    @property
    def coins(self) -> list:
        return self.header["coins"]

    def __iter__(self) -> Iterator[Record]:
        for _seq, recv_ns, stream, raw in _native.RecordIter(self.path):
            yield Record(recv_ns, stream, raw)

    def records(self) -> Iterator[tuple]:
        """The records with their sequence numbers: (seq, recv_ns, stream, raw)."""
        return iter(_native.RecordIter(self.path))

    def to_arrow(self) -> pa.Table:
        """Every record as one table: seq, recv_ns, stream, raw (binary)."""
        return _table(_native.recording_table(self.path))

    def events(self) -> pa.Table:
        """The normalized events of the venue adapters (`export REC --what events`)."""
        return _table(_native.events_table(self.path))

    def replay(self, out: PathLike, **kwargs: Any) -> "Session":
        return replay(self, out, **kwargs)

    def __repr__(self) -> str:
        return f"Recording({self.path!r}, venue={self.venue!r}, coins={self.coins!r})"


def open_recording(path: PathLike) -> Recording:
    """Opens a recording; raises PaperTraderError (the CLI's message) if it cannot be read."""
    return Recording(path)


class Session:
    """A session directory (from `replay`, `live`, `demo`): summary.json, session.toml and
    the output journal's tables (docs/SESSION.md has every column)."""

    def __init__(self, path: PathLike):
        self.path = os.fspath(path)
        t = _native.session_tables(self.path)
        #: summary.json as a dict (None if absent), read as written (exact floats).
        self.summary: Optional[dict] = None
        if t["summary"]:
            with open(os.path.join(self.path, "summary.json")) as f:
                self.summary = json.load(f)
        #: session.toml as a dict: program_version, seed, config (the resolved configuration).
        self.session_toml: Optional[dict] = json.loads(t["config"]) if t["config"] else None
        #: The resolved engine configuration the session ran with.
        self.config: Optional[dict] = (self.session_toml or {}).get("config")
        self.fills: pa.Table = _table(t["fills"])
        self.orders: pa.Table = _table(t["orders"])
        self.markouts: pa.Table = _table(t["markouts"])
        self.snapshots: pa.Table = _table(t["snapshots"])
        #: Output records that did not decode (a journal from another version).
        self.undecodable: int = t["undecodable"]
        #: Calls of a Python strategy (or of the kind `touch`) during the replay that wrote it,
        #: and the wall time spent in a Python strategy's calls, ns (set by `replay`; 0 for the
        #: other kinds).
        self.strategy_calls: Optional[int] = None
        self.strategy_call_ns: Optional[int] = None

    @property
    def output_digest(self) -> Optional[str]:
        return (self.summary or {}).get("output_digest")

    def table(self, name: str) -> pa.Table:
        return {"fills": self.fills, "orders": self.orders, "markouts": self.markouts, "snapshots": self.snapshots}[name]

    def checkpoints(self) -> list:
        """The session's checkpoint files, oldest first (for `replay(..., resume=...)`)."""
        d = os.path.join(self.path, "checkpoints")
        return sorted(os.path.join(d, f) for f in os.listdir(d)) if os.path.isdir(d) else []

    def __repr__(self) -> str:
        s = self.summary or {}
        return f"Session({self.path!r}, fills={s.get('fills')}, output_digest={s.get('output_digest')!r})"


def load_session(path: PathLike) -> Session:
    """Reads a session directory; raises PaperTraderError (the CLI's message) if it is none."""
    return Session(path)


def _toml_value(v: Any) -> str:
    """A Python value as the TOML text `--set KEY=VALUE` takes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"set: cannot write {type(v).__name__} {v!r} as a TOML value")


def _sets(set: Union[None, Mapping[str, Any], Iterable[str]]) -> list:
    if set is None:
        return []
    if isinstance(set, Mapping):
        return [f"{k}={_toml_value(v)}" for k, v in set.items()]
    if isinstance(set, str):
        return [set]
    return [str(s) for s in set]


def replay(
    recording: Union[PathLike, Recording],
    out: PathLike,
    config: Union[None, Mapping[str, Any], PathLike] = None,
    seed: Optional[int] = None,
    strategy: Any = None,
    set: Union[None, Mapping[str, Any], Iterable[str]] = None,
    coins: Optional[Sequence[str]] = None,
    venue: Optional[str] = None,
    start: Union[None, int, str] = None,
    end: Union[None, int, str] = None,
    resume: Optional[PathLike] = None,
    accept_damage: bool = False,
    cancel: Any = None,
) -> Session:
    """Replays `recording` into the new session directory `out` and returns it.

    The CLI's `replay` in-process, with the GIL released (run several on a thread pool):
    `config` is a dict of sections (any subset of `--print-config`) or a `--config` file
    (an engine configuration or a session's session.toml); `set` a dict {key: value} or a
    list of "key=value" (`--set`); `start`/`end` are `--from`/`--to` (ns since the epoch,
    RFC 3339, or "+30s"); `resume` a checkpoint file of an earlier run; `cancel` a
    `threading.Event` another thread sets to stop the replay early (checked every 100 ms; the
    session is finished where it stopped).

    `strategy` is None (the configuration's kind), a kind's name ("glft", "ladder",
    "avellaneda_stoikov", "touch"), or a Python object with `quotes(view)`: see
    docs/PYTHON.md. Each coin trades a `copy.deepcopy` of it. An exception it raises stops the
    replay and is the `__cause__` of the PaperTraderError raised.
    """
    rec = recording.path if isinstance(recording, Recording) else os.fspath(recording)
    sets = _sets(set)
    obj = None
    if isinstance(strategy, str):
        sets.append(f"strategy.kind={json.dumps(strategy)}")
    elif strategy is not None:
        obj = strategy
    config_json = config_path = None
    if isinstance(config, Mapping):
        config_json = json.dumps(config)
    elif config is not None:
        config_path = os.fspath(config)
    summary, calls, call_ns = _native.replay(
        rec,
        os.fspath(out),
        config_json=config_json,
        config_path=config_path,
        seed=seed,
        sets=sets,
        coins=list(coins) if coins is not None else None,
        venue=venue,
        start=None if start is None else str(start),
        end=None if end is None else str(end),
        resume=None if resume is None else os.fspath(resume),
        accept_damage=accept_damage,
        strategy=obj,
        cancel=cancel,
    )
    ses = Session(out)
    ses.strategy_calls = calls
    ses.strategy_call_ns = call_ns
    return ses


def sweep(
    recording: Union[PathLike, Recording],
    out_dir: PathLike,
    grid: Optional[Mapping[str, Sequence[Any]]] = None,
    runs: Optional[Sequence[Mapping[str, Any]]] = None,
    workers: Optional[int] = None,
    **common: Any,
) -> list:
    """Several replays of one recording on a thread pool (the GIL is released while each runs).

    `grid` {key: [values]} runs the cartesian product; `runs` is an explicit list of `set`
    dicts. Run i writes `out_dir/run-iii`; `common` are `replay`'s other arguments (a
    `strategy` object is deep-copied per coin of every run). Returns [(set dict, Session)] in
    grid order. On Ctrl-C, or when a run fails, the other runs stop at their next input and the
    exception is raised.
    """
    if (grid is None) == (runs is None):
        raise ValueError("sweep: give grid={key: [values]} or runs=[{key: value}, ...]")
    if grid is not None:
        keys = list(grid)
        runs = [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]
    runs = [dict(r) for r in runs or []]
    os.makedirs(out_dir, exist_ok=True)
    base = dict(common.pop("set", None) or {})
    workers = workers or os.cpu_count() or 1

    def one(i: int, params: dict) -> Session:
        return replay(recording, os.path.join(out_dir, f"run-{i:03}"), set={**base, **params}, **common)

    cancel = threading.Event()
    common["cancel"] = cancel

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, i, p) for i, p in enumerate(runs)]
        try:
            return [(p, f.result()) for p, f in zip(runs, futures)]
        except BaseException:
            # Ctrl-C (or a failed run): the runs still going stop at their next input, the
            # ones not started do not start.
            cancel.set()
            for f in futures:
                f.cancel()
            raise

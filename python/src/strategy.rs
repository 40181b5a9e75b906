//! Strategies written in Python, and `touch`, the Rust twin of `paper_trader.examples.
//! TouchQuoter`.
//!
//! Kind `python` wraps a Python object with a `quotes(view)` method (optional: `state()` /
//! `restore(state)`, `next_deadline()`). The object reaches the factory through a
//! thread-local host slot that `replay` sets on the replay's thread for the replay's
//! duration; every strategy the factory builds (one per coin, and the one configuration
//! validation builds and drops) is a `copy.deepcopy` of it. Each callback re-acquires the GIL.
//! A Python exception cannot travel through the engine: it is kept in the host's [`Shared`]
//! cell, the replay's stop flag is set (the feeder stops before the next input), later
//! callbacks do nothing, and `replay` raises it as the `__cause__` of a `PaperTraderError`.
//!
//! The engine stays pure: it sees a `Strategy` like any other; what the Python object does is
//! the user's business, like a Rust user kind's.

use paper_trader::strategy::registry::{self, Registry};
use paper_trader::strategy::{
    KeyError, OwnOrder, Quote, Quotes, Strategy, StrategyConfig, StrategyFactory, StrategyRng, StrategyView,
    TradePrint, Trigger,
};
use paper_trader::types::{Price, Qty, Side, Timestamp};
use paper_trader::venue::Instrument;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What the strategies of one replay share with it: the first Python error (with the
/// callback it came from), the replay's stop flag, and the number of callbacks made.
#[derive(Debug)]
pub struct Shared {
    error: Mutex<Option<(String, PyErr)>>,
    stop: Arc<AtomicBool>,
    failed: AtomicBool,
    calls: AtomicU64,
    call_ns: AtomicU64,
}

impl Shared {
    pub fn new(stop: Arc<AtomicBool>) -> Shared {
        Shared {
            error: Mutex::new(None),
            stop,
            failed: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            call_ns: AtomicU64::new(0),
        }
    }

    fn fail(&self, callback: &str, e: PyErr) {
        if !self.failed.swap(true, Ordering::SeqCst) {
            if let Ok(mut slot) = self.error.lock() {
                *slot = Some((callback.to_string(), e));
            }
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// The first Python error, with the callback that raised it.
    pub fn take_error(&self) -> Option<(String, PyErr)> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Calls of `quotes(view)` (or of the `touch` kind's `on_event`) so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Wall time spent in the Python calls (GIL, view, `quotes(view)`, the quotes read back),
    /// ns: the benchmark's per-call figure, measured by the binding around each call, never
    /// seen by the engine. Not measured for `touch` (a clock read would cost what it measures).
    pub fn call_ns(&self) -> u64 {
        self.call_ns.load(Ordering::Relaxed)
    }
}

struct Host {
    obj: Option<Py<PyAny>>,
    shared: Arc<Shared>,
}

thread_local! {
    static HOST: RefCell<Option<Host>> = const { RefCell::new(None) };
}

/// Clears the host slot when the replay is over (also on a panic).
pub struct HostGuard;

impl Drop for HostGuard {
    fn drop(&mut self) {
        if let Some(h) = HOST.with(|s| s.borrow_mut().take()) {
            Python::with_gil(|_| drop(h));
        }
    }
}

/// Makes `obj` the strategy object of the replays run on this thread until the guard drops.
pub fn set_host(obj: Option<Py<PyAny>>, shared: Arc<Shared>) -> HostGuard {
    HOST.with(|s| *s.borrow_mut() = Some(Host { obj, shared }));
    HostGuard
}

/// The built-ins plus `python` and `touch`; a no-op when a registry is in use already.
pub fn install_registry() {
    let mut r = Registry::builtin();
    let _ = r.register(Box::new(PythonFactory));
    let _ = r.register(Box::new(TouchFactory));
    let _ = registry::install(r);
}

// ---------------------------------------------------------------------------------------------
// The view

/// What the strategy sees at one call (`paper_trader.View`): the Rust `StrategyView`, copied
/// as plain numbers when the call is made and turned into Python objects only when read.
/// Prices and sizes are floats in quote currency and base units (exact on the 10^-8 grid).
#[pyclass(frozen, module = "paper_trader._native", name = "View")]
pub struct View {
    now: Timestamp,
    trigger: Trigger,
    coin: String,
    instrument: Instrument,
    mid: Price,
    best_bid: Option<Price>,
    best_ask: Option<Price>,
    bids: Vec<(Price, Qty)>,
    asks: Vec<(Price, Qty)>,
    microprice: Option<f64>,
    imbalance: f64,
    trades: Vec<TradePrint>,
    models: paper_trader::strategy::Models,
    position: Qty,
    order_size: Qty,
    max_position: Qty,
    pnl_realized: f64,
    pnl_unrealized: f64,
    pnl_fees: f64,
    available_margin: f64,
    orders: Vec<OwnOrder>,
    /// The engine's draws for this call, keyed by (seed, coin, input, draw index).
    rng: Mutex<StrategyRng>,
}

impl View {
    fn of(v: &StrategyView<'_>, rng: &StrategyRng) -> View {
        View {
            now: v.now,
            trigger: v.trigger,
            coin: v.coin.to_string(),
            instrument: v.instrument.clone(),
            mid: v.mid,
            best_bid: v.best_bid,
            best_ask: v.best_ask,
            bids: v.bids.to_vec(),
            asks: v.asks.to_vec(),
            microprice: v.microprice,
            imbalance: v.imbalance,
            trades: v.recent_trades.to_vec(),
            models: v.models,
            position: v.position,
            order_size: v.order_size,
            max_position: v.max_position,
            pnl_realized: v.pnl_realized,
            pnl_unrealized: v.pnl_unrealized,
            pnl_fees: v.pnl_fees,
            available_margin: v.available_margin,
            orders: v.orders.to_vec(),
            rng: Mutex::new(rng.clone()),
        }
    }
}

fn side_of(s: &str) -> PyResult<Side> {
    match s {
        "buy" | "bid" | "b" => Ok(Side::Buy),
        "sell" | "ask" | "s" | "a" => Ok(Side::Sell),
        _ => Err(PyValueError::new_err(format!("side '{s}': use 'buy' (bid) or 'sell' (ask)"))),
    }
}

/// A price from Python: positive, finite, onto the 10^-8 grid.
fn px_of(x: f64) -> PyResult<Price> {
    if !x.is_finite() || x <= 0.0 || x > 9.0e10 {
        return Err(PyValueError::new_err(format!(
            "a quote's price must be a positive finite number, got {x}"
        )));
    }
    Ok(Price((x * 1e8).round() as i64))
}

fn sz_of(x: f64) -> PyResult<Qty> {
    if !x.is_finite() || !(0.0..=9.0e10).contains(&x) {
        return Err(PyValueError::new_err(format!("a quote's size must be a finite number >= 0, got {x}")));
    }
    Ok(Qty((x * 1e8).round() as i64))
}

fn levels(v: &[(Price, Qty)]) -> Vec<(f64, f64)> {
    v.iter().map(|(p, q)| (p.to_f64(), q.to_f64())).collect()
}

#[pymethods]
impl View {
    /// Event time, ns since the epoch.
    #[getter]
    fn now_ns(&self) -> u64 {
        self.now.0
    }
    /// Why the strategy is asked: "book", "trade", "fill" or "deadline".
    #[getter]
    fn trigger(&self) -> &'static str {
        match self.trigger {
            Trigger::Book => "book",
            Trigger::Trade => "trade",
            Trigger::Fill => "fill",
            Trigger::Deadline => "deadline",
        }
    }
    #[getter]
    fn coin(&self) -> &str {
        &self.coin
    }
    #[getter]
    fn mid(&self) -> f64 {
        self.mid.to_f64()
    }
    #[getter]
    fn best_bid(&self) -> Option<f64> {
        self.best_bid.map(Price::to_f64)
    }
    #[getter]
    fn best_ask(&self) -> Option<f64> {
        self.best_ask.map(Price::to_f64)
    }
    /// The top levels, best first, as (price, size).
    #[getter]
    fn bids(&self) -> Vec<(f64, f64)> {
        levels(&self.bids)
    }
    #[getter]
    fn asks(&self) -> Vec<(f64, f64)> {
        levels(&self.asks)
    }
    #[getter]
    fn microprice(&self) -> Option<f64> {
        self.microprice
    }
    #[getter]
    fn imbalance(&self) -> f64 {
        self.imbalance
    }
    /// The last market trades, oldest first, as (time_ns, aggressor side, price, size).
    #[getter]
    fn recent_trades(&self) -> Vec<(u64, &'static str, f64, f64)> {
        self.trades.iter().map(|t| (t.at.0, t.side.as_str(), t.px.to_f64(), t.sz.to_f64())).collect()
    }
    /// The models by the seed's names (kappa, a, kappa_confidence, sigma_bp, toxicity_bid,
    /// toxicity_ask, toxicity_base_rate, cal_gamma, calibration_progress, regime,
    /// flow_imbalance).
    #[getter]
    fn models<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = &self.models;
        let d = PyDict::new_bound(py);
        d.set_item("kappa", m.kappa)?;
        d.set_item("a", m.a)?;
        d.set_item("kappa_confidence", m.kappa_confidence)?;
        d.set_item("sigma_bp", m.sigma_bp)?;
        d.set_item("toxicity_bid", m.toxicity_bid)?;
        d.set_item("toxicity_ask", m.toxicity_ask)?;
        d.set_item("toxicity_base_rate", m.toxicity_base_rate)?;
        d.set_item("cal_gamma", m.cal_gamma)?;
        d.set_item("calibration_progress", m.calibration_progress)?;
        d.set_item("regime", format!("{:?}", m.regime).to_lowercase())?;
        d.set_item("flow_imbalance", m.flow_imbalance)?;
        Ok(d)
    }
    #[getter]
    fn kappa(&self) -> f64 {
        self.models.kappa
    }
    #[getter]
    fn sigma_bp(&self) -> f64 {
        self.models.sigma_bp
    }
    #[getter]
    fn toxicity_bid(&self) -> f64 {
        self.models.toxicity_bid
    }
    #[getter]
    fn toxicity_ask(&self) -> f64 {
        self.models.toxicity_ask
    }
    /// Signed position, base units.
    #[getter]
    fn position(&self) -> f64 {
        self.position.to_f64()
    }
    /// The account's order size for this coin, base units.
    #[getter]
    fn order_size(&self) -> f64 {
        self.order_size.to_f64()
    }
    #[getter]
    fn max_position(&self) -> f64 {
        self.max_position.to_f64()
    }
    /// Position in order sizes (GLFT's q).
    #[getter]
    fn inventory(&self) -> f64 {
        self.position.0 as f64 / self.order_size.0.max(1) as f64
    }
    #[getter]
    fn pnl_realized(&self) -> f64 {
        self.pnl_realized
    }
    #[getter]
    fn pnl_unrealized(&self) -> f64 {
        self.pnl_unrealized
    }
    #[getter]
    fn pnl_fees(&self) -> f64 {
        self.pnl_fees
    }
    #[getter]
    fn available_margin(&self) -> f64 {
        self.available_margin
    }
    /// The tick at the mid.
    #[getter]
    fn tick(&self) -> f64 {
        self.instrument.tick_at(self.mid).to_f64()
    }
    /// Our resting and in-flight quotes: dicts of id, side, price, size, remaining, live,
    /// cancel_sent.
    #[getter]
    fn orders<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty_bound(py);
        for o in &self.orders {
            let d = PyDict::new_bound(py);
            d.set_item("id", o.id)?;
            d.set_item("side", o.side.as_str())?;
            d.set_item("price", o.px.to_f64())?;
            d.set_item("size", o.sz.to_f64())?;
            d.set_item("remaining", o.remaining.to_f64())?;
            d.set_item("live", o.live)?;
            d.set_item("cancel_sent", o.cancel_sent)?;
            l.append(d)?;
        }
        Ok(l)
    }
    /// The price `depth_bp` from the mid on `side` ("buy"/"sell"), rounded away from the mid
    /// onto the grid.
    fn price_at_depth(&self, depth_bp: f64, side: &str) -> PyResult<f64> {
        Ok(paper_trader::strategy::price_at_depth(&self.instrument, self.mid, depth_bp, side_of(side)?)
            .to_f64())
    }
    /// The next uniform draw in [0, 1) of the engine's generator for this call: keyed by
    /// (session seed, coin, input, draw index), so a replay, a resumed run and a live session
    /// draw the same numbers (`random` would not).
    fn uniform(&self) -> f64 {
        self.rng.lock().map(|mut r| r.uniform()).unwrap_or(0.0)
    }
    /// `px` onto the grid: down for a bid, up for an ask.
    fn round_away(&self, px: f64, side: &str) -> PyResult<f64> {
        Ok(paper_trader::strategy::round_away(&self.instrument, px_of(px)?, side_of(side)?).to_f64())
    }
    fn __repr__(&self) -> String {
        format!(
            "View(coin={:?}, now_ns={}, trigger={}, mid={}, best_bid={:?}, best_ask={:?}, position={})",
            self.coin,
            self.now.0,
            self.trigger(),
            self.mid(),
            self.best_bid(),
            self.best_ask(),
            self.position()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Kind `python`

/// The quotes a Python `quotes(view)` returned: `None` (keep the quotes as they are), a pair
/// `(bids, asks)` or a dict / object with `bids` and `asks`; each side a list of `(price,
/// size)`. Prices go onto the grid away from the mid, sizes down onto the lot.
fn parse_quotes(r: &Bound<'_, PyAny>, instrument: &Instrument) -> PyResult<Option<Quotes>> {
    if r.is_none() {
        return Ok(None);
    }
    let py = r.py();
    let (bids, asks) = if let Ok(d) = r.downcast::<PyDict>() {
        (d.get_item("bids")?, d.get_item("asks")?)
    } else if let Ok(t) = r.downcast::<PyTuple>() {
        if t.len() != 2 {
            return Err(PyTypeError::new_err(format!(
                "quotes() returned a tuple of {} items; return (bids, asks)",
                t.len()
            )));
        }
        (Some(t.get_item(0)?), Some(t.get_item(1)?))
    } else if r.hasattr(intern!(py, "bids"))? && r.hasattr(intern!(py, "asks"))? {
        (Some(r.getattr(intern!(py, "bids"))?), Some(r.getattr(intern!(py, "asks"))?))
    } else if let Ok(l) = r.downcast::<PyList>() {
        if l.len() != 2 {
            return Err(PyTypeError::new_err(format!(
                "quotes() returned a list of {} items; return (bids, asks)",
                l.len()
            )));
        }
        (Some(l.get_item(0)?), Some(l.get_item(1)?))
    } else {
        return Err(PyTypeError::new_err(format!(
            "quotes() returned {}; return None, (bids, asks) or {{'bids': [...], 'asks': [...]}} with (price, size) pairs",
            r.get_type().name()?
        )));
    };
    let side = |v: Option<Bound<'_, PyAny>>, s: Side| -> PyResult<Vec<Quote>> {
        let Some(v) = v.filter(|v| !v.is_none()) else { return Ok(vec![]) };
        let mut out = Vec::new();
        for item in v.iter()? {
            let (px, sz): (f64, f64) = item?.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "each {} level must be a (price, size) pair of numbers",
                    s.as_str()
                ))
            })?;
            out.push(Quote {
                px: paper_trader::strategy::round_away(instrument, px_of(px)?, s),
                sz: instrument.round_sz_down(sz_of(sz)?),
            });
        }
        Ok(out)
    };
    Ok(Some(Quotes { bids: side(bids, Side::Buy)?, asks: side(asks, Side::Sell)? }))
}

pub struct PythonFactory;

impl StrategyFactory for PythonFactory {
    fn kind(&self) -> &'static str {
        "python"
    }
    fn version(&self) -> u32 {
        1
    }
    fn lists_defaults(&self) -> bool {
        false
    }
    fn build(&self, _cfg: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        HOST.with(|slot| {
            let slot = slot.borrow();
            let Some((host, obj)) = slot.as_ref().and_then(|h| Some((h, h.obj.as_ref()?))) else {
                return Err(KeyError::new(
                    "strategy.kind",
                    "kind 'python' runs the object given to paper_trader.replay(strategy=...); this replay was given none",
                ));
            };
            Python::with_gil(|py| PyStrategy::new(py, obj, &host.shared))
                .map(|s| Box::new(s) as Box<dyn Strategy>)
                .map_err(|e| KeyError::new("strategy", format!("the Python strategy object: {e}")))
        })
    }
}

/// One coin's Python strategy: a deep copy of the host object.
pub struct PyStrategy {
    obj: Py<PyAny>,
    shared: Arc<Shared>,
    has_deadline: bool,
    has_state: bool,
    has_restore: bool,
    deadline: Option<Timestamp>,
}

impl std::fmt::Debug for PyStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyStrategy").field("deadline", &self.deadline).finish_non_exhaustive()
    }
}

impl PyStrategy {
    fn new(py: Python<'_>, host_obj: &Py<PyAny>, shared: &Arc<Shared>) -> PyResult<PyStrategy> {
        let obj = py.import_bound("copy")?.call_method1("deepcopy", (host_obj.bind(py),))?;
        if !obj.getattr("quotes").is_ok_and(|q| q.is_callable()) {
            return Err(PyTypeError::new_err(format!(
                "{} has no quotes(view) method",
                obj.get_type().name()?
            )));
        }
        let has = |n: &str| obj.getattr(n).is_ok_and(|a| a.is_callable());
        let mut s = PyStrategy {
            has_deadline: has("next_deadline"),
            has_state: has("state"),
            has_restore: has("restore"),
            obj: obj.unbind(),
            shared: shared.clone(),
            deadline: None,
        };
        s.refresh_deadline(py)?;
        Ok(s)
    }

    /// The engine asks for the deadline at every input; the object's answer can only change
    /// when it is called, so it is asked once after each call and kept.
    fn refresh_deadline(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.has_deadline {
            let d = self.obj.bind(py).call_method0(intern!(py, "next_deadline"))?;
            self.deadline = if d.is_none() {
                None
            } else {
                Some(Timestamp(d.extract::<u64>().map_err(|_| {
                    PyTypeError::new_err("next_deadline() must return None or an int (ns since the epoch)")
                })?))
            };
        }
        Ok(())
    }

    fn quotes(
        &mut self,
        py: Python<'_>,
        view: &StrategyView<'_>,
        rng: &StrategyRng,
    ) -> PyResult<Option<Quotes>> {
        let v = Bound::new(py, View::of(view, rng))?;
        let r = self.obj.bind(py).call_method1(intern!(py, "quotes"), (v,))?;
        let q = parse_quotes(&r, view.instrument)?;
        self.refresh_deadline(py)?;
        Ok(q)
    }

    fn save(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        let obj = self.obj.bind(py);
        let (tag, value) = if self.has_state {
            (b'S', obj.call_method0(intern!(py, "state"))?)
        } else if let Ok(d) = obj.getattr(intern!(py, "__dict__")) {
            (b'D', d)
        } else {
            return Ok(Vec::new());
        };
        let pickled = py.import_bound("pickle")?.call_method1("dumps", (value,)).map_err(|e| {
            let m = format!("pickling the strategy's state for a checkpoint (define state() and restore(state) returning picklable values): {e}");
            PyTypeError::new_err(m)
        })?;
        let mut out = vec![tag];
        out.extend_from_slice(pickled.downcast::<PyBytes>()?.as_bytes());
        Ok(out)
    }

    fn load(&mut self, py: Python<'_>, bytes: &[u8]) -> PyResult<()> {
        let Some((&tag, rest)) = bytes.split_first() else { return Ok(()) };
        let value = py.import_bound("pickle")?.call_method1("loads", (PyBytes::new_bound(py, rest),))?;
        let obj = self.obj.bind(py);
        match tag {
            b'S' if self.has_restore => {
                obj.call_method1(intern!(py, "restore"), (value,))?;
            }
            b'S' => {
                return Err(PyTypeError::new_err(
                    "the checkpoint holds what state() returned, but the strategy has no restore(state)",
                ))
            }
            b'D' => {
                obj.getattr(intern!(py, "__dict__"))?.call_method1("update", (value,))?;
            }
            t => return Err(PyValueError::new_err(format!("unknown state tag {t}"))),
        }
        self.refresh_deadline(py)
    }
}

impl Strategy for PyStrategy {
    fn on_event(&mut self, view: &StrategyView<'_>, rng: &mut StrategyRng) -> Option<Quotes> {
        if self.shared.failed() {
            return None;
        }
        self.shared.calls.fetch_add(1, Ordering::Relaxed);
        let shared = self.shared.clone();
        // The binding's own measurement of the call (a driver-side clock; the engine's
        // outputs never depend on it).
        #[allow(clippy::disallowed_methods)]
        let t0 = std::time::Instant::now();
        let q = Python::with_gil(|py| self.quotes(py, view, rng)).unwrap_or_else(|e| {
            shared.fail("quotes(view)", e);
            None
        });
        shared.call_ns.fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        q
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        self.deadline
    }

    fn save_state(&self) -> Vec<u8> {
        if self.shared.failed() {
            return Vec::new();
        }
        Python::with_gil(|py| self.save(py)).unwrap_or_else(|e| {
            self.shared.fail("state()", e);
            Vec::new()
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        Python::with_gil(|py| self.load(py, bytes).map_err(|e| format!("restore(state): {e}")))
    }
}

// ---------------------------------------------------------------------------------------------
// Kind `touch`

/// One level a side at the touch, the account's order size: the Rust twin of
/// `paper_trader.examples.TouchQuoter`, for the overhead benchmark (same quotes, same digest).
pub struct TouchFactory;

impl StrategyFactory for TouchFactory {
    fn kind(&self) -> &'static str {
        "touch"
    }
    fn version(&self) -> u32 {
        1
    }
    fn lists_defaults(&self) -> bool {
        false
    }
    fn build(&self, _cfg: &StrategyConfig) -> Result<Box<dyn Strategy>, KeyError> {
        let shared = HOST.with(|s| s.borrow().as_ref().map(|h| h.shared.clone()));
        Ok(Box::new(Touch { shared }))
    }
}

#[derive(Debug)]
struct Touch {
    /// Counts calls when run from `replay` (the benchmark's figure).
    shared: Option<Arc<Shared>>,
}

impl Strategy for Touch {
    fn on_event(&mut self, view: &StrategyView<'_>, _rng: &mut StrategyRng) -> Option<Quotes> {
        if let Some(s) = &self.shared {
            s.calls.fetch_add(1, Ordering::Relaxed);
        }
        let q = |px: Price| Quote { px, sz: view.order_size };
        Some(Quotes {
            bids: view.best_bid.map(q).into_iter().collect(),
            asks: view.best_ask.map(q).into_iter().collect(),
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<View>()?;
    Ok(())
}

//! A session's output journal as named tables (`export`, `docs/SESSION.md`): one row per fill,
//! order, markout or model snapshot, with named, typed columns. Prices and sizes come both
//! exact (the decimal string of the journal's integer) and as floats; times as integer ns since
//! the epoch and as UTC text; fees signed (a rebate is negative).
//!
//! Pure: the tables are computed from a loaded [`Session`]; writing them (CSV, JSON lines,
//! Parquet) is the `export` command's.

use super::session::Session;
use crate::engine::io::{CancelReason, FillKind, ModelSnapshot, Output, Regime, RejectReason};
use crate::types::{format_fixed, Price, Qty, Side, Timestamp};
use std::collections::BTreeMap;

/// One column's values; `None` is a null (an unresolved markout, a still-open order).
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    U64(Vec<Option<u64>>),
    I64(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    Str(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::U64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A named table: columns of equal length, in a fixed order.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: &'static str,
    pub columns: Vec<(&'static str, Column)>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }
}

/// The tables `export --what` names, in the order `all` writes them.
pub const TABLES: [&str; 4] = ["fills", "orders", "markouts", "snapshots"];

/// The markout horizons that get a column of their own in the fills table (s).
const FILL_MARKOUT_HORIZONS_S: [u32; 4] = [1, 5, 30, 60];

/// Builds table `name` (one of [`TABLES`]) of a session.
pub fn table(session: &Session, name: &str) -> Option<Table> {
    let strategy = strategy_kind(session);
    match name {
        "fills" => Some(fills(session, &strategy)),
        "orders" => Some(orders(session, &strategy)),
        "markouts" => Some(markouts(session)),
        "snapshots" => Some(snapshots(session)),
        _ => None,
    }
}

/// The strategy kind the session ran (`session.toml`'s `strategy.kind`, `glft` before kinds).
fn strategy_kind(session: &Session) -> String {
    session
        .config
        .as_ref()
        .and_then(|c| c.get("config").and_then(|v| v.as_table()).or(Some(c)))
        .and_then(|c| c.get("strategy"))
        .and_then(|s| s.get("kind"))
        .and_then(|k| k.as_str())
        .unwrap_or("glft")
        .to_string()
}

pub fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

pub fn fill_kind_name(k: FillKind) -> &'static str {
    match k {
        FillKind::TradeThrough => "trade_through",
        FillKind::BookCross => "book_cross",
        FillKind::TradeAtPrice => "trade_at_price",
    }
}

fn cancel_reason_name(r: CancelReason) -> String {
    to_snake(&format!("{r:?}"))
}

fn reject_reason_name(r: RejectReason) -> String {
    to_snake(&format!("{r:?}"))
}

fn regime_name(r: Regime) -> String {
    to_snake(&format!("{r:?}"))
}

/// `BookInvalid` -> `book_invalid`.
fn to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// UTC text of a time in ns since the epoch (RFC 3339, nanoseconds).
pub fn utc(ns: u64) -> String {
    crate::settings::format_rfc3339(ns)
}

/// Appends the three columns of a time: `<name>_ns`-style integer and UTC text.
struct Cols {
    cols: Vec<(&'static str, Column)>,
}

impl Cols {
    fn new() -> Cols {
        Cols { cols: Vec::new() }
    }
    fn col(&mut self, name: &'static str, empty: Column) -> usize {
        if let Some(i) = self.cols.iter().position(|(n, _)| *n == name) {
            return i;
        }
        self.cols.push((name, empty));
        self.cols.len() - 1
    }
    fn u64(&mut self, name: &'static str, v: Option<u64>) {
        let i = self.col(name, Column::U64(Vec::new()));
        if let Column::U64(c) = &mut self.cols[i].1 {
            c.push(v);
        }
    }
    fn f64(&mut self, name: &'static str, v: Option<f64>) {
        let i = self.col(name, Column::F64(Vec::new()));
        if let Column::F64(c) = &mut self.cols[i].1 {
            c.push(v);
        }
    }
    fn str(&mut self, name: &'static str, v: Option<String>) {
        let i = self.col(name, Column::Str(Vec::new()));
        if let Column::Str(c) = &mut self.cols[i].1 {
            c.push(v);
        }
    }
    fn bool(&mut self, name: &'static str, v: Option<bool>) {
        let i = self.col(name, Column::Bool(Vec::new()));
        if let Column::Bool(c) = &mut self.cols[i].1 {
            c.push(v);
        }
    }
    fn time(&mut self, ns: &'static str, text: &'static str, t: Option<Timestamp>) {
        self.u64(ns, t.map(|t| t.0));
        self.str(text, t.map(|t| utc(t.0)));
    }
    fn price(&mut self, exact: &'static str, float: &'static str, p: Option<Price>) {
        self.str(exact, p.map(|p| p.to_string()));
        self.f64(float, p.map(Price::to_f64));
    }
    fn qty(&mut self, exact: &'static str, float: &'static str, q: Option<Qty>) {
        self.str(exact, q.map(|q| q.to_string()));
        self.f64(float, q.map(Qty::to_f64));
    }
    fn quote(&mut self, exact: &'static str, float: &'static str, units: Option<i64>) {
        self.str(exact, units.map(format_fixed));
        self.f64(float, units.map(|u| u as f64 / crate::types::SCALE as f64));
    }
    fn table(self, name: &'static str) -> Table {
        Table { name, columns: self.cols }
    }

    /// The table, or with no rows its columns as one placeholder row written by `row` names
    /// and types them: an empty session still gets the full schema (CSV header, Parquet schema).
    fn table_or_schema(mut self, name: &'static str, row: impl FnOnce(&mut Cols)) -> Table {
        if self.cols.is_empty() {
            row(&mut self);
            for (_, c) in &mut self.cols {
                match c {
                    Column::U64(v) => v.clear(),
                    Column::I64(v) => v.clear(),
                    Column::F64(v) => v.clear(),
                    Column::Str(v) => v.clear(),
                    Column::Bool(v) => v.clear(),
                }
            }
        }
        self.table(name)
    }
}

/// What the journal says of one order, gathered in one pass.
#[derive(Default)]
struct OrderLife {
    coin: String,
    side: Option<Side>,
    px: Option<Price>,
    sz: Option<Qty>,
    placed: Option<Timestamp>,
    live_at: Option<Timestamp>,
    level: u32,
    cancelled: Option<Timestamp>,
    dead_at: Option<Timestamp>,
    cancel_reason: Option<String>,
    rejected: Option<String>,
    filled: i64,
    fills: u64,
    first_fill: Option<Timestamp>,
    last_fill: Option<Timestamp>,
}

/// Every order's life from the journal, by order id; an order's `level` is its rank on its side
/// among our orders open when it was placed (0 = the best-priced).
fn order_lives(session: &Session) -> BTreeMap<u64, OrderLife> {
    let mut lives: BTreeMap<u64, OrderLife> = BTreeMap::new();
    // Open orders (placed, not cancelled, rejected or fully filled) per (coin, side).
    let mut open: BTreeMap<(crate::engine::io::Coin, bool), Vec<u64>> = BTreeMap::new();
    for (t, o) in &session.outputs {
        match o {
            Output::OrderPlaced { coin, order_id, side, px, sz, live_at } => {
                let key = (coin.clone(), *side == Side::Buy);
                let ids = open.entry(key).or_default();
                let better = ids
                    .iter()
                    .filter_map(|id| lives.get(id).and_then(|l| l.px))
                    .filter(|p| match side {
                        Side::Buy => p > px,
                        Side::Sell => p < px,
                    })
                    .count();
                ids.push(*order_id);
                lives.insert(
                    *order_id,
                    OrderLife {
                        coin: coin.to_string(),
                        side: Some(*side),
                        px: Some(*px),
                        sz: Some(*sz),
                        placed: Some(*t),
                        live_at: Some(*live_at),
                        level: better as u32,
                        ..OrderLife::default()
                    },
                );
            }
            Output::OrderCancelled { coin, order_id, reason, dead_at } => {
                if let Some(l) = lives.get_mut(order_id) {
                    l.cancelled = Some(*t);
                    l.dead_at = Some(*dead_at);
                    l.cancel_reason = Some(cancel_reason_name(*reason));
                    let key = (coin.clone(), l.side == Some(Side::Buy));
                    if let Some(ids) = open.get_mut(&key) {
                        ids.retain(|id| id != order_id);
                    }
                }
            }
            // A reject names no order id: a post-only reject is of the newest open order of that
            // coin, side, price and size; a pre-trade reject (margin, position) was never placed.
            Output::OrderRejected { coin, side, px, sz, reason } => {
                let key = (coin.clone(), *side == Side::Buy);
                if let Some(ids) = open.get_mut(&key) {
                    let hit = ids.iter().rposition(|id| {
                        lives.get(id).is_some_and(|l| l.px == Some(*px) && l.sz == Some(*sz) && l.fills == 0)
                    });
                    if let Some(k) = hit {
                        let id = ids.remove(k);
                        if let Some(l) = lives.get_mut(&id) {
                            l.rejected = Some(reject_reason_name(*reason));
                        }
                    }
                }
            }
            Output::Fill { coin, order_id, sz, .. } if sz.0 != 0 => {
                if let Some(l) = lives.get_mut(order_id) {
                    l.filled += sz.0;
                    l.fills += 1;
                    l.first_fill.get_or_insert(*t);
                    l.last_fill = Some(*t);
                    if l.sz.is_some_and(|s| l.filled >= s.0) {
                        let key = (coin.clone(), l.side == Some(Side::Buy));
                        if let Some(ids) = open.get_mut(&key) {
                            ids.retain(|id| id != order_id);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    lives
}

/// Our own fills (the `fills` of `summary.json`), with their markouts per horizon.
fn fills(session: &Session, strategy: &str) -> Table {
    let lives = order_lives(session);
    // fill id -> horizon -> (move_bp, was_adverse); dropped horizons stay null.
    let mut marks: BTreeMap<u64, BTreeMap<u32, (f64, Option<bool>)>> = BTreeMap::new();
    for (_, o) in &session.outputs {
        if let Output::Markout { fill_id, horizon_s, move_bp, was_adverse, .. } = o {
            marks.entry(*fill_id).or_default().insert(*horizon_s, (*move_bp, *was_adverse));
        }
    }
    let mut c = Cols::new();
    for (t, o) in &session.outputs {
        if matches!(o, Output::Fill { sz, .. } if sz.0 != 0) {
            let order = match o {
                Output::Fill { order_id, .. } => lives.get(order_id),
                _ => None,
            };
            fill_row(&mut c, *t, o, order, &marks, strategy);
        }
    }
    let placeholder = Output::Fill {
        coin: "".into(),
        fill_id: 0,
        order_id: 0,
        side: Side::Buy,
        px: Price(0),
        sz: Qty(0),
        fee: 0,
        mid: Price(0),
        kind: FillKind::TradeThrough,
        toxicity: 0.0,
        position_after: Qty(0),
    };
    c.table_or_schema("fills", |c| fill_row(c, Timestamp(0), &placeholder, None, &marks, strategy))
}

/// One row of the fills table (`o` is an `Output::Fill`).
fn fill_row(
    c: &mut Cols,
    t: Timestamp,
    o: &Output,
    life: Option<&OrderLife>,
    marks: &BTreeMap<u64, BTreeMap<u32, (f64, Option<bool>)>>,
    strategy: &str,
) {
    let Output::Fill { coin, fill_id, order_id, side, px, sz, fee, mid, kind, toxicity, position_after } = o
    else {
        return;
    };
    c.time("recv_ns", "time_utc", Some(t));
    c.u64("fill_id", Some(*fill_id));
    c.u64("order_id", Some(*order_id));
    c.str("coin", Some(coin.to_string()));
    c.str("side", Some(side_name(*side).into()));
    c.price("price", "price_f64", Some(*px));
    c.qty("size", "size_f64", Some(*sz));
    c.quote("notional", "notional_f64", Some(crate::types::notional(*px, *sz) as i64));
    c.quote("fee", "fee_f64", Some(*fee));
    c.price("mid", "mid_f64", Some(*mid));
    c.str("kind", Some(fill_kind_name(*kind).into()));
    c.u64("level", Some(u64::from(life.map_or(0, |l| l.level))));
    c.str("strategy", Some(strategy.to_string()));
    c.f64("toxicity", Some(*toxicity));
    c.bool("cancel_tail", Some(life.and_then(|l| l.cancelled).is_some_and(|ct| ct <= t)));
    c.qty("position_after", "position_after_f64", Some(*position_after));
    let m = marks.get(fill_id);
    for h in FILL_MARKOUT_HORIZONS_S {
        let v = m.and_then(|m| m.get(&h)).map(|(bp, _)| *bp);
        c.f64(markout_col(h), v);
    }
    c.bool("adverse_5s", m.and_then(|m| m.get(&5)).and_then(|(_, a)| *a));
}

fn markout_col(h: u32) -> &'static str {
    match h {
        1 => "markout_1s_bp",
        5 => "markout_5s_bp",
        30 => "markout_30s_bp",
        _ => "markout_60s_bp",
    }
}

/// One row per order placed: its price, size, life and outcome.
fn orders(session: &Session, strategy: &str) -> Table {
    let mut c = Cols::new();
    for (id, l) in order_lives(session) {
        order_row(&mut c, id, &l, strategy);
    }
    c.table_or_schema("orders", |c| order_row(c, 0, &OrderLife::default(), strategy))
}

fn order_row(c: &mut Cols, id: u64, l: &OrderLife, strategy: &str) {
    {
        let status = if l.rejected.is_some() {
            "rejected"
        } else if l.sz.is_some_and(|s| l.filled >= s.0) {
            "filled"
        } else if l.cancelled.is_some() {
            "cancelled"
        } else {
            "open"
        };
        c.u64("order_id", Some(id));
        c.str("coin", Some(l.coin.clone()));
        c.str("side", l.side.map(|s| side_name(s).to_string()));
        c.price("price", "price_f64", l.px);
        c.qty("size", "size_f64", l.sz);
        c.u64("level", Some(u64::from(l.level)));
        c.str("strategy", Some(strategy.to_string()));
        c.time("placed_ns", "placed_utc", l.placed);
        c.u64("live_at_ns", l.live_at.map(|t| t.0));
        c.u64("cancel_sent_ns", l.cancelled.map(|t| t.0));
        c.u64("dead_at_ns", l.dead_at.map(|t| t.0));
        c.str("cancel_reason", l.cancel_reason.clone());
        c.str("reject_reason", l.rejected.clone());
        c.str("status", Some(status.into()));
        c.qty("filled", "filled_f64", Some(Qty(l.filled)));
        c.u64("fills", Some(l.fills));
        c.u64("first_fill_ns", l.first_fill.map(|t| t.0));
        c.u64("last_fill_ns", l.last_fill.map(|t| t.0));
    }
}

/// One row per markout horizon of every fill: resolved (`move_bp`) or dropped across a gap.
fn markouts(session: &Session) -> Table {
    let mut c = Cols::new();
    for (t, o) in &session.outputs {
        match o {
            Output::Markout { coin, fill_id, horizon_s, move_bp, was_adverse, no_skill } => {
                markout_row(&mut c, *t, coin, *fill_id, *horizon_s, Some((*move_bp, *was_adverse, *no_skill)))
            }
            Output::MarkoutDropped { coin, fill_id, horizon_s } => {
                markout_row(&mut c, *t, coin, *fill_id, *horizon_s, None)
            }
            _ => {}
        }
    }
    c.table_or_schema("markouts", |c| markout_row(c, Timestamp(0), "", 0, 0, None))
}

/// One markout row; `resolved` is `None` for a horizon dropped across a gap.
fn markout_row(
    c: &mut Cols,
    t: Timestamp,
    coin: &str,
    fill_id: u64,
    horizon_s: u32,
    resolved: Option<(f64, Option<bool>, Option<f64>)>,
) {
    c.time("recv_ns", "time_utc", Some(t));
    c.str("coin", Some(coin.to_string()));
    c.u64("fill_id", Some(fill_id));
    c.u64("horizon_s", Some(u64::from(horizon_s)));
    c.f64("move_bp", resolved.map(|r| r.0));
    c.bool("was_adverse", resolved.and_then(|r| r.1));
    c.f64("no_skill", resolved.and_then(|r| r.2));
    c.bool("dropped", Some(resolved.is_none()));
}

/// The model snapshots: every coin's models, quotes, position and PnL at each snapshot.
fn snapshots(session: &Session) -> Table {
    let mut c = Cols::new();
    for (t, o) in &session.outputs {
        if let Output::Model(s) = o {
            snapshot_row(&mut c, *t, s);
        }
    }
    c.table_or_schema("snapshots", |c| snapshot_row(c, Timestamp(0), &ModelSnapshot::default()))
}

fn snapshot_row(c: &mut Cols, t: Timestamp, s: &ModelSnapshot) {
    c.time("recv_ns", "time_utc", Some(t));
    c.str("coin", Some(s.coin.clone()));
    c.price("mid", "mid_f64", s.mid);
    c.price("bid_quote", "bid_quote_f64", s.bid_quote);
    c.price("ask_quote", "ask_quote_f64", s.ask_quote);
    c.qty("position", "position_f64", Some(s.position));
    c.f64("pnl_realized", Some(s.pnl_realized));
    c.f64("pnl_unrealized", Some(s.pnl_unrealized));
    c.f64("pnl_fees", Some(s.pnl_fees));
    c.f64("pnl_net", Some(s.pnl_realized + s.pnl_unrealized - s.pnl_fees));
    c.f64("kappa", Some(s.kappa));
    c.f64("kappa_confidence", Some(s.kappa_confidence));
    c.u64("own_fills", Some(s.own_fills));
    c.f64("sigma_bp", Some(s.sigma_bp));
    c.f64("toxicity", Some(s.toxicity));
    c.f64("as_progress", Some(s.as_progress));
    c.u64("as_resolved", Some(s.as_resolved));
    c.u64("as_adverse", Some(s.as_adverse));
    c.f64("brier_skill", Some(s.brier_skill));
    c.f64("calibration_progress", Some(s.calibration_progress));
    c.f64("cal_gamma", Some(s.cal_gamma));
    c.str("regime", Some(regime_name(s.regime)));
    c.f64("vol_ratio", Some(s.vol_ratio));
    c.f64("available_margin", Some(s.available_margin));
    c.u64("margin_rejects", Some(s.margin_rejects));
    c.u64("market_trades", Some(s.market_trades));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &Table) -> Vec<&'static str> {
        t.columns.iter().map(|(n, _)| *n).collect()
    }

    /// A session with no rows of a kind still exports that table's full schema, the same
    /// columns in the same order as a table with rows.
    #[test]
    fn an_empty_table_keeps_every_column() {
        let fill = Output::Fill {
            coin: "BTC".into(),
            fill_id: 1,
            order_id: 7,
            side: Side::Sell,
            px: Price(100),
            sz: Qty(5),
            fee: 1,
            mid: Price(99),
            kind: FillKind::BookCross,
            toxicity: 0.4,
            position_after: Qty(-5),
        };
        let full = Session::from_outputs(
            vec![
                (Timestamp(1), Output::Model(ModelSnapshot::default())),
                (Timestamp(2), fill),
                (Timestamp(3), Output::MarkoutDropped { coin: "BTC".into(), fill_id: 1, horizon_s: 5 }),
            ],
            None,
            None,
        );
        let empty = Session::from_outputs(vec![], None, None);
        for name in ["fills", "markouts", "snapshots"] {
            let (f, e) = (table(&full, name).unwrap(), table(&empty, name).unwrap());
            assert_eq!(f.rows(), 1, "{name}");
            assert_eq!(e.rows(), 0, "{name}");
            assert_eq!(names(&f), names(&e), "{name}");
            assert!(e.columns.iter().all(|(_, c)| c.is_empty()));
        }
        let orders = table(&empty, "orders").unwrap();
        assert!(names(&orders).contains(&"cancel_sent_ns") && orders.rows() == 0);
    }
}

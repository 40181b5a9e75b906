//! Drivers: the only code that touches clocks, sockets, files and threads. Each feeds the pure
//! engine from outside (replay from a recording, live from a websocket) or serves data.

pub mod affinity;
pub mod clock;
pub mod journal;
pub mod live;
pub mod parse_ahead;
pub mod record;
pub mod replay;
pub mod rest;
pub mod serve;
pub mod session;
pub mod sweep;
pub mod ws_client;
pub mod ws_server;

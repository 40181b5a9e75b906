//! What a recording holds: records of raw messages and control records.

use serde::{Deserialize, Serialize};

/// The header of every file of a recording.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// `hyperliquid` or `binance-usdm`; the venue adapters are chosen by it.
    pub venue: String,
    pub coins: Vec<String>,
    pub program_version: String,
    /// What wrote it: `import`, `synth`, `record`, `live`, `replay`.
    pub created_by: String,
    /// For a live session's inputs: the full engine configuration (TOML) it ran with.
    pub engine_config: Option<String>,
    /// For a live session's inputs or a synthetic recording: the seed.
    pub seed: Option<u64>,
    /// For a synthetic recording: the generator's configuration and ground truth (TOML).
    pub synth: Option<String>,
}

/// One record. `stream` indexes the recording's stream names (see `LogReader::stream_name`).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub recv_ns: u64,
    pub stream: u16,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// A feed message, byte for byte as received.
    Message(Vec<u8>),
    Control(Control),
}

/// A [`Record`] borrowed from the reader ([`super::LogReader::next_ref`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecordRef<'a> {
    pub seq: u64,
    pub recv_ns: u64,
    pub stream: u16,
    /// The stream's name in the table in force for this record (what
    /// `LogReader::stream_name(stream)` says), borrowed with the record.
    pub stream_name: &'a str,
    pub body: BodyRef<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BodyRef<'a> {
    Message(&'a [u8]),
    Control(&'a Control),
}

impl RecordRef<'_> {
    pub fn to_record(&self) -> Record {
        let body = match self.body {
            BodyRef::Message(raw) => Body::Message(raw.to_vec()),
            BodyRef::Control(c) => Body::Control(c.clone()),
        };
        Record { seq: self.seq, recv_ns: self.recv_ns, stream: self.stream, body }
    }
}

/// Control records: what the driver knew besides the messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Control {
    Connect {
        url: String,
    },
    Disconnect {
        reason: String,
    },
    Subscribe {
        subscription: String,
    },
    /// Messages may be missing here (reconnect, sequence gap, writer backlog dropped).
    Gap {
        reason: String,
    },
    /// A clock tick the live driver injected into the engine at this receive time.
    Tick,
    End,
    /// The feed has been silent past the venue's threshold (`live.stale_after_ms`): the
    /// engine pulled its quotes here, and quotes again when data returns.
    Stale {
        reason: String,
    },
}

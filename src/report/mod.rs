//! Validation (the seed's checklist with diagnoses), the terminal summary and the HTML report,
//! all computed from a session's outputs.

pub mod charts;
pub mod html;
pub mod pnl;
pub mod quality;
pub mod quality_html;
pub mod session;
pub mod stats;
pub mod summary;
pub mod sweep_page;
pub mod tables;
pub mod trajectory;
pub mod validate;

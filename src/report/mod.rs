//! Validation (the seed's checklist with diagnoses), the terminal summary and the HTML report.

pub mod html;
pub mod summary;
pub mod validate;

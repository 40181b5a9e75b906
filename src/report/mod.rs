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

/// `map.entry(key.to_string()).or_default()`, without allocating the key when it is there
/// already (the journal's thread looks a coin up for nearly every output).
pub(crate) fn coin_entry<'m, V: Default>(
    map: &'m mut std::collections::BTreeMap<String, V>,
    key: &str,
) -> &'m mut V {
    if !map.contains_key(key) {
        return map.entry(key.to_string()).or_default();
    }
    map.get_mut(key).unwrap_or_else(|| unreachable!("the key was just found"))
}

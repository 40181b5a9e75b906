//! The synthetic venue: a seeded market with known ground truth, in Hyperliquid's wire format.

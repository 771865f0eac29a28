//! Shared helpers for emroam's benchmarks; the benchmarks themselves live in `benches/`.

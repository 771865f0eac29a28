//! emroam's reference clusters (placeholder; being written).

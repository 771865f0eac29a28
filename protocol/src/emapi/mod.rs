//! EM API XML (placeholder; being written).

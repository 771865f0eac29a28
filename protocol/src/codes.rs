//! EM code catalogue (placeholder; being written).

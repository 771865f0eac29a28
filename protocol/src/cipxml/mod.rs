//! CiscoIPPhone XML objects (placeholder; being written).

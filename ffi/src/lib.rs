//! C ABI for tripgate.

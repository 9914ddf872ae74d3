//! What the simulator's fuzz targets (`scenario`, `trace`) share.

use tripgate_cli::budget::Caps;
use tripgate_cli::Settings;

/// Small enough that an accepted input simulates in milliseconds.
pub const SETTINGS: Settings = Settings {
    threads: 2,
    buckets: 16,
    caps: Caps {
        max_calls: 2_000,
        max_memory: 64 << 20,
    },
};

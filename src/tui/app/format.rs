//! How the TUI writes speeds, virtual times and ages.

/// `1x`, `0.25x`, `1h/s`... for the header.
pub fn format_speed(s: f64) -> String {
    if s >= 86400.0 {
        format!("{}d/s", s / 86400.0)
    } else if s >= 3600.0 {
        format!("{}h/s", s / 3600.0)
    } else if s >= 60.0 {
        format!("{}m/s", s / 60.0)
    } else {
        format!("{s}x")
    }
}

/// Virtual time as `+HH:MM:SS.mmm` (days prefixed when needed).
pub fn format_clock(t: u64) -> String {
    let ms = t % 1000;
    let s = t / 1000;
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("+{d}d{h:02}:{m:02}:{s:02}.{ms:03}")
    } else {
        format!("+{h:02}:{m:02}:{s:02}.{ms:03}")
    }
}

/// A compact age: `0s`, `42s`, `3m`, `5h`, `2d`.
pub fn format_age(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}

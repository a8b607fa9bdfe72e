//! Cutting untrusted text short, visibly: shared by the errors and the results that
//! bound them.

/// What a clipped piece ends with.
pub const CUT: &str = "… [cut]";

/// `s` clipped to at most `max` bytes, for echoing or logging untrusted text.
pub fn clipped(s: &str, max: usize) -> String {
    let mut s = s.to_string();
    clip(&mut s, max);
    s
}

/// Clips `s` to at most `max` bytes (on a character boundary) with [`CUT`].
pub fn clip(s: &mut String, max: usize) {
    if s.len() > max {
        let end = (0..=max)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        s.truncate(end);
        s.push_str(CUT);
    }
}

//! Cutting untrusted text short, visibly: shared by the errors and the results that
//! bound them.

/// What a clipped piece ends with.
pub const CUT: &str = "… [cut]";

/// `s` clipped as by [`clip`], for echoing or logging untrusted text.
pub fn clipped(s: &str, max: usize) -> String {
    let mut s = s.to_string();
    clip(&mut s, max);
    s
}

/// When `s` is over `max` bytes, cuts it to at most `max` bytes (on a character
/// boundary) and appends [`CUT`], so a clipped piece is at most `max + CUT.len()`
/// bytes; a piece of at most `max` bytes is left as it is.
pub fn clip(s: &mut String, max: usize) {
    if s.len() > max {
        let end = crate::spec::text::char_prefix(s, max).len();
        s.truncate(end);
        s.push_str(CUT);
    }
}

//! Text helpers that both the build script and the crate use (this directory is
//! compiled into both): clipping on a character boundary, and a panic's message.

/// The longest prefix of `s` that is at most `max` bytes and ends on a character
/// boundary.
pub fn char_prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let end = (0..=max)
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0);
    &s[..end]
}

/// The message a panic was raised with (`panic!("…")` or a formatted one); `None` for
/// any other payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_never_splits_a_character() {
        assert_eq!(char_prefix("abc", 5), "abc");
        assert_eq!(char_prefix("abc", 3), "abc");
        assert_eq!(char_prefix("abc", 2), "ab");
        // "é" is two bytes: a cut inside it keeps what comes before.
        assert_eq!(char_prefix("aé", 2), "a");
        assert_eq!(char_prefix("é", 1), "");
        assert_eq!(char_prefix("é", 0), "");
    }

    #[test]
    fn a_panic_message_is_read_from_either_payload() {
        let text: Box<dyn std::any::Any + Send> = Box::new("static");
        assert_eq!(panic_message(&*text).as_deref(), Some("static"));
        let owned: Box<dyn std::any::Any + Send> = Box::new(format!("owned {}", 1));
        assert_eq!(panic_message(&*owned).as_deref(), Some("owned 1"));
        let other: Box<dyn std::any::Any + Send> = Box::new(7);
        assert_eq!(panic_message(&*other), None);
    }
}

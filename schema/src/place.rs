//! Where in a source text a byte offset is, for errors that name line and column.

/// 1-based line and column (in characters) of byte `offset` in `src`; an offset past the end
/// or inside a character counts as the nearest place before it.
pub fn position(src: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(src.len());
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    let before = &src[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn lines_and_columns_count_characters() {
        let src = "a = 1\nbé = \"x\"\n";
        assert_eq!(position(src, 0), (1, 1));
        assert_eq!(position(src, 6), (2, 1));
        // `=` after a two-byte character is the fourth character of its line.
        assert_eq!(position(src, src.find('=').unwrap()), (1, 3));
        assert_eq!(position(src, src.rfind('=').unwrap()), (2, 4));
        // Inside a character, or past the end: the nearest place before.
        assert_eq!(position(src, 8), (2, 2));
        assert_eq!(position(src, 999), (3, 1));
    }
}

//! How a pattern is cut into pieces: what starts at a given byte. The matcher, the parser and
//! the search's first-byte filter all ask this one function, so they cannot read a pattern
//! differently.

/// The kind of piece that starts at some byte of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// `()`.
    PositionCapture,
    /// `(` not followed by `)`.
    OpenCapture,
    /// `)`.
    CloseCapture,
    /// `$` as the pattern's last byte.
    EndAnchor,
    /// `%b`, its two arguments (if present) after it.
    Balance,
    /// `%f`, its set (if well-formed) after it.
    Frontier,
    /// `%0`..`%9`, with the digit.
    BackRef(u8),
    /// Anything else: a single item, maybe quantified (and maybe malformed).
    Single,
}

/// The piece that starts at `pat[p]` (`p < pat.len()`). Bytes past the end read as NUL, as
/// Lua reads its strings' terminator.
pub(crate) fn piece_at(pat: &[u8], p: usize) -> Piece {
    let next = pat.get(p + 1).copied().unwrap_or(0);
    match pat[p] {
        b'(' if next == b')' => Piece::PositionCapture,
        b'(' => Piece::OpenCapture,
        b')' => Piece::CloseCapture,
        b'$' if p + 1 == pat.len() => Piece::EndAnchor,
        b'%' => match next {
            b'b' => Piece::Balance,
            b'f' => Piece::Frontier,
            d @ b'0'..=b'9' => Piece::BackRef(d),
            _ => Piece::Single,
        },
        _ => Piece::Single,
    }
}

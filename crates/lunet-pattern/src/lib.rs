//! Lua 5.4 patterns for lunet's sandbox and compiler.
//!
//! Lua's own `string.find`/`match`/`gmatch`/`gsub` (C, `lstrlib.c`) cannot be interrupted:
//! `("a"):rep(5000):find(".-.-.-.-.-b")` never returns, freezing a Lua state that holds
//! packets. This crate implements the same four functions with exactly Lua 5.4's semantics —
//! results, lazy error detection and error messages — and a [`Budget`] the matcher consults
//! every [`CHECK_INTERVAL`] steps, so the sandbox can stop a match on a deadline or a flag.
//! It also offers [`parse`], an eager parser into a small tree for the eBPF compiler.
//!
//! Everything works on bytes and returns plain Rust data: byte ranges into the subject,
//! 1-based positions where Lua returns integers, owned or borrowed bytes. Nothing here knows
//! Lua values; a gsub replacement table or function reaches the library as a callback
//! ([`gsub_with`]).
//!
//! ```
//! use lunet_pattern::{find, Capture, StepLimit, Error};
//!
//! let found = find(b"key = value", b"(%w+)%s*=%s*(%w+)", 1, false, &mut StepLimit::new(1 << 20))
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(found.lua_positions(), (1, 11));
//! assert_eq!(found.captures, vec![Capture::Bytes(0..3), Capture::Bytes(6..11)]);
//!
//! let slow = find(&b"a".repeat(5000), b".-.-.-.-.-b", 1, false, &mut StepLimit::new(1 << 20));
//! assert_eq!(slow, Err(Error::Interrupted));
//! ```
//!
//! Differences from C Lua, all deliberate: [`Error::Interrupted`]; and after an error inside
//! a gmatch iterator, C Lua keeps a corrupted nesting counter for that iterator's later calls
//! (its limit is lower, or gone), while [`GMatch`] starts each call afresh.
//!
//! # For the Lua binding
//!
//! - Arguments: Lua's `init` and gsub's `n` are passed as integers (`luaL_optinteger`'s
//!   conversion and its errors stay in the binding); `find`'s `plain` is Lua truthiness.
//! - Results: [`Found::lua_positions`] then [`Found::captures`]; [`Capture::Bytes`] becomes a
//!   Lua string of those subject bytes, [`Capture::Position`] a Lua integer. `None` is Lua's
//!   single `nil` (fail).
//! - gsub: a string or number replacement is a template ([`gsub`]; a number is converted as
//!   Lua's `tostring` would first). A table looks up [`Captures::first`], a function gets
//!   [`Captures::all`] ([`gsub_with`]); `nil`/`false` is [`Replacement::Keep`], a string or
//!   number is [`Replacement::With`], anything else is the binding's own error
//!   `invalid replacement value (a <type>)`.
//! - gmatch: keep [`GMatch`] and the two Lua strings in the iterator closure.
//! - Errors: C Lua prefixes each message with the *calling* function's `chunk:line:` (what
//!   `luaL_error` does with `luaL_where(L, 1)`): empty when the caller is a C function such
//!   as `pcall`, the script position otherwise. Raise `Display` of the error with the same
//!   prefix to be exact.
//! - Stack: matching recurses at most [`MAX_DEPTH`] levels; measured below 64 KiB of stack
//!   in release builds (below 256 KiB unoptimised).

#![forbid(unsafe_code)]

mod budget;
mod captures;
mod class;
mod error;
mod gsub;
mod item;
mod matcher;
mod ops;
mod parse;
mod piece;

pub use budget::{Budget, Deadline, StepLimit, Unlimited, CHECK_INTERVAL};
pub use captures::{Capture, Captures, MAX_CAPTURES};
pub use class::{Class, ClassKind, SetItem};
pub use error::{Error, Interrupted, PatternError};
pub use gsub::{gsub, gsub_with, Replacement, Substituted};
pub use item::{Quantifier, Set, Single};
pub use matcher::MAX_DEPTH;
pub use ops::{find, match_, Found, GMatch};
pub use parse::{parse, parse_gmatch, Node, NodeKind, Pattern};

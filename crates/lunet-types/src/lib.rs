//! lunet-types: the vocabulary every lunet crate shares, at the bottom of the house.
//!
//! Plain data with the kernel's numbers and Lunatik's names, and nothing that makes a system
//! call or knows Lua:
//! - [`nf`]: netfilter families, hooks, priorities and verdicts (`linux.nf`);
//! - [`xdp`]: XDP actions (`linux.xdp`);
//! - [`layout`]: map key and value layouts (`string.pack` formats) with pack and unpack;
//! - [`map`]: map kinds, declarations, and the reference a compiled hook holds;
//! - [`hook`]: where a hook attaches and the tier it asks for;
//! - [`value`]: what a hook's upvalues held when the body finished (the compiler's input);
//! - [`builtin`]: the names of lunet's library functions that both tiers know.

pub mod builtin;
pub mod hook;
pub mod layout;
pub mod map;
pub mod nf;
pub mod value;
pub mod xdp;

pub use hook::{Attach, Overload, Tier};
pub use layout::{Field, Layout, LayoutError, Scalar};
pub use map::{MapDecl, MapKind, MapRef};
pub use nf::{Family, Hook};
pub use value::{FnRef, Value};

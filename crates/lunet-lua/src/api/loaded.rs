//! The modules' table, kept by [`crate::modules::install`] in the state's app data for the
//! API's walk ([`super::live`]).

use mlua::Table;

pub(crate) struct Loaded(pub Table);

//! Names: each name in a hook is a local (of the hook or of a function it inlines), a
//! parameter (a local bound at entry), an upvalue from the script's body, or a global, which
//! is not in the kernel-tier subset.
//!
//! Locals live in slots (indices into the lowering's slot table); a scope maps names to
//! slots. A `local function` closes over the slots it can see where it is defined, so an
//! inlined call reads and writes the caller's variables, not copies of them.

use std::rc::Rc;

use lunet_types::Value;

pub type SlotId = usize;

/// What a function sees from outside its own body: the enclosing functions' locals (for a
/// `local function`) and the Lua function's upvalues as the body left them.
#[derive(Debug, Default)]
pub struct Captured {
    /// Innermost last; a later entry shadows an earlier one of the same name.
    pub names: Vec<(String, SlotId)>,
    pub upvalues: Rc<Vec<(String, Rc<Value>)>>,
}

/// What a name means where it is used.
#[derive(Debug, PartialEq)]
pub enum Binding {
    Local(SlotId),
    Upvalue(Rc<Value>),
    Global,
}

/// The scopes of one function activation.
#[derive(Debug, Clone)]
pub struct Env {
    pub captured: Rc<Captured>,
    scopes: Vec<Vec<(String, SlotId)>>,
}

impl Env {
    pub fn new(captured: Rc<Captured>) -> Env {
        Env {
            captured,
            scopes: vec![Vec::new()],
        }
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// Ends the innermost scope; returns the slots it declared.
    pub fn pop_scope(&mut self) -> Vec<SlotId> {
        self.scopes
            .pop()
            .map(|s| s.into_iter().map(|(_, id)| id).collect())
            .unwrap_or_default()
    }

    pub fn declare(&mut self, name: &str, slot: SlotId) {
        if self.scopes.is_empty() {
            self.scopes.push(Vec::new());
        }
        if let Some(s) = self.scopes.last_mut() {
            s.push((name.to_string(), slot));
        }
    }

    pub fn lookup(&self, name: &str) -> Binding {
        for scope in self.scopes.iter().rev() {
            if let Some((_, id)) = scope.iter().rev().find(|(n, _)| n == name) {
                return Binding::Local(*id);
            }
        }
        if let Some((_, id)) = self.captured.names.iter().rev().find(|(n, _)| n == name) {
            return Binding::Local(*id);
        }
        if let Some((_, v)) = self.captured.upvalues.iter().find(|(n, _)| n == name) {
            return Binding::Upvalue(v.clone());
        }
        Binding::Global
    }

    /// What a function defined here closes over.
    pub fn capture(&self) -> Rc<Captured> {
        let mut names = self.captured.names.clone();
        for s in &self.scopes {
            names.extend(s.iter().cloned());
        }
        Rc::new(Captured {
            names,
            upvalues: self.captured.upvalues.clone(),
        })
    }

    /// Every slot a name here can reach.
    pub fn visible_slots(&self) -> Vec<SlotId> {
        let mut v: Vec<SlotId> = self.captured.names.iter().map(|(_, id)| *id).collect();
        for s in &self.scopes {
            v.extend(s.iter().map(|(_, id)| *id));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_scopes_shadow_and_upvalues_come_last() {
        let cap = Rc::new(Captured {
            names: vec![("x".into(), 0)],
            upvalues: Rc::new(vec![
                ("k".into(), Rc::new(Value::Int(5))),
                ("x".into(), Rc::new(Value::Int(9))),
            ]),
        });
        let mut env = Env::new(cap);
        assert_eq!(env.lookup("x"), Binding::Local(0));
        env.push_scope();
        env.declare("x", 3);
        assert_eq!(env.lookup("x"), Binding::Local(3));
        assert_eq!(env.lookup("k"), Binding::Upvalue(Rc::new(Value::Int(5))));
        assert_eq!(env.lookup("print"), Binding::Global);
        assert_eq!(env.pop_scope(), vec![3]);
        assert_eq!(env.lookup("x"), Binding::Local(0));
    }
}

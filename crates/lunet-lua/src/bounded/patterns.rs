//! `string.find`, `string.match`, `string.gmatch` and `string.gsub` on lunet-pattern's engine,
//! which checks the call's deadline as it matches (Lua's C matcher can backtrack for years on
//! `(".-"):rep(5)` against a long subject). Arguments, results and messages are Lua 5.4's:
//! the argument checks below give `luaL_check*`'s wording, and every error carries the
//! calling line, as `luaL_error` does.

use mlua::{Function, Lua, MultiValue, Table, Value, Variadic};

use lunet_pattern::{Budget, Capture, Captures, GMatch, Interrupted, Replacement};

use crate::error::located;

/// The budget of one library call: the running call's deadline and stop, and the state's
/// free memory (gsub's output is built outside the cap, and costs a step per byte or so).
struct CallBudget {
    spent: u64,
    free: u64,
    /// Why the match was interrupted.
    stop: Option<String>,
}

impl CallBudget {
    fn new(lua: &Lua) -> CallBudget {
        // Without a cap, the output is bounded by the call's time only.
        let free = match lua.app_data_ref::<crate::limits::MemoryCap>() {
            Some(cap) => cap.0.saturating_sub(lua.used_memory()) as u64,
            None => u64::MAX,
        };
        CallBudget {
            spent: 0,
            free,
            stop: None,
        }
    }
}

impl Budget for CallBudget {
    fn check(&mut self, spent: u64) -> Result<(), Interrupted> {
        self.spent = self.spent.saturating_add(spent);
        if self.spent > self.free {
            self.stop = Some("not enough memory".into());
            return Err(Interrupted);
        }
        match crate::budget::check_current() {
            Some(m) => {
                self.stop = Some(m);
                Err(Interrupted)
            }
            None => Ok(()),
        }
    }
}

/// A pattern error (or an interruption) as the Lua error the caller sees.
fn fail(lua: &Lua, e: lunet_pattern::Error, budget: &CallBudget) -> mlua::Error {
    match (&e, &budget.stop) {
        (lunet_pattern::Error::Interrupted, Some(why)) if why == "not enough memory" => {
            mlua::Error::MemoryError(why.clone())
        }
        (lunet_pattern::Error::Interrupted, Some(why)) => located(lua, why),
        _ => located(lua, e),
    }
}

/// `luaL_typename`: the type of argument `n`, or "no value" past the last.
fn type_name(args: &MultiValue, n: usize) -> &'static str {
    match args.get(n - 1) {
        None => "no value",
        Some(v) => v.type_name(),
    }
}

fn bad_arg(lua: &Lua, n: usize, f: &str, why: impl std::fmt::Display) -> mlua::Error {
    located(lua, format!("bad argument #{n} to '{f}' ({why})"))
}

/// `luaL_checklstring`: a string, or a number converted to one.
fn check_string(lua: &Lua, args: &MultiValue, n: usize, f: &str) -> mlua::Result<mlua::String> {
    match args.get(n - 1) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => lua
            .coerce_string(v.clone())?
            .ok_or_else(|| bad_arg(lua, n, f, "string expected, got number")),
        _ => Err(bad_arg(
            lua,
            n,
            f,
            format!("string expected, got {}", type_name(args, n)),
        )),
    }
}

/// `luaL_optinteger`: an integer (or a number or string with one), `default` when absent.
fn opt_integer(lua: &Lua, args: &MultiValue, n: usize, f: &str, default: i64) -> mlua::Result<i64> {
    let v = match args.get(n - 1) {
        None | Some(Value::Nil) => return Ok(default),
        Some(v) => v.clone(),
    };
    match v {
        Value::Integer(i) => Ok(i),
        Value::Number(x) => float_to_int(x)
            .ok_or_else(|| bad_arg(lua, n, f, "number has no integer representation")),
        Value::String(_) => match lua.coerce_number(v)? {
            Some(x) => float_to_int(x)
                .ok_or_else(|| bad_arg(lua, n, f, "number has no integer representation")),
            None => Err(bad_arg(
                lua,
                n,
                f,
                format!("number expected, got {}", type_name(args, n)),
            )),
        },
        _ => Err(bad_arg(
            lua,
            n,
            f,
            format!("number expected, got {}", type_name(args, n)),
        )),
    }
}

fn float_to_int(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&x))
        .then_some(x as i64)
}

/// A capture as Lua returns it: the subject's bytes, or a position.
fn capture_value(lua: &Lua, subject: &[u8], c: &Capture) -> mlua::Result<Value> {
    Ok(match c {
        Capture::Bytes(r) => Value::String(lua.create_string(&subject[r.clone()])?),
        Capture::Position(p) => Value::Integer(*p as i64),
    })
}

fn captures_values(lua: &Lua, subject: &[u8], cs: &[Capture]) -> mlua::Result<MultiValue> {
    cs.iter().map(|c| capture_value(lua, subject, c)).collect()
}

fn find(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let s = check_string(lua, &args, 1, "find")?;
    let p = check_string(lua, &args, 2, "find")?;
    let init = opt_integer(lua, &args, 3, "find", 1)?;
    let plain = args
        .get(3)
        .is_some_and(|v| !matches!(v, Value::Nil | Value::Boolean(false)));
    let (subject, pattern) = (s.as_bytes(), p.as_bytes());
    let mut budget = CallBudget::new(lua);
    match lunet_pattern::find(&subject, &pattern, init, plain, &mut budget) {
        Ok(None) => Ok(MultiValue::from_iter([Value::Nil])),
        Ok(Some(found)) => {
            let (start, end) = found.lua_positions();
            let mut out =
                MultiValue::from_iter([Value::Integer(start as i64), Value::Integer(end as i64)]);
            out.extend(captures_values(lua, &subject, &found.captures)?);
            Ok(out)
        }
        Err(e) => Err(fail(lua, e, &budget)),
    }
}

fn str_match(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let s = check_string(lua, &args, 1, "match")?;
    let p = check_string(lua, &args, 2, "match")?;
    let init = opt_integer(lua, &args, 3, "match", 1)?;
    let (subject, pattern) = (s.as_bytes(), p.as_bytes());
    let mut budget = CallBudget::new(lua);
    match lunet_pattern::match_(&subject, &pattern, init, &mut budget) {
        Ok(None) => Ok(MultiValue::from_iter([Value::Nil])),
        Ok(Some(cs)) => captures_values(lua, &subject, &cs),
        Err(e) => Err(fail(lua, e, &budget)),
    }
}

fn gmatch(lua: &Lua, args: MultiValue) -> mlua::Result<Function> {
    let s = check_string(lua, &args, 1, "gmatch")?;
    let p = check_string(lua, &args, 2, "gmatch")?;
    let init = opt_integer(lua, &args, 3, "gmatch", 1)?;
    let mut state = GMatch::new(s.as_bytes().len(), init);
    lua.create_function_mut(move |lua, ()| {
        let (subject, pattern) = (s.as_bytes(), p.as_bytes());
        let mut budget = CallBudget::new(lua);
        match state.next(&subject, &pattern, &mut budget) {
            Ok(None) => Ok(MultiValue::from_iter([Value::Nil])),
            Ok(Some(cs)) => captures_values(lua, &subject, &cs),
            Err(e) => Err(fail(lua, e, &budget)),
        }
    })
}

/// What gsub's third argument is.
enum Repl {
    Template(Vec<u8>),
    Table(Table),
    Function(Function),
}

/// A replacement value from a table or function: `nil`/`false` keeps the match.
fn replacement(lua: &Lua, v: Value) -> mlua::Result<Replacement> {
    match v {
        Value::Nil | Value::Boolean(false) => Ok(Replacement::Keep),
        Value::String(s) => Ok(Replacement::With(s.as_bytes().to_vec())),
        v @ (Value::Integer(_) | Value::Number(_)) => Ok(Replacement::With(
            lua.coerce_string(v)?
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_default(),
        )),
        other => Err(located(
            lua,
            format!("invalid replacement value (a {})", other.type_name()),
        )),
    }
}

/// Errors of a gsub with a table or function: the engine's, or the replacement's.
enum GsubError {
    Pattern(lunet_pattern::Error),
    Lua(mlua::Error),
}

impl From<lunet_pattern::Error> for GsubError {
    fn from(e: lunet_pattern::Error) -> Self {
        GsubError::Pattern(e)
    }
}

fn gsub(lua: &Lua, args: MultiValue) -> mlua::Result<(mlua::String, i64)> {
    let s = check_string(lua, &args, 1, "gsub")?;
    let p = check_string(lua, &args, 2, "gsub")?;
    let repl = match args.get(2) {
        Some(Value::String(t)) => Repl::Template(t.as_bytes().to_vec()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => Repl::Template(
            lua.coerce_string(v.clone())?
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_default(),
        ),
        Some(Value::Table(t)) => Repl::Table(t.clone()),
        Some(Value::Function(f)) => Repl::Function(f.clone()),
        _ => {
            return Err(bad_arg(
                lua,
                3,
                "gsub",
                format!(
                    "string/function/table expected, got {}",
                    type_name(&args, 3)
                ),
            ))
        }
    };
    let subject = s.as_bytes();
    let max = opt_integer(lua, &args, 4, "gsub", subject.len() as i64 + 1)?;
    let pattern = p.as_bytes();
    let mut budget = CallBudget::new(lua);
    let result = match &repl {
        Repl::Template(t) => lunet_pattern::gsub(&subject, &pattern, t, Some(max), &mut budget)
            .map_err(GsubError::Pattern),
        Repl::Table(t) => lunet_pattern::gsub_with(
            &subject,
            &pattern,
            Some(max),
            &mut budget,
            |c: &Captures<'_>| {
                let key = capture_value(lua, &subject, &c.first()?).map_err(GsubError::Lua)?;
                let v = t.get::<Value>(key).map_err(GsubError::Lua)?;
                replacement(lua, v).map_err(GsubError::Lua)
            },
        ),
        Repl::Function(f) => lunet_pattern::gsub_with(
            &subject,
            &pattern,
            Some(max),
            &mut budget,
            |c: &Captures<'_>| {
                let args: Variadic<Value> = c
                    .all()?
                    .iter()
                    .map(|x| capture_value(lua, &subject, x))
                    .collect::<mlua::Result<_>>()
                    .map_err(GsubError::Lua)?;
                let v = f.call::<Value>(args).map_err(GsubError::Lua)?;
                replacement(lua, v).map_err(GsubError::Lua)
            },
        ),
    };
    match result {
        Ok(done) => Ok((lua.create_string(&done.text)?, done.count as i64)),
        Err(GsubError::Pattern(e)) => Err(fail(lua, e, &budget)),
        Err(GsubError::Lua(e)) => Err(e),
    }
}

/// Puts the four functions in the state's `string` table (the string metatable's `__index`
/// is that table, so `s:find(...)` gets them too).
pub(super) fn install(lua: &Lua, string: &Table) -> mlua::Result<()> {
    string.set("find", lua.create_function(find)?)?;
    string.set("match", lua.create_function(str_match)?)?;
    string.set("gmatch", lua.create_function(gmatch)?)?;
    string.set("gsub", lua.create_function(gsub)?)?;
    Ok(())
}

//! `lunet map`: a state's maps from the shell. The daemon opens the pin the state made and
//! reads or writes it with the layouts the script declared, so the shell, Lua hooks and
//! compiled hooks all see the same entries.

use lunet_lua::maps::store::{KernelStore, Store};
use lunet_lua::MapInfo;
use lunet_types::{Layout, Scalar};
use serde_json::{json, Value};

use crate::protocol::{ErrorKind, MapEntryReport, MapOp, StateReport};

type Failed = (ErrorKind, String);

fn scalar_json(s: &Scalar) -> Value {
    match s {
        Scalar::Int(i) => json!(i),
        Scalar::Bytes(b) => json!(String::from_utf8_lossy(b).trim_end_matches('\0')),
    }
}

/// One side of an entry as JSON: a scalar, or an array for several fields.
fn side(layout: &Layout, bytes: &[u8]) -> Value {
    match layout.unpack(bytes) {
        Ok(v) if v.len() == 1 => scalar_json(&v[0]),
        Ok(v) => Value::Array(v.iter().map(scalar_json).collect()),
        Err(e) => json!({ "undecodable": e.to_string() }),
    }
}

fn open(info: &MapInfo) -> Result<(KernelStore, Layout, Layout), Failed> {
    let decl = info
        .decl()
        .map_err(|e| (ErrorKind::Internal, e.to_string()))?;
    let (key, value) = (decl.key.clone(), decl.value.clone());
    let path = info.pinned.clone().ok_or_else(|| {
        (
            ErrorKind::NotFound,
            format!("map '{}' is not pinned", info.name),
        )
    })?;
    let store = KernelStore::open(decl, &path).map_err(|e| (ErrorKind::Internal, e.to_string()))?;
    Ok((store, key, value))
}

/// Runs one `map` request against a running state's report.
pub fn handle(
    report: &StateReport,
    map: Option<&str>,
    op: MapOp,
    key: Option<&str>,
    value: Option<&str>,
) -> Result<Value, Failed> {
    if op == MapOp::List {
        return Ok(json!(report.maps));
    }
    let name = map.ok_or_else(|| {
        (
            ErrorKind::BadRequest,
            "which map? (lunet map STATE MAP ...)".to_string(),
        )
    })?;
    let info = report.maps.iter().find(|m| m.name == name).ok_or_else(|| {
        let known: Vec<&str> = report.maps.iter().map(|m| m.name.as_str()).collect();
        (
            ErrorKind::NotFound,
            format!(
                "state '{}' has no map '{name}' (its maps: {})",
                report.name,
                known.join(", ")
            ),
        )
    })?;
    let (store, kl, vl) = open(info)?;
    fn need<'a>(v: Option<&'a str>, op: MapOp, what: &str) -> Result<&'a str, Failed> {
        v.ok_or_else(|| {
            (
                ErrorKind::BadRequest,
                format!("`{op:?}` needs a {what}").to_lowercase(),
            )
        })
    }
    let bad = |e: lunet_types::LayoutError| (ErrorKind::BadRequest, e.to_string());
    let failed = |e: lunet_lua::MapError| (ErrorKind::Internal, e.to_string());
    match op {
        MapOp::List => unreachable!("answered above"),
        MapOp::Get => {
            let k = kl.parse_text(need(key, op, "key")?).map_err(bad)?;
            let v = store.get(&k).map_err(failed)?;
            Ok(json!(MapEntryReport {
                key: side(&kl, &k),
                value: v.map(|v| side(&vl, &v)).unwrap_or(Value::Null)
            }))
        }
        MapOp::Set => {
            let k = kl.parse_text(need(key, op, "key")?).map_err(bad)?;
            let v = vl.parse_text(need(value, op, "value")?).map_err(bad)?;
            store.set(&k, &v).map_err(failed)?;
            Ok(json!(MapEntryReport {
                key: side(&kl, &k),
                value: side(&vl, &v)
            }))
        }
        MapOp::Del => {
            let k = kl.parse_text(need(key, op, "key")?).map_err(bad)?;
            let existed = store.delete(&k).map_err(failed)?;
            Ok(json!({ "key": side(&kl, &k), "deleted": existed }))
        }
        MapOp::Dump => {
            let mut out = Vec::new();
            for k in store.keys().map_err(failed)? {
                if let Some(v) = store.get(&k).map_err(failed)? {
                    out.push(MapEntryReport {
                        key: side(&kl, &k),
                        value: side(&vl, &v),
                    });
                }
            }
            Ok(json!(out))
        }
    }
}

//! lunet's library functions that both tiers know by name: the Lua tier registers them under
//! these names, and the compiler recognises a hook's upvalue by the name the snapshot gives it
//! (`Value::Builtin("byteorder.ntoh16")`).

/// The sandbox's `print`.
pub const PRINT: &str = "print";

/// A `byteorder` conversion: converting to and from an order is the same byte swap (or none),
/// so one conversion serves every name of a width and order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteOrder {
    /// Big-endian (network) order: a swap on a little-endian host.
    pub big_endian: bool,
    /// 16, 32 or 64: the input is truncated to this width first.
    pub bits: u8,
}

/// Every `byteorder` function, by the names it goes by.
pub const BYTEORDER: &[(ByteOrder, &[&str])] = &[
    (
        ByteOrder {
            big_endian: true,
            bits: 16,
        },
        &["ntoh16", "hton16", "be16", "htobe16", "be16toh"],
    ),
    (
        ByteOrder {
            big_endian: true,
            bits: 32,
        },
        &["ntoh32", "hton32", "be32", "htobe32", "be32toh"],
    ),
    (
        ByteOrder {
            big_endian: true,
            bits: 64,
        },
        &["ntoh64", "hton64", "be64", "htobe64", "be64toh"],
    ),
    (
        ByteOrder {
            big_endian: false,
            bits: 16,
        },
        &["le16", "htole16", "le16toh"],
    ),
    (
        ByteOrder {
            big_endian: false,
            bits: 32,
        },
        &["le32", "htole32", "le32toh"],
    ),
    (
        ByteOrder {
            big_endian: false,
            bits: 64,
        },
        &["le64", "htole64", "le64toh"],
    ),
];

impl ByteOrder {
    /// The conversion a builtin's full name (`"byteorder.ntoh16"`) stands for.
    pub fn from_builtin(name: &str) -> Option<ByteOrder> {
        let short = name.strip_prefix("byteorder.")?;
        BYTEORDER
            .iter()
            .find(|(_, names)| names.contains(&short))
            .map(|(op, _)| *op)
    }

    /// The conversion of `x` on this host: what a Lua call returns.
    pub fn apply(self, x: i64) -> i64 {
        match (self.big_endian, self.bits) {
            (true, 16) => u16::from_be(x as u16) as i64,
            (true, 32) => u32::from_be(x as u32) as i64,
            (true, _) => i64::from_be(x),
            (false, 16) => u16::from_le(x as u16) as i64,
            (false, 32) => u32::from_le(x as u32) as i64,
            (false, _) => i64::from_le(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_match_a_big_endian_load() {
        let wire = [0x12u8, 0x34, 0x56, 0x78];
        let ntoh16 = ByteOrder::from_builtin("byteorder.ntoh16").unwrap();
        let ntoh32 = ByteOrder::from_builtin("byteorder.be32toh").unwrap();
        assert_eq!(
            ntoh16.apply(u16::from_ne_bytes([wire[0], wire[1]]) as i64),
            0x1234
        );
        assert_eq!(ntoh32.apply(u32::from_ne_bytes(wire) as i64), 0x12345678);
        assert_eq!(
            ntoh16.apply(0x1_0001),
            ntoh16.apply(1),
            "truncates to 16 bits"
        );
        let be64 = ByteOrder::from_builtin("byteorder.hton64").unwrap();
        assert_eq!(be64.apply(be64.apply(-5)), -5);
        assert_eq!(ByteOrder::from_builtin("byteorder.swap"), None);
        assert_eq!(ByteOrder::from_builtin("ntoh16"), None, "needs the module");
    }
}

//! No input makes the library panic: arbitrary bytes (NUL, >= 0x80, every special) as subject,
//! pattern and template, any init and limit, through every entry point. A panic fails the
//! property; every result, error or not, is fine.

use lunet_pattern::{
    find, gsub, gsub_with, match_, parse, parse_gmatch, GMatch, Replacement, StepLimit,
};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..max),
        prop::collection::vec(
            prop::sample::select(&b"%[]()^$*+-?.ab0129fz\0\x80\xff"[..]),
            0..max
        ),
    ]
}

fn any_int() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), -50i64..50, Just(i64::MIN), Just(i64::MAX)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn nothing_panics(s in bytes(40), p in bytes(30), r in bytes(8), init in any_int(), n in any_int(), plain: bool) {
        let b = || StepLimit::new(200_000);
        let _ = find(&s, &p, init, plain, &mut b());
        let _ = match_(&s, &p, init, &mut b());
        let _ = gsub(&s, &p, &r, Some(n), &mut b());
        let _ = gsub(&s, &p, &r, None, &mut b());
        let _ = gsub_with(&s, &p, Some(n), &mut b(), |c| {
            c.all()?;
            c.first()?;
            let _ = c.get(init.unsigned_abs() as usize % 40);
            Ok::<_, lunet_pattern::Error>(Replacement::With(r.clone()))
        });
        let mut it = GMatch::new(s.len(), init);
        let mut budget = b();
        for _ in 0..=s.len() + 1 {
            if !matches!(it.next(&s, &p, &mut budget), Ok(Some(_))) {
                break;
            }
        }
        // A GMatch made for a longer subject, then given a shorter one, must not panic either.
        let mut it = GMatch::new(s.len() + 10, -1);
        let _ = it.next(&s, &p, &mut b());
        let _ = parse(&p);
        let _ = parse_gmatch(&p);
    }
}

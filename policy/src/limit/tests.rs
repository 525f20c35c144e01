use super::*;
use proptest::prelude::*;

fn quota(rate: u32, burst: u32) -> Quota {
    Quota {
        rate: NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN),
        period: Duration::from_secs(1),
        burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
    }
}

const SEC: u64 = 1_000_000_000;

#[test]
fn a_burst_then_one_per_interval() {
    let q = quota(10, 5);
    let mut tat = 0;
    let now = 100 * SEC;
    let mut admitted = 0;
    for _ in 0..8 {
        let d = q.decide(tat, now, 1);
        if d.allowed {
            admitted += 1;
            tat = d.tat;
        }
    }
    assert_eq!(admitted, 5, "the burst");
    let d = q.decide(tat, now, 1);
    assert!(!d.allowed);
    assert_eq!(d.retry_after, SEC / 10, "one interval later");
    assert_eq!(d.remaining, 0);
    let later = q.decide(tat, now + SEC / 10, 1);
    assert!(later.allowed);
    assert_eq!(later.remaining, 0);
    // Idle long enough: the bucket is full again.
    let idle = q.decide(tat, now + 10 * SEC, 1);
    assert_eq!(idle.remaining, 4);
}

proptest! {
    /// Over any window, admissions never exceed burst + rate x window.
    #[test]
    fn never_more_than_burst_plus_rate(rate in 1u32..200, burst in 1u32..50,
                                       gaps in proptest::collection::vec(0u64..50_000_000, 1..400)) {
        let q = quota(rate, burst);
        let (mut tat, mut now, mut admitted) = (0u64, SEC, 0u64);
        let start = now;
        for g in gaps {
            now += g;
            let d = q.decide(tat, now, 1);
            if d.allowed {
                admitted += 1;
                tat = d.tat;
            } else {
                prop_assert!(d.retry_after > 0);
            }
        }
        let window = now - start;
        let bound = u64::from(burst) + window / q.interval_ns() + 1;
        prop_assert!(admitted <= bound, "{admitted} > {bound}");
    }

    /// The reset never moves backwards while requests keep coming.
    #[test]
    fn reset_is_monotonic(gaps in proptest::collection::vec(0u64..5_000_000, 1..200)) {
        let q = quota(100, 10);
        let (mut tat, mut now) = (0u64, SEC);
        let mut last_reset_at = 0u64;
        for g in gaps {
            now += g;
            let d = q.decide(tat, now, 1);
            if d.allowed { tat = d.tat; }
            let reset_at = now + d.reset_after;
            prop_assert!(reset_at >= last_reset_at);
            last_reset_at = reset_at;
        }
    }
}

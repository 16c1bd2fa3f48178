//! Data parallelism over the independent parts of a batch: natively on scoped threads, in the
//! browser (no threads in a plain wasm module) one part after the other. How a batch is cut
//! into parts depends only on its size ([`parts`]), never on the number of threads, so a
//! result is the same bit for bit on one core, on sixteen, and in the page.

/// Samples per part: what one thread takes of a batch.
pub const PART: usize = 32;

/// The parts of a batch of `count`: ⌈count / [`PART`]⌉ ranges of at most [`PART`], in order.
pub fn parts(count: usize) -> Vec<std::ops::Range<usize>> {
    (0..count.div_ceil(PART)).map(|p| p * PART..((p + 1) * PART).min(count)).collect()
}

/// The threads to use by default: every core (natively), one in the browser.
pub fn default_threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
}

/// `f(i)` for every i in 0..`count` on up to `threads` threads, the results in order. A
/// panic in `f` is re-raised here.
pub fn map_parts<T: Send>(count: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    if threads > 1 && count > 1 {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let next = AtomicUsize::new(0);
        let mut done: Vec<(usize, T)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads.min(count))
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= count {
                                return mine;
                            }
                            mine.push((i, f(i)));
                        }
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        done.sort_by_key(|(i, _)| *i);
        return done.into_iter().map(|(_, t)| t).collect();
    }
    let _ = threads; // one at a time: the browser's module has no threads
    (0..count).map(f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_batch_in_order_whatever_the_threads() {
        assert!(parts(0).is_empty());
        assert_eq!(parts(5), vec![0..5]);
        assert_eq!(parts(64), vec![0..32, 32..64]);
        assert_eq!(parts(65), vec![0..32, 32..64, 64..65]);
        let work = |i: usize| (0..1000 * (i % 3 + 1)).map(|k| (k * i) as u64).sum::<u64>();
        let one = map_parts(37, 1, work);
        for threads in [2, 3, 8, 64] {
            assert_eq!(map_parts(37, threads, work), one, "{threads} threads");
        }
    }

    #[test]
    #[should_panic(expected = "part 3")]
    fn a_panic_in_a_part_reaches_the_caller() {
        map_parts(8, 4, |i| if i == 3 { panic!("part {i}") } else { i });
    }
}

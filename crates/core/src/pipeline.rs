//! Running a stage on all cores over a bounded stream.
//!
//! One thread reads the source and cuts it into batches; worker threads turn batches into
//! results; the calling thread hands results to the sink, in input order when asked. Memory
//! is bounded whatever the input size: a batch is capped in messages and bytes, and a fixed
//! number of credits limits how many batches exist at once (the reader takes a credit before
//! it sends a batch, the sink returns it once the batch's result is written), so a slow batch
//! held up in order cannot let the others pile up behind it.

use std::collections::BTreeMap;

use crossbeam_channel::bounded;

use crate::ingest::Item;

/// How to run a pipeline.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads (at least one).
    pub threads: usize,
    /// Hand results to the sink in input order.
    pub ordered: bool,
    /// Most messages in a batch.
    pub batch_messages: usize,
    /// Most bytes in a batch (a single larger message still makes a batch of its own).
    pub batch_bytes: usize,
    /// Batches in flight per worker thread.
    pub batches_per_thread: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            ordered: false,
            batch_messages: 128,
            batch_bytes: 4 << 20,
            batches_per_thread: 4,
        }
    }
}

/// Reads `source`, runs `work` on batches of its items on `opts.threads` workers, and passes
/// each batch's result to `sink` on the calling thread. Stops at the first source or sink
/// error and returns it.
pub fn run<S, W, T, K, E>(source: S, opts: &Options, work: W, mut sink: K) -> Result<(), E>
where
    S: Iterator<Item = crate::Result<Item>> + Send,
    W: Fn(Vec<Item>) -> T + Sync,
    T: Send,
    K: FnMut(T) -> Result<(), E>,
    E: From<crate::Error>,
{
    let threads = opts.threads.max(1);
    let credits = threads * opts.batches_per_thread.max(1);
    let batch_messages = opts.batch_messages.max(1);
    std::thread::scope(|scope| {
        let (credit_tx, credit_rx) = bounded::<()>(credits);
        for _ in 0..credits {
            // Cannot fail: the channel has room for every credit and its receiver is alive.
            let _ = credit_tx.send(());
        }
        let (batch_tx, batch_rx) = bounded::<(u64, Vec<Item>)>(credits);
        let (result_tx, result_rx) = bounded::<(u64, T)>(credits);

        let reader = scope.spawn(move || -> crate::Result<()> {
            let mut seq = 0u64;
            let mut batch = Vec::with_capacity(batch_messages);
            let mut bytes = 0usize;
            let mut send = |batch: Vec<Item>| -> bool {
                let sent = credit_rx.recv().is_ok() && batch_tx.send((seq, batch)).is_ok();
                seq += 1;
                sent
            };
            for item in source {
                let item = item?;
                bytes += item.weight();
                batch.push(item);
                if batch.len() >= batch_messages || bytes >= opts.batch_bytes {
                    bytes = 0;
                    if !send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(batch_messages),
                    )) {
                        return Ok(());
                    }
                }
            }
            if !batch.is_empty() {
                send(batch);
            }
            Ok(())
        });

        let work = &work;
        for _ in 0..threads {
            let batch_rx = batch_rx.clone();
            let result_tx = result_tx.clone();
            scope.spawn(move || {
                for (seq, batch) in batch_rx {
                    if result_tx.send((seq, work(batch))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(batch_rx);
        drop(result_tx);

        let mut sink_result = Ok(());
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        'results: for (seq, result) in &result_rx {
            if !opts.ordered {
                sink_result = sink(result);
                let _ = credit_tx.send(());
                if sink_result.is_err() {
                    break;
                }
                continue;
            }
            pending.insert(seq, result);
            while let Some(result) = pending.remove(&next) {
                next += 1;
                sink_result = sink(result);
                let _ = credit_tx.send(());
                if sink_result.is_err() {
                    break 'results;
                }
            }
        }
        // Dropping these ends the reader and the workers early when the sink failed.
        drop(credit_tx);
        drop(result_rx);
        let read_result = match reader.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        sink_result?;
        read_result.map_err(E::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Origin, RawMail};

    fn items(n: usize) -> impl Iterator<Item = crate::Result<Item>> + Send {
        (0..n).map(|i| {
            Ok(Item::Mail(RawMail::new(
                Origin::Stdin { offset: i as u64 },
                vec![0; i % 7],
            )))
        })
    }

    fn offsets(batch: &[Item]) -> Vec<u64> {
        batch
            .iter()
            .map(|i| match i {
                Item::Mail(RawMail {
                    origin: Origin::Stdin { offset },
                    ..
                }) => *offset,
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn ordered_runs_keep_input_order_and_lose_nothing() {
        let opts = Options {
            threads: 3,
            ordered: true,
            batch_messages: 5,
            ..Options::default()
        };
        let mut seen = Vec::new();
        run(
            items(1003),
            &opts,
            |batch| offsets(&batch),
            |out| -> Result<(), crate::Error> {
                seen.extend(out);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..1003).collect::<Vec<_>>());
    }

    #[test]
    fn unordered_runs_lose_nothing_and_sink_errors_stop_the_run() {
        let opts = Options {
            threads: 2,
            batch_messages: 4,
            ..Options::default()
        };
        let mut seen = Vec::new();
        run(
            items(999),
            &opts,
            |b| offsets(&b),
            |out| -> Result<(), crate::Error> {
                seen.extend(out);
                Ok(())
            },
        )
        .unwrap();
        seen.sort_unstable();
        assert_eq!(seen, (0..999).collect::<Vec<_>>());

        let mut calls = 0;
        let err = run(
            items(100_000),
            &opts,
            |b| b.len(),
            |_| {
                calls += 1;
                if calls == 3 {
                    Err(crate::Error::BadSource {
                        spec: "sink".into(),
                        reason: "full".into(),
                    })
                } else {
                    Ok(())
                }
            },
        );
        assert!(err.is_err());
        assert_eq!(calls, 3);
    }

    #[test]
    fn source_errors_end_the_run() {
        let source = items(10).chain(std::iter::once(Err(crate::Error::BadSource {
            spec: "x".into(),
            reason: "broken".into(),
        })));
        let result = run(
            source,
            &Options::default(),
            |b| b.len(),
            |_| Ok::<(), crate::Error>(()),
        );
        assert!(matches!(result, Err(crate::Error::BadSource { .. })));
    }
}

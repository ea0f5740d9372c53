//! Concurrency gate with stake priority: when every slot is busy, waiting requests are served
//! highest stake first, and when the wait queue is full the lowest-stake request is shed.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::reject::Rejection;

type Key = (u64, Reverse<u64>);

#[derive(Debug)]
pub(crate) struct Gate {
    max_in_flight: usize,
    max_queued: usize,
    max_wait: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    seq: u64,
    // Ordered by (stake, oldest first); the last entry is served next, the first is shed first.
    waiting: BTreeMap<Key, oneshot::Sender<()>>,
}

/// A held slot; released on drop (handing it to the best waiter, if any).
#[derive(Debug)]
pub(crate) struct Permit {
    gate: Arc<Gate>,
}

fn stake_key(stake: f64) -> u64 {
    // Non-negative finite floats order like their bit patterns.
    if stake.is_finite() && stake > 0.0 {
        stake.to_bits()
    } else {
        0
    }
}

impl Gate {
    pub(crate) fn new(max_in_flight: usize, max_queued: usize, max_wait: Duration) -> Arc<Self> {
        Arc::new(Gate {
            max_in_flight: max_in_flight.max(1),
            max_queued,
            max_wait,
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) async fn acquire(self: &Arc<Self>, stake: f64) -> Result<Permit, Rejection> {
        let (key, mut rx) = {
            let mut st = self.lock();
            if st.in_flight < self.max_in_flight {
                st.in_flight += 1;
                return Ok(Permit { gate: self.clone() });
            }
            st.seq += 1;
            let key = (stake_key(stake), Reverse(st.seq));
            if st.waiting.len() >= self.max_queued {
                match st.waiting.first_key_value() {
                    // Dropping the evicted sender wakes that waiter with `Saturated`.
                    Some((lowest, _)) if *lowest < key => {
                        st.waiting.pop_first();
                    }
                    _ => return Err(Rejection::Saturated),
                }
            }
            let (tx, rx) = oneshot::channel();
            st.waiting.insert(key, tx);
            (key, rx)
        };
        match tokio::time::timeout(self.max_wait, &mut rx).await {
            Ok(Ok(())) => Ok(Permit { gate: self.clone() }),
            Ok(Err(_)) => Err(Rejection::Saturated),
            Err(_) => {
                let mut st = self.lock();
                if st.waiting.remove(&key).is_some() {
                    return Err(Rejection::Saturated);
                }
                drop(st);
                // Removed by someone else: either granted (take the slot) or evicted.
                match rx.try_recv() {
                    Ok(()) => Ok(Permit { gate: self.clone() }),
                    Err(_) => Err(Rejection::Saturated),
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut st = self.gate.lock();
        while let Some((_, tx)) = st.waiting.pop_last() {
            // A failed send means that waiter gave up; try the next one.
            if tx.send(()).is_ok() {
                return;
            }
        }
        st.in_flight -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_highest_stake_first_and_sheds_lowest() {
        let gate = Gate::new(1, 2, Duration::from_secs(5));
        let held = gate.acquire(1.0).await.unwrap();
        let g = gate.clone();
        let low = tokio::spawn(async move { g.acquire(10.0).await.map(drop) });
        tokio::task::yield_now().await;
        let g = gate.clone();
        let high = tokio::spawn(async move {
            let p = g.acquire(1000.0).await?;
            Ok::<_, Rejection>((p, std::time::Instant::now()))
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Queue full (10, 1000): a 5-stake request is refused at once; a 50-stake one evicts 10.
        assert_eq!(gate.acquire(5.0).await.unwrap_err(), Rejection::Saturated);
        let g = gate.clone();
        let mid = tokio::spawn(async move { g.acquire(50.0).await.map(drop) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(low.await.unwrap(), Err(Rejection::Saturated));
        drop(held);
        let (p, _) = high.await.unwrap().unwrap();
        assert_eq!(gate.in_flight(), 1);
        drop(p);
        mid.await.unwrap().unwrap();
        assert_eq!(gate.in_flight(), 0);
    }

    #[tokio::test]
    async fn waiters_time_out() {
        let gate = Gate::new(1, 4, Duration::from_millis(30));
        let _held = gate.acquire(1.0).await.unwrap();
        assert_eq!(gate.acquire(1.0).await.unwrap_err(), Rejection::Saturated);
        assert_eq!(gate.in_flight(), 1);
    }
}

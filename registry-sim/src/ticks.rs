//! The clock-watch barrier. Participants in other processes (the backorder service's
//! catcher) subscribe to ticks; in manual mode an advance returns only after every subscribed
//! participant has acknowledged the new tick, so each gets to act at every virtual instant
//! before time moves on. A participant that disconnects is dropped; one that stops answering
//! is dropped after a real-time timeout so that one stuck client cannot hang a test run.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tick {
    pub participant_id: String,
    pub tick: i64,
    pub now: DateTime<Utc>,
}

#[derive(Debug)]
struct Participant {
    tx: mpsc::Sender<Tick>,
    acked: i64,
}

#[derive(Debug, Default)]
struct HubState {
    next_id: u64,
    tick: i64,
    participants: BTreeMap<String, Participant>,
}

#[derive(Debug)]
pub struct TickHub {
    state: Mutex<HubState>,
    acked: Notify,
    ack_timeout: Duration,
}

impl TickHub {
    pub fn new(ack_timeout: Duration) -> Self {
        TickHub {
            state: Mutex::new(HubState::default()),
            acked: Notify::new(),
            ack_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        // A panic elsewhere must not wedge the barrier: the state stays consistent per call.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a participant; the first tick it receives (the current one) carries its id.
    pub fn subscribe(&self, name: &str, now: DateTime<Utc>) -> mpsc::Receiver<Tick> {
        let (tx, rx) = mpsc::channel(64);
        let mut state = self.lock();
        state.next_id += 1;
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(32)
            .collect();
        let id = format!(
            "p{}-{}",
            state.next_id,
            if clean.is_empty() { "anon" } else { &clean }
        );
        let tick = Tick {
            participant_id: id.clone(),
            tick: state.tick,
            now,
        };
        // Fresh channel with room: this send cannot fail for lack of space.
        let _ = tx.try_send(tick);
        let acked = state.tick;
        state.participants.insert(id, Participant { tx, acked });
        rx
    }

    pub fn ack(&self, participant_id: &str, tick: i64) -> Result<(), String> {
        let mut state = self.lock();
        let participant = state
            .participants
            .get_mut(participant_id)
            .ok_or_else(|| format!("participant_id `{participant_id}` is not subscribed"))?;
        participant.acked = participant.acked.max(tick);
        drop(state);
        self.acked.notify_waiters();
        Ok(())
    }

    /// Ends every participant's stream (server shutdown).
    pub fn close_all(&self) {
        self.lock().participants.clear();
        self.acked.notify_waiters();
    }

    pub fn participants(&self) -> usize {
        self.lock().participants.len()
    }

    /// Participants whose stream is still open (one that disconnected is not counted even
    /// before the next tick drops it).
    pub fn connected(&self) -> usize {
        self.lock()
            .participants
            .values()
            .filter(|p| !p.tx.is_closed())
            .count()
    }

    /// Sends a new tick to everyone and returns its number.
    pub fn broadcast(&self, now: DateTime<Utc>) -> i64 {
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        state.participants.retain(|id, p| match p.tx.try_send(Tick { participant_id: id.clone(), tick, now }) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            // A participant 64 ticks behind has stopped reading: treat it as gone.
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(participant = %id, "dropping a participant that stopped reading ticks");
                false
            }
        });
        tick
    }

    /// Waits until every participant acknowledged `tick` (or left).
    pub async fn wait_for(&self, tick: i64) {
        let deadline = tokio::time::Instant::now() + self.ack_timeout;
        loop {
            let notified = self.acked.notified();
            {
                let mut state = self.lock();
                state.participants.retain(|_, p| !p.tx.is_closed());
                if state.participants.values().all(|p| p.acked >= tick) {
                    return;
                }
            }
            tokio::select! {
                _ = notified => {}
                // Disconnects do not notify: look again now and then.
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = tokio::time::sleep_until(deadline) => {
                    let mut state = self.lock();
                    state.participants.retain(|id, p| {
                        let keep = p.acked >= tick;
                        if !keep {
                            tracing::warn!(participant = %id, tick, "dropping a participant that did not acknowledge in time");
                        }
                        keep
                    });
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[tokio::test]
    async fn advance_waits_for_every_ack() {
        let hub = Arc::new(TickHub::new(Duration::from_secs(10)));
        let mut rx = hub.subscribe("catcher", now());
        let hello = rx.recv().await.unwrap();
        let tick = hub.broadcast(now());
        let waiter = tokio::spawn({
            let hub = Arc::clone(&hub);
            async move { hub.wait_for(tick).await }
        });
        let got = rx.recv().await.unwrap();
        assert_eq!(got.tick, tick);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "the advance must wait for the ack");
        hub.ack(&hello.participant_id, tick).unwrap();
        waiter.await.unwrap();
        assert!(hub.ack("nobody", 1).is_err());
    }

    #[tokio::test]
    async fn a_participant_that_leaves_does_not_block() {
        let hub = TickHub::new(Duration::from_secs(10));
        let rx = hub.subscribe("gone", now());
        let tick = hub.broadcast(now());
        drop(rx);
        tokio::time::timeout(Duration::from_secs(2), hub.wait_for(tick))
            .await
            .unwrap();
        assert_eq!(hub.participants(), 0);
    }

    #[test]
    fn a_disconnected_participant_is_not_counted_as_connected() {
        let hub = TickHub::new(Duration::from_secs(10));
        let rx = hub.subscribe("gone", now());
        assert_eq!(hub.connected(), 1);
        drop(rx);
        assert_eq!(hub.connected(), 0);
        assert_eq!(hub.participants(), 1, "dropped only at the next tick");
    }

    #[tokio::test]
    async fn a_silent_participant_is_dropped_after_the_timeout() {
        let hub = TickHub::new(Duration::from_millis(100));
        let _rx = hub.subscribe("silent", now());
        let tick = hub.broadcast(now());
        tokio::time::timeout(Duration::from_secs(2), hub.wait_for(tick))
            .await
            .unwrap();
        assert_eq!(hub.participants(), 0);
    }
}

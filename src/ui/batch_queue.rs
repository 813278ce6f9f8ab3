//! The analyses of the session: inputs waiting to be sent, the batch the worker is running,
//! progress (`done/total` since the queue was last empty) and cancelling. Plain data; the
//! session turns what it says into input statuses and the window into worker jobs.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Most inputs sent in one [`crate::engine::Job::AnalyzeBatch`] (later ones go in the next).
pub const MAX_BATCH_INPUTS: usize = 512;

/// A batch to send: `(input key, request id)` pairs in order, and its cancel flag.
pub type StartedBatch = (Vec<(u64, u64)>, Arc<AtomicBool>);

/// Waiting and running analyses.
#[derive(Debug, Default)]
pub struct AnalysisQueue {
    /// Input keys waiting to be sent, in order.
    waiting: VecDeque<u64>,
    /// Request ids sent to the worker and not answered yet.
    running: HashSet<u64>,
    /// Cancel flag shared with the worker's running batch.
    cancel: Option<Arc<AtomicBool>>,
    /// Requests answered (analysed, failed or cancelled) since the queue was last empty.
    answered: usize,
}

impl AnalysisQueue {
    /// True while anything waits or runs.
    pub fn busy(&self) -> bool {
        !self.waiting.is_empty() || !self.running.is_empty()
    }

    /// `(done, total)` of the analyses since the queue was last empty, while busy.
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.busy().then(|| {
            let total = self.answered + self.running.len() + self.waiting.len();
            (self.answered, total)
        })
    }

    /// Keys waiting to be sent, in order.
    pub fn waiting(&self) -> impl Iterator<Item = u64> + '_ {
        self.waiting.iter().copied()
    }

    /// Number of requests the worker is running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// True when `request_id` was sent and not answered yet.
    pub fn is_running(&self, request_id: u64) -> bool {
        self.running.contains(&request_id)
    }

    /// Queues `key` at the end unless it already waits.
    pub fn push(&mut self, key: u64) {
        if !self.waiting.contains(&key) {
            self.waiting.push_back(key);
        }
    }

    /// Forgets a waiting key.
    pub fn remove(&mut self, key: u64) {
        self.waiting.retain(|k| *k != key);
    }

    /// When nothing runs: takes up to [`MAX_BATCH_INPUTS`] waiting keys for which `request`
    /// gives a request id (keys without one are dropped), marks those ids running and returns
    /// them with the new batch's cancel flag.
    pub fn start_batch(
        &mut self,
        mut request: impl FnMut(u64) -> Option<u64>,
    ) -> Option<StartedBatch> {
        if !self.running.is_empty() {
            return None;
        }
        let mut batch = Vec::new();
        while batch.len() < MAX_BATCH_INPUTS
            && let Some(key) = self.waiting.pop_front()
        {
            if let Some(id) = request(key) {
                batch.push((key, id));
            }
        }
        if batch.is_empty() {
            self.settle();
            return None;
        }
        self.running.extend(batch.iter().map(|(_, id)| *id));
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancel = Some(cancel.clone());
        Some((batch, cancel))
    }

    /// The worker answered `request_id`. False when it was not running (an old request).
    pub fn answered(&mut self, request_id: u64) -> bool {
        let was = self.running.remove(&request_id);
        if was {
            self.answered += 1;
            self.settle();
        }
        was
    }

    /// The whole batch failed: every running request id, now answered.
    pub fn fail_running(&mut self) -> Vec<u64> {
        let ids: Vec<u64> = self.running.drain().collect();
        self.answered += ids.len();
        self.settle();
        ids
    }

    /// Cancels: empties the waiting list (returning its keys, now counted as done) and tells
    /// the worker to stop its batch after the current chunk.
    pub fn cancel(&mut self) -> Vec<u64> {
        if let Some(flag) = &self.cancel {
            flag.store(true, Ordering::Relaxed);
        }
        let keys: Vec<u64> = self.waiting.drain(..).collect();
        self.answered += keys.len();
        self.settle();
        keys
    }

    /// Tells the worker to stop its batch after the current chunk (its unstarted inputs come
    /// back cancelled); waiting keys stay.
    pub fn stop_running(&self) {
        if let Some(flag) = &self.cancel {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Forgets everything (a new model re-analyses every input); the worker's batch, if any,
    /// is told to stop.
    pub fn reset(&mut self) {
        if let Some(flag) = self.cancel.take() {
            flag.store(true, Ordering::Relaxed);
        }
        *self = AnalysisQueue::default();
    }

    /// Progress starts again once the queue is empty.
    fn settle(&mut self) {
        if !self.busy() {
            self.answered = 0;
            self.cancel = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_from_the_last_empty_queue() {
        let mut q = AnalysisQueue::default();
        assert_eq!(q.progress(), None);
        for key in 1..=3 {
            q.push(key);
        }
        q.push(2);
        assert_eq!(q.progress(), Some((0, 3)), "a key waits once");
        let (batch, cancel) = q.start_batch(|k| Some(k * 10)).unwrap();
        assert_eq!(batch, vec![(1, 10), (2, 20), (3, 30)]);
        assert!(q.start_batch(Some).is_none(), "one batch at a time");
        assert!(q.answered(10));
        assert!(!q.answered(99), "an unknown request is not counted");
        q.push(4);
        assert_eq!(q.progress(), Some((1, 4)));
        assert_eq!(q.cancel(), vec![4]);
        assert!(cancel.load(Ordering::Relaxed), "the worker is told to stop");
        assert_eq!(q.progress(), Some((2, 4)));
        assert!(q.answered(20) && q.answered(30));
        assert_eq!(q.progress(), None);
        q.push(5);
        assert_eq!(q.progress(), Some((0, 1)), "a new run counts from zero");
    }

    #[test]
    fn batches_are_capped_and_keys_without_a_request_are_dropped() {
        let mut q = AnalysisQueue::default();
        for key in 0..(MAX_BATCH_INPUTS as u64 + 10) {
            q.push(key);
        }
        let (batch, _) = q.start_batch(|k| (k != 0).then_some(k)).unwrap();
        assert_eq!(batch.len(), MAX_BATCH_INPUTS);
        assert_eq!(batch[0], (1, 1), "key 0 has no request and is skipped");
        assert_eq!(q.waiting().count(), 9);
    }
}

//! The Dojo v2 round (spec §2.5, §4.10), run when the mechanism is `dojo-v2-votes`.
//!
//! A round takes one synthetic task and plans it with [`crate::duel::plan`]: every active miner
//! generates once, in a PvP pairing, a duel against the validator's reference, or a trap (the
//! negative generator is sent the augmented prompt; in a duel trap the validator's own completion
//! is the degraded answer). Each planned task then moves through the store as one document:
//!
//! `generating` (assignments sent; after the generation deadline the completions are fetched and
//! given opaque ids) → `voting` (every active miner is asked to vote between the candidates, in an
//! order of its own) → `collected` (votes fetched after the vote deadline) → `scored` (the vote
//! mechanism's scores folded into the moving average with the same transaction as v1). A task with
//! fewer than two completions ends `void` and scores nobody. Each move is one conditional update,
//! so a restart resumes where the store says and never scores a task twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use dojo_proto::v1;
use dojo_scoring::TaskScores;
use dojo_transport::{AxonTarget, CallOutcome};
use dojo_types::chain::Chain;
use dojo_types::task::{
    Completion, CompletionContent, GenerationResult, GenerationTask, RoleOutcome, TaskType,
    VoteResult, VoteTask,
};
use dojo_types::{CompletionId, Hotkey, TaskId};
use prost::Message as _;
use rand::SeedableRng as _;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use super::{ServiceError, Validator, backoff, now_ms, retry};
use crate::duel::{self, Pairing};
use crate::store::{StoreError, TaskTable};

/// A completion as the validator keeps it: its opaque id and the protobuf `Completion` (hex), so
/// the document stays JSON without a serde form of every content kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kept {
    id: CompletionId,
    pb: String,
}

impl Kept {
    fn new(c: Completion) -> Self {
        Self {
            id: c.id.clone(),
            pb: hex::encode(v1::Completion::from(c).encode_to_vec()),
        }
    }

    fn completion(&self) -> Result<Completion, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            table: "v2_tasks",
            reason,
        };
        let bytes = hex::decode(&self.pb).map_err(|e| corrupt(e.to_string()))?;
        let pb = v1::Completion::decode(bytes.as_slice()).map_err(|e| corrupt(e.to_string()))?;
        Completion::try_from(pb).map_err(|e| corrupt(e.to_string()))
    }
}

/// One v2 task's whole state, stored as the `body` of its `v2_tasks` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Doc {
    pairing: Pairing,
    prompt: String,
    augmented_prompt: String,
    /// The validator's completion in a duel: the reference, or the augmented answer in a trap.
    validator_completion: Option<Kept>,
    generation_deadline_ms: i64,
    vote_deadline_ms: i64,
    /// Generator → how sending its assignment went (`acked`, `declined`, a call outcome).
    #[serde(default)]
    generation_sent: BTreeMap<Hotkey, String>,
    /// Generator → what fetching its completion gave (`accepted`, `rejected`, …).
    #[serde(default)]
    generation_outcomes: BTreeMap<Hotkey, String>,
    /// Generator → its completion, under the validator's opaque id.
    #[serde(default)]
    delivered: BTreeMap<Hotkey, Kept>,
    /// The miners asked to vote (all active miners when voting opened).
    #[serde(default)]
    voters: Vec<Hotkey>,
    #[serde(default)]
    vote_sent: BTreeMap<Hotkey, String>,
    #[serde(default)]
    vote_outcomes: BTreeMap<Hotkey, String>,
    /// Voter → the completion it chose (always one of the candidates).
    #[serde(default)]
    votes: BTreeMap<Hotkey, CompletionId>,
}

impl Doc {
    fn delivered_ids(&self) -> BTreeMap<Hotkey, CompletionId> {
        self.delivered
            .iter()
            .map(|(h, k)| (h.clone(), k.id.clone()))
            .collect()
    }

    fn candidates(&self) -> Result<Vec<CompletionId>, duel::VoidTask> {
        duel::candidates(
            &self.pairing,
            &self.delivered_ids(),
            self.validator_completion.as_ref().map(|k| &k.id),
        )
    }

    /// The prompt generator `g` is sent: the augmented one for a miner that is the trap.
    fn prompt_for(&self, g: &Hotkey) -> &str {
        if !self.pairing.duel && self.pairing.negative_generator.as_ref() == Some(g) {
            &self.augmented_prompt
        } else {
            &self.prompt
        }
    }
}

fn opaque_id() -> CompletionId {
    CompletionId::new(uuid::Uuid::new_v4().simple().to_string())
        .expect("a uuid is a valid completion id")
}

fn encode(doc: &Doc) -> Result<String, StoreError> {
    serde_json::to_string(doc).map_err(|e| StoreError::Corrupt {
        table: "v2_tasks",
        reason: e.to_string(),
    })
}

fn decode(body: &str) -> Result<Doc, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        table: "v2_tasks",
        reason: e.to_string(),
    })
}

/// Whether a generator's completion can be shown to voters: some content, and for code, some
/// file with something in it.
fn usable(c: &CompletionContent) -> bool {
    match c {
        CompletionContent::Text(t) => !t.trim().is_empty(),
        CompletionContent::Code { files, .. } => files.iter().any(|f| !f.content.trim().is_empty()),
        CompletionContent::Dialogue(turns) => !turns.is_empty(),
        CompletionContent::Media(files) => files.iter().any(|f| !f.content.is_empty()),
    }
}

/// The targets among `who` whose assignment was acked, to fetch from; for the others the outcome
/// is recorded at once: `deregistered` when they left the metagraph, else how the send went.
fn acked(
    who: &[Hotkey],
    sent: &BTreeMap<Hotkey, String>,
    targets: &BTreeMap<Hotkey, AxonTarget>,
    outcomes: &mut BTreeMap<Hotkey, String>,
) -> Vec<AxonTarget> {
    let mut out = Vec::new();
    for h in who {
        match (targets.get(h), sent.get(h).map(String::as_str)) {
            (None, _) => {
                outcomes.insert(h.clone(), "deregistered".into());
            }
            (Some(t), Some("acked")) => out.push(t.clone()),
            (Some(_), label) => {
                outcomes.insert(h.clone(), label.unwrap_or("unsent").to_owned());
            }
        }
    }
    out
}

fn ack_label(o: &CallOutcome<v1::TaskAck>) -> &'static str {
    match o {
        CallOutcome::Success { response, .. } if !response.miner_task_id.is_empty() => "acked",
        CallOutcome::Success { .. } => "declined",
        other => other.kind(),
    }
}

impl<C: Chain + 'static> Validator<C> {
    /// Whether rounds are Dojo v2 vote rounds (the `dojo-v2-votes` mechanism).
    pub(super) fn votes_round(&self) -> bool {
        self.mechanism.name() == dojo_scoring::Votes::NAME
    }

    fn targets(&self) -> BTreeMap<Hotkey, AxonTarget> {
        self.miner_targets()
            .into_iter()
            .map(|m| (m.target.hotkey.clone(), m.target))
            .collect()
    }

    fn v2_store_error(&self, step: &str, e: &StoreError) {
        if !matches!(e, StoreError::Conflict(_)) {
            self.store_error(step, e);
        }
    }

    /// One v2 round: plan the active miners into tasks, store them, send the generation
    /// assignments. Returns the wait before the next round.
    pub(super) async fn v2_round(&self) -> Result<Duration, ServiceError> {
        let round = self.config.intervals.round;
        let miners: Vec<Hotkey> = self
            .shared()
            .active
            .iter()
            .map(|m| m.target.hotkey.clone())
            .collect();
        if miners.is_empty() {
            self.metrics
                .inc("dojo_rounds_total", &[("outcome", "skipped_no_miners")]);
            return Ok(round);
        }
        let qa = match self.fetch_qa(round).await {
            Ok(qa) => qa,
            Err(wait) => return Ok(wait),
        };
        let probe = TaskId::new("v2-probe").expect("a valid task id");
        let (min, max) = self.config.score_bounds;
        // The ground truth says which of the synthetic completions is the reference (rank 0) and
        // which the most degraded; `to_task` checks the QA is coherent on the way.
        let (task, truth) = match qa.to_task(probe, i64::MAX, min, max) {
            Ok(t) => t,
            Err(e) => {
                self.metrics
                    .inc("dojo_rounds_total", &[("outcome", "synthetic_invalid")]);
                tracing::warn!(error = %e, "synthetic task refused");
                return Ok(backoff(round));
            }
        };
        let by_id: BTreeMap<&CompletionId, &Completion> =
            task.completions.iter().map(|c| (&c.id, c)).collect();
        let order: Vec<&CompletionId> = truth.best_first().collect();
        let pick = |id: Option<&&CompletionId>| {
            id.and_then(|id| by_id.get(*id)).map(|c| {
                Kept::new(Completion {
                    id: opaque_id(),
                    content: c.content.clone(),
                })
            })
        };
        let (Some(reference), Some(degraded)) = (pick(order.first()), pick(order.last())) else {
            self.metrics
                .inc("dojo_rounds_total", &[("outcome", "synthetic_invalid")]);
            return Ok(backoff(round));
        };
        let augmented_prompt = qa.augmented_prompts.last().cloned().unwrap_or_default();
        let mut plan = {
            let mut rng = self
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            duel::plan(
                &miners,
                &self.config.hotkey,
                duel::DUEL_PERCENT,
                duel::TRAP_PERCENT,
                &mut *rng,
            )
        };
        // Without an augmented prompt a miner cannot be made the trap; a duel trap still can (the
        // validator's degraded answer is the negative output), so only those stay traps.
        if augmented_prompt.is_empty() {
            for p in plan.iter_mut().filter(|p| !p.duel) {
                p.kind = dojo_scoring::VoteKind::Pvp;
                p.negative_generator = None;
            }
        }
        let now = now_ms();
        let span =
            i64::try_from(self.config.intervals.task_deadline.as_millis()).unwrap_or(i64::MAX);
        let generation_deadline_ms = now.saturating_add(span);
        let mut docs = Vec::with_capacity(plan.len());
        for pairing in plan {
            let validator_completion = pairing.duel.then(|| {
                if pairing.kind == dojo_scoring::VoteKind::Trap {
                    degraded.clone()
                } else {
                    reference.clone()
                }
            });
            let id =
                TaskId::new(uuid::Uuid::new_v4().to_string()).expect("a uuid is a valid task id");
            docs.push((
                id,
                Doc {
                    pairing,
                    prompt: qa.prompt.clone(),
                    augmented_prompt: augmented_prompt.clone(),
                    validator_completion,
                    generation_deadline_ms,
                    vote_deadline_ms: generation_deadline_ms.saturating_add(span),
                    generation_sent: BTreeMap::new(),
                    generation_outcomes: BTreeMap::new(),
                    delivered: BTreeMap::new(),
                    voters: Vec::new(),
                    vote_sent: BTreeMap::new(),
                    vote_outcomes: BTreeMap::new(),
                    votes: BTreeMap::new(),
                },
            ));
        }
        let rows: Result<Vec<(TaskId, i64, String)>, StoreError> = docs
            .iter()
            .map(|(id, d)| Ok((id.clone(), generation_deadline_ms, encode(d)?)))
            .collect();
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                self.store_error("insert_v2", &e);
                return Ok(backoff(round));
            }
        };
        // Persist before sending: a crash after this point resumes the sends at collection.
        if let Err(e) = retry(|| self.store.insert_v2(&rows, now)).await {
            self.store_error("insert_v2", &e);
            return Ok(backoff(round));
        }
        let targets = self.targets();
        let mut sends = JoinSet::new();
        for (id, mut doc) in docs {
            let (v, targets) = (self.dendrite.clone(), targets.clone());
            sends.spawn(async move {
                send_generations(&v, &targets, &id, &mut doc).await;
                (id, doc)
            });
        }
        let tasks = sends.len();
        while let Some(joined) = sends.join_next().await {
            let Ok((id, doc)) = joined else { continue };
            self.record_sends(
                &id,
                "generating",
                doc.generation_deadline_ms,
                &doc,
                "generation",
            )
            .await;
        }
        self.metrics
            .inc("dojo_rounds_total", &[("outcome", "sent")]);
        tracing::info!(tasks, miners = miners.len(), "v2 round sent");
        Ok(round)
    }

    /// Writes the send outcomes just recorded in `doc`, and counts them.
    async fn record_sends(&self, id: &TaskId, phase: &str, expire_ms: i64, doc: &Doc, role: &str) {
        let sent = if role == "generation" {
            &doc.generation_sent
        } else {
            &doc.vote_sent
        };
        for label in sent.values() {
            self.metrics.inc(
                "dojo_v2_assignments_total",
                &[("role", role), ("outcome", label)],
            );
        }
        let r = match encode(doc) {
            Ok(body) => {
                self.store
                    .advance_v2(id, phase, phase, expire_ms, &body)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            self.v2_store_error("record_v2_sends", &e);
        }
    }

    /// Moves v2 tasks on: resends what a restart interrupted, closes generation phases that
    /// expired (opening their votes), and closes vote phases that expired. Returns how many tasks
    /// changed phase.
    pub(super) async fn v2_collect(&self) -> Result<usize, ServiceError> {
        let now = now_ms();
        let targets = self.targets();
        self.v2_resume(&targets, now).await;
        let mut moved = 0;
        let due = match self.store.v2_tasks_in("generating", Some(now), 64).await {
            Ok(d) => d,
            Err(e) => {
                self.store_error("v2_generating", &e);
                return Ok(0);
            }
        };
        for id in due {
            if self.close_generation(&id, &targets).await {
                moved += 1;
            }
        }
        let due = match self.store.v2_tasks_in("voting", Some(now_ms()), 64).await {
            Ok(d) => d,
            Err(e) => {
                self.store_error("v2_voting", &e);
                return Ok(moved);
            }
        };
        for id in due {
            if self.close_voting(&id, &targets).await {
                moved += 1;
            }
        }
        Ok(moved)
    }

    async fn load_doc(&self, id: &TaskId) -> Option<(String, Doc)> {
        match self
            .store
            .load_v2(id)
            .await
            .and_then(|(s, b)| Ok((s, decode(&b)?)))
        {
            Ok(x) => Some(x),
            Err(e) => {
                self.store_error("load_v2", &e);
                None
            }
        }
    }

    /// Sends the assignments of open phases that have no recorded send (a restart came between
    /// storing the phase and sending it).
    async fn v2_resume(&self, targets: &BTreeMap<Hotkey, AxonTarget>, now: i64) {
        for phase in ["generating", "voting"] {
            let open = match self.store.v2_tasks_in(phase, None, 256).await {
                Ok(ids) => ids,
                Err(e) => {
                    self.store_error("v2_open", &e);
                    return;
                }
            };
            for id in open {
                let Some((_, mut doc)) = self.load_doc(&id).await else {
                    continue;
                };
                if phase == "generating"
                    && doc.generation_sent.is_empty()
                    && doc.generation_deadline_ms > now
                {
                    tracing::info!(task = %id, "resending v2 generation assignments after a restart");
                    send_generations(&self.fetch_dendrite, targets, &id, &mut doc).await;
                    self.record_sends(&id, phase, doc.generation_deadline_ms, &doc, "generation")
                        .await;
                } else if phase == "voting"
                    && doc.vote_sent.is_empty()
                    && doc.vote_deadline_ms > now
                {
                    tracing::info!(task = %id, "resending v2 vote assignments after a restart");
                    send_votes(&self.fetch_dendrite, targets, &id, &mut doc).await;
                    self.record_sends(&id, phase, doc.vote_deadline_ms, &doc, "vote")
                        .await;
                }
            }
        }
    }

    /// After the generation deadline: fetch every acked generator's completion, then open the
    /// vote (or void the task). Returns whether the task left `generating`.
    async fn close_generation(&self, id: &TaskId, targets: &BTreeMap<Hotkey, AxonTarget>) -> bool {
        let Some((status, mut doc)) = self.load_doc(id).await else {
            return false;
        };
        if status != "generating" {
            return false;
        }
        let mut fetches = JoinSet::new();
        for t in acked(
            &doc.pairing.generators,
            &doc.generation_sent,
            targets,
            &mut doc.generation_outcomes,
        ) {
            let (d, req) = (
                self.fetch_dendrite.clone(),
                v1::FetchResultsRequest {
                    task_id: id.to_string(),
                },
            );
            fetches.spawn(async move {
                let o = d
                    .call_roles(
                        &t,
                        req,
                        |mut c, r| async move { c.fetch_generation(r).await },
                    )
                    .await;
                (t.hotkey, o)
            });
        }
        while let Some(joined) = fetches.join_next().await {
            let Ok((g, o)) = joined else { continue };
            let label = match o {
                CallOutcome::Success { response, .. } => match GenerationResult::try_from(response)
                {
                    Err(e) => {
                        tracing::info!(miner = %g, task = %id, error = %e, "malformed generation result");
                        "malformed"
                    }
                    Ok(r) if r.task != *id => "wrong_task",
                    Ok(r) => match r.outcome {
                        RoleOutcome::Complete(written) if usable(&written.completion.content) => {
                            doc.delivered.insert(
                                g.clone(),
                                Kept::new(Completion {
                                    id: opaque_id(),
                                    content: written.completion.content,
                                }),
                            );
                            "accepted"
                        }
                        RoleOutcome::Complete(_) => "empty",
                        RoleOutcome::Pending => "pending",
                        RoleOutcome::Expired => "expired",
                        RoleOutcome::Declined => "declined",
                    },
                },
                other => {
                    tracing::info!(miner = %g, task = %id, outcome = ?other, "generation not fetched");
                    other.kind()
                }
            };
            self.metrics.inc(
                "dojo_v2_responses_total",
                &[("role", "generation"), ("outcome", label)],
            );
            doc.generation_outcomes.insert(g, label.to_owned());
        }
        if let Err(void) = doc.candidates() {
            tracing::info!(task = %id, reason = %void, "v2 task void: nothing to vote on");
            self.metrics
                .inc("dojo_v2_tasks_total", &[("outcome", "void")]);
            let r = match encode(&doc) {
                Ok(body) => {
                    self.store
                        .advance_v2(id, "generating", "void", now_ms(), &body)
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                self.v2_store_error("void_v2", &e);
                return false;
            }
            return true;
        }
        doc.voters = self
            .shared()
            .active
            .iter()
            .map(|m| m.target.hotkey.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // A validator that was down past the vote deadline gives the vote a full window anyway.
        let span =
            i64::try_from(self.config.intervals.task_deadline.as_millis()).unwrap_or(i64::MAX);
        doc.vote_deadline_ms = doc.vote_deadline_ms.max(now_ms().saturating_add(span / 2));
        let body = match encode(&doc) {
            Ok(b) => b,
            Err(e) => {
                self.store_error("open_vote", &e);
                return false;
            }
        };
        if let Err(e) = self
            .store
            .advance_v2(id, "generating", "voting", doc.vote_deadline_ms, &body)
            .await
        {
            self.v2_store_error("open_vote", &e);
            return false;
        }
        send_votes(&self.fetch_dendrite, targets, id, &mut doc).await;
        self.record_sends(id, "voting", doc.vote_deadline_ms, &doc, "vote")
            .await;
        true
    }

    /// After the vote deadline: fetch every acked voter's vote and mark the task collected.
    async fn close_voting(&self, id: &TaskId, targets: &BTreeMap<Hotkey, AxonTarget>) -> bool {
        let Some((status, mut doc)) = self.load_doc(id).await else {
            return false;
        };
        if status != "voting" {
            return false;
        }
        let shown: BTreeSet<CompletionId> =
            doc.candidates().unwrap_or_default().into_iter().collect();
        let mut fetches = JoinSet::new();
        for t in acked(&doc.voters, &doc.vote_sent, targets, &mut doc.vote_outcomes) {
            let (d, req) = (
                self.fetch_dendrite.clone(),
                v1::FetchResultsRequest {
                    task_id: id.to_string(),
                },
            );
            fetches.spawn(async move {
                let o = d
                    .call_roles(&t, req, |mut c, r| async move { c.fetch_vote(r).await })
                    .await;
                (t.hotkey, o)
            });
        }
        while let Some(joined) = fetches.join_next().await {
            let Ok((v, o)) = joined else { continue };
            let label = match o {
                CallOutcome::Success { response, .. } => match VoteResult::try_from(response) {
                    Err(e) => {
                        tracing::info!(miner = %v, task = %id, error = %e, "malformed vote");
                        "malformed"
                    }
                    Ok(r) if r.task != *id => "wrong_task",
                    Ok(r) => match r.outcome {
                        RoleOutcome::Complete(vote) if shown.contains(&vote.chosen) => {
                            doc.votes.insert(v.clone(), vote.chosen);
                            "accepted"
                        }
                        RoleOutcome::Complete(_) => "not_a_candidate",
                        RoleOutcome::Pending => "pending",
                        RoleOutcome::Expired => "expired",
                        RoleOutcome::Declined => "declined",
                    },
                },
                other => {
                    tracing::info!(miner = %v, task = %id, outcome = ?other, "vote not fetched");
                    other.kind()
                }
            };
            self.metrics.inc(
                "dojo_v2_responses_total",
                &[("role", "vote"), ("outcome", label)],
            );
            if label == "not_a_candidate" || label == "malformed" || label == "wrong_task" {
                self.metrics
                    .inc("dojo_rejections_total", &[("reason", label)]);
            }
            doc.vote_outcomes.insert(v, label.to_owned());
        }
        let r = match encode(&doc) {
            Ok(body) => {
                self.store
                    .advance_v2(id, "voting", "collected", now_ms(), &body)
                    .await
            }
            Err(e) => Err(e),
        };
        match r {
            Ok(()) => {
                self.metrics
                    .inc("dojo_v2_tasks_total", &[("outcome", "collected")]);
                true
            }
            Err(e) => {
                self.v2_store_error("close_vote", &e);
                false
            }
        }
    }

    /// One scoring pass over collected v2 tasks with the vote mechanism.
    pub(super) async fn v2_score(&self) -> Result<usize, ServiceError> {
        let ids = match self
            .store
            .v2_tasks_in("collected", None, self.config.scoring_batch as i64)
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                self.store_error("v2_collected", &e);
                return Ok(0);
            }
        };
        if ids.is_empty() {
            return Ok(0);
        }
        let start = Instant::now();
        let mut all = Vec::with_capacity(ids.len());
        let mut events = Vec::new();
        for id in &ids {
            let Some((_, doc)) = self.load_doc(id).await else {
                return Ok(0);
            };
            let vc = doc.validator_completion.as_ref().map(|k| &k.id);
            let scores = match duel::to_vote_task(
                &doc.pairing,
                &self.config.hotkey,
                &doc.delivered_ids(),
                vc,
                &doc.votes,
                &doc.voters,
            ) {
                Ok(vt) => {
                    let mut task = dojo_scoring::Task::new(id.clone(), Vec::new());
                    task.votes = Some(vt);
                    match self.mechanism.score_task(&task) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(task = %id, error = %e, "v2 task could not be scored; closed with no scores");
                            TaskScores::default()
                        }
                    }
                }
                Err(void) => {
                    tracing::warn!(task = %id, reason = %void, "v2 task closed with no scores");
                    TaskScores::default()
                }
            };
            let clean: Vec<(Hotkey, f64)> = scores
                .scores
                .into_iter()
                .filter(|(h, v)| v.is_finite() && *h != self.config.hotkey)
                .collect();
            if self.config.event_log.is_some() {
                events.push(v2_event(id, &doc, &clean));
            }
            all.push(TaskScores {
                scores: clean,
                rejected: vec![],
            });
        }
        self.apply_pass(TaskTable::Votes, &ids, all, &events, start)
            .await
    }
}

/// Sends each generator of `doc` its assignment and records the outcomes in `doc`.
async fn send_generations(
    dendrite: &dojo_transport::Dendrite,
    targets: &BTreeMap<Hotkey, AxonTarget>,
    id: &TaskId,
    doc: &mut Doc,
) {
    let mut calls = JoinSet::new();
    for g in doc.pairing.generators.clone() {
        let Some(t) = targets.get(&g).cloned() else {
            doc.generation_sent.insert(g, "deregistered".into());
            continue;
        };
        let task = GenerationTask {
            id: id.clone(),
            prompt: doc.prompt_for(&g).to_owned(),
            task_type: TaskType::CodeGeneration,
            expire_at_unix_ms: doc.generation_deadline_ms,
        };
        let d = dendrite.clone();
        calls.spawn(async move {
            let o = d
                .call_roles(&t, v1::GenerationTask::from(task), |mut c, r| async move {
                    c.assign_generation(r).await
                })
                .await;
            (g, ack_label(&o))
        });
    }
    while let Some(joined) = calls.join_next().await {
        if let Ok((g, label)) = joined {
            doc.generation_sent.insert(g, label.to_owned());
        }
    }
}

/// Sends each voter of `doc` the candidates in an order of its own and records the outcomes.
async fn send_votes(
    dendrite: &dojo_transport::Dendrite,
    targets: &BTreeMap<Hotkey, AxonTarget>,
    id: &TaskId,
    doc: &mut Doc,
) {
    let mut shown: Vec<Completion> = doc
        .pairing
        .generators
        .iter()
        .filter_map(|g| doc.delivered.get(g))
        .chain(doc.validator_completion.iter().filter(|_| doc.pairing.duel))
        .filter_map(|k| k.completion().ok())
        .collect();
    if shown.len() < 2 {
        return;
    }
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut calls = JoinSet::new();
    for v in doc.voters.clone() {
        let Some(t) = targets.get(&v).cloned() else {
            doc.vote_sent.insert(v, "deregistered".into());
            continue;
        };
        shown.shuffle(&mut rng);
        let task = VoteTask {
            id: id.clone(),
            prompt: doc.prompt.clone(),
            task_type: TaskType::CodeGeneration,
            completions: shown.clone(),
            expire_at_unix_ms: doc.vote_deadline_ms,
        };
        let d = dendrite.clone();
        calls.spawn(async move {
            let o = d
                .call_roles(&t, v1::VoteTask::from(task), |mut c, r| async move {
                    c.assign_vote(r).await
                })
                .await;
            (v, ack_label(&o))
        });
    }
    while let Some(joined) = calls.join_next().await {
        if let Ok((v, label)) = joined {
            doc.vote_sent.insert(v, label.to_owned());
        }
    }
}

/// The event-log line of a scored v2 task: Open Validators' fields where they apply (`prompt`,
/// `uids` as hotkeys here, `rewards`), plus the pairing and the votes.
fn v2_event(id: &TaskId, doc: &Doc, scores: &[(Hotkey, f64)]) -> serde_json::Value {
    serde_json::json!({
        "name": "dojo_v2_task",
        "task_id": id.as_str(),
        "prompt": doc.prompt,
        "kind": doc.pairing.kind,
        "generators": doc.pairing.generators,
        "negative_generator": doc.pairing.negative_generator,
        "generation_outcomes": doc.generation_outcomes,
        "votes": doc.votes,
        "vote_outcomes": doc.vote_outcomes,
        "hotkeys": scores.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>(),
        "rewards": scores.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(duel: bool, negative: Option<&str>) -> Doc {
        let h = |s: &str| Hotkey::new(s).unwrap();
        Doc {
            pairing: Pairing {
                kind: dojo_scoring::VoteKind::Trap,
                generators: vec![h("a"), h("b")],
                duel,
                negative_generator: negative.map(h),
            },
            prompt: "base".into(),
            augmented_prompt: "augmented".into(),
            validator_completion: None,
            generation_deadline_ms: 1,
            vote_deadline_ms: 2,
            generation_sent: BTreeMap::new(),
            generation_outcomes: BTreeMap::new(),
            delivered: BTreeMap::new(),
            voters: vec![],
            vote_sent: BTreeMap::new(),
            vote_outcomes: BTreeMap::new(),
            votes: BTreeMap::new(),
        }
    }

    #[test]
    fn only_the_trap_generator_gets_the_augmented_prompt() {
        let d = doc(false, Some("b"));
        assert_eq!(d.prompt_for(&Hotkey::new("a").unwrap()), "base");
        assert_eq!(d.prompt_for(&Hotkey::new("b").unwrap()), "augmented");
        // In a duel trap the validator's completion is the degraded one; the miner is honest.
        let d = doc(true, Some("b"));
        assert_eq!(d.prompt_for(&Hotkey::new("b").unwrap()), "base");
    }

    #[test]
    fn a_document_survives_the_store_round_trip() {
        let mut d = doc(false, Some("b"));
        d.delivered.insert(
            Hotkey::new("a").unwrap(),
            Kept::new(Completion {
                id: CompletionId::new("x1").unwrap(),
                content: CompletionContent::Text("<p>hi</p>".into()),
            }),
        );
        d.votes
            .insert(Hotkey::new("c").unwrap(), CompletionId::new("x1").unwrap());
        let back = decode(&encode(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        let c = back
            .delivered
            .values()
            .next()
            .unwrap()
            .completion()
            .unwrap();
        assert_eq!(c.content, CompletionContent::Text("<p>hi</p>".into()));
        assert!(decode("{\"pairing\": 3}").is_err());
    }

    #[test]
    fn empty_completions_are_not_shown_to_voters() {
        assert!(!usable(&CompletionContent::Text("  ".into())));
        assert!(!usable(&CompletionContent::Code {
            files: vec![],
            installation_commands: String::new()
        }));
        assert!(usable(&CompletionContent::Text("x".into())));
    }
}

use std::sync::Arc;
use std::time::Duration;

use dojo_devnet::{Devnet, SubnetParams};
use dojo_identity::Keypair;
use dojo_miner::provider::Provider;
use dojo_miner::web::WebConfig;
use dojo_miner::{Identity, MinerConfig, RunningMiner, Store, TaskLimits};
use dojo_proto::v1;
use dojo_transport::{AxonTarget, Dendrite, DendriteConfig};
use dojo_types::Hotkey;

pub(crate) const NETUID: u16 = 7;

pub(crate) fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).unwrap()
}

/// A devnet with subnet 7, a funded owner coldkey and registered validators `//Alice`, `//Bob`.
pub(crate) fn devnet() -> (Devnet, Hotkey) {
    let devnet = Devnet::in_memory();
    let owner = key("//Owner").ss58();
    devnet
        .apply(|s| {
            s.create_subnet(NETUID, owner.clone(), None, SubnetParams::default())?;
            s.faucet(&owner, 1_000_000_000_000);
            s.burned_register(&owner, NETUID, &key("//Alice").ss58())?;
            s.burned_register(&owner, NETUID, &key("//Bob").ss58())?;
            Ok(())
        })
        .unwrap();
    devnet.advance_blocks(1).unwrap();
    (devnet, owner)
}

pub(crate) fn config(web: bool) -> MinerConfig {
    MinerConfig {
        netuid: NETUID,
        axon_bind: "127.0.0.1:0".parse().unwrap(),
        external_ip: None,
        external_port: None,
        register: true,
        min_stake: 0.0,
        require_validator_permit: false,
        rate_limit: dojo_transport::RateLimit {
            per_second: 1000.0,
            burst: 1000,
        },
        metagraph_refresh: Duration::from_secs(1),
        sweep_interval: Duration::from_secs(3600),
        retention: Duration::from_secs(3600),
        limits: TaskLimits::default(),
        judge_concurrency: 2,
        web: web.then(|| WebConfig::new("127.0.0.1:0".parse().unwrap())),
        version: "0.1.0-test".to_owned(),
        version_as_int: 10,
    }
}

pub(crate) struct TestMiner {
    pub(crate) running: Option<RunningMiner>,
    pub(crate) hotkey: Hotkey,
    pub(crate) store: Store,
    pub(crate) _dir: tempfile::TempDir,
}

impl TestMiner {
    pub(crate) fn target(&self) -> AxonTarget {
        AxonTarget {
            addr: self.running.as_ref().unwrap().axon_addr,
            hotkey: self.hotkey.clone(),
        }
    }
    pub(crate) fn web(&self) -> String {
        format!(
            "http://{}",
            self.running.as_ref().unwrap().web_addr.unwrap()
        )
    }
    pub(crate) async fn stop(self) {
        drop(self.stop_keeping_data().await);
    }
    /// Stops the miner and hands back its data directory, for [`start_miner_in`].
    pub(crate) async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        let r = self.running.take().unwrap();
        r.shutdown();
        r.wait().await.unwrap();
        self.store.close().await;
        self._dir
    }
}

pub(crate) async fn start_miner(
    devnet: &Devnet,
    owner: &Hotkey,
    provider: Arc<dyn Provider>,
    config: MinerConfig,
) -> TestMiner {
    start_miner_in(
        tempfile::tempdir().unwrap(),
        devnet,
        owner,
        provider,
        config,
    )
    .await
}

/// [`start_miner`] on the database a stopped miner left in `dir` (a restart).
pub(crate) async fn start_miner_in(
    dir: tempfile::TempDir,
    devnet: &Devnet,
    owner: &Hotkey,
    provider: Arc<dyn Provider>,
    config: MinerConfig,
) -> TestMiner {
    let store = Store::open(&dir.path().join("m.sqlite")).await.unwrap();
    let hotkey = key("//Miner");
    let ss58 = hotkey.ss58();
    let running = dojo_miner::start(
        config,
        Arc::new(devnet.clone()),
        Identity {
            hotkey,
            coldkey: owner.clone(),
        },
        store.clone(),
        provider,
    )
    .await
    .unwrap();
    TestMiner {
        running: Some(running),
        hotkey: ss58,
        store,
        _dir: dir,
    }
}

pub(crate) fn dendrite(uri: &str) -> Dendrite {
    Dendrite::new(
        key(uri),
        DendriteConfig {
            timeout: Duration::from_secs(20),
            ..DendriteConfig::default()
        },
    )
}

pub(crate) fn text_task(id: &str, expire_in: Duration) -> v1::SendTaskRequest {
    let expire = dojo_miner::grpc::now_ms() + i64::try_from(expire_in.as_millis()).unwrap();
    v1::SendTaskRequest {
        task: Some(v1::Task {
            task_id: id.to_owned(),
            prompt: "Write a haiku about rust".to_owned(),
            task_type: v1::TaskType::CodeGeneration as i32,
            completions: vec![
                v1::Completion {
                    completion_id: "c-a".to_owned(),
                    content: Some(v1::completion::Content::Text(
                        "<script>alert(1)</script> iron oxide blooms".to_owned(),
                    )),
                },
                v1::Completion {
                    completion_id: "c-b".to_owned(),
                    content: Some(v1::completion::Content::Code(v1::CodeAnswer {
                        files: vec![v1::CodeFile {
                            filename: "index.html".to_owned(),
                            content: "<!doctype html><p id=x>hello</p><script>document.cookie; top.location='http://example.invalid/'</script>".to_owned(),
                            language: "html".to_owned(),
                        }],
                        installation_commands: String::new(),
                    })),
                },
            ],
            criteria: vec![v1::Criterion {
                kind: Some(v1::criterion::Kind::Score(v1::ScoreCriterion {
                    min: 1.0,
                    max: 100.0,
                })),
            }],
            expire_at: Some(prost_types::Timestamp {
                seconds: expire / 1000,
                nanos: i32::try_from((expire % 1000) * 1_000_000).unwrap(),
            }),
            ..Default::default()
        }),
    }
}

pub(crate) async fn send(
    d: &Dendrite,
    t: &AxonTarget,
    req: v1::SendTaskRequest,
) -> Result<v1::TaskAck, tonic::Status> {
    match d
        .call(t, req, |mut c, r| async move { c.send_task(r).await })
        .await
    {
        dojo_transport::CallOutcome::Success { response, .. } => Ok(response),
        dojo_transport::CallOutcome::Rejected { status, .. } => Err(status),
        other => panic!("send_task: {}", other.kind()),
    }
}

pub(crate) async fn fetch(
    d: &Dendrite,
    t: &AxonTarget,
    id: &str,
) -> Result<v1::TaskResults, tonic::Status> {
    let req = v1::FetchResultsRequest {
        task_id: id.to_owned(),
    };
    match d
        .call(t, req, |mut c, r| async move { c.fetch_results(r).await })
        .await
    {
        dojo_transport::CallOutcome::Success { response, .. } => Ok(response),
        dojo_transport::CallOutcome::Rejected { status, .. } => Err(status),
        other => panic!("fetch_results: {}", other.kind()),
    }
}

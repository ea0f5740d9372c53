//! Against a real subtensor node, when `DOJO_SUBTENSOR_URL` names one (`finney`, `test`, `local`
//! or a ws:// / wss:// URL); skipped, saying so, when it is unset (CI has no network). Reads only:
//! nothing is signed or submitted. `DOJO_SUBTENSOR_NETUID` picks the subnet (default 1).

use dojo_chain::{Network, Subtensor};
use dojo_types::chain::Chain;

#[tokio::test]
async fn live_node_metagraph_and_hyperparams() {
    let Ok(url) = std::env::var("DOJO_SUBTENSOR_URL") else {
        eprintln!("skipped: set DOJO_SUBTENSOR_URL (e.g. test or wss://…) to read a live node");
        return;
    };
    let netuid: u16 = std::env::var("DOJO_SUBTENSOR_NETUID")
        .ok()
        .map(|n| n.parse().expect("DOJO_SUBTENSOR_NETUID is a u16"))
        .unwrap_or(1);
    let network: Network = url
        .parse()
        .expect("DOJO_SUBTENSOR_URL is a network name or URL");
    let client = Subtensor::connect(network).await.expect("connects");
    let block = client.current_block().await.expect("best block");
    assert!(block > 0);
    let mg = client.metagraph(netuid).await.expect("metagraph");
    assert_eq!(mg.netuid, netuid);
    assert!(!mg.neurons.is_empty(), "subnet {netuid} has neurons");
    for (i, n) in mg.neurons.iter().enumerate() {
        assert_eq!(usize::from(n.uid.0), i, "uids are 0..n");
    }
    let hp = client.hyperparams(netuid).await.expect("hyperparameters");
    let tempo = hp.u64("tempo").expect("tempo");
    assert!(tempo > 0);
    hp.flag("commit_reveal_weights_enabled")
        .expect("commit_reveal_weights_enabled");
    let cr = client.commit_reveal_version().await.expect("CR version");
    eprintln!(
        "live {url}: block {block}, metagraph block {}, netuid {netuid}: {} neurons, tempo {tempo}, \
         {} hyperparameters, CommitRevealWeightsVersion {cr:?}",
        mg.block,
        mg.neurons.len(),
        hp.entries.len()
    );
}

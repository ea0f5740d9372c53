//! The axon's caller directory fed from a real (in-process) devnet through the `Chain` port.

use dojo_devnet::{Devnet, SubnetParams};
use dojo_transport::{CallerDirectory, MetagraphCache};
use dojo_types::Hotkey;

fn key(seed: u8) -> Hotkey {
    Hotkey::from_public_key(&[seed; 32], 42)
}

#[tokio::test]
async fn cache_reflects_registrations_and_stake() {
    let devnet = Devnet::in_memory();
    let (owner, validator, miner, stranger) = (key(1), key(2), key(3), key(4));
    devnet
        .apply(|s| {
            s.create_subnet(1, owner.clone(), None, SubnetParams::default())?;
            s.faucet(&owner, 1_000_000_000_000);
            s.burned_register(&owner, 1, &validator)?;
            s.burned_register(&owner, 1, &miner)?;
            s.add_stake(&validator, 1, 6_000_000_000_000)
        })
        .unwrap();
    devnet.advance_blocks(1).unwrap();

    let cache = MetagraphCache::new();
    assert!(
        cache.lookup(&validator).is_none(),
        "empty before the first refresh"
    );
    assert!(cache.refresh(&devnet, 1).await.unwrap());

    let v = cache.lookup(&validator).expect("validator registered");
    let m = cache.lookup(&miner).expect("miner registered");
    assert!(v.stake >= 6000.0, "stake in TAO: {}", v.stake);
    assert!(m.stake < 1.0);
    assert_ne!(v.uid, m.uid);
    assert!(
        cache.lookup(&stranger).is_none(),
        "unregistered hotkeys are unknown"
    );
    assert_eq!(cache.len(), 2);
}

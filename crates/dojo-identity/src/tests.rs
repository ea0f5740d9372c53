use std::path::Path;

use proptest::prelude::*;

use crate::keyfile::{self, KeyMaterial, KeyfileError};
use crate::{Keypair, Wallet, WalletError, verify};

// Well-known Substrate dev keys (chain-and-wire spec §1.1 for Alice).
const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const ALICE_PUB: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

fn fixture() -> Wallet {
    Wallet::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data"),
        "btwallet-4.1.1",
        "h1",
    )
    .unwrap()
}

#[test]
fn dev_uris_give_the_well_known_keys() {
    let alice = Keypair::from_uri("//Alice").unwrap();
    assert_eq!(hex::encode(alice.public()), ALICE_PUB);
    assert_eq!(alice.ss58().as_str(), ALICE);
    assert_eq!(Keypair::from_uri("//Bob").unwrap().ss58().as_str(), BOB);
    // Soft and hard junctions differ, and numeric junctions are SCALE u64s.
    let soft = Keypair::from_uri("//Alice/1").unwrap();
    let hard = Keypair::from_uri("//Alice//1").unwrap();
    assert_ne!(soft.public(), hard.public());
    assert!(Keypair::from_uri("//Alice//").is_err());
}

#[test]
fn signatures_verify_and_reject_tampering() {
    let k = Keypair::from_uri("//Alice").unwrap();
    let sig = k.sign(b"1.a.b.c.d");
    assert!(verify(&k.ss58(), b"1.a.b.c.d", &sig));
    assert!(!verify(&k.ss58(), b"1.a.b.c.e", &sig));
    assert!(!verify(
        &Keypair::from_uri("//Bob").unwrap().ss58(),
        b"1.a.b.c.d",
        &sig
    ));
    assert!(!verify(&k.ss58(), b"1.a.b.c.d", &sig[..63]));
    // polkadot.js wraps messages in <Bytes>; btwallet accepts that, so do we.
    assert!(verify(&k.ss58(), b"hi", &k.sign(b"<Bytes>hi</Bytes>")));
}

#[test]
fn reads_a_wallet_written_by_btwallet() {
    let w = fixture();
    assert_eq!(
        w.coldkey_address().unwrap().as_str(),
        "5DWpKk62VnsxyVRn4J4DWHqT8euAvqtt7x36Tok2GVcudX2G"
    );
    let hot = w.hotkey(None).unwrap();
    assert_eq!(
        hot.ss58().as_str(),
        "5G1DkNGmtXEab79hfAD8CyL12WVEHANQgNRMjpVoUpoEVGEc"
    );
    assert_eq!(w.hotkey_address().unwrap(), hot.ss58());
    // The stored privateKey is exactly our 64-byte expanded secret of the stored phrase.
    let raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.hotkey_path()).unwrap()).unwrap();
    assert_eq!(
        raw["privateKey"].as_str().unwrap(),
        format!("0x{}", hex::encode(&hot.private_key()[..]))
    );
    assert_eq!(
        raw["secretSeed"].as_str().unwrap(),
        format!("0x{}", hex::encode(hot.seed().unwrap()))
    );
    let from_priv = Keypair::from_private_key_hex(raw["privateKey"].as_str().unwrap()).unwrap();
    assert_eq!(from_priv.public(), hot.public());
}

#[test]
fn decrypts_a_btwallet_nacl_coldkey_and_refuses_a_wrong_password() {
    let w = fixture();
    assert!(matches!(
        w.coldkey(None),
        Err(WalletError::Keyfile {
            source: KeyfileError::Encrypted,
            ..
        })
    ));
    let cold = w.coldkey(Some("hunter2")).unwrap();
    assert_eq!(cold.ss58(), w.coldkey_address().unwrap());
    assert!(matches!(
        w.coldkey(Some("hunter3")),
        Err(WalletError::Keyfile {
            source: KeyfileError::Decrypt,
            ..
        })
    ));
}

#[test]
fn created_wallets_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let w = Wallet::new(dir.path(), "w", "h").unwrap();
    let (cold, hot) = w.create(12, None, false).unwrap();
    assert_eq!(cold.phrase().unwrap().split(' ').count(), 12);
    assert_eq!(w.coldkey(None).unwrap().ss58(), cold.ss58());
    assert_eq!(w.hotkey(None).unwrap().ss58(), hot.ss58());
    assert_eq!(w.coldkey_address().unwrap(), cold.ss58());
    assert!(matches!(
        w.create(12, None, false),
        Err(WalletError::Exists(_))
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(w.hotkey_path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
}

#[test]
fn keyfile_edge_cases_are_typed_errors() {
    assert!(matches!(
        keyfile::parse(b"$ANSIBLE_VAULT;1.1", None),
        Err(KeyfileError::UnsupportedEncryption(_))
    ));
    assert!(matches!(
        keyfile::parse(b"gAAAAABxyz", None),
        Err(KeyfileError::UnsupportedEncryption(_))
    ));
    assert!(matches!(
        keyfile::parse(b"$NACLshort", Some("pw")),
        Err(KeyfileError::Truncated)
    ));
    assert!(matches!(
        keyfile::parse(b"{}", None),
        Err(KeyfileError::Empty)
    ));
    assert!(matches!(
        keyfile::parse(br#"{"cryptoType":0,"ss58Address":"x"}"#, None),
        Err(KeyfileError::CryptoType(0))
    ));
    // A secret whose address was edited is refused rather than silently trusted.
    let k = Keypair::from_uri("//Alice").unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&keyfile::to_json(&k)).unwrap();
    json["ss58Address"] = BOB.into();
    assert!(matches!(
        keyfile::parse(json.to_string().as_bytes(), None),
        Err(KeyfileError::Mismatch { .. })
    ));
    match keyfile::parse(&keyfile::to_public_json(&k.ss58()), None).unwrap() {
        KeyMaterial::Public(h) => assert_eq!(h.as_str(), ALICE),
        KeyMaterial::Pair(_) => panic!("public keyfile parsed as a pair"),
    }
    assert!(Wallet::new("/tmp", "../x", "h").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn keyfile_parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        // `$NACL` with a full-length body would run the 512 MiB KDF; no password keeps this cheap.
        let _ = keyfile::parse(&data, None);
    }

    #[test]
    fn uri_parse_never_panics(uri in "[/a-zA-Z0-9 ]{0,40}") {
        let _ = Keypair::from_uri(&uri);
    }

    #[test]
    fn verify_never_panics(sig in proptest::collection::vec(any::<u8>(), 0..80), msg in proptest::collection::vec(any::<u8>(), 0..64)) {
        let alice = dojo_types::Hotkey::new(ALICE).unwrap();
        prop_assert!(!verify(&alice, &msg, &sig));
    }
}

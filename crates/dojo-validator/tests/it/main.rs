//! Integration tests of the validator service: storage on SQLite and PostgreSQL, and whole runs
//! against the in-process devnet, the synthetic API and test-double miners.

mod crash;
mod db;
mod export;
mod faults;
mod miners;
mod outage;
mod rm;
mod run;
mod store;
mod v2;

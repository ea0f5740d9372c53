//! Integration tests of the validator service: storage on SQLite and PostgreSQL, and whole runs
//! against the in-process devnet, the synthetic API and test-double miners.

mod db;
mod miners;
mod run;
mod store;

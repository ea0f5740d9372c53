//! Scoring mechanisms of the Dojo subnet.

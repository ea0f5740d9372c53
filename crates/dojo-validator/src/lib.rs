//! The Dojo validator service.

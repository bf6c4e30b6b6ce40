//! Whole-screen tests of the TUI: the App driven by actions over a real
//! `Sim`, rendered to a `TestBackend` at a fixed size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

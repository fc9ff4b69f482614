//! Intentionally empty: this crate only holds integration tests in tests/.

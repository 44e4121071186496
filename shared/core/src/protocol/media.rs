//! Data of the `media.*` actions.

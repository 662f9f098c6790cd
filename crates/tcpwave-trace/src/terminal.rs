//! Terminal diagram (being built).

//! Generates realistic helpline histories (work in progress).

//! The helpline domain: see issue 3 (work in progress).

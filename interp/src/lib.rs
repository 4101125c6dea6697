//! marrow-interp: the Scheme interpreter whose values live in the Marrow heap (being built; see issue 4).

//! marrow-gc: the mark-sweep collector for the Marrow heap (being built; see issue 3).

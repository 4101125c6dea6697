//! The library API of marrow-interp: what `Interp::eval_str` returns is a
//! rooted handle that survives later evaluations and collections; misuse
//! the types reject is in tests/compile_fail/.

use marrow_gc::GcConfig;
use marrow_interp::Interp;

#[test]
fn evaluated_values_stay_alive_across_collections() {
    let mut it = Interp::new(GcConfig::default(), 100_000).unwrap();
    let list = it
        .eval_str(
            "(let loop ((i 0) (acc '())) (if (= i 1000) acc (loop (+ i 1) (cons i acc))))",
            "<test>",
        )
        .unwrap();
    // Lots of garbage and several full collections later...
    for _ in 0..5 {
        it.eval_str(
            "(let loop ((i 0)) (if (< i 100000) (begin (make-vector 10 i) (loop (+ i 1)))))",
            "<test>",
        )
        .unwrap();
        it.eval_str("(collect-garbage)", "<test>").unwrap();
    }
    let text = it.write(&list);
    assert!(text.starts_with("(999 998 997"), "{}", &text[..40]);
    assert!(text.ends_with("2 1 0)"));
    assert!(!list.is_unspecified());
    assert!(it.eval_str("(define x 1)", "<test>").unwrap().is_unspecified());
}

#[test]
fn a_value_of_another_interpreter_is_refused() {
    let mut a = Interp::new(GcConfig::default(), 1000).unwrap();
    let v = a.eval_str("\"from a\"", "<test>").unwrap();
    let b = Interp::new(GcConfig::default(), 1000).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.write(&v)));
    assert!(caught.is_err());
    assert_eq!(a.write(&v), "\"from a\"");
}

#[test]
fn misuse_does_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}

/// The symbol table holds symbols weakly: ten million distinct symbols
/// made and dropped in a loop leave a small heap (each symbol and its
/// table entry are freed once unreachable), and symbols stay unique.
#[test]
fn ten_million_symbols_in_a_bounded_heap() {
    let mut it = Interp::new(GcConfig::default(), 100_000).unwrap();
    let kept = it
        .eval_str(
            "(define kept (string->symbol \"kept-0\"))
             (let loop ((i 0))
               (if (< i 10000000)
                   (begin (string->symbol (number->string i)) (loop (+ i 1)))))
             (list (eq? kept (string->symbol \"kept-0\"))
                   (eq? (string->symbol \"5\") (string->symbol \"5\")))",
            "<test>",
        )
        .unwrap();
    assert_eq!(it.write(&kept), "(#t #t)");
    let s = it.stats();
    assert!(s.heap_sys < 32 << 20, "heap {} MiB", s.heap_sys >> 20);
    let weak = it.gc().weak_totals();
    assert!(
        weak.weak_cleared > 9_000_000,
        "symbols collected: {}",
        weak.weak_cleared
    );
}

/// A port is closed by a cleanup once its object is garbage, and its
/// native slot reused: a loop that opens and drops ports keeps a small
/// port table (each string port's buffer is freed with it).
#[test]
fn dropped_ports_are_closed_by_cleanups() {
    let mut it = Interp::new(GcConfig::default(), 100_000).unwrap();
    it.eval_str(
        "(let loop ((i 0))
           (if (< i 100000)
               (begin (open-input-string (make-string 100 #\\a)) (loop (+ i 1)))))
         (define kept (open-output-string))
         (write 'still-open kept)
         (collect-garbage)
         (open-input-string \"\")",
        "<test>",
    )
    .unwrap();
    assert!(it.port_slots() < 20_000, "{} port slots", it.port_slots());
    assert!(it.gc().weak_totals().cleanups_run > 80_000);
    let s = it.eval_str("(get-output-string kept)", "<test>").unwrap();
    assert_eq!(it.write(&s), "\"still-open\"");
}

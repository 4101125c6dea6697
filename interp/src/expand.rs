//! Derived syntax: rewrites of `let*`, `do`, `case`, `when`, `unless`,
//! `quasiquote`, `define-record-type`, `guard`, `parameterize`,
//! `let-values`, `delay`, `case-lambda`, ... into core forms. Each function
//! takes the whole form and returns the replacement datum. Rewrites refer to
//! runtime helpers by private names (`reader::PRIVATE_PREFIX`) that user code can
//! neither spell, rebind nor capture.

use crate::reader::{Datum, Pos};
use std::rc::Rc;

type X = Result<Datum, String>;

fn sym(s: &str) -> Datum {
    Datum::sym(s)
}

/// A runtime helper's private name (see `reader::PRIVATE_PREFIX`).
fn psym(s: &str) -> Datum {
    Datum::psym(s)
}

fn l(v: Vec<Datum>) -> Datum {
    Datum::list(v)
}

fn lp(v: Vec<Datum>, p: Pos) -> Datum {
    Datum::list_at(v, p)
}

fn cons_body(head: Vec<Datum>, body: &[Datum]) -> Vec<Datum> {
    let mut v = head;
    v.extend(body.iter().cloned());
    v
}

/// `(let* ((a x) (b y)) body...)`.
pub fn let_star(f: &[Datum], p: Pos) -> X {
    let binds = f.get(1).and_then(|d| d.as_list()).ok_or("let*: bad bindings")?;
    if binds.is_empty() {
        return Ok(lp(cons_body(vec![sym("let"), Datum::nil()], &f[2..]), p));
    }
    let mut body = lp(
        cons_body(vec![sym("let"), l(vec![binds[binds.len() - 1].clone()])], &f[2..]),
        p,
    );
    for b in binds[..binds.len() - 1].iter().rev() {
        body = lp(vec![sym("let"), l(vec![b.clone()]), body], p);
    }
    Ok(body)
}

/// `(do ((var init step)...) (test res...) body...)`.
pub fn do_loop(f: &[Datum], p: Pos, gensym: &mut dyn FnMut(&str) -> Datum) -> X {
    let specs = f.get(1).and_then(|d| d.as_list()).ok_or("do: bad variable specs")?;
    let test = f.get(2).and_then(|d| d.as_list()).ok_or("do: bad test clause")?;
    if test.is_empty() {
        return Err("do: missing test".into());
    }
    let lp_name = gensym("do-loop");
    let mut binds = Vec::new();
    let mut steps = Vec::new();
    for s in specs {
        let s = s.as_list().ok_or("do: bad variable spec")?;
        match s {
            [v, init] => {
                binds.push(l(vec![v.clone(), init.clone()]));
                steps.push(v.clone());
            }
            [v, init, step] => {
                binds.push(l(vec![v.clone(), init.clone()]));
                steps.push(step.clone());
            }
            _ => return Err("do: bad variable spec".into()),
        }
    }
    let mut again = vec![lp_name.clone()];
    again.extend(steps);
    let res = if test.len() > 1 {
        lp(cons_body(vec![sym("begin")], &test[1..]), p)
    } else {
        Datum::Unspec
    };
    let body = lp(cons_body(vec![sym("begin")], &f[3..]), p);
    let lbody = lp(
        vec![
            sym("if"),
            test[0].clone(),
            res,
            lp(vec![sym("begin"), body, lp(again, p)], p),
        ],
        p,
    );
    Ok(lp(vec![sym("let"), lp_name, l(binds), lbody], p))
}

/// `(case key clause...)`.
pub fn case(f: &[Datum], p: Pos, gensym: &mut dyn FnMut(&str) -> Datum) -> X {
    let key = f.get(1).ok_or("case: missing key")?;
    let t = gensym("key");
    let mut clauses = Vec::new();
    for c in &f[2..] {
        let c = c.as_list().ok_or("case: bad clause")?;
        if c.is_empty() {
            return Err("case: empty clause".into());
        }
        let test = if c[0].is_sym("else") {
            sym("else")
        } else {
            let data = c[0].as_list().ok_or("case: clause must start with a list of data")?;
            l(vec![psym("%memv"), t.clone(), l(vec![sym("quote"), l(data.to_vec())])])
        };
        if c.len() == 3 && c[1].is_sym("=>") {
            clauses.push(l(vec![test, l(vec![c[2].clone(), t.clone()])]));
        } else {
            clauses.push(l(cons_body(vec![test], &c[1..])));
        }
    }
    Ok(lp(
        vec![
            sym("let"),
            l(vec![l(vec![t, key.clone()])]),
            lp(cons_body(vec![sym("cond")], &clauses), p),
        ],
        p,
    ))
}

/// `(quasiquote x)` at nesting `depth` (1 for the outermost).
pub fn quasi(x: &Datum, depth: usize) -> X {
    match x {
        Datum::List(v, tail, _) => {
            if v.len() == 2 && tail.is_none() {
                if v[0].is_sym("unquote") {
                    return if depth == 1 {
                        Ok(v[1].clone())
                    } else {
                        Ok(l(vec![psym("%list"), quote(sym("unquote")), quasi(&v[1], depth - 1)?]))
                    };
                }
                if v[0].is_sym("quasiquote") {
                    return Ok(l(vec![
                        psym("%list"),
                        quote(sym("quasiquote")),
                        quasi(&v[1], depth + 1)?,
                    ]));
                }
            }
            // Build from the tail backwards.
            let mut acc = match tail {
                Some(t) => quasi(t, depth)?,
                None => quote(Datum::nil()),
            };
            for (i, item) in v.iter().enumerate().rev() {
                // `(a . ,b)` reads as (a unquote b)
                if i + 2 == v.len() && item.is_sym("unquote") && tail.is_none() && depth == 1 {
                    acc = v[i + 1].clone();
                    continue;
                }
                if i + 1 == v.len() && i > 0 && v[i - 1].is_sym("unquote") && tail.is_none() && depth == 1 {
                    continue;
                }
                if let Some([h, e]) = item.as_list() {
                    if h.is_sym("unquote-splicing") {
                        if depth == 1 {
                            acc = l(vec![psym("%append2"), e.clone(), acc]);
                        } else {
                            let inner = l(vec![
                                psym("%list"),
                                quote(sym("unquote-splicing")),
                                quasi(e, depth - 1)?,
                            ]);
                            acc = l(vec![psym("%cons"), inner, acc]);
                        }
                        continue;
                    }
                }
                acc = l(vec![psym("%cons"), quasi(item, depth)?, acc]);
            }
            Ok(acc)
        }
        Datum::Vector(v) => Ok(l(vec![
            psym("%list->vector"),
            quasi(&Datum::List(v.clone(), None, Pos::default()), depth)?,
        ])),
        _ => Ok(quote(x.clone())),
    }
}

fn quote(d: Datum) -> Datum {
    match d {
        Datum::Sym(_) | Datum::List(..) => l(vec![sym("quote"), d]),
        d => d,
    }
}

/// `(define-record-type name (ctor field...) pred (field accessor [modifier])...)`.
pub fn record_type(f: &[Datum], p: Pos) -> X {
    if f.len() < 4 {
        return Err("define-record-type: bad syntax".into());
    }
    let tname = match &f[1] {
        Datum::Sym(s) => s.clone(),
        Datum::List(v, _, _) if !v.is_empty() => v[0].as_sym().map(Rc::from).ok_or("define-record-type: bad name")?,
        _ => return Err("define-record-type: bad type name".into()),
    };
    let mut fields: Vec<Rc<str>> = Vec::new();
    for fs in &f[4.min(f.len())..] {
        let name = match fs {
            Datum::Sym(s) => s.clone(),
            Datum::List(v, _, _) if !v.is_empty() => match &v[0] {
                Datum::Sym(s) => s.clone(),
                _ => return Err("define-record-type: bad field".into()),
            },
            _ => return Err("define-record-type: bad field".into()),
        };
        fields.push(name);
    }
    let tsym = Datum::Sym(tname.clone());
    // Every procedure of the type captures the descriptor made here in a
    // private local, so rebinding the type's name, or defining another type
    // of the same name, cannot make an old accessor reach into an object of
    // another shape (the record builtins check the descriptor and bounds).
    let rtd = psym("rtd");
    let with_rtd = |lam: Datum| l(vec![sym("let"), l(vec![l(vec![rtd.clone(), tsym.clone()])]), lam]);
    let mut out = vec![sym("begin")];
    let fieldlist = l(fields.iter().map(|s| Datum::Sym(s.clone())).collect());
    out.push(lp(
        vec![
            sym("define"),
            tsym.clone(),
            l(vec![psym("%make-rtd"), quote(tsym.clone()), quote(fieldlist)]),
        ],
        p,
    ));
    match &f[2] {
        Datum::List(ctor, None, _) if !ctor.is_empty() => {
            let args: Vec<Rc<str>> = ctor[1..]
                .iter()
                .map(|a| a.as_sym().map(Rc::from).ok_or("define-record-type: bad constructor"))
                .collect::<Result<_, _>>()?;
            for a in &args {
                if !fields.contains(a) {
                    return Err(format!("define-record-type: constructor argument {a} is not a field"));
                }
            }
            let mut call = vec![psym("%record"), rtd.clone()];
            for fld in &fields {
                if args.contains(fld) {
                    call.push(Datum::Sym(fld.clone()));
                } else {
                    call.push(Datum::Bool(false));
                }
            }
            let lam = l(vec![
                sym("lambda"),
                l(args.iter().map(|a| Datum::Sym(a.clone())).collect()),
                l(call),
            ]);
            out.push(lp(vec![sym("define"), ctor[0].clone(), with_rtd(lam)], p));
        }
        Datum::Sym(s) => {
            let mut call = vec![psym("%record"), rtd.clone()];
            let args: Vec<Datum> = fields.iter().map(|s| Datum::Sym(s.clone())).collect();
            call.extend(args.iter().cloned());
            out.push(lp(
                vec![
                    sym("define"),
                    Datum::Sym(s.clone()),
                    with_rtd(l(vec![sym("lambda"), l(args), l(call)])),
                ],
                p,
            ));
        }
        _ => {}
    }
    if let Datum::Sym(pred) = &f[3] {
        let o = sym("obj");
        out.push(lp(
            vec![
                sym("define"),
                Datum::Sym(pred.clone()),
                with_rtd(l(vec![
                    sym("lambda"),
                    l(vec![o.clone()]),
                    l(vec![psym("%record?"), o, rtd.clone()]),
                ])),
            ],
            p,
        ));
    }
    for (i, fs) in f[4.min(f.len())..].iter().enumerate() {
        let v = match fs.as_list() {
            Some(v) => v,
            None => continue,
        };
        let o = sym("obj");
        let x = sym("val");
        if let Some(acc) = v.get(1) {
            out.push(lp(
                vec![
                    sym("define"),
                    acc.clone(),
                    with_rtd(l(vec![
                        sym("lambda"),
                        l(vec![o.clone()]),
                        l(vec![
                            psym("%record-ref"),
                            o.clone(),
                            rtd.clone(),
                            Datum::Int(i as i64),
                            quote(acc.clone()),
                        ]),
                    ])),
                ],
                p,
            ));
        }
        if let Some(m) = v.get(2) {
            out.push(lp(
                vec![
                    sym("define"),
                    m.clone(),
                    with_rtd(l(vec![
                        sym("lambda"),
                        l(vec![o.clone(), x.clone()]),
                        l(vec![
                            psym("%record-set!"),
                            o,
                            rtd.clone(),
                            Datum::Int(i as i64),
                            x,
                            quote(m.clone()),
                        ]),
                    ])),
                ],
                p,
            ));
        }
    }
    Ok(lp(out, p))
}

/// `(guard (var clause...) body...)`, after R7RS 7.3 (the handler's clauses
/// run in the dynamic environment of the guard; unmatched conditions are
/// re-raised there with `raise-continuable`).
///
/// ```text
/// (let ((box #f))
///   (let ((r (%call/cc-wind
///              (lambda (gk)
///                (%with-exception-handler
///                  (lambda (c) (set! box c) (gk #f))
///                  (lambda () (let ((v (begin body...))) (lambda () v))))))))
///     (if r (r) (let ((condition box)) (let ((var condition)) (cond clause...))))))
/// ```
///
/// The handler makes no heap object before escaping (the box and the
/// handler closure exist from the guard's entry), so a guard can catch an
/// out-of-memory error while live data fills the heap: the clauses run
/// after the escape has dropped the body's frames.
pub fn guard(f: &[Datum], p: Pos, gensym: &mut dyn FnMut(&str) -> Datum) -> X {
    let spec = f.get(1).and_then(|d| d.as_list()).ok_or("guard: bad syntax")?;
    let var = spec.first().ok_or("guard: missing variable")?.clone();
    let mut clauses: Vec<Datum> = spec[1..].to_vec();
    let has_else = clauses
        .last()
        .and_then(|c| c.as_list())
        .is_some_and(|c| c.first().is_some_and(|h| h.is_sym("else")));
    let cond_var = gensym("condition");
    if !has_else {
        clauses.push(l(vec![
            sym("else"),
            l(vec![psym("%raise-continuable"), cond_var.clone()]),
        ]));
    }
    let gk = gensym("guard-k");
    let gbox = gensym("guard-box");
    let r = gensym("guard-r");
    let c = gensym("c");
    let handler = l(vec![
        sym("lambda"),
        l(vec![c.clone()]),
        l(vec![sym("set!"), gbox.clone(), c]),
        l(vec![gk.clone(), Datum::Bool(false)]),
    ]);
    let v = gensym("v");
    let thunk = l(vec![
        sym("lambda"),
        Datum::nil(),
        l(vec![
            sym("let"),
            l(vec![l(vec![v.clone(), lp(cons_body(vec![sym("begin")], &f[2..]), p)])]),
            l(vec![sym("lambda"), Datum::nil(), v]),
        ]),
    ]);
    let call = lp(
        vec![
            psym("%call/cc-wind"),
            l(vec![
                sym("lambda"),
                l(vec![gk]),
                l(vec![psym("%with-exception-handler"), handler, thunk]),
            ]),
        ],
        p,
    );
    let clauses = l(vec![
        sym("let"),
        l(vec![l(vec![cond_var.clone(), gbox.clone()])]),
        l(vec![
            sym("let"),
            l(vec![l(vec![var, cond_var])]),
            lp(cons_body(vec![sym("cond")], &clauses), p),
        ]),
    ]);
    Ok(l(vec![
        sym("let"),
        l(vec![l(vec![gbox, Datum::Bool(false)])]),
        l(vec![
            sym("let"),
            l(vec![l(vec![r.clone(), call])]),
            l(vec![sym("if"), r.clone(), lp(vec![r], p), clauses]),
        ]),
    ]))
}

/// `(parameterize ((p v)...) body...)`.
pub fn parameterize(f: &[Datum], p: Pos) -> X {
    let binds = f.get(1).and_then(|d| d.as_list()).ok_or("parameterize: bad bindings")?;
    let mut ps = vec![psym("%list")];
    let mut vs = vec![psym("%list")];
    for b in binds {
        match b.as_list() {
            Some([a, b]) => {
                ps.push(a.clone());
                vs.push(b.clone());
            }
            _ => return Err("parameterize: bad binding".into()),
        }
    }
    Ok(lp(
        vec![
            psym("%parameterize"),
            l(ps),
            l(vs),
            l(cons_body(vec![sym("lambda"), Datum::nil()], &f[2..])),
        ],
        p,
    ))
}

/// `(let-values (((formals) expr)...) body...)` and `let*-values`.
///
/// `let*-values` (no `gensym`) nests one `call-with-values` per binding, so
/// each init sees the variables bound before it. `let-values` binds in
/// parallel: each init's values go to fresh temporaries, and the real
/// variables are bound all at once around the body, so no init sees them.
pub fn let_values(f: &[Datum], p: Pos, mut gensym: Option<&mut dyn FnMut(&str) -> Datum>) -> X {
    let binds = f.get(1).and_then(|d| d.as_list()).ok_or("let-values: bad bindings")?;
    let mut renames: Vec<Datum> = Vec::new();
    let mut bound = Vec::new();
    for b in binds {
        match b.as_list() {
            Some([formals, e]) => {
                let formals = match gensym.as_deref_mut() {
                    Some(g) => rename_formals(formals, g, &mut renames)?,
                    None => formals.clone(),
                };
                bound.push((formals, e.clone()));
            }
            _ => return Err("let-values: bad binding".into()),
        }
    }
    let mut body = lp(cons_body(vec![sym("let"), l(renames)], &f[2..]), p);
    for (formals, e) in bound.into_iter().rev() {
        body = lp(
            vec![
                psym("%call-with-values"),
                l(vec![sym("lambda"), Datum::nil(), e]),
                l(vec![sym("lambda"), formals, body]),
            ],
            p,
        );
    }
    Ok(body)
}

/// Replaces each variable of a lambda list (proper, dotted, or a single
/// rest symbol) by a fresh name, recording `(variable fresh)` bindings.
fn rename_formals(formals: &Datum, gensym: &mut dyn FnMut(&str) -> Datum, out: &mut Vec<Datum>) -> X {
    let mut fresh = |x: &Datum, out: &mut Vec<Datum>| -> X {
        if !matches!(x, Datum::Sym(_)) {
            return Err("let-values: formals must be identifiers".into());
        }
        let t = gensym("lv");
        out.push(l(vec![x.clone(), t.clone()]));
        Ok(t)
    };
    match formals {
        Datum::List(v, tail, pos) => {
            let mut nv = Vec::new();
            for x in v {
                nv.push(fresh(x, out)?);
            }
            let nt = match tail {
                Some(t) => Some(Box::new(fresh(t, out)?)),
                None => None,
            };
            Ok(Datum::List(nv, nt, *pos))
        }
        x => fresh(x, out),
    }
}

/// `(define-values formals expr)`.
pub fn define_values(f: &[Datum], p: Pos, gensym: &mut dyn FnMut(&str) -> Datum) -> X {
    let (formals, e) = match f {
        [_, a, b] => (a, b),
        _ => return Err("define-values: bad syntax".into()),
    };
    let mut names = Vec::new();
    let mut tmps_formals;
    let mut sets = vec![sym("begin")];
    match formals {
        Datum::List(v, t, _) => {
            let mut tv = Vec::new();
            for x in v {
                let g = gensym("t");
                names.push(x.clone());
                sets.push(l(vec![sym("set!"), x.clone(), g.clone()]));
                tv.push(g);
            }
            let tt = match t {
                Some(t) => {
                    let g = gensym("t");
                    names.push((**t).clone());
                    sets.push(l(vec![sym("set!"), (**t).clone(), g.clone()]));
                    Some(Box::new(g))
                }
                None => None,
            };
            tmps_formals = Datum::List(tv, tt, p);
        }
        Datum::Sym(_) => {
            let g = gensym("t");
            names.push(formals.clone());
            sets.push(l(vec![sym("set!"), formals.clone(), g.clone()]));
            tmps_formals = g;
        }
        _ => return Err("define-values: bad formals".into()),
    }
    let mut out = vec![sym("begin")];
    for n in names {
        out.push(l(vec![sym("define"), n, Datum::Bool(false)]));
    }
    sets.push(Datum::Unspec);
    let tf = std::mem::replace(&mut tmps_formals, Datum::Unspec);
    out.push(l(vec![
        psym("%call-with-values"),
        l(vec![sym("lambda"), Datum::nil(), e.clone()]),
        l(vec![sym("lambda"), tf, l(sets)]),
    ]));
    Ok(lp(out, p))
}

/// `(cond-expand (feature body...)...)`.
pub fn cond_expand(f: &[Datum], p: Pos) -> X {
    fn holds(req: &Datum) -> bool {
        match req {
            Datum::Sym(s) => matches!(&**s, "r7rs" | "marrow" | "else" | "full-unicode" | "srfi-69" | "srfi-8"),
            Datum::List(v, None, _) if !v.is_empty() => match v[0].as_sym() {
                Some("and") => v[1..].iter().all(holds),
                Some("or") => v[1..].iter().any(holds),
                Some("not") => !v[1..].iter().all(holds),
                Some("library") => true,
                _ => false,
            },
            _ => false,
        }
    }
    for c in &f[1..] {
        let c = c.as_list().ok_or("cond-expand: bad clause")?;
        if let Some(req) = c.first() {
            if holds(req) {
                return Ok(lp(cons_body(vec![sym("begin")], &c[1..]), p));
            }
        }
    }
    Ok(Datum::Unspec)
}

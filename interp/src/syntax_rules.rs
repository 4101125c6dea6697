//! `syntax-rules` macros: pattern matching (literals, `_`, ellipses at any
//! depth, dotted tails, vectors) and template expansion.
//!
//! Hygiene is partial: identifiers that a template introduces in binding
//! position (names bound by `let`, `let*`, `letrec`, `letrec*`, named `let`,
//! `lambda` and `do` inside the template) are renamed afresh at every
//! expansion, so a macro's temporaries never capture the user's variables.
//! Free identifiers in templates refer to whatever is bound at the use site
//! (a user who locally rebinds `if` or `list` around a macro use will see it).

use crate::reader::Datum;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// A `syntax-rules` transformer.
#[derive(Debug, Clone)]
pub struct Macro {
    pub literals: Vec<Rc<str>>,
    pub ellipsis: Rc<str>,
    pub rules: Vec<(Datum, Datum)>,
}

#[derive(Debug, Clone)]
enum Bind {
    One(Datum),
    Many(Vec<Bind>),
}

type Binds = HashMap<Rc<str>, Bind>;

/// Parses `(syntax-rules (literal ...) (pattern template) ...)`.
pub fn parse(spec: &Datum) -> Result<Macro, String> {
    let items = spec.as_list().ok_or("syntax-rules: bad syntax")?;
    if items.is_empty() || !items[0].is_sym("syntax-rules") {
        return Err("define-syntax: only syntax-rules transformers are supported".into());
    }
    let (ellipsis, rest): (Rc<str>, &[Datum]) = match items.get(1) {
        Some(Datum::Sym(s)) => (s.clone(), &items[2..]),
        _ => (Rc::from("..."), &items[1..]),
    };
    let lits = rest
        .first()
        .and_then(|d| d.as_list())
        .ok_or("syntax-rules: missing literals list")?;
    let mut literals = Vec::new();
    for l in lits {
        match l {
            Datum::Sym(s) => literals.push(s.clone()),
            _ => return Err("syntax-rules: literals must be identifiers".into()),
        }
    }
    let mut rules = Vec::new();
    for r in &rest[1..] {
        match r.as_list() {
            Some([p, t]) => rules.push((p.clone(), t.clone())),
            _ => return Err("syntax-rules: each rule must be (pattern template)".into()),
        }
    }
    Ok(Macro {
        literals,
        ellipsis,
        rules,
    })
}

/// Splits a list datum into (elements, tail) where tail is `None` for a proper list.
fn parts(d: &Datum) -> Option<(&[Datum], Option<&Datum>)> {
    match d {
        Datum::List(v, t, _) => Some((v, t.as_deref())),
        _ => None,
    }
}

impl Macro {
    /// Expands a use of the macro, or explains why no rule matched.
    pub fn expand(&self, form: &Datum, counter: &mut u64) -> Result<Datum, String> {
        for (pat, tmpl) in &self.rules {
            let mut b = Binds::new();
            // The keyword position is ignored.
            let (pv, pt) = parts(pat).ok_or("syntax-rules: pattern must be a list")?;
            let (fv, ft) = parts(form).ok_or("bad macro use")?;
            if pv.is_empty() || fv.is_empty() {
                continue;
            }
            if self.match_list(&pv[1..], pt, &fv[1..], ft, &mut b) {
                *counter += 1;
                let mut renames = HashMap::new();
                let mut binders = HashSet::new();
                collect_binders(tmpl, &mut binders);
                for s in binders {
                    if !b.contains_key(&s) && *s != *"..." && *s != *self.ellipsis {
                        renames.insert(s.clone(), Rc::from(format!("{s}.{counter}").as_str()));
                    }
                }
                return self.instantiate(tmpl, &b, &renames);
            }
        }
        let name = parts(form)
            .and_then(|(v, _)| v.first())
            .and_then(|d| d.as_sym())
            .unwrap_or("macro");
        Err(format!("{name}: no syntax-rules pattern matches this use"))
    }

    fn is_ellipsis(&self, d: &Datum) -> bool {
        d.as_sym() == Some(&*self.ellipsis)
    }

    fn match_list(&self, pv: &[Datum], pt: Option<&Datum>, fv: &[Datum], ft: Option<&Datum>, b: &mut Binds) -> bool {
        let ell = pv.iter().position(|p| self.is_ellipsis(p));
        match ell {
            None => {
                if fv.len() < pv.len() {
                    return false;
                }
                for (p, f) in pv.iter().zip(fv) {
                    if !self.match_pat(p, f, b) {
                        return false;
                    }
                }
                let rest = &fv[pv.len()..];
                match pt {
                    None => rest.is_empty() && ft.is_none(),
                    Some(tp) => {
                        let tail = Datum::List(rest.to_vec(), ft.map(|t| Box::new(t.clone())), Default::default());
                        let tail = if rest.is_empty() {
                            ft.cloned().unwrap_or_else(Datum::nil)
                        } else {
                            tail
                        };
                        self.match_pat(tp, &tail, b)
                    }
                }
            }
            // An ellipsis with no pattern before it matches nothing.
            Some(0) => false,
            Some(e) => {
                let before = &pv[..e - 1];
                let rep = &pv[e - 1];
                let after = &pv[e + 1..];
                if fv.len() < before.len() + after.len() {
                    return false;
                }
                for (p, f) in before.iter().zip(fv) {
                    if !self.match_pat(p, f, b) {
                        return false;
                    }
                }
                let nrep = fv.len() - before.len() - after.len();
                let mut vars = Vec::new();
                self.pattern_vars(rep, &mut vars);
                let mut seqs: Vec<Vec<Bind>> = vec![Vec::new(); vars.len()];
                for f in &fv[before.len()..before.len() + nrep] {
                    let mut nb = Binds::new();
                    if !self.match_pat(rep, f, &mut nb) {
                        return false;
                    }
                    for (i, v) in vars.iter().enumerate() {
                        if let Some(x) = nb.remove(v) {
                            seqs[i].push(x);
                        }
                    }
                }
                for (v, s) in vars.into_iter().zip(seqs) {
                    b.insert(v, Bind::Many(s));
                }
                for (p, f) in after.iter().zip(&fv[before.len() + nrep..]) {
                    if !self.match_pat(p, f, b) {
                        return false;
                    }
                }
                match pt {
                    None => ft.is_none(),
                    Some(tp) => self.match_pat(tp, &ft.cloned().unwrap_or_else(Datum::nil), b),
                }
            }
        }
    }

    fn match_pat(&self, p: &Datum, f: &Datum, b: &mut Binds) -> bool {
        match p {
            Datum::Sym(s) => {
                if &**s == "_" {
                    true
                } else if self.literals.contains(s) {
                    f.as_sym() == Some(&**s)
                } else {
                    b.insert(s.clone(), Bind::One(f.clone()));
                    true
                }
            }
            Datum::List(pv, pt, _) => match f {
                Datum::List(fv, ft, _) => self.match_list(pv, pt.as_deref(), fv, ft.as_deref(), b),
                _ => false,
            },
            Datum::Vector(pv) => match f {
                Datum::Vector(fv) => self.match_list(pv, None, fv, None, b),
                _ => false,
            },
            _ => datum_eq(p, f),
        }
    }

    fn pattern_vars(&self, p: &Datum, out: &mut Vec<Rc<str>>) {
        match p {
            Datum::Sym(s) if &**s != "_" && !self.literals.contains(s) && !self.is_ellipsis(p) => {
                out.push(s.clone());
            }
            Datum::List(v, t, _) => {
                for x in v {
                    self.pattern_vars(x, out);
                }
                if let Some(t) = t {
                    self.pattern_vars(t, out);
                }
            }
            Datum::Vector(v) => {
                for x in v {
                    self.pattern_vars(x, out);
                }
            }
            _ => {}
        }
    }

    fn instantiate(&self, t: &Datum, b: &Binds, ren: &HashMap<Rc<str>, Rc<str>>) -> Result<Datum, String> {
        match t {
            Datum::Sym(s) => Ok(match b.get(s) {
                Some(Bind::One(d)) => d.clone(),
                Some(Bind::Many(_)) => return Err(format!("syntax-rules: pattern variable {s} used without ellipsis")),
                None => match ren.get(s) {
                    Some(r) => Datum::Sym(r.clone()),
                    None => t.clone(),
                },
            }),
            Datum::List(v, tail, pos) => {
                // (... ...) escapes an ellipsis.
                if v.len() == 2 && self.is_ellipsis(&v[0]) && tail.is_none() {
                    return Ok(v[1].clone());
                }
                let mut out = Vec::new();
                let mut i = 0;
                while i < v.len() {
                    let mut depth = 0;
                    while i + depth + 1 < v.len() && self.is_ellipsis(&v[i + depth + 1]) {
                        depth += 1;
                    }
                    if depth == 0 {
                        out.push(self.instantiate(&v[i], b, ren)?);
                    } else {
                        let mut items = vec![self.expand_ellipsis(&v[i], b, ren)?];
                        for _ in 1..depth {
                            items = vec![items.into_iter().flatten().collect()];
                            let _ = &items;
                        }
                        // depth > 1 flattens successive levels
                        out.extend(items.into_iter().flatten());
                    }
                    i += depth + 1;
                }
                let tail = match tail {
                    Some(t) => Some(Box::new(self.instantiate(t, b, ren)?)),
                    None => None,
                };
                // normalise (a b . ()) and (a . (b c))
                match tail {
                    Some(bx) => match *bx {
                        Datum::List(tv, tt, _) => {
                            out.extend(tv);
                            Ok(Datum::List(out, tt, *pos))
                        }
                        other => Ok(Datum::List(out, Some(Box::new(other)), *pos)),
                    },
                    None => Ok(Datum::List(out, None, *pos)),
                }
            }
            Datum::Vector(v) => {
                let l = self.instantiate(&Datum::List(v.clone(), None, Default::default()), b, ren)?;
                match l {
                    Datum::List(v, _, _) => Ok(Datum::Vector(v)),
                    _ => Ok(Datum::Vector(vec![])),
                }
            }
            _ => Ok(t.clone()),
        }
    }

    fn expand_ellipsis(&self, t: &Datum, b: &Binds, ren: &HashMap<Rc<str>, Rc<str>>) -> Result<Vec<Datum>, String> {
        let mut vars = Vec::new();
        self.pattern_vars(t, &mut vars);
        let seqvars: Vec<&Rc<str>> = vars
            .iter()
            .filter(|v| matches!(b.get(*v), Some(Bind::Many(_))))
            .collect();
        if seqvars.is_empty() {
            return Err("syntax-rules: ellipsis follows a template without pattern variables".into());
        }
        let n = seqvars
            .iter()
            .map(|v| match b.get(*v) {
                Some(Bind::Many(s)) => s.len(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        let mut out = Vec::new();
        for i in 0..n {
            let mut nb = b.clone();
            for v in &seqvars {
                if let Some(Bind::Many(s)) = b.get(*v) {
                    match s.get(i) {
                        Some(x) => {
                            nb.insert((*v).clone(), x.clone());
                        }
                        None => return Err("syntax-rules: ellipsis variables of different lengths".into()),
                    }
                }
            }
            out.push(self.instantiate(t, &nb, ren)?);
        }
        Ok(out)
    }
}

/// Identifiers a template binds with let-family forms, lambda or do.
fn collect_binders(t: &Datum, out: &mut HashSet<Rc<str>>) {
    if let Datum::List(v, tail, _) = t {
        if let Some(head) = v.first().and_then(|d| d.as_sym()) {
            match head {
                "let" | "let*" | "letrec" | "letrec*" | "do" => {
                    let mut i = 1;
                    if head == "let" {
                        if let Some(Datum::Sym(s)) = v.get(1) {
                            out.insert(s.clone());
                            i = 2;
                        }
                    }
                    if let Some(bs) = v.get(i).and_then(|d| d.as_list()) {
                        for bnd in bs {
                            if let Some(Datum::Sym(s)) = bnd.as_list().and_then(|l| l.first()) {
                                out.insert(s.clone());
                            }
                        }
                    }
                }
                "lambda" => {
                    if let Some(f) = v.get(1) {
                        collect_formals(f, out);
                    }
                }
                _ => {}
            }
        }
        for x in v {
            collect_binders(x, out);
        }
        if let Some(t) = tail {
            collect_binders(t, out);
        }
    }
}

fn collect_formals(f: &Datum, out: &mut HashSet<Rc<str>>) {
    match f {
        Datum::Sym(s) => {
            out.insert(s.clone());
        }
        Datum::List(v, t, _) => {
            for x in v {
                if let Datum::Sym(s) = x {
                    out.insert(s.clone());
                }
            }
            if let Some(t) = t {
                collect_formals(t, out);
            }
        }
        _ => {}
    }
}

/// Structural equality of literal data in patterns.
pub fn datum_eq(a: &Datum, b: &Datum) -> bool {
    match (a, b) {
        (Datum::Bool(x), Datum::Bool(y)) => x == y,
        (Datum::Int(x), Datum::Int(y)) => x == y,
        (Datum::Flo(x), Datum::Flo(y)) => x == y,
        (Datum::Char(x), Datum::Char(y)) => x == y,
        (Datum::Str(x), Datum::Str(y)) => x == y,
        (Datum::Sym(x), Datum::Sym(y)) => x == y,
        (Datum::List(x, xt, _), Datum::List(y, yt, _)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|(a, b)| datum_eq(a, b))
                && match (xt, yt) {
                    (None, None) => true,
                    (Some(a), Some(b)) => datum_eq(a, b),
                    _ => false,
                }
        }
        _ => false,
    }
}

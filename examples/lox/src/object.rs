//! Lox's heap objects and hash tables, as Marrow typed-API heap types.
//!
//! Every Lox value is a [`Val`]: marrow-gc's one-word [`Value`] (nil,
//! boolean, unboxed float, or a handle) whose objects are of the one type
//! [`Object`], an enum of clox's kinds of object: strings, functions,
//! natives, closures, upvalues, classes, instances and bound methods.
//! Variable-sized parts are separate heap objects the variants point to:
//! a string's bytes ([`Bytes`]), a function's code, line table and
//! constants, a closure's upvalues ([`Array`]), a class's methods and an
//! instance's fields ([`Table`]). Fields that change after allocation are
//! [`GcCell`]s (stores go through the write barrier); everything else is
//! written once, when the object is made.
//!
//! [`Table`] is clox's hash table (open addressing, linear probing,
//! tombstones, load factor 3/4, capacity a power of two) over a flat
//! array of `[key0, value0, key1, value1, ...]`: an empty slot has key
//! nil and value nil, a tombstone key nil and value true. Keys are
//! interned strings and are compared by identity.
//!
//! Interning (a documented choice): only strings that code names are
//! interned, when a compiled function is materialised on the heap
//! (identifiers and string literals), plus `init`. Table keys only ever
//! come from such names (Lox has no computed property names), so identity
//! comparison of keys is exact; strings made at run time (concatenation)
//! are not interned, and string equality compares contents when the
//! handles differ. The intern table is therefore strong without leaking:
//! it holds at most the names and literals of the code compiled so far.

use marrow_gc::runtime::AllocError;
use marrow_gc::typed::{Array, Bytes, GcCell, Mutation, Obj, Trace, Value};

/// A Lox value.
pub type Val<'gc> = Value<'gc, Object<'gc>>;

/// A handle to a Lox object.
pub type ObjRef<'gc> = Obj<'gc, Object<'gc>>;

/// A string: its FNV-1a hash (clox's) and its bytes.
#[derive(Trace, Debug)]
pub struct LoxString<'gc> {
    pub hash: u32,
    pub bytes: Obj<'gc, Bytes>,
}

/// A compiled function: code, one source line per byte of code (4 bytes
/// each, little-endian), constants. Its own object, which the
/// `Object::Function` variant points to, so that the `Object` enum stays
/// four words.
#[derive(Trace, Debug)]
pub struct Function<'gc> {
    pub arity: u32,
    pub upvalue_count: u32,
    /// The name (a string), `None` for the script.
    pub name: Option<ObjRef<'gc>>,
    pub code: Obj<'gc, Bytes>,
    pub lines: Obj<'gc, Bytes>,
    pub constants: Obj<'gc, Array<Val<'gc>>>,
}

impl Function<'_> {
    /// The source line of the code byte at `offset`.
    pub fn line(&self, offset: usize) -> u32 {
        let lines = self.lines.as_bytes();
        lines
            .get(offset * 4..offset * 4 + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A native function (clox has one: `clock`).
#[derive(Trace, Debug)]
pub struct Native {
    pub id: u32,
}

/// A closure: a function and the upvalues it captured.
#[derive(Trace, Debug)]
pub struct Closure<'gc> {
    pub function: Obj<'gc, Function<'gc>>,
    /// `Upvalue` objects; `None` when the function captures nothing.
    pub upvalues: Option<Obj<'gc, Array<Option<ObjRef<'gc>>>>>,
}

/// A captured variable: open (a slot of the value stack) or closed (its
/// own copy of the value).
#[derive(Trace, Debug)]
pub struct Upvalue<'gc> {
    /// The stack slot while open; -1 once closed.
    pub slot: GcCell<i64>,
    pub closed: GcCell<Val<'gc>>,
}

/// A class: its name and its methods (the table is part of the object).
#[derive(Trace, Debug)]
pub struct Class<'gc> {
    pub name: ObjRef<'gc>,
    pub methods: Table<'gc>,
}

/// An instance: its class and its fields (the table is part of the object).
#[derive(Trace, Debug)]
pub struct Instance<'gc> {
    pub class: ObjRef<'gc>,
    pub fields: Table<'gc>,
}

/// A method bound to its receiver.
#[derive(Trace, Debug)]
pub struct BoundMethod<'gc> {
    pub receiver: Val<'gc>,
    /// A `Closure` object.
    pub method: ObjRef<'gc>,
}

/// Every kind of Lox object.
#[derive(Trace, Debug)]
#[repr(u8)]
pub enum Object<'gc> {
    Str(LoxString<'gc>),
    Function(Obj<'gc, Function<'gc>>),
    Native(Native),
    Closure(Closure<'gc>),
    Upvalue(Upvalue<'gc>),
    Class(Class<'gc>),
    Instance(Instance<'gc>),
    BoundMethod(BoundMethod<'gc>),
}

/// clox's string hash: 32-bit FNV-1a.
pub fn hash_bytes(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 2166136261;
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(16777619);
    }
    hash
}

/// Allocates a string object (not interned).
pub fn new_string<'gc>(mc: &Mutation<'gc>, bytes: &[u8]) -> Result<ObjRef<'gc>, AllocError> {
    let b = mc.alloc_bytes(bytes)?;
    mc.alloc(Object::Str(LoxString {
        hash: hash_bytes(bytes),
        bytes: b,
    }))
}

/// The string object's bytes and hash, if `o` is a string.
pub fn as_string<'gc>(o: ObjRef<'gc>) -> Option<&'gc LoxString<'gc>> {
    match Obj::into_ref(o) {
        Object::Str(s) => Some(s),
        _ => None,
    }
}

/// Lox's `==`: numbers by value (so NaN differs from itself), strings by
/// contents, everything else by identity.
pub fn values_equal<'gc>(a: Val<'gc>, b: Val<'gc>) -> bool {
    if let (Some(x), Some(y)) = (a.as_float(), b.as_float()) {
        return x == y;
    }
    if a.identical(b) {
        return true;
    }
    if let (Some(x), Some(y)) = (a.as_obj(), b.as_obj()) {
        if let (Some(s), Some(t)) = (as_string(x), as_string(y)) {
            return s.hash == t.hash && s.bytes.as_bytes() == t.bytes.as_bytes();
        }
    }
    false
}

/// clox's hash table, on the heap. See the module documentation.
#[derive(Trace, Debug)]
pub struct Table<'gc> {
    /// Live entries plus tombstones (clox's count).
    pub count: GcCell<u64>,
    /// `2 * capacity` words, `[key, value]` pairs; `None` until the first insertion.
    pub entries: GcCell<Option<Obj<'gc, Array<Val<'gc>>>>>,
}

#[inline(always)]
fn key_hash(key: ObjRef<'_>) -> u32 {
    as_string(key).map_or(0, |s| s.hash)
}

/// The slot for `key` in `entries` (of `cap` pairs): its own, or the
/// first tombstone or empty slot on its probe sequence.
fn find_slot<'gc>(entries: Obj<'gc, Array<Val<'gc>>>, cap: usize, key: ObjRef<'gc>) -> usize {
    let mut index = key_hash(key) as usize & (cap - 1);
    let mut tombstone = None;
    loop {
        let k = entries.get(2 * index).unwrap_or(Val::NIL);
        match k.as_obj() {
            Some(o) if Obj::ptr_eq(o, key) => return index,
            Some(_) => {}
            None => {
                let v = entries.get(2 * index + 1).unwrap_or(Val::NIL);
                if v.is_nil() {
                    return tombstone.unwrap_or(index);
                }
                tombstone.get_or_insert(index);
            }
        }
        index = (index + 1) & (cap - 1);
    }
}

impl<'gc> Table<'gc> {
    /// An empty table.
    pub fn new() -> Table<'gc> {
        Table {
            count: GcCell::new(0u64),
            entries: GcCell::new(None),
        }
    }

    fn capacity(entries: Obj<'gc, Array<Val<'gc>>>) -> usize {
        entries.len() / 2
    }

    /// The value for `key`.
    #[inline]
    pub fn get(&self, key: ObjRef<'gc>) -> Option<Val<'gc>> {
        let entries = self.entries.get()?;
        let mask = Self::capacity(entries) - 1;
        let mut index = key_hash(key) as usize & mask;
        loop {
            let k = entries.get(2 * index)?;
            if k.is_nil() {
                // Empty (value nil) ends the probe; a tombstone (value true) does not.
                if entries.get(2 * index + 1)?.is_nil() {
                    return None;
                }
            } else if k.identical(Val::obj(key)) {
                return entries.get(2 * index + 1);
            }
            index = (index + 1) & mask;
        }
    }

    /// Sets `key` to `value`; true if the key is new.
    pub fn set(&self, mc: &Mutation<'gc>, key: ObjRef<'gc>, value: Val<'gc>) -> Result<bool, AllocError> {
        let mut entries = self.entries.get();
        let cap = entries.map_or(0, Self::capacity);
        if (self.count.get() + 1) as f64 > cap as f64 * 0.75 {
            let new_cap = if cap < 8 { 8 } else { cap * 2 };
            entries = Some(self.grow(mc, new_cap)?);
        }
        let Some(entries) = entries else { return Ok(false) };
        let i = find_slot(entries, Self::capacity(entries), key);
        let is_new = entries.get(2 * i).unwrap_or(Val::NIL).is_nil();
        if is_new && entries.get(2 * i + 1).unwrap_or(Val::NIL).is_nil() {
            self.count.set(mc, self.count.get() + 1);
        }
        let _ = entries.set(mc, 2 * i, Val::obj(key));
        let _ = entries.set(mc, 2 * i + 1, value);
        Ok(is_new)
    }

    fn grow(&self, mc: &Mutation<'gc>, cap: usize) -> Result<Obj<'gc, Array<Val<'gc>>>, AllocError> {
        let fresh = mc.alloc_array(2 * cap, Val::NIL)?;
        let mut count = 0;
        if let Some(old) = self.entries.get() {
            for i in 0..Self::capacity(old) {
                let Some(k) = old.get(2 * i).and_then(|k| k.as_obj()) else {
                    continue;
                };
                let j = find_slot(fresh, cap, k);
                let _ = fresh.set(mc, 2 * j, Val::obj(k));
                let _ = fresh.set(mc, 2 * j + 1, old.get(2 * i + 1).unwrap_or(Val::NIL));
                count += 1;
            }
        }
        self.count.set(mc, count);
        self.entries.set(mc, Some(fresh));
        Ok(fresh)
    }

    /// Removes `key`, leaving a tombstone; true if it was there.
    pub fn delete(&self, mc: &Mutation<'gc>, key: ObjRef<'gc>) -> bool {
        let Some(entries) = self.entries.get() else {
            return false;
        };
        if self.count.get() == 0 {
            return false;
        }
        let i = find_slot(entries, Self::capacity(entries), key);
        if entries.get(2 * i).unwrap_or(Val::NIL).is_nil() {
            return false;
        }
        let _ = entries.set(mc, 2 * i, Val::NIL);
        let _ = entries.set(mc, 2 * i + 1, Val::bool(true));
        true
    }

    /// Copies every entry of `self` into `to`.
    pub fn add_all(&self, mc: &Mutation<'gc>, to: &Table<'gc>) -> Result<(), AllocError> {
        let Some(entries) = self.entries.get() else {
            return Ok(());
        };
        for i in 0..Self::capacity(entries) {
            if let Some(k) = entries.get(2 * i).and_then(|k| k.as_obj()) {
                to.set(mc, k, entries.get(2 * i + 1).unwrap_or(Val::NIL))?;
            }
        }
        Ok(())
    }

    /// The interned string with these bytes, if any (for the intern table).
    pub fn find_string(&self, bytes: &[u8], hash: u32) -> Option<ObjRef<'gc>> {
        let entries = self.entries.get()?;
        if self.count.get() == 0 {
            return None;
        }
        let cap = Self::capacity(entries);
        let mut index = hash as usize & (cap - 1);
        loop {
            let k = entries.get(2 * index).unwrap_or(Val::NIL);
            match k.as_obj() {
                Some(o) => {
                    if let Some(s) = as_string(o) {
                        if s.hash == hash && s.bytes.as_bytes() == bytes {
                            return Some(o);
                        }
                    }
                }
                None => {
                    if entries.get(2 * index + 1).unwrap_or(Val::NIL).is_nil() {
                        return None;
                    }
                }
            }
            index = (index + 1) & (cap - 1);
        }
    }
}

impl Default for Table<'_> {
    fn default() -> Self {
        Table::new()
    }
}

/// The interned string with these bytes, made and added to `strings` if new.
pub fn intern<'gc>(mc: &Mutation<'gc>, strings: &Table<'gc>, bytes: &[u8]) -> Result<ObjRef<'gc>, AllocError> {
    let hash = hash_bytes(bytes);
    if let Some(s) = strings.find_string(bytes, hash) {
        return Ok(s);
    }
    let s = new_string(mc, bytes)?;
    strings.set(mc, s, Val::NIL)?;
    Ok(s)
}

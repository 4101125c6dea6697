//! `#[derive(Trace)]`: makes a Rust struct or enum a Marrow heap type.
//!
//! The collector finds pointers by a mask over an object's words (bit i:
//! word i may hold a pointer), not by calling a trace function. So the
//! derive does not write code that walks fields: it computes, at compile
//! time, the mask of the whole type from the masks of its fields, each
//! shifted by the field's offset (`core::mem::offset_of!`, so Rust's own
//! layout, reordering included, is what is described). A field whose type
//! is not `Trace` is refused with a compile error at that field: `Vec`,
//! `Box`, `String`, `Rc` and the `Cell`s are not `Trace`, because the
//! collector frees objects without running destructors and cannot see the
//! pointers those types hold.
//!
//! Enums: `offset_of!` cannot name a variant's field on stable Rust, so
//! an enum with fields must have a primitive representation
//! (`#[repr(u8)]` and the like), for which Rust defines the layout: each
//! variant is laid out as a `#[repr(C)]` struct of the tag and then the
//! fields. The derive declares that struct for each variant and takes the
//! offsets from it, so the mask of an enum is exact too (the union of its
//! variants' masks; the collector checks every word of the mask against
//! the heap, so a word that is a pointer in one variant and a number in
//! another is at worst retention, and a word that is padding in every
//! variant is never read).
//!
//! What it generates for `struct Node<'gc> { .. }`:
//! - `unsafe impl<'gc> Trace for Node<'gc>` with the mask, the heap type
//!   descriptor (built once) and `type Static = Node<'static>`;
//! - `unsafe impl Rootable for Node<'static>` with `type At<'x> = Node<'x>`,
//!   the projection rooted handles use to re-brand the type in a scope;
//! - a compile-time assertion that the type has no drop glue.
//!
//! Supported: structs (named, tuple, unit) and enums with at most one
//! lifetime parameter (the brand) and no type or const parameters.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Fields, GenericParam, Lifetime};

/// Derives `marrow_gc::typed::Trace` (and `Rootable`) for a struct or enum.
/// See the crate documentation.
#[proc_macro_derive(Trace)]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let mut brand: Option<&Lifetime> = None;
    for p in &input.generics.params {
        match p {
            GenericParam::Lifetime(l) if brand.is_none() => brand = Some(&l.lifetime),
            GenericParam::Lifetime(l) => {
                return Err(syn::Error::new(
                    l.span(),
                    "#[derive(Trace)]: a heap type takes at most one lifetime, the brand of its handles",
                ))
            }
            GenericParam::Type(t) => {
                return Err(syn::Error::new(
                    t.span(),
                    "#[derive(Trace)]: type parameters are not supported; \
                     a heap type's pointer mask must be known for the type itself",
                ))
            }
            GenericParam::Const(c) => {
                return Err(syn::Error::new(
                    c.span(),
                    "#[derive(Trace)]: const parameters are not supported",
                ))
            }
        }
    }
    if let Some(w) = &input.generics.where_clause {
        return Err(syn::Error::new(
            w.span(),
            "#[derive(Trace)]: where clauses are not supported",
        ));
    }

    let krate = quote!(::marrow_gc::typed);
    let gc = Lifetime::new("'__marrow_gc", Span::call_site());
    // The type as named inside the impl, 'static, and at another brand.
    let (impl_generics, this, stat, at) = match brand {
        Some(l) => (
            quote!(<#l>),
            quote!(#name<#l>),
            quote!(#name<'static>),
            quote!(#name<#gc>),
        ),
        None => (quote!(), quote!(#name), quote!(#name), quote!(#name)),
    };

    let mut shadows = Vec::new();
    let mask = match &input.data {
        Data::Struct(s) => {
            let parts = field_masks(&s.fields, &krate);
            quote!(0u64 #(| #parts)*)
        }
        Data::Enum(e) => {
            let has_fields = e.variants.iter().any(|v| !v.fields.is_empty());
            if !has_fields {
                quote!(0u64)
            } else {
                let Some(tag) = primitive_repr(input)? else {
                    return Err(syn::Error::new(
                        name.span(),
                        "#[derive(Trace)]: an enum with fields needs a primitive representation \
                         such as #[repr(u8)], which defines where each field lies",
                    ));
                };
                let mut parts = Vec::new();
                for v in &e.variants {
                    if v.fields.is_empty() {
                        continue;
                    }
                    // Rust lays out a variant of a primitive-repr enum as
                    // this #[repr(C)] struct: the tag, then the fields.
                    let shadow = syn::Ident::new(&format!("__MarrowLayout{}{}", name, v.ident), v.ident.span());
                    let tys: Vec<_> = v.fields.iter().map(|f| &f.ty).collect();
                    let (decl_generics, use_generics) = match brand {
                        Some(l) => (quote!(<#l>), quote!(<#l>)),
                        None => (quote!(), quote!()),
                    };
                    let marker = match brand {
                        Some(l) => quote!(::core::marker::PhantomData<&#l ()>),
                        None => quote!(),
                    };
                    shadows.push(quote! {
                        #[repr(C)]
                        #[allow(dead_code, non_camel_case_types)]
                        struct #shadow #decl_generics (#tag, #(#tys,)* #marker);
                    });
                    for (i, ty) in tys.iter().enumerate() {
                        let idx = syn::Index::from(i + 1);
                        parts.push(quote_spanned! {ty.span()=>
                            #krate::__derive::field_words::<#ty>(::core::mem::offset_of!(#shadow #use_generics, #idx))
                        });
                    }
                }
                quote!(0u64 #(| #parts)*)
            }
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "#[derive(Trace)]: unions are not supported (the collector could not tell which field is live)",
            ))
        }
    };

    let write = write_into(input, &krate, primitive_repr(input)?)?;
    let type_name = name.to_string();
    Ok(quote! {
        #(#shadows)*
        // SAFETY: the mask is the union of the fields' masks, each shifted
        // to the field's offset (checked for alignment and range at
        // compile time), or every word for an enum with any pointer field;
        // `Static`/`At` differ from the type only in its brand.
        unsafe impl #impl_generics #krate::Trace for #this {
            const POINTER_WORDS: u64 = #mask;
            type Static = #stat;
            #write
            fn heap_type() -> &'static #krate::__derive::Type {
                static TYPE: ::std::sync::OnceLock<#krate::__derive::Type> = ::std::sync::OnceLock::new();
                TYPE.get_or_init(|| #krate::__derive::heap_type::<Self>(#type_name))
            }
        }
        // SAFETY: `At<'x>` is this type at brand 'x, whose `Static` is
        // this type.
        unsafe impl #krate::Rootable for #stat {
            type At<#gc> = #at;
        }
        const _: () = #krate::__derive::check_layout::<#stat>();
    })
}

/// The integer type of `#[repr(u8)]` (and the like) on the input, if
/// that is its representation; an error for representations whose field
/// layout the derive does not know (`C` together with an integer).
fn primitive_repr(input: &DeriveInput) -> syn::Result<Option<syn::Ident>> {
    const INTS: [&str; 12] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ];
    let mut int = None;
    let mut other = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        attr.parse_nested_meta(|meta| {
            match meta.path.get_ident() {
                Some(id) if INTS.contains(&id.to_string().as_str()) => int = Some(id.clone()),
                Some(id) if id == "align" => {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let _: syn::LitInt = content.parse()?;
                }
                _ => other = Some(meta.path.span()),
            }
            Ok(())
        })?;
    }
    if let (Some(_), Some(span)) = (&int, other) {
        return Err(syn::Error::new(
            span,
            "#[derive(Trace)]: use a primitive representation alone, such as #[repr(u8)]",
        ));
    }
    Ok(int)
}

/// `Trace::write_into`: the value written field by field into zeroed
/// memory, so bytes that are padding in the value stay zero (initialised)
/// in the heap, where the collector may read them as part of a word that
/// is a pointer in another variant.
fn write_into(input: &DeriveInput, krate: &TokenStream2, tag: Option<syn::Ident>) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let body = match &input.data {
        Data::Struct(s) => {
            let (pat, writes) = destructure(&s.fields, krate, |i, id| match id {
                Some(id) => quote!(&raw mut (*dst).#id),
                None => {
                    let idx = syn::Index::from(i);
                    quote!(&raw mut (*dst).#idx)
                }
            });
            quote!(let Self #pat = self; #(#writes)*)
        }
        Data::Enum(e) if e.variants.iter().all(|v| v.fields.is_empty()) => {
            quote!(dst.write(self);)
        }
        Data::Enum(e) => {
            let tag = tag.expect("checked by the caller");
            let arms = e.variants.iter().map(|v| {
                let ident = &v.ident;
                let shadow = syn::Ident::new(&format!("__MarrowLayout{}{}", name, v.ident), v.ident.span());
                if v.fields.is_empty() {
                    return quote!(Self::#ident => (dst as *mut #tag).write(tag),);
                }
                let (pat, writes) = destructure(&v.fields, krate, |i, _| {
                    // Field i of the variant is field i + 1 of its layout.
                    let idx = syn::Index::from(i + 1);
                    quote!(&raw mut (*(dst as *mut #shadow)).#idx)
                });
                quote!(Self::#ident #pat => {
                    (dst as *mut #tag).write(tag);
                    #(#writes)*
                })
            });
            quote! {
                // The tag is the first field of every variant's layout.
                let tag = *(&self as *const Self as *const #tag);
                match self { #(#arms)* }
            }
        }
        Data::Union(_) => unreachable!("refused earlier"),
    };
    Ok(quote! {
        #[inline(always)]
        unsafe fn write_into(self, dst: *mut Self) {
            // SAFETY: `dst` is valid, aligned and zeroed (the caller's
            // contract); each field is written at its own place.
            unsafe { #body }
        }
    })
}

/// A pattern binding every field, and a `write_into` of each to the place
/// `place(position, name)` gives.
fn destructure(
    fields: &Fields,
    krate: &TokenStream2,
    place: impl Fn(usize, Option<&syn::Ident>) -> TokenStream2,
) -> (TokenStream2, Vec<TokenStream2>) {
    let mut writes = Vec::new();
    let mut binds = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let var = syn::Ident::new(&format!("__f{i}"), Span::call_site());
        match &f.ident {
            Some(id) => binds.push(quote!(#id: #var)),
            None => binds.push(quote!(#var)),
        }
        let dst = place(i, f.ident.as_ref());
        let ty = &f.ty;
        writes.push(quote!(<#ty as #krate::Trace>::write_into(#var, #dst);));
    }
    let pat = match fields {
        Fields::Named(_) => quote!({ #(#binds),* }),
        Fields::Unnamed(_) => quote!(( #(#binds),* )),
        Fields::Unit => quote!(),
    };
    (pat, writes)
}

/// One mask term per field: the field type's mask moved to its offset.
fn field_masks(fields: &Fields, krate: &TokenStream2) -> Vec<TokenStream2> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ty = &f.ty;
            let member = match &f.ident {
                Some(id) => quote!(#id),
                None => {
                    let idx = syn::Index::from(i);
                    quote!(#idx)
                }
            };
            quote_spanned! {ty.span()=>
                #krate::__derive::field_words::<#ty>(::core::mem::offset_of!(Self, #member))
            }
        })
        .collect()
}

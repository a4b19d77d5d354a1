//! `#[derive(SseEvent)]`: a struct or enum whose values are events. The event name comes
//! from the type or variant (checked here, at compile time); the data is the fields as
//! JSON, serialized straight from the value through serde.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Member};

use crate::errors::Errors;

/// What `#[sse(...)]` says on the type, a variant or a field.
#[derive(Default)]
struct Sse {
    event: Option<LitStr>,
    id: Option<Span>,
    krate: Option<syn::Path>,
}

fn sse_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> Sse {
    let mut sse = Sse::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("sse")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("event") {
                sse.event = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("id") {
                sse.id = Some(meta.path.span());
            } else if meta.path.is_ident("crate") {
                sse.krate = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown `#[sse(...)]` argument: the arguments are `event = \"name\"` (on the type or a variant), `id` (on a field) and `crate = path`",
                ));
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    sse
}

/// One kind of event the type makes: the whole struct, or one variant.
struct Shape<'a> {
    /// `Type` or `Type::Variant`.
    path: TokenStream,
    /// The name a serializer is told (the type's or variant's).
    ident: &'a Ident,
    event: String,
    fields: &'a Fields,
    /// The field that is the id, if one is marked.
    id: Option<usize>,
}

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::default();
    let top = sse_attrs(&input.attrs, &mut errors);
    let krate = match &top.krate {
        Some(path) => quote!(#path),
        None => quote!(::sse_runtime),
    };
    if !input.generics.params.is_empty() {
        errors.at(
            &input.generics,
            "`SseEvent` cannot be derived for a generic type: name the types its events carry",
        );
    }
    let ty = &input.ident;
    let mut shapes = Vec::new();
    match &input.data {
        Data::Struct(data) => {
            let event = event_name(&input.ident, top.event.as_ref(), &mut errors);
            let id = field_id(&data.fields, &mut errors);
            shapes.push(Shape {
                path: quote!(#ty),
                ident: &input.ident,
                event,
                fields: &data.fields,
                id,
            });
        }
        Data::Enum(data) => {
            if let Some(event) = &top.event {
                errors.at(
                    event,
                    "an enum's events are named by its variants: put `#[sse(event = \"...\")]` on a variant",
                );
            }
            if data.variants.is_empty() {
                errors.at(&input.ident, "an enum with no variant has no event to send");
            }
            for variant in &data.variants {
                let sse = sse_attrs(&variant.attrs, &mut errors);
                let ident = &variant.ident;
                shapes.push(Shape {
                    path: quote!(#ty::#ident),
                    ident,
                    event: event_name(ident, sse.event.as_ref(), &mut errors),
                    fields: &variant.fields,
                    id: field_id(&variant.fields, &mut errors),
                });
            }
        }
        Data::Union(data) => errors.at(
            data.union_token,
            "`SseEvent` derives for a struct or an enum, not a union",
        ),
    }
    if !errors.is_empty() {
        return errors.into_compile_errors();
    }
    let names = shapes.iter().map(|shape| &shape.event);
    let to_event = shapes.iter().map(|shape| to_event_arm(shape, &krate));
    let serialize = shapes.iter().map(|shape| serialize_arm(shape, &krate));
    let private = quote!(#krate::__private);
    quote! {
        const _: () = {
            /// The value's fields, serialized as its event's data.
            struct __SseData<'__a>(&'__a #ty);

            impl #private::serde::Serialize for __SseData<'_> {
                fn serialize<__S: #private::serde::Serializer>(
                    &self,
                    serializer: __S,
                ) -> #private::Result<__S::Ok, __S::Error> {
                    match self.0 {
                        #(#serialize)*
                    }
                }
            }

            impl #krate::SseEvent for #ty {
                const NAMES: &'static [&'static str] = &[#(#names),*];

                fn to_event(&self) -> #private::Result<#private::Cow<'_, #krate::Event>, #krate::Error> {
                    let event = match self {
                        #(#to_event)*
                    };
                    let event = event.json_data(&__SseData(self))?;
                    #private::Result::Ok(#private::Cow::Owned(event))
                }
            }
        };
    }
}

/// The event name of a type or variant: `#[sse(event = "...")]`, else its name in
/// `snake_case`. An empty name or one with a line break is an error here.
fn event_name(ident: &Ident, given: Option<&LitStr>, errors: &mut Errors) -> String {
    let Some(given) = given else {
        return snake_case(&ident.to_string());
    };
    let name = given.value();
    if name.is_empty() {
        errors.at(given, "an event name cannot be empty: an event without a name is a `message` event, which needs no type");
    } else if name.contains(['\r', '\n']) {
        errors.at(
            given,
            "an event name cannot hold a line break (CR or LF): it would end the `event:` line",
        );
    }
    name
}

/// `UserJoined` → `user_joined`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.char_indices() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The index of the field marked `#[sse(id)]`, if one is; two are an error.
fn field_id(fields: &Fields, errors: &mut Errors) -> Option<usize> {
    let mut id = None;
    for (index, field) in fields.iter().enumerate() {
        let sse = sse_attrs(&field.attrs, errors);
        if let Some(event) = &sse.event {
            errors.at(
                event,
                "`event = ...` names a type or a variant, not a field",
            );
        }
        if let Some(span) = sse.id {
            if id.is_some() {
                errors.push(syn::Error::new(
                    span,
                    "an event has one id: mark one field `#[sse(id)]`",
                ));
            }
            id = Some(index);
        }
    }
    id
}

fn member(index: usize, field: &syn::Field) -> Member {
    match &field.ident {
        Some(ident) => Member::Named(ident.clone()),
        None => Member::Unnamed(index.into()),
    }
}

/// The pattern that binds the fields `keep` accepts, by index, as `__f0`, `__f1`, ...
fn pattern(shape: &Shape<'_>, keep: impl Fn(usize) -> bool) -> TokenStream {
    let path = &shape.path;
    let binds = shape
        .fields
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, field)| {
            let (member, bind) = (member(i, field), bind(i, field));
            quote!(#member: #bind)
        });
    quote!(#path { #(#binds,)* .. })
}

/// The binding of field `index`, spanned at its type: a type that cannot be serialized is
/// reported there.
fn bind(index: usize, field: &syn::Field) -> Ident {
    format_ident!("__f{}", index, span = field.ty.span())
}

fn to_event_arm(shape: &Shape<'_>, krate: &TokenStream) -> TokenStream {
    let event = &shape.event;
    // The name was checked above, so the panicking setter cannot panic.
    let base = quote!(#krate::Event::new().event(#event));
    match shape
        .id
        .and_then(|id| Some((id, shape.fields.iter().nth(id)?)))
    {
        Some((id, field)) => {
            let pattern = pattern(shape, |i| i == id);
            let id = bind(id, field);
            quote!(#pattern => #base.try_id(#krate::__private::ToString::to_string(#id))?,)
        }
        None => {
            let pattern = pattern(shape, |_| false);
            quote!(#pattern => #base,)
        }
    }
}

fn serialize_arm(shape: &Shape<'_>, krate: &TokenStream) -> TokenStream {
    let data: Vec<(usize, &syn::Field)> = shape
        .fields
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != shape.id)
        .collect();
    let pattern = pattern(shape, |i| Some(i) != shape.id);
    let name = shape.ident.to_string();
    let serde = quote!(#krate::__private::serde);
    let body = match shape.fields {
        Fields::Named(_) => {
            let len = data.len();
            let fields = data.iter().map(|(i, field)| {
                let key = field.ident.as_ref().map(ToString::to_string);
                let bind = bind(*i, field);
                // At the field, where a type that cannot be serialized is reported.
                quote_spanned!(field.ty.span()=> #serde::ser::SerializeStruct::serialize_field(&mut state, #key, #bind)?;)
            });
            quote! {{
                let mut state = #serde::Serializer::serialize_struct(serializer, #name, #len)?;
                #(#fields)*
                #serde::ser::SerializeStruct::end(state)
            }}
        }
        Fields::Unnamed(_) if data.len() == 1 => {
            let (i, field) = data[0];
            let bind = bind(i, field);
            quote_spanned!(field.ty.span()=> #serde::Serialize::serialize(#bind, serializer))
        }
        Fields::Unnamed(_) => {
            let len = data.len();
            let fields = data.iter().map(|(i, field)| {
                let bind = bind(*i, field);
                quote_spanned!(field.ty.span()=> #serde::ser::SerializeTuple::serialize_element(&mut state, #bind)?;)
            });
            quote! {{
                let mut state = #serde::Serializer::serialize_tuple(serializer, #len)?;
                #(#fields)*
                #serde::ser::SerializeTuple::end(state)
            }}
        }
        // No data would be no event for an `EventSource`: `{}`.
        Fields::Unit => quote! {
            #serde::ser::SerializeStruct::end(#serde::Serializer::serialize_struct(serializer, #name, 0)?)
        },
    };
    quote!(#pattern => #body,)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case() {
        assert_eq!(snake_case("Joined"), "joined");
        assert_eq!(snake_case("UserJoined"), "user_joined");
        assert_eq!(snake_case("said"), "said");
    }
}

//! The code `#[sse_view]` writes: the axum handler, and a hidden companion that tells
//! `sse_routes!` where and how to mount it.
//!
//! Generated code names everything through `<crate>::__private` (`::sse_runtime` unless
//! the attribute says `crate = path`), so it compiles in any crate that depends on
//! sse-runtime, whatever that crate imports.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, ItemStruct, ReturnType};

use crate::ast::{Generator, View};
use crate::attr::{Args, Channel};
use crate::errors::Errors;
use crate::stream;
use crate::template::{self, Part};
use crate::valid;

/// `#[sse_view(args)] item`: parse, check, then write the code, or the errors beside the
/// user's item as it was written.
pub(crate) fn sse_view(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = Args::parse(args, &mut errors);
    let view = match View::parse(item.clone()) {
        Ok(view) => view,
        Err(error) => {
            errors.push(error);
            let errors = errors.into_compile_errors();
            return quote!(#item #errors);
        }
    };
    let template = valid::check(&args, &view, &mut errors);
    if !errors.is_empty() {
        // A `yield` reported in a buffer view is not left for the compiler to report
        // again as unstable syntax.
        let item = match &view {
            View::Generator(function) if !Generator::new(function).is_stream() => {
                let mut function = function.clone();
                stream::unyield(&mut function.block);
                function.to_token_stream()
            }
            _ => item,
        };
        // A method sits in an `impl`, where the companion cannot go.
        let in_impl = matches!(&view, View::Generator(f) if f.sig.receiver().is_some());
        let companion = (!in_impl).then(|| companion(&args, &view, None, false));
        let errors = errors.into_compile_errors();
        return quote!(#item #companion #errors);
    }
    let code = match &view {
        View::Generator(function) => generator(&args, &Generator::new(function)),
        View::Channel(declaration) => declaration.to_token_stream(),
    };
    let companion = companion(&args, &view, template.as_deref(), true);
    quote!(#code #companion)
}

/// The name of the hidden item that carries a view's path to `sse_routes!`.
pub(crate) fn companion_ident(view: &Ident) -> Ident {
    format_ident!("__sse_view_{}", view)
}

/// `<crate>::__private`, where generated code finds what it calls.
fn private(args: &Args) -> TokenStream {
    match &args.krate {
        Some((_, krate)) => quote!(#krate::__private),
        None => quote!(::sse_runtime::__private),
    }
}

/// A hidden unit struct beside the view that tells `sse_routes!` how to mount it: the
/// path the attribute gives, the channel template (whose parameters the path must
/// have), whether the view compiled (so a broken view does not also report a missing
/// path), and the handler.
fn companion(args: &Args, view: &View, template: Option<&[Part]>, valid: bool) -> TokenStream {
    let private = private(args);
    let ident = companion_ident(view.ident());
    let vis = view.vis();
    let path = match &args.path {
        Some(path) => quote!(#private::Option::Some(#path)),
        None => quote!(#private::Option::None),
    };
    let parts = template.unwrap_or_default().iter().map(|part| match part {
        Part::Text(text) => quote!(#private::Part::Text(#text)),
        Part::Param(name) => quote!(#private::Part::Param(#name)),
    });
    let mount = match view {
        View::Generator(_) => quote! {
            /// Mounts the view, the function itself, at `path`, behind the middleware that
            /// answers a reconnection to a finished stream with `204 No Content`.
            pub fn mount<__S, __H, __T>(
                router: #private::axum::Router<__S>,
                path: &'static str,
                view: __H,
            ) -> #private::axum::Router<__S>
            where
                __H: #private::axum::handler::Handler<__T, __S>,
                __T: 'static,
                __S: #private::Clone + #private::Send + #private::Sync + 'static,
            {
                let refuse_finished = #private::axum::middleware::from_fn(#private::refuse_finished);
                router.route(path, #private::axum::routing::get(view).layer(refuse_finished))
            }
        },
        View::Channel(declaration) => {
            let view = &declaration.ident;
            quote! {
                /// Mounts the channel view's handler at `path`.
                pub fn mount<__S>(
                    router: #private::axum::Router<__S>,
                    path: &'static str,
                    _: #view,
                ) -> #private::axum::Router<__S>
                where
                    #private::ChannelRoute<Self>: #private::axum::handler::Handler<((),), __S>,
                    __S: #private::Clone + #private::Send + #private::Sync + 'static,
                {
                    router.route(path, #private::axum::routing::get(#private::ChannelRoute::<Self>::new()))
                }
            }
        }
    };
    // What tells `sse_routes!` that a struct is a view (a function tells by its type).
    let is_view = match view {
        View::Channel(declaration) => {
            let view = &declaration.ident;
            quote!(impl #private::SseView<#private::ChannelView> for #view {})
        }
        View::Generator(_) => TokenStream::new(),
    };
    let source = match view {
        View::Channel(declaration) => channel_source(args, declaration, &ident, template, valid),
        View::Generator(_) => TokenStream::new(),
    };
    let single = matches!(&args.channel, Some((_, Channel::Template(_))));
    let publisher = match (view, template, valid) {
        (View::Channel(declaration), Some(parts), true) if single => {
            publisher(args, declaration, &ident, parts)
        }
        _ => TokenStream::new(),
    };
    // The channel-name rule, the runtime's own, checked when the crate compiles.
    let rule = match (&args.channel, valid) {
        (Some((_, Channel::Template(literal))), true) => quote_spanned! {literal.span()=>
            const _: () = #ident::TEMPLATE.check();
        },
        (Some((_, Channel::List(list))), true) => list
            .iter()
            .map(|literal| {
                let template = template_of(&private, literal);
                quote_spanned! {literal.span()=>
                    const _: () = #template.check();
                }
            })
            .collect(),
        _ => TokenStream::new(),
    };
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #ident;

        impl #private::Clone for #ident {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl #private::Copy for #ident {}

        #[allow(unreachable_pub, dead_code)]
        impl #ident {
            /// The path the view's attribute gives.
            pub const PATH: #private::Option<&'static str> = #path;
            /// The view's channel template, as parsed.
            pub const TEMPLATE: #private::Template = #private::Template::new(&[#(#parts),*]);
            /// Whether the view compiled without errors.
            pub const VALID: bool = #valid;

            /// The path it is mounted at, given the one `sse_routes!` gives, if any.
            pub const fn path(mounted: #private::Option<&'static str>) -> &'static str {
                #private::mount_path(Self::PATH, mounted, Self::VALID, Self::TEMPLATE.parts())
            }

            #mount
        }

        #is_view
        #rule
        #source
        #publisher
    }
}

/// How a channel view finds its channel, as an implementation of `ChannelSource` on its
/// companion.
fn channel_source(
    args: &Args,
    declaration: &ItemStruct,
    companion: &Ident,
    template: Option<&[Part]>,
    valid: bool,
) -> TokenStream {
    let name = declaration.ident.to_string();
    let private = private(args);
    let state = Ident::new("__S", Span::mixed_site());
    let (generics, state_ty) = match &args.state {
        Some((_, ty)) => (quote!(), ty.to_token_stream()),
        None => (
            quote!(<#state: #private::Send + #private::Sync + 'static>),
            state.to_token_stream(),
        ),
    };
    let signature = |span: Span| {
        quote_spanned! {span=>
            fn channel(
                parts: &mut #private::Parts,
                state: &#state_ty,
            ) -> impl #private::FutureTrait<
                Output = #private::Result<#private::Channels, #private::Response>,
            > + #private::Send
        }
    };
    let fixed = template.is_some_and(|parts| template::params(parts).next().is_none());
    let (signature, channel) = match (&args.channel, template) {
        (Some((_, Channel::Template(name))), Some(_)) if fixed => (
            signature(Span::call_site()),
            quote!({ let _ = (parts, state); #private::fixed_channel(#name) }),
        ),
        (Some((_, Channel::Template(_))), Some(_)) => {
            let typed = args.params.iter().flat_map(|(_, params)| params).map(|param| {
                let (name, ty) = (param.name.to_string(), &param.ty);
                quote_spanned!(ty.span()=> (#name, #private::parse_param::<#ty> as #private::ParseParam))
            });
            (
                signature(Span::call_site()),
                quote!(#private::template_channel(parts, state, Self::TEMPLATE, &[#(#typed),*])),
            )
        }
        (Some((_, Channel::List(list))), Some(_)) => {
            let templates = list.iter().map(|literal| template_of(&private, literal));
            (
                signature(Span::call_site()),
                quote!({
                    const TEMPLATES: &[#private::Template] = &[#(#templates),*];
                    #private::template_channels(parts, state, TEMPLATES)
                }),
            )
        }
        // Spanned at the resolver, the signature too, so that a resolver that is none
        // is reported once, there.
        (Some((_, Channel::Resolver(resolver))), _) if valid => (
            signature(resolver.span()),
            quote_spanned!(resolver.span()=> #private::ChannelResolver::<_, #state_ty>::resolve(#resolver, parts, state)),
        ),
        _ => (
            signature(Span::call_site()),
            quote!({ let _ = (parts, state); #private::fixed_channel("") }),
        ),
    };
    let options = options(args);
    let presence = match &args.presence {
        Some((_, on)) => quote!(const PRESENCE: bool = #on;),
        None => TokenStream::new(),
    };
    quote! {
        impl #generics #private::ChannelSource<#state_ty> for #companion {
            const VIEW: &'static str = #name;
            #presence

            fn options() -> #private::SseResponse<()> {
                #options
            }

            #signature {
                #channel
            }
        }
    }
}

/// `Template::new(&[..])` of one template of a list, which the checks found well formed.
fn template_of(private: &TokenStream, literal: &syn::LitStr) -> TokenStream {
    let parts = template::parse(&literal.value()).unwrap_or_default();
    let parts = parts.iter().map(|part| match part {
        Part::Text(text) => quote!(#private::Part::Text(#text)),
        Part::Param(name) => quote!(#private::Part::Param(#name)),
    });
    quote_spanned!(literal.span()=> #private::Template::new(&[#(#parts),*]))
}

/// `View::channel(..)` and `View::channel_on(&hub, ..)`: the channel of a view with a
/// template, at the given parameters, which sends the view's event type (`Event` unless
/// `event = Type`). Each parameter is typed as `params(..)` says, else `&str`.
fn publisher(
    args: &Args,
    declaration: &ItemStruct,
    companion: &Ident,
    parts: &[Part],
) -> TokenStream {
    let private = private(args);
    let (view, vis) = (&declaration.ident, &declaration.vis);
    let event = match &args.event {
        Some((_, ty)) => ty.to_token_stream(),
        None => quote!(#private::Event),
    };
    let mut names: Vec<&str> = Vec::new();
    for name in template::params(parts) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let params: Vec<Ident> = names.iter().map(|name| format_ident!("{}", name)).collect();
    let types = names.iter().map(|name| {
        let typed = args.params.iter().flat_map(|(_, params)| params);
        match typed.into_iter().find(|param| param.name == name) {
            Some(param) => param.ty.to_token_stream(),
            None => quote!(str),
        }
    });
    let arguments = quote!(#(#params: &#types),*);
    let channel = format!("The channel `{view}` streams at these parameters, on the process's hub (`Hub::global()`): send to it with `.send(&event)`.");
    quote! {
        #[allow(dead_code)]
        impl #view {
            #[doc = #channel]
            #vis fn channel(#arguments) -> #private::TypedChannel<#event> {
                Self::channel_on(#private::Hub::global(), #(#params),*)
            }

            /// The same channel on `hub`.
            #vis fn channel_on(hub: &#private::Hub, #arguments) -> #private::TypedChannel<#event> {
                #private::TypedChannel::new(hub, #companion::TEMPLATE, &[#(&#params as &dyn #private::Display),*])
            }
        }
    }
}

/// A handler that extracts its arguments, then streams what the body flushes, or what
/// the stream it returns yields.
fn generator(args: &Args, generator: &Generator<'_>) -> TokenStream {
    let private = private(args);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = generator.function;
    let ident = &sig.ident;
    let extractors = &generator.extractors;
    let name = ident.to_string();
    let checks = extractor_checks(args, generator);
    let options = options(args);
    if let Some(stream) = generator.stream {
        // The user's function, as written, inside the handler that takes its extractors
        // and streams what it returns.
        let args: Vec<Ident> = (0..extractors.len())
            .map(|i| Ident::new(&format!("__sse_arg{i}"), Span::mixed_site()))
            .collect();
        let types = extractors.iter().map(|arg| &arg.ty);
        let call = match sig.asyncness {
            Some(_) => quote!(#ident(#(#args),*).await),
            None => quote!(#ident(#(#args),*)),
        };
        // Spanned at the return type, where an item type that is no event is reported.
        let start = quote_spanned!(stream.span()=> async move { #call });
        return quote! {
            #(#attrs)*
            #vis fn #ident(#(#args: #types),*) -> #private::ViewResponse {
                #sig #block
                #private::stream_view(#name, #options, #start)
            }
            #checks
        };
    }
    let outcome = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    let storage = Ident::new("__sse", Span::mixed_site());
    let (param, bind) = match generator.buffers.first() {
        Some(arg) => {
            let (pat, ty) = (&arg.pat, &arg.ty);
            (quote!(mut #storage), quote!(let #pat: #ty = &mut #storage;))
        }
        None => (quote!(_), quote!()),
    };
    let run = quote_spanned! {outcome.span()=>
        #private::generator::<#outcome, _>
    };
    quote! {
        #(#attrs)*
        #vis fn #ident(#(#extractors),*) -> #private::ViewResponse {
            #run(#name, #options, move |#param| async move {
                #bind
                #block
            })
        }
        #checks
    }
}

/// The response settings the attribute gives, on an `SseResponse<()>`, each
/// type-checked at the user's expression.
fn options(args: &Args) -> TokenStream {
    let private = private(args);
    let keep_alive = args.keep_alive.iter().map(|(_, interval)| {
        quote_spanned!(interval.span()=> .keep_alive(#private::KeepAlive::new().interval(#interval)))
    });
    let retry = args
        .retry
        .iter()
        .map(|(_, retry)| quote_spanned!(retry.span()=> .retry(#retry)));
    quote!(#private::SseResponse::new(()) #(#keep_alive)* #(#retry)*)
}

/// One small call per argument that fails, on that argument, when its type is not an
/// extractor: without it the compiler blames the route for "not a `Handler`". The state
/// they are checked against is `state = T`, else the `T` of a `State<T>` argument.
fn extractor_checks(args: &Args, generator: &Generator<'_>) -> TokenStream {
    let private = private(args);
    let state = match args
        .state
        .as_ref()
        .map(|(_, ty)| ty)
        .or(generator.state_argument)
    {
        Some(state) => state.to_token_stream(),
        None => quote!(()),
    };
    let extractors = &generator.extractors;
    if extractors.is_empty() {
        return TokenStream::new();
    }
    let checks = extractors.iter().enumerate().map(|(index, arg)| {
        let ty = &arg.ty;
        if index + 1 == extractors.len() {
            quote_spanned!(ty.span()=> #private::last_extractor::<#ty, #state, _>();)
        } else {
            quote_spanned!(ty.span()=> #private::extractor::<#ty, #state>();)
        }
    });
    quote! {
        const _: () = {
            #[allow(dead_code)]
            fn extractors_are_extractors() {
                #(#checks)*
            }
        };
    }
}

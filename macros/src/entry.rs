//! `#[main]` and `#[test]`: wrap an `async fn` so that it runs on a tickslab runtime.
//!
//! Arguments, as tokio's where they apply:
//! - `flavor = "current_thread"` (the default) or `"local"`: the same runtime; tickslab has
//!   only one kind. `"multi_thread"` and `worker_threads` are refused with a message naming
//!   what to use instead: a silent single-threaded run would change the program's behaviour.
//!   On `#[main]` the refusal is a compile error; on `#[test]` the test compiles and fails
//!   with that message when run, so that a test file mixing flavors keeps its other tests.
//! - `start_paused = true`: the clock starts paused (`Builder::start_paused`).
//! - `name = "..."`: the runtime's name (`Handle::name`).
//! - `crate = "path"`: where the runtime is (by default, found in the caller's Cargo.toml
//!   under whatever name it was given, `tokio` after a rename; `::tickslab` otherwise).
//! - tickslab's own: `slab = SLOTS` or `slab(slots = SLOTS, size = BYTES)` gives the runtime
//!   a bounded slab for `spawn_slab` (`size` defaults to 256 bytes).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, MetaNameValue, Token};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "tickslab::main",
            Kind::Test => "tickslab::test",
        }
    }
}

/// A multi-thread argument: a compile error on `#[main]`; on `#[test]`, a test that fails
/// with `message` when run, so that the other tests of a file that mixes flavors still run.
fn refuse(cfg: &mut Config, kind: Kind, meta: &Meta, message: String) -> syn::Result<()> {
    match kind {
        Kind::Main => Err(syn::Error::new(meta.span(), message)),
        Kind::Test => {
            cfg.refused.get_or_insert(message);
            Ok(())
        }
    }
}

/// Slot size of the slab when `slab = N` names only the slot count.
const DEFAULT_SLOT_SIZE: usize = 256;

#[derive(Default)]
struct Config {
    start_paused: Option<bool>,
    krate: Option<syn::Path>,
    slab: Option<(usize, usize)>,
    name: Option<String>,
    /// A multi-thread argument on `#[test]`: the test compiles and fails with this message
    /// (a file of tests mixing flavors keeps its other tests; `#[main]` refuses to compile).
    refused: Option<String>,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#err #item);
        }
    };
    match parse_config(args, kind).and_then(|cfg| generate(func.clone(), cfg, kind)) {
        Ok(ts) => ts,
        Err(e) => with_stub(e, func),
    }
}

/// The error, and the function as a synchronous stub, so that the user sees only the
/// attribute's error (not "`main` is not allowed to be `async`" or "`main` not found" too).
fn with_stub(e: syn::Error, mut func: ItemFn) -> TokenStream {
    let err = e.to_compile_error();
    func.sig.asyncness = None;
    func.block = syn::parse_quote!({ ::core::unreachable!() });
    quote!(#err #func)
}

fn parse_config(args: TokenStream, kind: Kind) -> syn::Result<Config> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut cfg = Config::default();
    for meta in metas {
        let key = meta
            .path()
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "flavor" => {
                let flavor = string_value(&meta)?;
                match flavor.as_str() {
                    "current_thread" | "local" => {}
                    "multi_thread" => {
                        refuse(
                            &mut cfg,
                            kind,
                            &meta,
                            format!(
                                "`#[{}(flavor = \"multi_thread\")]`: tickslab runs on one thread \
                                 and has no multi-thread runtime. Use `flavor = \"current_thread\"` \
                                 (the default) or `flavor = \"local\"`; to use other cores, run \
                                 work on `std::thread`s and reach this runtime through \
                                 `tickslab::runtime::Handle`",
                                kind.name()
                            ),
                        )?;
                    }
                    other => {
                        return Err(syn::Error::new(
                            meta.span(),
                            format!(
                                "unknown flavor `{other}`: expected \"current_thread\" or \"local\""
                            ),
                        ));
                    }
                }
            }
            "worker_threads" => {
                refuse(
                    &mut cfg,
                    kind,
                    &meta,
                    format!(
                        "`#[{}(worker_threads = ..)]`: tickslab runs on one thread and has no \
                         worker threads. Remove the argument (the runtime is \
                         `flavor = \"current_thread\"`); to use other cores, run work on \
                         `std::thread`s and reach this runtime through \
                         `tickslab::runtime::Handle`",
                        kind.name()
                    ),
                )?;
            }
            "start_paused" => cfg.start_paused = Some(bool_value(&meta)?),
            "crate" => {
                let path = string_value(&meta)?;
                cfg.krate = Some(syn::parse_str(&path).map_err(|e| {
                    syn::Error::new(
                        meta.span(),
                        format!("`crate = \"{path}\"`: not a path: {e}"),
                    )
                })?);
            }
            "slab" => cfg.slab = Some(slab_value(&meta)?),
            "name" => cfg.name = Some(string_value(&meta)?),
            _ => {
                return Err(syn::Error::new(
                    meta.path().span(),
                    format!(
                        "unknown argument of `#[{}]`: expected `flavor`, `start_paused`, \
                         `name`, `crate` or `slab` (tickslab's: `slab = SLOTS` or \
                         `slab(slots = SLOTS, size = BYTES)`)",
                        kind.name()
                    ),
                ));
            }
        }
    }
    Ok(cfg)
}

fn name_value(meta: &Meta) -> syn::Result<&Expr> {
    match meta {
        Meta::NameValue(MetaNameValue { value, .. }) => Ok(value),
        _ => Err(syn::Error::new(
            meta.span(),
            "expected `name = value` for this argument",
        )),
    }
}

fn string_value(meta: &Meta) -> syn::Result<String> {
    match name_value(meta)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.value()),
        other => Err(syn::Error::new(other.span(), "expected a string literal")),
    }
}

fn bool_value(meta: &Meta) -> syn::Result<bool> {
    match name_value(meta)? {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b.value),
        other => Err(syn::Error::new(other.span(), "expected `true` or `false`")),
    }
}

fn usize_value(expr: &Expr) -> syn::Result<usize> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            let n: usize = i.base10_parse()?;
            if n == 0 {
                return Err(syn::Error::new(i.span(), "must be at least 1"));
            }
            Ok(n)
        }
        other => Err(syn::Error::new(other.span(), "expected an integer literal")),
    }
}

/// `slab = SLOTS` or `slab(slots = SLOTS, size = BYTES)`: `(slots, slot size)`.
fn slab_value(meta: &Meta) -> syn::Result<(usize, usize)> {
    match meta {
        Meta::NameValue(nv) => Ok((usize_value(&nv.value)?, DEFAULT_SLOT_SIZE)),
        Meta::List(list) => {
            let items =
                list.parse_args_with(Punctuated::<MetaNameValue, Token![,]>::parse_terminated)?;
            let (mut slots, mut size) = (None, DEFAULT_SLOT_SIZE);
            for nv in items {
                if nv.path.is_ident("slots") {
                    slots = Some(usize_value(&nv.value)?);
                } else if nv.path.is_ident("size") {
                    size = usize_value(&nv.value)?;
                } else {
                    return Err(syn::Error::new(
                        nv.path.span(),
                        "expected `slots = N` or `size = BYTES`",
                    ));
                }
            }
            let slots = slots
                .ok_or_else(|| syn::Error::new(list.span(), "`slab(..)` needs `slots = N`"))?;
            Ok((slots, size))
        }
        Meta::Path(p) => Err(syn::Error::new(
            p.span(),
            "expected `slab = SLOTS` or `slab(slots = SLOTS, size = BYTES)`",
        )),
    }
}

/// The path of the runtime crate in the caller's crate.
fn crate_path(cfg: &Config) -> TokenStream {
    if let Some(p) = &cfg.krate {
        return p.to_token_stream();
    }
    match proc_macro_crate::crate_name("tickslab") {
        Ok(proc_macro_crate::FoundCrate::Name(name)) => {
            let ident = syn::Ident::new(&name, Span::call_site());
            quote!(::#ident)
        }
        // `Itself`: the caller is one of tickslab's own tests, examples or doctests, which
        // see the library as the extern crate `tickslab`.
        Ok(proc_macro_crate::FoundCrate::Itself) | Err(_) => quote!(::tickslab),
    }
}

fn generate(mut func: ItemFn, cfg: Config, kind: Kind) -> syn::Result<TokenStream> {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!(
                "the `async` keyword is missing from the function declaration of \
                 `#[{}]`",
                kind.name()
            ),
        ));
    }
    // As tokio: `main` itself and tests take no arguments; another function (a trait
    // method, say) may.
    if !sig.inputs.is_empty() && (kind == Kind::Test || sig.ident == "main") {
        let what = if kind == Kind::Main {
            "the main function cannot accept arguments"
        } else {
            "the test function cannot accept arguments"
        };
        return Err(syn::Error::new(sig.inputs.span(), what));
    }
    func.sig.asyncness = None;
    let test_attr = if kind == Kind::Test && !has_test_attr(&func) {
        quote!(#[::core::prelude::v1::test])
    } else {
        quote!()
    };
    if let Some(message) = &cfg.refused {
        func.block = syn::parse_quote!({ ::core::panic!("{}", #message) });
        return Ok(quote! {
            #test_attr
            #func
        });
    }
    let krate = crate_path(&cfg);
    let body = &func.block;
    let span = body.span();
    let mut builder = quote_spanned!(span=> #krate::runtime::Builder::new_current_thread());
    builder.extend(quote!(.enable_all()));
    if let Some(paused) = cfg.start_paused {
        builder.extend(quote!(.start_paused(#paused)));
    }
    if let Some(name) = &cfg.name {
        builder.extend(quote!(.name(#name)));
    }
    if let Some((slots, size)) = cfg.slab {
        builder.extend(quote!(.slab_bounded::<#size>(#slots)));
    }
    let new_body = quote_spanned! {span=>
        {
            let body = async #body;
            #[allow(clippy::expect_used, clippy::needless_return)]
            {
                return #builder
                    .build()
                    .expect("Failed building the Runtime")
                    .block_on(body);
            }
        }
    };
    func.block = syn::parse2(new_body)?;
    Ok(quote! {
        #test_attr
        #func
    })
}

/// Whether the function already carries a test attribute (`#[test]`, `#[rstest]`, ...).
fn has_test_attr(func: &ItemFn) -> bool {
    func.attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "test"))
}

//! The engine of `select!`: parses the branches and writes the polling code.
//!
//! Semantics (tokio's):
//! 1. Every `, if cond` precondition is evaluated first; a false one disables its branch.
//! 2. Every branch's future expression is evaluated (disabled ones too), in order, and
//!    pinned on the stack (`core::pin::pin!`): no `.fuse()`, no `Unpin` needed.
//! 3. On each poll the enabled futures are polled, starting at a random branch (a cheap
//!    thread-local generator) or, after `biased;`, in the order written. A future that
//!    completes is disabled; if its value does not match the branch's pattern the search
//!    goes on, otherwise the poll ends with that branch's value.
//! 4. Every future is dropped, *then* the handler of the chosen branch runs (so it may reuse
//!    what the futures borrowed). With every branch disabled, `else` runs, or, without one,
//!    `select!` panics as tokio's does.
//!
//! The values are tested against the pattern by reference before they leave the poll, so
//! `ref`/`mut` are stripped from that test's copy of the pattern (`clean_pattern`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Pat, Token};

/// The most branches one `select!` may have (one bit each of the disabled mask).
const MAX_BRANCHES: usize = 64;

struct Branch {
    pat: Pat,
    fut: Expr,
    cond: Option<Expr>,
    handler: Expr,
}

struct Input {
    krate: TokenStream,
    biased: bool,
    branches: Vec<Branch>,
    otherwise: Option<Expr>,
}

mod kw {
    syn::custom_keyword!(biased);
}

/// Parses the crate path group that the facade's `macro_rules!` puts first.
pub(crate) fn parse_krate(input: ParseStream) -> syn::Result<TokenStream> {
    let content;
    syn::parenthesized!(content in input);
    content.parse()
}

/// A handler: a block (comma optional) or an expression (comma required unless last).
fn parse_handler(input: ParseStream) -> syn::Result<Expr> {
    if input.peek(syn::token::Brace) {
        let block: syn::ExprBlock = input.parse()?;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        Ok(Expr::Block(block))
    } else {
        let e: Expr = input.parse()?;
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        Ok(e)
    }
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let krate = parse_krate(input)?;
        let biased = if input.peek(kw::biased) && input.peek2(Token![;]) {
            input.parse::<kw::biased>()?;
            input.parse::<Token![;]>()?;
            true
        } else {
            false
        };
        let mut branches = Vec::new();
        let mut otherwise = None;
        while !input.is_empty() {
            if input.peek(Token![else]) {
                let else_token: Token![else] = input.parse()?;
                if otherwise.is_some() {
                    return Err(syn::Error::new(
                        else_token.span,
                        "select! has at most one `else` branch",
                    ));
                }
                input.parse::<Token![=>]>()?;
                otherwise = Some(parse_handler(input)?);
                continue;
            }
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            input.parse::<Token![=]>()?;
            let fut: Expr = input.parse()?;
            let cond = if input.peek(Token![,]) && input.peek2(Token![if]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            input.parse::<Token![=>]>()?;
            let handler = parse_handler(input)?;
            branches.push(Branch {
                pat,
                fut,
                cond,
                handler,
            });
        }
        Ok(Input {
            krate,
            biased,
            branches,
            otherwise,
        })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Input>(input) {
        Ok(input) => generate(input),
        Err(e) => e.to_compile_error(),
    }
}

fn generate(input: Input) -> TokenStream {
    let Input {
        krate,
        biased,
        branches,
        otherwise,
    } = input;
    let n = branches.len();
    if n == 0 {
        return match otherwise {
            Some(e) => quote!({ #e }),
            None => quote!(::core::compile_error!(
                "select! needs at least one branch (`pattern = future => handler`) or an `else`"
            )),
        };
    }
    if n > MAX_BRANCHES {
        return quote!(::core::compile_error!("select! takes at most 64 branches"));
    }
    let site = Span::mixed_site();
    let out_ty = syn::Ident::new("__TickslabSelectOut", site);
    let disabled = syn::Ident::new("__tickslab_disabled", site);
    let cx = syn::Ident::new("__tickslab_cx", site);
    let pending = syn::Ident::new("__tickslab_pending", site);
    let value = syn::Ident::new("__tickslab_value", site);
    let output = syn::Ident::new("__tickslab_output", site);
    let start = syn::Ident::new("__tickslab_start", site);
    let step = syn::Ident::new("__tickslab_step", site);

    let params: Vec<_> = (0..n)
        .map(|i| format_ident!("__T{}", i, span = site))
        .collect();
    let variants: Vec<_> = (0..n)
        .map(|i| format_ident!("_{}", i, span = site))
        .collect();
    // One struct holds every future, pinned once; `pin-project-lite` projects to each field.
    // (Pinning each future on its own would be safe without it, but costs two pointers per
    // branch in the enclosing future: the `Pin` and the closure's capture.)
    let futs_ty = syn::Ident::new("__TickslabSelectFutures", site);
    let futs = syn::Ident::new("__tickslab_futures", site);
    let init = syn::Ident::new("__tickslab_init", site);
    let fields: Vec<_> = (0..n)
        .map(|i| format_ident!("f{}", i, span = site))
        .collect();
    let indexes: Vec<_> = (0..n).map(syn::Index::from).collect();
    let mask_ty = syn::Ident::new(
        match n {
            0..=8 => "u8",
            9..=16 => "u16",
            17..=32 => "u32",
            _ => "u64",
        },
        site,
    );
    let preconditions = branches.iter().enumerate().filter_map(|(i, b)| {
        b.cond.as_ref().map(|c| {
            let bit = proc_macro2::Literal::u64_unsuffixed(1u64 << i);
            quote!(if !(#c) { #disabled |= #bit; })
        })
    });
    let fut_exprs = branches.iter().map(|b| &b.fut);
    let arms = branches.iter().enumerate().map(|(i, b)| {
        let bit = proc_macro2::Literal::u64_unsuffixed(1u64 << i);
        let field = &fields[i];
        let variant = &variants[i];
        let mut clean = b.pat.clone();
        clean_pattern(&mut clean);
        quote! {
            #i => {
                if #disabled & #bit != 0 {
                    continue;
                }
                let #value = match ::core::future::Future::poll(#futs.as_mut().project().#field, #cx) {
                    ::core::task::Poll::Ready(v) => v,
                    ::core::task::Poll::Pending => {
                        #pending = true;
                        continue;
                    }
                };
                #disabled |= #bit;
                #[allow(unused_variables, unused_mut, unreachable_patterns, clippy::match_single_binding)]
                match &#value {
                    #clean => {}
                    _ => continue,
                }
                return ::core::task::Poll::Ready(#out_ty::#variant(#value));
            }
        }
    });
    let start_expr = if biased {
        quote!(0usize)
    } else {
        quote!(#krate::__private::select_start(#n))
    };
    let handlers = branches.iter().enumerate().map(|(i, b)| {
        let (pat, handler, variant) = (&b.pat, &b.handler, &variants[i]);
        quote!(#out_ty::#variant(#pat) => #handler,)
    });
    let otherwise = match otherwise {
        Some(e) => quote!(#e),
        None => quote!(::core::panic!(
            "all branches are disabled and there is no else branch"
        )),
    };
    quote! {{
        #[allow(dead_code, non_camel_case_types)]
        enum #out_ty<#(#params),*> {
            #(#variants(#params),)*
            Disabled,
        }
        let mut #disabled: #mask_ty = 0;
        #(#preconditions)*
        #[allow(unused_mut, clippy::modulo_one)]
        let mut #output = {
            // A tuple first, so that the expressions' temporaries live as long as the select
            // (temporary lifetime extension); then into the pinned struct.
            let #init = (#(#fut_exprs,)*);
            #krate::__private::pin_project! {
                struct #futs_ty<#(#params),*> {
                    #(#[pin] #fields: #params,)*
                }
            }
            let mut #futs = ::core::pin::pin!(#futs_ty {
                #(#fields: ::core::future::IntoFuture::into_future(#init.#indexes),)*
            });
            #krate::__private::poll_fn(move |#cx: &mut ::core::task::Context<'_>| {
                if !#krate::__private::has_budget_remaining() {
                    #cx.waker().wake_by_ref();
                    return ::core::task::Poll::Pending;
                }
                let #start: usize = #start_expr;
                let mut #pending = false;
                for #step in 0..#n {
                    match (#start + #step) % #n {
                        #(#arms)*
                        _ => ::core::unreachable!(),
                    }
                }
                if #pending {
                    ::core::task::Poll::Pending
                } else {
                    ::core::task::Poll::Ready(#out_ty::Disabled)
                }
            })
            .await
        };
        #[allow(unreachable_patterns, unused_variables)]
        match #output {
            #(#handlers)*
            #out_ty::Disabled => #otherwise,
            _ => ::core::unreachable!("select!: a branch's value matched its pattern, then did not"),
        }
    }}
}

/// Strips `ref` and `mut` from every binding: the pattern is tried on a reference first,
/// where default binding modes bind by reference anyway.
fn clean_pattern(pat: &mut Pat) {
    match pat {
        Pat::Ident(p) => {
            p.by_ref = None;
            p.mutability = None;
            if let Some((_, sub)) = &mut p.subpat {
                clean_pattern(sub);
            }
        }
        Pat::Or(p) => p.cases.iter_mut().for_each(clean_pattern),
        Pat::Slice(p) => p.elems.iter_mut().for_each(clean_pattern),
        Pat::Tuple(p) => p.elems.iter_mut().for_each(clean_pattern),
        Pat::TupleStruct(p) => p.elems.iter_mut().for_each(clean_pattern),
        Pat::Struct(p) => p.fields.iter_mut().for_each(|f| clean_pattern(&mut f.pat)),
        Pat::Reference(p) => {
            p.mutability = None;
            clean_pattern(&mut p.pat);
        }
        Pat::Type(p) => clean_pattern(&mut p.pat),
        Pat::Paren(p) => clean_pattern(&mut p.pat),
        _ => {}
    }
}

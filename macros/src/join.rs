//! The engines of `join!` and `try_join!`.
//!
//! Each future is wrapped in the runtime's `MaybeDone` (which drops the future as soon as it
//! completes and keeps its output) and pinned on the stack. Each poll polls every future
//! not yet done, starting one further along each time (fairness, as tokio's), or in the
//! written order after `biased;`. `try_join!` returns the first `Err` at once, dropping the
//! futures still running.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Token};

use crate::select::parse_krate;

mod kw {
    syn::custom_keyword!(biased);
}

struct Input {
    krate: TokenStream,
    biased: bool,
    futures: Vec<Expr>,
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
        let futures = Punctuated::<Expr, Token![,]>::parse_terminated(input)?
            .into_iter()
            .collect();
        Ok(Input {
            krate,
            biased,
            futures,
        })
    }
}

pub(crate) fn expand(input: TokenStream, fallible: bool) -> TokenStream {
    let Input {
        krate,
        biased,
        futures,
    } = match syn::parse2::<Input>(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let n = futures.len();
    if n == 0 {
        return if fallible {
            quote!(::core::result::Result::<(), _>::Ok(()))
        } else {
            quote!(())
        };
    }
    let site = Span::mixed_site();
    let cx = syn::Ident::new("__tickslab_cx", site);
    let done = syn::Ident::new("__tickslab_done", site);
    let rotate = syn::Ident::new("__tickslab_rotate", site);
    let start = syn::Ident::new("__tickslab_start", site);
    let step = syn::Ident::new("__tickslab_step", site);
    let futs_ty = syn::Ident::new("__TickslabJoinFutures", site);
    let futs = syn::Ident::new("__tickslab_futures", site);
    let params: Vec<_> = (0..n)
        .map(|i| format_ident!("__F{}", i, span = site))
        .collect();
    let fields: Vec<_> = (0..n)
        .map(|i| format_ident!("f{}", i, span = site))
        .collect();
    let arms = fields.iter().enumerate().map(|(i, field)| {
        let f = quote!(#futs.as_mut().project().#field);
        let i = proc_macro2::Literal::u32_unsuffixed(u32::try_from(i).unwrap_or(u32::MAX));
        let on_done = if fallible {
            quote! {
                else if #f.is_err() {
                    return ::core::task::Poll::Ready(::core::result::Result::Err(
                        #f.take_err(),
                    ));
                }
            }
        } else {
            quote!()
        };
        quote! {
            #i => {
                if !#f.poll_done(#cx) {
                    #done = false;
                } #on_done
            }
        }
    });
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    let start_expr = if biased {
        quote!(0u32)
    } else {
        quote! {{
            let s = #rotate;
            #rotate = (#rotate + 1) % #n32;
            s
        }}
    };
    let outputs = if fallible {
        quote!(::core::result::Result::Ok((#(#futs.as_mut().project().#fields.take_ok(),)*)))
    } else {
        quote!((#(#futs.as_mut().project().#fields.take_output(),)*))
    };
    let rotate_decl = if biased {
        quote!()
    } else {
        quote!(let mut #rotate: u32 = 0;)
    };
    // One pinned struct, projected by `pin-project-lite` (one pointer for all the futures,
    // not one per future). The expressions go straight in, as in tokio's `join!` (no
    // temporary lifetime extension, and no moved-from copy in the caller's future). The
    // closure owns the pin and the rotation, and returns the outputs itself: nothing else of
    // the join lives across its `.await`.
    quote! {{
        #krate::__private::pin_project! {
            struct #futs_ty<#(#params: ::core::future::Future),*> {
                #(#[pin] #fields: #krate::__private::MaybeDone<#params>,)*
            }
        }
        let mut #futs = ::core::pin::pin!(#futs_ty {
            #(#fields: #krate::__private::MaybeDone::new(
                ::core::future::IntoFuture::into_future(#futures),
            ),)*
        });
        #rotate_decl
        #[allow(clippy::modulo_one)]
        #krate::__private::poll_fn(move |#cx: &mut ::core::task::Context<'_>| {
            let mut #done = true;
            let #start: u32 = #start_expr;
            for #step in 0..#n32 {
                match (#start + #step) % #n32 {
                    #(#arms)*
                    _ => ::core::unreachable!(),
                }
            }
            if #done {
                ::core::task::Poll::Ready(#outputs)
            } else {
                ::core::task::Poll::Pending
            }
        })
        .await
    }}
}

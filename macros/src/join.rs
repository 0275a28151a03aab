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
    let result = syn::Ident::new("__tickslab_result", site);
    let futs_ty = syn::Ident::new("__TickslabJoinFutures", site);
    let futs = syn::Ident::new("__tickslab_futures", site);
    let init = syn::Ident::new("__tickslab_init", site);
    let params: Vec<_> = (0..n)
        .map(|i| format_ident!("__F{}", i, span = site))
        .collect();
    let fields: Vec<_> = (0..n)
        .map(|i| format_ident!("f{}", i, span = site))
        .collect();
    let indexes: Vec<_> = (0..n).map(syn::Index::from).collect();
    let arms = fields.iter().enumerate().map(|(i, field)| {
        let f = quote!(#futs.as_mut().project().#field);
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
    let start_expr = if biased {
        quote!(0usize)
    } else {
        quote! {{
            let s = #rotate;
            #rotate = (#rotate + 1) % #n;
            s
        }}
    };
    let ready = if fallible {
        quote!(::core::task::Poll::Ready(::core::result::Result::Ok(())))
    } else {
        quote!(::core::task::Poll::Ready(()))
    };
    let poll = quote! {
        // A tuple first, so that the expressions' temporaries live as long as the join
        // (temporary lifetime extension); then one pinned struct, projected by
        // `pin-project-lite` (one pointer for all the futures, not one per future).
        let #init = (#(#futures,)*);
        #krate::__private::pin_project! {
            struct #futs_ty<#(#params: ::core::future::Future),*> {
                #(#[pin] #fields: #krate::__private::MaybeDone<#params>,)*
            }
        }
        let mut #futs = ::core::pin::pin!(#futs_ty {
            #(#fields: #krate::__private::MaybeDone::new(
                ::core::future::IntoFuture::into_future(#init.#indexes),
            ),)*
        });
        #[allow(unused_mut, unused_variables)]
        let mut #rotate: usize = 0;
        #[allow(clippy::modulo_one)]
        let #result = #krate::__private::poll_fn(|#cx: &mut ::core::task::Context<'_>| {
            let mut #done = true;
            let #start: usize = #start_expr;
            for #step in 0..#n {
                match (#start + #step) % #n {
                    #(#arms)*
                    _ => ::core::unreachable!(),
                }
            }
            if #done { #ready } else { ::core::task::Poll::Pending }
        })
        .await;
    };
    if fallible {
        quote! {{
            #poll
            match #result {
                ::core::result::Result::Ok(()) => ::core::result::Result::Ok((
                    #(#futs.as_mut().project().#fields.take_ok(),)*
                )),
                ::core::result::Result::Err(e) => ::core::result::Result::Err(e),
            }
        }}
    } else {
        quote! {{
            #poll
            let () = #result;
            (#(#futs.as_mut().project().#fields.take_output(),)*)
        }}
    }
}

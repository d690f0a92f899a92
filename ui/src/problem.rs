//! A connector's standing problem, with the button that fixes it inside the message: Sign
//! in, Enter a new key, Enter the password, Edit address, or Try again for troubles that
//! pass. The same box on the list and on the connector's page.

use leptos::prelude::*;
use switchboard_ipc::{ConnectorId, ConnectorSummary, ErrorCode, ErrorInfo, Fix};

use crate::components::{ActionError, CollectAny, ProblemView, RetryButton, run_action};
use crate::sign_in::SignInButton;
use crate::state::{EditFocus, use_app_state};

/// The problem of a connector that is not connected (nothing when there is none).
#[component]
pub fn ConnectorProblem(id: ConnectorId, summary: Memo<Option<ConnectorSummary>>) -> impl IntoView {
    let state = use_app_state();
    let retrying = RwSignal::new(false);
    let retry_error = RwSignal::new(None::<ErrorInfo>);
    let retry = {
        let id = id.clone();
        Callback::new(move |()| {
            run_action(
                retrying,
                true,
                false,
                retry_error,
                state.reconnect(id.clone()),
            );
        })
    };
    let shown = Memo::new(move |_| {
        summary.with(|s| {
            let s = s.as_ref()?;
            let standing = s.standing();
            let fixes = standing.fixes(s.problem.as_ref(), &s.sign_in.method);
            if fixes.is_empty() {
                return None;
            }
            let problem = s.problem.clone().unwrap_or_else(|| {
                ErrorInfo::new(
                    ErrorCode::Unreachable,
                    "Switchboard could not connect to this server.",
                )
            });
            Some((problem, fixes, s.retrying))
        })
    });
    move || {
        let id = id.clone();
        shown
            .get()
            .map(move |(problem, fixes, retrying_by_itself)| {
                let buttons = fixes
                    .iter()
                    .enumerate()
                    .map(|(at, fix)| {
                        let class = if at == 0 {
                            "button button-small button-primary"
                        } else {
                            "button button-small"
                        };
                        match fix {
                            Fix::SignIn => {
                                view! { <SignInButton id=id.clone() summary /> }.into_any()
                            }
                            Fix::TryAgain => view! {
                                <RetryButton on_retry=retry retrying primary=at == 0 />
                            }
                            .into_any(),
                            Fix::EnterNewKey | Fix::EnterPassword | Fix::EditAddress => {
                                let focus = if *fix == Fix::EditAddress {
                                    EditFocus::Address
                                } else {
                                    EditFocus::Secret
                                };
                                let id = id.clone();
                                view! {
                                    <button
                                        type="button"
                                        class=class
                                        data-testid="fix-button"
                                        on:click=move |_| state.open_edit(id.clone(), focus)
                                    >
                                        {fix.label()}
                                    </button>
                                }
                                .into_any()
                            }
                        }
                    })
                    .collect_any();
                view! {
                <ProblemView problem>{buttons}</ProblemView>
                {retrying_by_itself
                    .then(|| {
                        view! {
                            <p class="problem-retrying" data-testid="problem-retrying">
                                "Switchboard keeps trying on its own, less often as time goes by."
                            </p>
                        }.into_any()
                    })}
                <ActionError error=retry_error />
            }.into_any()
            })
    }
}

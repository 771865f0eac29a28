//! The phases that wait on SIP: registering, the restart NOTIFY after an EM login or logout,
//! placing a call and taking one. What a datagram or a wake-up means in each, and until when
//! each waits (waking earlier for the UA's retransmissions).

use std::time::{Duration, Instant};

use super::outcome::{Cause, Step, Success};
use super::sipua;
use super::task::TaskKind;
use super::{Flow, FlowState, Phase, Phone, PhoneAction, PhoneState};

impl Phone {
    /// Places a call (needs a registration): INVITE, then wait for its final answer.
    pub(super) fn start_call(
        &mut self,
        mut flow: Flow,
        dn: &str,
        hold: Duration,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        flow.step = Step::CallSetup;
        let Some(ua) = self.sip.as_mut().filter(|u| u.is_registered()) else {
            return self.fail(&flow, Cause::NotRegistered, out);
        };
        if !ua.invite(dn, hold, now, out) {
            return self.fail(&flow, Cause::NotRegistered, out);
        }
        flow.hops = 1;
        let deadline = now + sipua::CALL_WAIT;
        flow.phase = Phase::Calling { deadline };
        self.sip_wait(flow, deadline, out)
    }

    /// Refreshes the registrations (none: done at once), then waits for their answers.
    pub(super) fn start_refresh(
        &mut self,
        mut flow: Flow,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        flow.step = Step::Register;
        let pending = match &mut self.sip {
            Some(ua) => ua.refresh(now, out),
            None => Vec::new(),
        };
        if pending.is_empty() {
            return self.done(&flow, Success::Refreshed, now, out);
        }
        flow.hops = 1;
        let deadline = now + sipua::REGISTER_WAIT;
        flow.phase = Phase::Registering { pending, deadline };
        self.sip_wait(flow, deadline, out)
    }

    /// A datagram while no task is in flight: answer what asks for an answer; an incoming
    /// call starts the answering flow, a restart NOTIFY the restart flow.
    pub(super) fn on_idle_sip(
        &mut self,
        d: &[u8],
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        let Some(ua) = &mut self.sip else {
            return PhoneState::Idle;
        };
        let got = ua.on_datagram(d, now, out);
        let mut flow = Flow {
            task: TaskKind::Answer,
            creds: None,
            journey_start: now,
            step: Step::Journey,
            step_start: now,
            phase: Phase::Answered { deadline: now },
            url: String::new(),
            hops: 0,
            restarting: false,
            early_restart: false,
        };
        match got {
            sipua::SipInput::Offered => {
                if ua.offer_is_declined() {
                    ua.reject(486, out);
                    return PhoneState::Idle;
                }
                ua.ring(out);
                let policy = ua.policy();
                let until = if policy.auto_answer {
                    now + policy.ring
                } else {
                    now + sipua::CALLEE_GUARD
                };
                if policy.auto_answer && policy.ring.is_zero() {
                    ua.answer(now, out);
                    let deadline = now + sipua::CALLEE_GUARD;
                    flow.phase = Phase::Answered { deadline };
                    return self.sip_wait(flow, deadline, out);
                }
                flow.phase = Phase::Ringing { until };
                self.sip_wait(flow, until, out)
            }
            sipua::SipInput::Restart => {
                // The config file again (timed as the restart step), then registration.
                let Some(url) = self.spec.config_url.clone() else {
                    return PhoneState::Idle;
                };
                flow.task = TaskKind::Restart;
                flow.step = Step::Restart;
                flow.phase = Phase::FetchConfig;
                flow.restarting = true;
                self.send(flow, url, None, now, out)
            }
            _ => PhoneState::Idle,
        }
    }

    /// Waits for a datagram until `deadline`, waking earlier for the UA's retransmissions.
    pub(super) fn sip_wait(
        &self,
        flow: Flow,
        deadline: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        let at = self
            .sip
            .as_deref()
            .and_then(sipua::SipUa::next_timer)
            .map_or(deadline, |t| t.min(deadline));
        out.push(PhoneAction::SleepUntil(at));
        PhoneState::Busy(Box::new(FlowState(flow)))
    }

    /// The deadline of a phase that waits for SIP.
    pub(super) fn sip_deadline(phase: &Phase) -> Option<Instant> {
        match phase {
            Phase::Registering { deadline, .. }
            | Phase::AwaitRestart { deadline }
            | Phase::Calling { deadline }
            | Phase::HangingUp { deadline }
            | Phase::Answered { deadline } => Some(*deadline),
            Phase::InCall { until } | Phase::Ringing { until } => Some(*until),
            _ => None,
        }
    }

    pub(super) fn on_sip(
        &mut self,
        mut flow: Flow,
        d: &[u8],
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        let Some(ua) = &mut self.sip else {
            return PhoneState::Busy(Box::new(FlowState(flow)));
        };
        let got = ua.on_datagram(d, now, out);
        if got == sipua::SipInput::Offered {
            // Busy with something else (an EM login, a restart): Busy Here.
            ua.reject(486, out);
        }
        match (flow.phase.clone(), got) {
            (
                Phase::Registering {
                    mut pending,
                    deadline,
                },
                sipua::SipInput::RegisterAnswer { call_id, code },
            ) => {
                if !pending.contains(&call_id) {
                    return self.sip_wait(flow, deadline, out);
                }
                if code != 200 {
                    let cause = if code == 401
                        && self.sip.as_deref().is_some_and(sipua::SipUa::has_digest)
                    {
                        Cause::DigestRefused
                    } else {
                        Cause::RegisterRefused(code)
                    };
                    return self.fail(&flow, cause, out);
                }
                pending.retain(|c| c != &call_id);
                if pending.is_empty() {
                    return self.registered(flow, now, out);
                }
                flow.phase = Phase::Registering { pending, deadline };
                self.sip_wait(flow, deadline, out)
            }
            (Phase::AwaitRestart { .. }, sipua::SipInput::Restart) => {
                self.restart_now(flow, now, out)
            }
            (Phase::Calling { deadline }, sipua::SipInput::CallAnswer { code }) => {
                if code < 200 {
                    return self.sip_wait(flow, deadline, out);
                }
                if code >= 300 {
                    return self.fail(&flow, Cause::CallFailed(code), out);
                }
                Self::end_step(&mut flow, Step::Journey, now, out);
                let until = now + self.sip.as_ref().map_or(Duration::ZERO, |u| u.hold());
                flow.phase = Phase::InCall { until };
                self.sip_wait(flow, until, out)
            }
            (Phase::HangingUp { .. }, sipua::SipInput::ByeAnswer)
            | (Phase::InCall { .. }, sipua::SipInput::ByeReceived) => {
                flow.hops = 0;
                self.done(&flow, Success::Called, now, out)
            }
            (Phase::Ringing { .. } | Phase::Answered { .. }, sipua::SipInput::Cancelled) => {
                self.done(&flow, Success::Missed, now, out)
            }
            (Phase::Answered { .. }, sipua::SipInput::ByeReceived) => {
                self.done(&flow, Success::Answered, now, out)
            }
            // Waiting for something else (a Refresh): a datagram does not end that wait, and
            // a restart that comes early is taken when the result page asks for it.
            (Phase::RefreshWait { url, resume }, got) => {
                if got == sipua::SipInput::Restart {
                    flow.early_restart = true;
                }
                // Fetch the refresh target now rather than lose the wait: the driver's sleep
                // was cut short by the datagram.
                flow.phase = *resume;
                self.send(flow, url, None, now, out)
            }
            (phase, _) => match Self::sip_deadline(&phase) {
                Some(deadline) => self.sip_wait(flow, deadline, out),
                None => PhoneState::Busy(Box::new(FlowState(flow))),
            },
        }
    }

    /// A wake-up in a phase that waits for SIP until `deadline`.
    pub(super) fn on_sip_wake(
        &mut self,
        mut flow: Flow,
        deadline: Instant,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> PhoneState {
        // A retransmission due before the phase's own deadline: send it, wait on.
        if now < deadline {
            if let Some(ua) = &mut self.sip {
                ua.on_timer(now, out);
            }
            return self.sip_wait(flow, deadline, out);
        }
        match flow.phase.clone() {
            Phase::Registering { .. } => self.fail(&flow, Cause::RegisterTimeout, out),
            Phase::AwaitRestart { .. } => self.fail(&flow, Cause::NoRestart, out),
            Phase::Calling { .. } => {
                // Nobody answered in time: CANCEL, as a caller who hangs up while it rings.
                if let Some(ua) = &mut self.sip {
                    ua.cancel(out);
                }
                self.fail(&flow, Cause::CallTimeout, out)
            }
            Phase::HangingUp { .. } => {
                if let Some(ua) = &mut self.sip {
                    ua.end_call();
                }
                self.fail(&flow, Cause::CallTimeout, out)
            }
            Phase::InCall { .. } => {
                if let Some(ua) = &mut self.sip {
                    ua.bye(now, out);
                }
                let deadline = now + sipua::CALL_WAIT;
                flow.phase = Phase::HangingUp { deadline };
                self.sip_wait(flow, deadline, out)
            }
            Phase::Ringing { .. } => {
                let answered = self.sip.as_mut().is_some_and(|ua| ua.answer(now, out));
                if !answered {
                    if let Some(ua) = &mut self.sip {
                        ua.end_call();
                    }
                    return self.done(&flow, Success::Missed, now, out);
                }
                let deadline = now + sipua::CALLEE_GUARD;
                flow.phase = Phase::Answered { deadline };
                self.sip_wait(flow, deadline, out)
            }
            Phase::Answered { .. } => {
                if let Some(ua) = &mut self.sip {
                    ua.end_call();
                }
                self.fail(&flow, Cause::CallTimeout, out)
            }
            // Not a phase that waits for SIP (the caller checked): keep going as we were.
            _ => PhoneState::Busy(Box::new(FlowState(flow))),
        }
    }
}

//! What every word in a run's report means: printed under the final table, shown in the
//! dashboard's help (`?`), and listed in the README (a test keeps the README in step).

/// One reported word and its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// The word as reports print it.
    pub word: &'static str,
    /// What it counts or means.
    pub meaning: &'static str,
    /// Only reported when the run has SIP.
    pub sip: bool,
}

const fn em(word: &'static str, meaning: &'static str) -> Term {
    Term {
        word,
        meaning,
        sip: false,
    }
}

const fn sip(word: &'static str, meaning: &'static str) -> Term {
    Term {
        word,
        meaning,
        sip: true,
    }
}

/// Every reported word, EM first, then SIP.
pub const GLOSSARY: &[Term] = &[
    em(
        "journey",
        "one user task end to end: a login (PIN submitted to the user's lines registered where they logged in), a logout, or a call",
    ),
    em(
        "intended start",
        "when the schedule meant a journey to start; latency counts from it, so a late start is not hidden",
    ),
    em(
        "step",
        "one part of a journey (config fetch, service open, login submit, register, ...), timed on its own",
    ),
    em(
        "busy (26)",
        "journeys answered with EM code 26 (Maximum Concurrent Requests reached, RTMT's RequestsThrottled): back-pressure, counted apart from failures",
    ),
    em(
        "failed",
        "journeys that ended in any other error; by cause under \"outcomes by cause\"",
    ),
    em(
        "late starts",
        "journeys that started more than 10 ms after their intended start (the fleet could not keep up)",
    ),
    em(
        "dropped",
        "arrivals the schedule asked for that no idle phone or free user could take: not attempted, not failed; \"dropped by why\" says which (no_idle_phone, all_phones_logged_in, nobody_logged_in, no_free_user)",
    ),
    em(
        "abandoned",
        "journeys still in flight at the drain deadline (end of run or Ctrl-C): outside the success ratio",
    ),
    em(
        "success ratio",
        "succeeded / (attempted - busy - abandoned)",
    ),
    em("in flight", "journeys running now"),
    em(
        "roaming logins",
        "logins by superusers homed on another cluster, on this cluster's phones (EM Roaming Across Clusters), ok / attempted",
    ),
    em(
        "logins (clusters screen)",
        "users logged in on the cluster now (its admin API); LoginsSuccessful is RTMT's count of every successful login since the cluster started",
    ),
    em(
        "arrivals (open phases)",
        "logins and logouts the open phases' rates intend (up to where the run got) against those that started a journey: the achieved rate against the intended one; on the dashboard, arrivals per second over the last 5 s, started or dropped",
    ),
    em(
        "found logged in at the start",
        "logins on the profile's phones, or of its users elsewhere, before the run began (asked through the EM API): logged out, adopted or refused as the profile's found_logged_in says",
    ),
    em(
        "stopped early",
        "a cluster refused every connection for stop_when_unreachable (10 s by default) and the run stopped there: exit 1",
    ),
    em(
        "story",
        "the profile's scripted steps ([[story]]) on phones and users kept for them, each with ✔ or ✘ and what happened, the faults in their place; every step must hold",
    ),
    em(
        "roaming view (screen 6)",
        "each user who logged in away from home: where the fleet logged them in now, where each cluster's ILS places their number (ILS@cluster: ? not known, — cannot ask), their last move",
    ),
    em(
        "leaked / missing / unknown",
        "after the run, devices logged in on the cluster but not as the fleet believes / believed logged in but not on the cluster / whose state the fleet lost",
    ),
    sip(
        "refreshes",
        "REGISTERs sent again before the granted expiry ran out",
    ),
    sip(
        "restarts asked by a cluster",
        "service-control NOTIFYs an idle phone received: someone logged its user out (a roaming login elsewhere, auto-logout, an administrator)",
    ),
    sip(
        "retransmissions",
        "datagrams phones sent again for want of an answer in time (RFC 3261 timers)",
    ),
    sip(
        "busy (486)",
        "calls the callee declined with 486 Busy Here: not failures",
    ),
    sip(
        "call setup",
        "INVITE to the callee's final answer; an answered call's includes the time the callee's phone rang ([sip] ring: a 300 ms ring makes a setup of about 303 ms), a 486 comes at once",
    ),
    sip(
        "misrouted",
        "calls answered by another of the fleet's phones than the one where the callee was logged in: failures",
    ),
    sip(
        "unverified",
        "calls answered by something that is not one of this fleet's phones: counted by status, not checked",
    ),
    sip(
        "dropped (calls)",
        "call arrivals that found no registered idle caller or no callee logged in",
    ),
    sip(
        "answered / missed",
        "incoming calls the fleet's phones answered / that rang until the caller gave up",
    ),
];

/// The glossary as text lines (`  word: meaning`), the SIP words only when `with_sip`.
pub fn lines(with_sip: bool) -> Vec<String> {
    GLOSSARY
        .iter()
        .filter(|t| with_sip || !t.sip)
        .map(|t| format!("  {}: {}", t.word, t.meaning))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_defines_every_reported_word() {
        let readme = include_str!("../../../README.md");
        for t in GLOSSARY {
            assert!(
                readme.contains(&format!("| {} | {} |", t.word, t.meaning)),
                "README.md lacks the row for `{}`",
                t.word
            );
        }
    }
}

//! Placing a profile's phones and users into shards: how many shards, each shard's SIP
//! socket, which phones and users each holds, and in what order (clusters interleaved).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::directory::{Directory, Login};
use super::error::FleetError;
use super::profile::Profile;
use super::shard::{Slot, UserSlot};
use super::start::Initial;
use crate::phone::sipua::AnswerPolicy;
use crate::phone::{Model as PhoneModel, Phone, PhoneSpec};

/// Phones per shard before another shard is added (at most [`MAX_SHARDS`]).
pub const PHONES_PER_SHARD: usize = 64;

/// Most shards a run uses.
pub const MAX_SHARDS: usize = 8;

/// How many shards a run of `profile` uses.
pub(super) fn shard_count(profile: &Profile) -> usize {
    let phones: usize = profile.targets.iter().map(|t| t.devices.len()).sum();
    phones.div_ceil(PHONES_PER_SHARD).clamp(1, MAX_SHARDS)
}

/// One SIP socket per shard, with `[sip]` (none without): its phones share it, and its
/// address is their Contact.
///
/// # Errors
/// [`FleetError::SipBind`].
pub(super) async fn bind_sockets(
    profile: &Profile,
    shards: usize,
) -> Result<Vec<Arc<UdpSocket>>, FleetError> {
    let mut sockets = Vec::new();
    if let Some(spec) = &profile.sip {
        for _ in 0..shards {
            let sock = UdpSocket::bind(spec.bind)
                .await
                .map_err(|source| FleetError::SipBind {
                    addr: spec.bind,
                    source,
                })?;
            sockets.push(Arc::new(sock));
        }
    }
    Ok(sockets)
}

/// Each shard's phones and users: a target's `j`-th device and `j`-th user go to shard
/// `j % shards`, except that a user `initial`ly logged in on a device goes with it. Phones
/// start with that belief (and its number in `dir`); someone the profile does not list
/// logged in makes the phone's user foreign; a user `initial` holds busy (logged in on a
/// phone outside the fleet) is never picked.
pub(super) fn place<T>(
    profile: &Profile,
    shards: usize,
    sockets: &[Arc<UdpSocket>],
    initial: &Initial,
    dir: &Directory,
    transport: impl Fn(usize) -> T,
) -> Vec<(Vec<Slot<T>>, Vec<UserSlot>)> {
    let mut placed: Vec<(Vec<Slot<T>>, Vec<UserSlot>)> =
        (0..shards).map(|_| (Vec::new(), Vec::new())).collect();
    // The story's phones and users are kept for it, all in the first shard, which runs it.
    let story_devices: HashSet<&str> = profile.story.iter().map(|s| s.device()).collect();
    let story_users: HashSet<&str> = profile.story.iter().filter_map(|s| s.user()).collect();
    // Each shard's Contact and each target's service URL: one copy, shared by its phones.
    let contacts: Vec<Option<Arc<str>>> = sockets
        .iter()
        .map(|sock| {
            let sip = profile.sip.as_ref()?;
            let contact = sock
                .local_addr()
                .map_or_else(|_| sip.bind.to_string(), |a| a.to_string());
            Some(contact.into())
        })
        .collect();
    for (ci, t) in profile.targets.iter().enumerate() {
        let mut taken = HashSet::new();
        let service_url: Arc<str> = t.service_url.as_str().into();
        for (j, d) in t.devices.iter().enumerate() {
            let spec = PhoneSpec {
                device: d.clone(),
                model: PhoneModel::default(),
                config_url: t
                    .config_url
                    .as_ref()
                    .map(|u| emroam_schema::em_url::device_url(u, d)),
                service_url: Some(service_url.clone()),
            };
            let kept = story_devices.contains(d.as_str());
            let sh = if kept { 0 } else { j % shards };
            let (slots, users) = &mut placed[sh];
            let on = initial.devices.get(d).cloned().flatten();
            let mine = on.as_ref().and_then(|id| {
                let k = t.users.iter().position(|u| &u.id == id)?;
                taken.insert(k).then_some(k)
            });
            let user = mine.map(|k| {
                let reserved = story_users.contains(t.users[k].id.as_str());
                users.push(UserSlot::new(t.users[k].clone(), ci, true, reserved));
                users.len() - 1
            });
            let mut phone = Phone::new(spec);
            if let (Some(sip), Some(Some(contact))) = (&profile.sip, contacts.get(sh)) {
                // The story's phones always answer: a call in the story must not meet a
                // random 486.
                let answer = if kept {
                    AnswerPolicy {
                        busy_share: 0.0,
                        ..sip.answer
                    }
                } else {
                    sip.answer
                };
                phone = phone
                    .with_shared_sip(contact.clone())
                    .with_digest(t.digest.get(d).cloned())
                    .with_answer_policy(answer);
                let mac = d.trim_start_matches("SEP").to_ascii_lowercase();
                if let Some(dn) = mine.and_then(|k| t.users[k].dn.as_deref()) {
                    dir.set(dn, ci, &mac, false);
                }
            }
            if let Some(k) = mine {
                let u = &t.users[k];
                let login = Login {
                    user: &u.id,
                    dn: u.dn.as_deref(),
                    home: ci,
                    cluster: ci,
                    device: d,
                };
                dir.logged_in(login, tokio::time::Instant::now());
            }
            phone.set_logged_in_user(on.clone());
            let foreign = on.is_some() && user.is_none();
            slots.push(Slot::new(phone, transport(ci), ci, user, foreign).reserved(kept));
        }
        for (j, u) in t.users.iter().enumerate() {
            if let Some(dn) =
                u.dn.as_deref()
                    .filter(|_| story_users.contains(u.id.as_str()))
            {
                dir.keep(dn);
            }
            if !taken.contains(&j) {
                let reserved = story_users.contains(u.id.as_str());
                let sh = if reserved { 0 } else { j % shards };
                let busy = initial.busy_users.contains(&u.id);
                placed[sh]
                    .1
                    .push(UserSlot::new(u.clone(), ci, busy, reserved));
            }
        }
    }
    for (slots, _) in &mut placed {
        *slots = interleave(std::mem::take(slots), Slot::cluster);
    }
    placed
}

/// Interleaves clusters (c1 d1, c2 d1, c3 d1, c1 d2, …) so that a closed phase of N phones
/// and open arrivals spread over every cluster.
fn interleave<S>(items: Vec<S>, cluster: impl Fn(&S) -> usize) -> Vec<S> {
    let mut rank: HashMap<usize, usize> = HashMap::new();
    let mut keyed: Vec<(usize, usize, S)> = items
        .into_iter()
        .map(|s| {
            let c = cluster(&s);
            let r = rank.entry(c).or_default();
            let k = *r;
            *r += 1;
            (k, c, s)
        })
        .collect();
    keyed.sort_by_key(|(r, c, _)| (*r, *c));
    keyed.into_iter().map(|(_, _, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::interleave;

    #[test]
    fn clusters_take_turns_in_their_own_order() {
        let items = vec![(0, 'a'), (0, 'b'), (0, 'c'), (1, 'x'), (2, 'p'), (1, 'y')];
        let out: Vec<char> = interleave(items, |s| s.0)
            .into_iter()
            .map(|s| s.1)
            .collect();
        assert_eq!(out, ['a', 'x', 'p', 'b', 'y', 'c']);
    }
}

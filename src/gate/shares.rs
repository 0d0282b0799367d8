//! Sessions per identity, after login. The connection cap is shared by everyone, so no
//! identity may hold more than its share of it:
//!
//! | identity | sessions at once | past that |
//! |---|---|---|
//! | a device (its uuid) | [`MAX_PER_DEVICE`] | the newest wins: its oldest session is closed |
//! | an app login (an account) | [`MAX_PER_ACCOUNT`] | refused, CONNACK 3 |
//! | app and local clients in all | a quarter of the cap | refused, CONNACK 3 |
//!
//! So the other three quarters stay for devices, which come back after every restart,
//! and a script with one plug's password or a loop of anonymous clients cannot fill the
//! cap.

use super::auth::Identity;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Sessions one device may have at once: a plug reconnecting before its old connection
/// is found dead has two for a while.
pub const MAX_PER_DEVICE: usize = 3;
/// Sessions one account's app logins may have at once.
pub const MAX_PER_ACCOUNT: usize = 64;

/// Whose sessions are counted together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Device(String),
    Account(String),
    Anonymous,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<Key, VecDeque<(u64, oneshot::Sender<()>)>>,
    /// App and local sessions in all.
    others: usize,
    next: u64,
}

/// The count.
#[derive(Debug)]
pub struct Shares {
    inner: Mutex<Inner>,
    /// App and local sessions allowed in all.
    others_cap: usize,
}

/// Why a login got no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This account has as many app sessions as it may.
    Account,
    /// App and local clients hold their whole share of the cap.
    Others,
}

impl Full {
    /// Why, in words, for the log of the refused login.
    pub fn as_str(self) -> &'static str {
        match self {
            Full::Account => "the account has as many sessions as it may",
            Full::Others => "app and local clients hold their whole share of the connection cap",
        }
    }
}

/// One session's place; given back when dropped.
#[derive(Debug)]
pub struct Share {
    table: Arc<Shares>,
    key: Key,
    id: u64,
    /// Answered when a newer session of the same device took this one's place.
    displaced: Option<oneshot::Receiver<()>>,
}

impl Shares {
    /// Counts for a connection cap of `max_connections`.
    pub fn new(max_connections: usize) -> Shares {
        Shares {
            inner: Mutex::default(),
            others_cap: (max_connections / 4).max(4),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A session for `who`, or why there is none.
    pub fn admit(self: &Arc<Self>, who: &Identity) -> Result<Share, Full> {
        let (key, cap) = match who {
            Identity::Device { uuid: id, .. } | Identity::Moko { id, .. } => {
                (Key::Device(id.clone()), MAX_PER_DEVICE)
            }
            Identity::App { user_id } => (Key::Account(user_id.clone()), MAX_PER_ACCOUNT),
            Identity::Local => (Key::Anonymous, usize::MAX),
        };
        let device = matches!(key, Key::Device(_));
        let mut inner = self.lock();
        let held = inner.sessions.get(&key).map_or(0, VecDeque::len);
        if !device && inner.others >= self.others_cap {
            return Err(Full::Others);
        }
        if held >= cap {
            if !device {
                return Err(Full::Account);
            }
            // The newest session of a device wins: its oldest is told to go.
            if let Some((_, go)) = inner.sessions.get_mut(&key).and_then(VecDeque::pop_front) {
                let _ = go.send(());
            }
        }
        let (go, gone) = oneshot::channel();
        let id = inner.next;
        inner.next += 1;
        inner
            .sessions
            .entry(key.clone())
            .or_default()
            .push_back((id, go));
        if !device {
            inner.others += 1;
        }
        Ok(Share {
            table: self.clone(),
            key,
            id,
            displaced: Some(gone),
        })
    }
}

impl Share {
    /// Resolves when a newer session of the same device took this one's place; never
    /// for other identities.
    pub async fn displaced(&mut self) {
        let displaced = match self.displaced.as_mut() {
            Some(gone) => gone.await.is_ok(),
            None => false,
        };
        self.displaced = None;
        if !displaced {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut inner = self.table.lock();
        let mut removed = false;
        if let Some(list) = inner.sessions.get_mut(&self.key) {
            let before = list.len();
            list.retain(|(n, _)| *n != self.id);
            removed = list.len() < before;
            if list.is_empty() {
                inner.sessions.remove(&self.key);
            }
        }
        if !matches!(self.key, Key::Device(_)) && removed {
            inner.others -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(uuid: &str) -> Identity {
        Identity::Device {
            uuid: uuid.into(),
            mac: String::new(),
            user_id: "1".into(),
        }
    }

    #[tokio::test]
    async fn a_device_keeps_its_newest_sessions_and_others_stop_at_their_share() {
        let shares = Arc::new(Shares::new(16));
        let mut first = shares.admit(&device("a")).unwrap();
        let _second = shares.admit(&device("a")).unwrap();
        let _third = shares.admit(&device("a")).unwrap();
        let _fourth = shares.admit(&device("a")).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), first.displaced())
            .await
            .expect("the oldest session was told to go");
        let local: Vec<Share> = (0..4)
            .map(|_| shares.admit(&Identity::Local).unwrap())
            .collect();
        assert_eq!(shares.admit(&Identity::Local).unwrap_err(), Full::Others);
        drop(local);
        assert!(shares.admit(&Identity::Local).is_ok());
    }
}

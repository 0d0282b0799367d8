//! The cloud API's login tokens: random, per account, expiring, and bounded in number.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a token is good for.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 86_400);
/// Tokens kept per account; a new login past this drops the oldest...
pub const MAX_TOKENS_PER_ACCOUNT: usize = 32;
/// ...but no more than this many a minute: past it, sign-ins wait (a script signing in
/// in a loop cannot log every app of the owner out).
pub const MAX_EVICTIONS_PER_MINUTE: usize = 4;

/// Why a token does not let a call in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Unknown,
    Expired,
}

/// The login tokens issued and not yet expired or revoked, shared by every cloud handler.
#[derive(Debug, Default)]
pub struct Tokens {
    /// token -> (user id, issued)
    map: Mutex<HashMap<String, (String, Instant)>>,
    /// Per user id: when its tokens were dropped to make room, in the last minute.
    evicted: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Tokens {
    /// A new token for `user_id`; `None` if that would drop more of its tokens than
    /// [`MAX_EVICTIONS_PER_MINUTE`] allows.
    pub fn issue(&self, user_id: &str) -> Option<String> {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, (_, issued)| now.duration_since(*issued) < TOKEN_LIFETIME);
        let mut mine: Vec<(String, Instant)> = map
            .iter()
            .filter(|(_, (user, _))| user == user_id)
            .map(|(t, (_, issued))| (t.clone(), *issued))
            .collect();
        if mine.len() >= MAX_TOKENS_PER_ACCOUNT {
            let mut evicted = self.evicted.lock().unwrap_or_else(|e| e.into_inner());
            let recent = evicted.entry(user_id.to_owned()).or_default();
            recent.retain(|at| now.duration_since(*at) < Duration::from_secs(60));
            if recent.len() >= MAX_EVICTIONS_PER_MINUTE {
                return None;
            }
            recent.push(now);
            mine.sort_by_key(|(_, issued)| *issued);
            for (old, _) in mine.iter().take(mine.len() + 1 - MAX_TOKENS_PER_ACCOUNT) {
                map.remove(old);
            }
        }
        map.insert(token.clone(), (user_id.to_owned(), now));
        Some(token)
    }

    /// The user id a token belongs to.
    pub fn check(&self, token: &str) -> Result<String, TokenError> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(token) {
            None => Err(TokenError::Unknown),
            Some((_, issued)) if issued.elapsed() >= TOKEN_LIFETIME => Err(TokenError::Expired),
            Some((user, _)) => Ok(user.clone()),
        }
    }

    /// Drops a token (a logout); an unknown one is ignored.
    pub fn revoke(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_check_revoke_and_stay_bounded() {
        let tokens = Tokens::default();
        let t = tokens.issue("1234").unwrap();
        assert_eq!(tokens.check(&t), Ok("1234".into()));
        tokens.revoke(&t);
        assert_eq!(tokens.check(&t), Err(TokenError::Unknown));
        let all: Vec<Option<String>> = (0..MAX_TOKENS_PER_ACCOUNT + 5)
            .map(|_| tokens.issue("1234"))
            .collect();
        let issued: Vec<&String> = all.iter().flatten().collect();
        assert_eq!(
            tokens.check(issued[0]),
            Err(TokenError::Unknown),
            "the oldest went"
        );
        // At most four went in this minute: the fifth sign-in past the cap waits.
        assert_eq!(
            issued.len(),
            MAX_TOKENS_PER_ACCOUNT + MAX_EVICTIONS_PER_MINUTE
        );
        assert!(all.last().unwrap().is_none());
        assert_eq!(tokens.check(issued[3]), Err(TokenError::Unknown));
        assert!(
            tokens.check(issued[4]).is_ok(),
            "only four of the owner's tokens went"
        );
    }
}

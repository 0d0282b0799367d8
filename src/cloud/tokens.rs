//! The cloud API's login tokens: random, per account, expiring, and bounded in number.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a token is good for.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 86_400);
/// Tokens kept per account; a new login past this drops the oldest.
pub const MAX_TOKENS_PER_ACCOUNT: usize = 32;

/// Why a token does not let a call in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Unknown,
    Expired,
}

#[derive(Debug, Default)]
pub struct Tokens(Mutex<HashMap<String, (String, Instant)>>);

impl Tokens {
    /// A new token for `user_id`.
    pub fn issue(&self, user_id: &str) -> String {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, (_, issued)| now.duration_since(*issued) < TOKEN_LIFETIME);
        let mut mine: Vec<(String, Instant)> = map
            .iter()
            .filter(|(_, (user, _))| user == user_id)
            .map(|(t, (_, issued))| (t.clone(), *issued))
            .collect();
        if mine.len() >= MAX_TOKENS_PER_ACCOUNT {
            mine.sort_by_key(|(_, issued)| *issued);
            for (old, _) in mine.iter().take(mine.len() + 1 - MAX_TOKENS_PER_ACCOUNT) {
                map.remove(old);
            }
        }
        map.insert(token.clone(), (user_id.to_owned(), now));
        token
    }

    /// The user id a token belongs to.
    pub fn check(&self, token: &str) -> Result<String, TokenError> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(token) {
            None => Err(TokenError::Unknown),
            Some((_, issued)) if issued.elapsed() >= TOKEN_LIFETIME => Err(TokenError::Expired),
            Some((user, _)) => Ok(user.clone()),
        }
    }

    pub fn revoke(&self, token: &str) {
        self.0
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
        let t = tokens.issue("1234");
        assert_eq!(tokens.check(&t), Ok("1234".into()));
        tokens.revoke(&t);
        assert_eq!(tokens.check(&t), Err(TokenError::Unknown));
        let all: Vec<String> = (0..MAX_TOKENS_PER_ACCOUNT + 5)
            .map(|_| tokens.issue("1234"))
            .collect();
        assert_eq!(
            tokens.check(&all[0]),
            Err(TokenError::Unknown),
            "the oldest went"
        );
        assert!(tokens.check(all.last().unwrap()).is_ok());
    }
}

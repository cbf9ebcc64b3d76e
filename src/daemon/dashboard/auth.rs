//! Sessions of the dashboard's pages: the admin token, given once in a login form, opens a
//! session held in an `HttpOnly`, `SameSite=Strict` cookie; every action is a POST that carries
//! the session's CSRF token. Without an admin token (loopback only) a session is opened at the
//! first visit, so actions still need their CSRF token. Sessions live in memory: a restart
//! asks for the token again.

use axum::http::{HeaderMap, HeaderValue, header};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub(super) const COOKIE: &str = "leadsync_session";
/// A session ends this long after it was opened.
const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; the oldest goes first.
const MOST: usize = 10_000;

/// A page's session: its id (the cookie) and the token its forms carry.
#[derive(Debug, Clone)]
pub(in crate::daemon) struct Session {
    pub(in crate::daemon) id: String,
    pub(in crate::daemon) csrf: String,
    opened: Instant,
}

#[derive(Default)]
pub(in crate::daemon) struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    pub(in crate::daemon) fn open(&self) -> Session {
        let session = Session {
            id: random_token(),
            csrf: random_token(),
            opened: Instant::now(),
        };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, s| s.opened.elapsed() < LIFETIME);
        if map.len() >= MOST
            && let Some(oldest) = map.values().min_by_key(|s| s.opened).map(|s| s.id.clone())
        {
            map.remove(&oldest);
        }
        map.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session a request's cookie names.
    pub(in crate::daemon) fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(id)
            .filter(|s| s.opened.elapsed() < LIFETIME)
            .cloned()
    }

    pub(in crate::daemon) fn close(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

impl Session {
    /// Whether a form's CSRF token is this session's (in time independent of where it differs).
    pub(in crate::daemon) fn allows(&self, csrf: &str) -> bool {
        super::super::admin::same(csrf.as_bytes(), self.csrf.as_bytes())
    }

    pub(in crate::daemon) fn set_cookie(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            self.id,
            LIFETIME.as_secs()
        ))
        .expect("hex ids make a valid header")
    }
}

/// A header value that ends the session's cookie.
pub(super) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("leadsync_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// 32 random bytes from the operating system, in hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_among_others_and_ends_when_closed() {
        let sessions = Sessions::default();
        let s = sessions.open();
        assert_eq!(s.id.len(), 64);
        assert_ne!(s.id, s.csrf);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {COOKIE}={}; x=1", s.id)).unwrap(),
        );
        assert_eq!(sessions.of(&headers).map(|f| f.csrf), Some(s.csrf.clone()));
        assert!(s.allows(&s.csrf));
        assert!(!s.allows("") && !s.allows(&s.id));
        sessions.close(&s.id);
        assert!(sessions.of(&headers).is_none());
        let mut forged = HeaderMap::new();
        forged.insert(
            header::COOKIE,
            HeaderValue::from_static("leadsync_session=00"),
        );
        assert!(sessions.of(&forged).is_none());
    }
}
